//! Builds status conditions deterministically: a condition whose status and reason did not
//! change keeps its `lastTransitionTime`, so an unchanged world gives an identical status.
//! Pure: the current time is an input.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// It cannot be told (the target was not rendered).
    Unknown,
}

impl State {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }

    /// `True` when `value`, else `False`.
    pub fn from_bool(value: bool) -> Self {
        if value {
            Self::True
        } else {
            Self::False
        }
    }
}

/// One condition to report, before timestamps are decided. The message is never empty: the
/// API server refuses a status apply whose condition message is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The condition type (`Ready`, `Degraded`, ...).
    pub type_: &'static str,
    /// Its state.
    pub state: State,
    /// CamelCase reason.
    pub reason: &'static str,
    /// Human-readable message; never a Secret's value.
    pub message: String,
}

impl Desired {
    /// Builds a desired condition.
    pub fn new(
        type_: &'static str,
        state: State,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            state,
            reason,
            message: message.into(),
        }
    }
}

/// The conditions to store, sorted by type. Each keeps the previous `lastTransitionTime` when
/// a previous condition of its type had the same status and reason; otherwise it is `now`,
/// cut to whole seconds as the API server stores it (so what is read back compares equal).
pub fn resolve(
    desired: Vec<Desired>,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let now = &whole_seconds(now);
    let mut out: Vec<Condition> = desired
        .into_iter()
        .map(|d| {
            let status = d.state.as_str();
            let since = previous
                .iter()
                .find(|p| p.type_ == d.type_ && p.status == status && p.reason == d.reason)
                .map_or_else(|| now.clone(), |p| p.last_transition_time.clone());
            Condition {
                type_: d.type_.to_string(),
                status: status.to_string(),
                reason: d.reason.to_string(),
                message: d.message,
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect();
    out.sort_by(|a, b| a.type_.cmp(&b.type_));
    out
}

/// Adds `extra` (resolved against `previous` as [`resolve`] does) and, for each of `carried`,
/// the previous condition of that type unchanged, to `conditions`, replacing conditions of the
/// same types; the list stays sorted by type.
pub fn merge(
    conditions: &mut Vec<Condition>,
    extra: Vec<Desired>,
    carried: &[&str],
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) {
    let resolved = resolve(extra, previous, generation, now);
    let kept = previous
        .iter()
        .filter(|p| carried.contains(&p.type_.as_str()))
        .cloned();
    for condition in resolved.into_iter().chain(kept) {
        conditions.retain(|c| c.type_ != condition.type_);
        conditions.push(condition);
    }
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// `time` without its fraction of a second.
pub fn whole_seconds(time: &Time) -> Time {
    Time(Timestamp::from_second(time.0.as_second()).unwrap_or(time.0))
}

/// Whether the `type_` condition changed status or reason between `before` and `after` (a
/// transition worth an event).
pub fn transitioned(before: &[Condition], after: &[Condition], type_: &str) -> bool {
    let key = |list: &[Condition]| {
        list.iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    key(before) != key(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn unchanged_status_and_reason_keep_the_transition_time() {
        let first = resolve(
            vec![Desired::new("Ready", State::True, "Rendered", "one")],
            &[],
            Some(1),
            &at(10),
        );
        assert_eq!(first[0].last_transition_time, at(10));
        let again = resolve(
            vec![Desired::new("Ready", State::True, "Rendered", "two")],
            &first,
            Some(2),
            &at(20),
        );
        assert_eq!(again[0].last_transition_time, at(10));
        assert_eq!(again[0].message, "two");
        assert_eq!(again[0].observed_generation, Some(2));
        let flipped = resolve(
            vec![Desired::new("Ready", State::False, "Rendered", "")],
            &again,
            Some(2),
            &at(30),
        );
        assert_eq!(flipped[0].last_transition_time, at(30));
        assert!(transitioned(&again, &flipped, "Ready"));
        assert!(!transitioned(&first, &again, "Ready"));
    }

    #[test]
    fn transition_times_survive_a_round_trip_through_json() {
        let now = Time(
            Timestamp::from_second(1_700_000_000).unwrap() + std::time::Duration::from_millis(1234),
        );
        let list = resolve(
            vec![Desired::new("Ready", State::True, "A", "")],
            &[],
            None,
            &now,
        );
        let text = serde_json::to_string(&list).unwrap();
        assert!(
            text.contains("\"lastTransitionTime\":\"2023-11-14T22:13:21Z\""),
            "{text}"
        );
        let back: Vec<Condition> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, list);
    }

    #[test]
    fn merged_conditions_replace_their_type_and_carried_ones_stay_as_they_were() {
        let previous = resolve(
            vec![
                Desired::new("BrokerSynced", State::False, "BrokerUnreachable", "down"),
                Desired::new("Live", State::True, "Live", "live"),
            ],
            &[],
            Some(1),
            &at(5),
        );
        let mut list = resolve(
            vec![Desired::new("Ready", State::True, "A", "ready")],
            &[],
            Some(2),
            &at(10),
        );
        merge(
            &mut list,
            vec![Desired::new("BrokerSynced", State::True, "Synced", "up")],
            &["Live"],
            &previous,
            Some(2),
            &at(20),
        );
        let seen: Vec<(&str, &str, &str)> = list
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("BrokerSynced", "True", "Synced"),
                ("Live", "True", "Live"),
                ("Ready", "True", "A")
            ]
        );
        assert_eq!(list[0].last_transition_time, at(20));
        // The carried condition is the previous one, generation and time included.
        assert_eq!(list[1], previous[1]);
    }

    #[test]
    fn conditions_come_out_sorted_by_type() {
        let list = resolve(
            vec![
                Desired::new("Ready", State::True, "A", ""),
                Desired::new("Degraded", State::False, "B", ""),
            ],
            &[],
            None,
            &at(0),
        );
        let types: Vec<&str> = list.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Degraded", "Ready"]);
    }
}
