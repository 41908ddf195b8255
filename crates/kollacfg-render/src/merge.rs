//! Precedence resolution. For each item the contribution with the highest `precedence` wins;
//! ties go to the alphabetically first `Kind/name`. Contributions at the winning precedence with
//! a different value are conflicts: the winner still applies and both sides are reported.
//! Contributions at lower precedence are overridden, not conflicting — raising a fragment's
//! precedence is how an operator settles a conflict.

use std::collections::BTreeMap;

use crate::items::{Contribution, ItemKey, ItemValue};
use crate::model::ResourceRef;

/// How one item was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReport {
    /// The file the item lives in.
    pub file: String,
    /// The item.
    pub item: ItemKey,
    /// The fragment whose value applies.
    pub winner: ResourceRef,
    /// The winner's field.
    pub field: String,
    /// The value applied.
    pub value: ItemValue,
    /// Same precedence, different value: each is in conflict with the winner.
    pub conflicts: Vec<ResourceRef>,
    /// Lower precedence (or same precedence and same value): overridden quietly.
    pub overridden: Vec<ResourceRef>,
}

/// One conflict, as both fragments report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conflict {
    /// The file.
    pub file: String,
    /// The item, as text.
    pub item: String,
    /// The fragment that won the tie (alphabetically first `Kind/name`).
    pub winner: ResourceRef,
    /// The fragment that lost the tie.
    pub loser: ResourceRef,
}

/// A contribution together with who made it.
#[derive(Debug, Clone)]
pub struct Offer<'a> {
    /// The fragment.
    pub from: &'a ResourceRef,
    /// Its precedence.
    pub precedence: i32,
    /// What it wants.
    pub contribution: Contribution,
}

/// Decides every item. The result is sorted by file, then item.
pub fn resolve(offers: Vec<Offer<'_>>) -> Vec<ItemReport> {
    let mut by_item: BTreeMap<(String, ItemKey), Vec<Offer<'_>>> = BTreeMap::new();
    for offer in offers {
        let key = (
            offer.contribution.file.clone(),
            offer.contribution.item.clone(),
        );
        by_item.entry(key).or_default().push(offer);
    }
    by_item
        .into_iter()
        .map(|((file, item), mut offers)| {
            offers.sort_by(|a, b| {
                b.precedence
                    .cmp(&a.precedence)
                    .then_with(|| a.from.kind_name().cmp(&b.from.kind_name()))
                    .then_with(|| a.from.cmp(b.from))
            });
            let mut rest = offers.into_iter();
            let winner = rest.next().expect("an item has at least one offer");
            let (mut conflicts, mut overridden) = (Vec::new(), Vec::new());
            for other in rest {
                if other.precedence == winner.precedence
                    && other.contribution.value != winner.contribution.value
                {
                    conflicts.push(other.from.clone());
                } else {
                    overridden.push(other.from.clone());
                }
            }
            ItemReport {
                file,
                item,
                winner: winner.from.clone(),
                field: winner.contribution.field,
                value: winner.contribution.value,
                conflicts,
                overridden,
            }
        })
        .collect()
}

/// Every conflict among the decided items, sorted.
pub fn conflicts(items: &[ItemReport]) -> Vec<Conflict> {
    let mut out: Vec<Conflict> = items
        .iter()
        .flat_map(|r| {
            r.conflicts.iter().map(|loser| Conflict {
                file: r.file.clone(),
                item: r.item.to_string(),
                winner: r.winner.clone(),
                loser: loser.clone(),
            })
        })
        .collect();
    out.sort();
    out
}
