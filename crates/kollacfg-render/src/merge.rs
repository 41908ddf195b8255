//! Precedence resolution. For each item the contribution with the highest `precedence` wins;
//! ties go to the alphabetically first `Kind/name`. Contributions at the winning precedence with
//! a different value are conflicts: the winner still applies and both sides are reported.
//! Contributions at lower precedence are overridden, not conflicting — raising a fragment's
//! precedence is how an operator settles a conflict.

use crate::items::{Contribution, ItemKey, ItemValue, Text};
use crate::model::ResourceRef;

/// How one item was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReport {
    /// The file the item lives in.
    pub file: Text,
    /// The item.
    pub item: ItemKey,
    /// The fragment whose value applies.
    pub winner: ResourceRef,
    /// The winner's field.
    pub field: Text,
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

/// `Kind/name` order without building the string: kinds are alphanumeric and `/` sorts
/// before every alphanumeric character, so comparing `(kind, name)` gives the same order.
fn by_kind_name(a: &ResourceRef, b: &ResourceRef) -> std::cmp::Ordering {
    (a.kind.as_str(), a.name.as_str(), a).cmp(&(b.kind.as_str(), b.name.as_str(), b))
}

/// Decides every item. The result is sorted by file, then item.
pub fn resolve(mut offers: Vec<Offer<'_>>) -> Vec<ItemReport> {
    offers.sort_by(|a, b| {
        (&a.contribution.file, &a.contribution.item)
            .cmp(&(&b.contribution.file, &b.contribution.item))
            .then_with(|| b.precedence.cmp(&a.precedence))
            .then_with(|| by_kind_name(a.from, b.from))
    });
    let mut items: Vec<ItemReport> = Vec::new();
    let mut winner_precedence = 0;
    for offer in offers {
        if let Some(last) = items.last_mut() {
            if last.file == offer.contribution.file && last.item == offer.contribution.item {
                if offer.precedence == winner_precedence && offer.contribution.value != last.value {
                    last.conflicts.push(offer.from.clone());
                } else {
                    last.overridden.push(offer.from.clone());
                }
                continue;
            }
        }
        winner_precedence = offer.precedence;
        let Contribution {
            file,
            item,
            value,
            field,
        } = offer.contribution;
        items.push(ItemReport {
            file,
            item,
            winner: offer.from.clone(),
            field,
            value,
            conflicts: Vec::new(),
            overridden: Vec::new(),
        });
    }
    items
}

/// Every conflict among the decided items, sorted.
pub fn conflicts(items: &[ItemReport]) -> Vec<Conflict> {
    let mut out: Vec<Conflict> = items
        .iter()
        .flat_map(|r| {
            r.conflicts.iter().map(|loser| Conflict {
                file: r.file.to_string(),
                item: r.item.to_string(),
                winner: r.winner.clone(),
                loser: loser.clone(),
            })
        })
        .collect();
    out.sort();
    out
}
