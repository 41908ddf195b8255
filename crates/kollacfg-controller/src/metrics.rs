//! Prometheus metrics: reconciles, failures by reason (the error variant's name), reconcile
//! duration, and API writes by kind. Rendered in the text format for `/metrics`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kollacfg_api::RolloutState;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label of the failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// [`crate::error::Error::reason`].
    pub reason: String,
}

/// Labels of the write counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabel {
    /// The kind written: `Secret`, `ConfigMap`, `StatefulSet`, `KollaConfig`, a fragment kind,
    /// or `Event`.
    pub kind: String,
    /// `apply` (an object), `annotation` (a rollout), `status` or `event`.
    pub write: String,
}

/// Label of the watch error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind watched.
    pub kind: String,
}

/// Labels of the broker request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BrokerRequestLabel {
    /// `GET`, `PUT` or `DELETE`.
    pub method: String,
    /// The HTTP status code, or `none` when no answer came.
    pub code: String,
}

/// Label of the rollout gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// A [`RolloutState`]'s name.
    pub state: String,
}

/// The controller's metrics and its readiness.
pub struct Metrics {
    registry: Registry,
    /// Reconciles started.
    pub reconciles: Counter,
    /// Reconciles failed, by reason.
    pub failures: Family<ReasonLabel, Counter>,
    /// Reconcile duration in seconds.
    pub duration: Histogram,
    /// API writes, by kind and type of write.
    pub writes: Family<WriteLabel, Counter>,
    /// Failed list or watch requests, by kind watched (each is retried with a backoff).
    pub watch_errors: Family<KindLabel, Counter>,
    /// Watch events that were the echo of the controller's own write, by kind: dropped,
    /// they started no reconcile.
    pub watch_echoes: Family<KindLabel, Counter>,
    /// Requests to RabbitMQ management APIs, by method and status code.
    pub broker_requests: Family<BrokerRequestLabel, Counter>,
    /// Broker sync duration in seconds (one GET and the writes it calls for).
    pub broker_sync_duration: Histogram,
    /// Policies written back after they were changed or deleted in the broker by hand.
    pub broker_policies_restored: Counter,
    /// Rollout workloads by state, over every KollaConfig.
    pub rollout_workloads: Family<StateLabel, Gauge>,
    /// The states of each KollaConfig's workloads (`namespace/name`), summed into the gauge.
    rollout_states: Mutex<HashMap<String, Vec<RolloutState>>>,
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciles = Counter::default();
        let failures = Family::<ReasonLabel, Counter>::default();
        // 1 ms … ~16 s.
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let writes = Family::<WriteLabel, Counter>::default();
        let watch_errors = Family::<KindLabel, Counter>::default();
        let watch_echoes = Family::<KindLabel, Counter>::default();
        let broker_requests = Family::<BrokerRequestLabel, Counter>::default();
        let broker_sync_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let broker_policies_restored = Counter::default();
        let rollout_workloads = Family::<StateLabel, Gauge>::default();
        let mut registry = Registry::with_prefix("kollacfg");
        registry.register("reconciles", "Reconciles started", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciles failed, by reason",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            duration.clone(),
        );
        registry.register(
            "api_writes",
            "Write requests sent to the API server, by kind",
            writes.clone(),
        );
        registry.register(
            "watch_errors",
            "List or watch requests that failed (and are retried with a backoff), by kind",
            watch_errors.clone(),
        );
        registry.register(
            "watch_echoes_ignored",
            "Watch events that were the echo of the controller's own write (no reconcile), by kind",
            watch_echoes.clone(),
        );
        registry.register(
            "broker_requests",
            "Requests sent to RabbitMQ management APIs, by method and HTTP status code",
            broker_requests.clone(),
        );
        registry.register(
            "broker_sync_duration_seconds",
            "Broker sync duration (one GET of the policies and the writes it calls for)",
            broker_sync_duration.clone(),
        );
        registry.register(
            "broker_policies_restored",
            "Policies written back after they were changed or deleted in the broker by hand",
            broker_policies_restored.clone(),
        );
        registry.register(
            "rollout_workloads",
            "Rollout workloads of all KollaConfigs, by rollout state",
            rollout_workloads.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            duration,
            writes,
            watch_errors,
            watch_echoes,
            broker_requests,
            broker_sync_duration,
            broker_policies_restored,
            rollout_workloads,
            rollout_states: Mutex::default(),
            ready: AtomicBool::new(false),
        }
    }
}

