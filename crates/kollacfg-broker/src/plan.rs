//! What a sync must do: compare the desired policies with the live ones. Pure.
//!
//! A desired policy that is missing live, or whose setting differs, is PUT; a live policy that
//! is not desired is DELETEd only when its key is deletable (kollacfg published it, or it is
//! `absent`); every other live policy is left alone and reported as unmanaged.

use std::collections::{BTreeMap, BTreeSet};

use crate::policy::{Policy, PolicyKey};

/// The writes that make a broker's policies the desired ones.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Desired policies missing live or differing from the live one, sorted by key.
    pub puts: Vec<Policy>,
    /// Live policies to delete (deletable and not desired), sorted.
    pub deletes: Vec<PolicyKey>,
    /// Live policies neither desired nor deletable: left alone. Sorted.
    pub unmanaged: Vec<PolicyKey>,
    /// How many distinct policies are desired.
    pub desired: usize,
    /// How many policies the broker has.
    pub live: usize,
}

impl Plan {
    /// Whether the broker already has exactly what is wanted.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

/// Plans the writes. `desired` may repeat a key (a definitions file can): the last one counts,
/// as RabbitMQ's import applies them in order. Pure.
pub fn plan(desired: &[Policy], live: &[Policy], deletable: &BTreeSet<PolicyKey>) -> Plan {
    let wanted: BTreeMap<PolicyKey, &Policy> = desired.iter().map(|p| (p.key(), p)).collect();
    let have: BTreeMap<PolicyKey, &Policy> = live.iter().map(|p| (p.key(), p)).collect();
    let puts = wanted
        .iter()
        .filter(|(key, want)| !have.get(*key).is_some_and(|h| h.same_setting(want)))
        .map(|(_, want)| (*want).clone())
        .collect();
    let (deletes, unmanaged): (Vec<PolicyKey>, Vec<PolicyKey>) = have
        .keys()
        .filter(|key| !wanted.contains_key(*key))
        .cloned()
        .partition(|key| deletable.contains(key));
    Plan {
        puts,
        deletes,
        unmanaged,
        desired: wanted.len(),
        live: have.len(),
    }
}