/// Counts each broker request in [`Metrics::broker_requests`].
pub struct BrokerRequests(pub std::sync::Arc<Metrics>);

impl kollacfg_broker::RequestObserver for BrokerRequests {
    fn observe(&self, method: &str, status: Option<u16>) {
        self.0
            .broker_requests
            .get_or_create(&BrokerRequestLabel {
                method: method.to_string(),
                code: status.map_or_else(|| "none".to_string(), |c| c.to_string()),
            })
            .inc();
    }
}

impl Metrics {
    /// Counts one failed reconcile.
    pub fn failure(&self, reason: &str) {
        self.failures
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts one write of `kind`.
    pub fn write(&self, kind: &str, write: &str) {
        self.writes
            .get_or_create(&WriteLabel {
                kind: kind.to_string(),
                write: write.to_string(),
            })
            .inc();
    }

    /// Counts one failed list or watch request of `kind`.
    pub fn watch_error(&self, kind: &str) {
        self.watch_errors
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Counts one watch event of `kind` dropped as the echo of the controller's own write.
    pub fn watch_echo(&self, kind: &str) {
        self.watch_echoes
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Records the states of the rollout workloads of KollaConfig `target` (`namespace/name`;
    /// none: it is gone) and sets the gauge to the sums over every KollaConfig.
    pub fn set_rollout(&self, target: &str, states: Vec<RolloutState>) {
        let mut all = self
            .rollout_states
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if states.is_empty() {
            all.remove(target);
        } else {
            all.insert(target.to_string(), states);
        }
        self.publish_rollouts(&all);
    }

    /// Forgets the rollout workloads of every KollaConfig `exists` says is gone (a deleted
    /// KollaConfig is not reconciled again, so nothing else would).
    pub fn retain_rollouts(&self, exists: impl Fn(&str) -> bool) {
        let mut all = self
            .rollout_states
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let before = all.len();
        all.retain(|target, _| exists(target));
        if all.len() != before {
            self.publish_rollouts(&all);
        }
    }

    fn publish_rollouts(&self, all: &HashMap<String, Vec<RolloutState>>) {
        for state in RolloutState::ALL {
            let count = all.values().flatten().filter(|s| **s == state).count();
            self.rollout_workloads
                .get_or_create(&StateLabel {
                    state: state.as_str().to_string(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Records a reconcile's duration.
    pub fn observe(&self, took: Duration) {
        self.duration.observe(took.as_secs_f64());
    }

    /// Marks the controller ready (every cache full) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether every cache is full and reconciles run.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_the_text_format() {
        let m = Metrics::default();
        m.reconciles.inc();
        m.failure("ApplyOutput");
        m.write("Secret", "apply");
        m.watch_error("RabbitPolicy");
        m.observe(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("kollacfg_reconciles_total 1"), "{text}");
        assert!(
            text.contains("kollacfg_reconcile_failures_total{reason=\"ApplyOutput\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kollacfg_api_writes_total{kind=\"Secret\",write=\"apply\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kollacfg_watch_errors_total{kind=\"RabbitPolicy\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kollacfg_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn the_rollout_gauge_sums_the_states_of_every_target() {
        let m = Metrics::default();
        m.set_rollout("a/x", vec![RolloutState::Complete, RolloutState::Stuck]);
        m.set_rollout("b/y", vec![RolloutState::Complete]);
        let text = m.render();
        assert!(
            text.contains("kollacfg_rollout_workloads{state=\"Complete\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kollacfg_rollout_workloads{state=\"Stuck\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kollacfg_rollout_workloads{state=\"Paused\"} 0"),
            "{text}"
        );
        // b/y deleted: forgotten at the next sweep.
        m.retain_rollouts(|target| target != "b/y");
        let text = m.render();
        assert!(
            text.contains("kollacfg_rollout_workloads{state=\"Complete\"} 1"),
            "{text}"
        );
        m.set_rollout("b/y", vec![RolloutState::Complete]);
        m.set_rollout("a/x", Vec::new());
        let text = m.render();
        assert!(
            text.contains("kollacfg_rollout_workloads{state=\"Stuck\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("kollacfg_rollout_workloads{state=\"Complete\"} 1"),
            "{text}"
        );
    }
}
