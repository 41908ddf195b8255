//! The reconcile loop: per KollaConfig, dereference (caches and API reads) → build (pure) →
//! apply (writes only what differs) → status. Also the error policy with its per-object
//! exponential backoff. Starting the watchers lives in `runtime`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kollacfg_api::{AnyResource, KollaConfig};
use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};

use crate::build::{self, Inputs, FIELD_MANAGER};
use crate::echoes::Echoes;
use crate::error::{Error, Result};
use crate::metrics::{BrokerRequests, Metrics};
use crate::stores::Stores;
use crate::{apply, broker, conditions, events, rollout, versions};

/// How often a rendered KollaConfig is checked again without any change (drift of the output
/// is also caught by the output watch). Such a pass writes nothing when nothing changed.
pub const RESYNC: Duration = Duration::from_secs(600);

/// The default of `--broker-resync`: how often a KollaConfig with
/// `spec.rabbitmq.management` is reconciled without a change, which reads the broker's policies
/// again (one GET) and repairs a policy changed or deleted by hand.
pub const BROKER_RESYNC: Duration = Duration::from_secs(60);

/// The default of `--settle`: how long a change that restarts workloads must stay the same
/// before it is written. `kubectl apply -f DIR` and an Argo CD sync send their objects back to
/// back, milliseconds apart; two seconds covers such a burst on a loaded API server and is
/// little beside the restart it saves.
pub const SETTLE: Duration = Duration::from_secs(2);

/// How long one reconcile may take before it is abandoned as failed (and retried with backoff),
/// so that a hung API call never blocks a KollaConfig for good.
pub const RECONCILE_TIMEOUT: Duration = Duration::from_secs(60);

/// Per-object exponential backoff: `base`, `2·base`, `4·base`, … up to `cap`; reset by a
/// successful reconcile.
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: Mutex<HashMap<ObjectRef<KollaConfig>, u32>>,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: Mutex::default(),
        }
    }

    /// Counts one more failure of `key` and returns how long to wait before the next try.
    pub fn next_delay(&self, key: &ObjectRef<KollaConfig>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.clone()).or_insert(0);
        let delay = self
            .base
            .saturating_mul(1u32.checked_shl(*count).unwrap_or(u32::MAX))
            .min(self.cap);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key`.
    pub fn reset(&self, key: &ObjectRef<KollaConfig>) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

impl Default for Backoff {
    /// 5 s, doubling, capped at 5 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(300))
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The fragment caches (ready before the first reconcile).
    pub stores: Stores,
    /// Per-object backoff of failed reconciles.
    pub backoff: Backoff,
    /// The clock condition transitions are stamped with.
    pub clock: fn() -> Time,
    /// Sends the events of [`crate::events`].
    pub recorder: Recorder,
    /// Counters and readiness for `/metrics` and `/readyz`.
    pub metrics: Arc<Metrics>,
    /// How often a KollaConfig with a live broker is reconciled without a change.
    pub broker_resync: Duration,
    /// How long a change that restarts workloads (or a target's first output) must stay the
    /// same before it is written: a burst of edits gives one restart.
    pub settle: Duration,
    /// The controller's own writes, whose watch events start no reconcile.
    pub echoes: Arc<Echoes>,
    /// Per KollaConfig: the content hash of the change settling and when it was first seen.
    settling: Mutex<HashMap<ObjectRef<KollaConfig>, (String, Instant)>>,
}

impl Context {
    /// A context reading the system clock.
    pub fn new(client: Client, stores: Stores) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), FIELD_MANAGER.into()),
            client,
            stores,
            backoff: Backoff::default(),
            clock: || Time(Timestamp::now()),
            metrics: Arc::default(),
            broker_resync: BROKER_RESYNC,
            settle: SETTLE,
            echoes: Arc::default(),
            settling: Mutex::default(),
        }
    }

    /// `None` when the change of `key` to content `hash` has stayed the same for
    /// [`Context::settle`] (it may be written now); otherwise how long to wait before looking
    /// again. A different hash starts the wait over.
    pub fn settle_wait(&self, key: &ObjectRef<KollaConfig>, hash: &str) -> Option<Duration> {
        if self.settle.is_zero() {
            return None;
        }
        let mut settling = self.settling.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match settling.get(key) {
            Some((seen, since)) if seen == hash => {
                let elapsed = now.saturating_duration_since(*since);
                if elapsed >= self.settle {
                    settling.remove(key);
                    None
                } else {
                    Some(self.settle - elapsed)
                }
            }
            _ => {
                settling.insert(key.clone(), (hash.to_string(), now));
                Some(self.settle)
            }
        }
    }

    /// Forgets what is kept per KollaConfig (a settling change, the rollout gauge's workloads)
    /// for every KollaConfig not in `existing`: a deleted KollaConfig is not reconciled again.
    pub fn forget_deleted(&self, existing: &[&KollaConfig]) {
        let known: HashSet<ObjectRef<KollaConfig>> =
            existing.iter().map(|kc| ObjectRef::from_obj(*kc)).collect();
        self.settling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| known.contains(key));
        let targets: HashSet<String> = existing.iter().map(|kc| gauge_target(kc)).collect();
        self.metrics
            .retain_rollouts(|target| targets.contains(target));
    }

    /// How many KollaConfigs have a change settling.
    #[cfg(test)]
    pub fn settling_count(&self) -> usize {
        self.settling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// How the rollout gauge names KollaConfig `kc`'s workloads: `namespace/name`.
fn gauge_target(kc: &KollaConfig) -> String {
    format!("{}/{}", kc.namespace().unwrap_or_default(), kc.name_any())
}

/// Counts of what one reconcile wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// Output objects applied (0 or 1).
    pub output: usize,
    /// Rollout workloads annotated.
    pub workloads: usize,
    /// Statuses written (the KollaConfig's and the fragments').
    pub statuses: usize,
    /// Events sent.
    pub events: usize,
    /// Policies written to or deleted from the live broker.
    pub broker: usize,
}

/// Reconciles one KollaConfig. An invalid spec, a missing base or an oversized output is
/// reported in status and waits for the next change; API failures are errors (retried with
/// backoff by [`error_policy`]).
#[tracing::instrument(skip_all, fields(namespace = kc.namespace(), name = kc.name_any()))]
pub async fn reconcile(kc: Arc<KollaConfig>, ctx: Arc<Context>) -> Result<Action> {
    // Never render from a partial list: wait until every fragment cache is full.
    if ctx.stores.wait_until_ready().await.is_err() {
        return Err(Error::CacheClosed);
    }
    ctx.metrics.reconciles.inc();
    let started = Instant::now();
    let result = tokio::time::timeout(RECONCILE_TIMEOUT, reconcile_once(&kc, &ctx))
        .await
        .unwrap_or(Err(Error::Timeout(RECONCILE_TIMEOUT)));
    ctx.metrics.observe(started.elapsed());
    match result {
        Ok((action, writes)) => {
            ctx.backoff.reset(&ObjectRef::from_obj(&*kc));
            tracing::debug!(?writes, "reconciled");
            Ok(action)
        }
        Err(e) => {
            ctx.metrics.failure(e.reason());
            Err(e)
        }
    }
}

/// One pass of the pipeline; returns the next action and what was written.
pub async fn reconcile_once(kc: &KollaConfig, ctx: &Context) -> Result<(Action, Writes)> {
    let name = kc.name_any();
    let namespace = kc
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(name.clone()))?;
    // Dereference.
    let fragments = ctx.stores.fragments_for(kc);
    let base = apply::read_base(&ctx.client, &namespace, kc).await?;
    // Build (pure).
    let mut built = build::build(&Inputs {
        kolla_config: kc,
        fragments: &fragments,
        base,
        now: (ctx.clock)(),
    });
    // Apply: the output first, then the workloads that read it, then the live broker.
    let mut writes = Writes::default();
    let mut output_written = false;
    let mut annotated = Vec::new();
    let mut broker_failure = None;
    if let Some(output) = built.output.clone() {
        match apply_and_sync(
            kc,
            &fragments,
            ctx,
            &namespace,
            &mut built,
            output,
            &mut writes,
        )
        .await
        {
            Ok(Applied {
                settling: Some(wait),
                ..
            }) => return Ok((Action::requeue(wait), writes)),
            Ok(applied) => {
                output_written = applied.written;
                annotated = applied.annotated;
                broker_failure = applied.broker_failure;
            }
            Err(e) => {
                report_write_failure(kc, ctx, &e).await;
                return Err(e);
            }
        }
    } else {
        // Nothing rendered: the workloads were not moved, their records stay as they were.
        carry_rollout(kc, &mut built);
        if broker::enabled(kc) {
            // The broker was not touched either: its conditions stay as they were.
            carry_broker_conditions(kc, &fragments, &mut built);
        }
    }
    // Status.
    if apply::write_target_status(&ctx.client, &ctx.echoes, kc, &built.status).await? {
        writes.statuses += 1;
        ctx.metrics.write("KollaConfig", "status");
    }
    let by_id: HashMap<(&str, &str), &AnyResource> = fragments
        .iter()
        .map(|f| (f.kind(), f.metadata().name.as_deref().unwrap_or_default()))
        .zip(fragments.iter())
        .collect();
    for (id, status) in &built.fragments {
        if let Some(fragment) = by_id.get(&(id.kind.as_str(), id.name.as_str())) {
            if apply::write_fragment_status(&ctx.client, &ctx.echoes, fragment, status).await? {
                writes.statuses += 1;
                ctx.metrics.write(fragment.kind(), "status");
            }
        }
    }
    // Events, on transitions only; best effort.
    let notices = events::notices(kc, &built, &fragments, output_written, &annotated);
    writes.events = notices.len();
    for _ in &notices {
        ctx.metrics.write("Event", "event");
    }
    events::publish(&ctx.recorder, notices).await;
    if let Some(why) = &built.degraded {
        // Said once, when the status changes; quiet on the passes after.
        if writes.statuses > 0 {
            tracing::warn!(reason = why.reason(), "not rendered; waiting for a change");
        } else {
            tracing::debug!(reason = why.reason(), "still not rendered");
        }
        return Ok((Action::await_change(), writes));
    }
    if let Some((reason, message)) = broker_failure {
        // Retried with the per-object backoff (the output is written).
        return Err(Error::BrokerSync {
            object: format!("{namespace}/{name}"),
            reason,
            message,
        });
    }
    let mut resync = if broker::enabled(kc) {
        ctx.broker_resync
    } else {
        RESYNC
    };
    if rollout::under_way(&built.status.rollout) {
        // Follow the rollout's progress (the workloads are not watched).
        resync = resync.min(rollout::POLL);
    }
    Ok((Action::requeue(resync), writes))
}

/// What [`apply_and_sync`] did.
#[derive(Debug, Default)]
struct Applied {
    /// The output was written.
    written: bool,
    /// `Kind/name` of each workload whose template was changed.
    annotated: Vec<String>,
    /// Why the broker could not be synced (reason, message), when it could not.
    broker_failure: Option<(&'static str, String)>,
    /// A change that would restart workloads (or a first render) is still settling: nothing
    /// was written; look again after this long.
    settling: Option<Duration>,
}

/// Writes the output and moves the rollout workloads to it and, with
/// `spec.rabbitmq.management`, syncs the broker and puts its conditions into `built`'s
/// statuses. A change that would restart workloads, or a target's first output, is written
/// only once it has stayed the same for `ctx.settle` (a burst of edits gives one restart).
async fn apply_and_sync(
    kc: &KollaConfig,
    fragments: &[AnyResource],
    ctx: &Context,
    namespace: &str,
    built: &mut build::Built,
    mut output: build::DesiredOutput,
    writes: &mut Writes,
) -> Result<Applied> {
    let files = output.files();
    let stored = apply::read_output(&ctx.client, &output).await?;
    let versioned = kc.spec.output.versioned;
    // Versioned mode: the versions stored so far (newest first); the newest is what was
    // published last when this version is new.
    let versions = if versioned {
        versions::list(&ctx.client, kc).await?
    } else {
        Vec::new()
    };
    let published = stored
        .clone()
        .or_else(|| versions.first().map(|v| v.object.clone()));
    // The rollout workloads as read, and what each is to do.
    let hash = built.rollout_hash.clone();
    let version_name = output.name().to_string();
    let plan = hash.as_deref().map(|hash| apply::RolloutPlan {
        hash,
        version: versioned.then_some((version_name.as_str(), kc.spec.output.kind)),
        previous: kc.status.as_ref().map_or(&[][..], |s| s.rollout.as_slice()),
        target: kc,
    });
    let mut warnings = Vec::new();
    let workloads = match &plan {
        Some(plan) => {
            let read = apply::read_workloads(&ctx.client, namespace, &kc.spec.rollout).await?;
            apply::plan_steps(read, plan, &mut warnings)
        }
        None => Vec::new(),
    };
    if apply::output_needs_write(stored.as_ref(), &output)
        && (apply::restart_due(&workloads) || published.is_none())
    {
        if let Some(wait) = ctx.settle_wait(&ObjectRef::from_obj(kc), output.content_hash()) {
            tracing::debug!(
                wait_ms = wait.as_millis(),
                "change settling before it is written"
            );
            return Ok(Applied {
                settling: Some(wait),
                ..Applied::default()
            });
        }
    }
    let management = build::management(kc).cloned();
    let pending = match &management {
        Some(_) => {
            let desired = broker::desired_policies(&files);
            let pending = broker::no_longer_wanted(published.as_ref(), &desired);
            output.set_annotation(
                broker::ANNOTATION_PENDING_DELETES,
                broker::pending_annotation(&pending),
            );
            pending
        }
        None => Default::default(),
    };
    if versioned {
        // When this version was published: kept from the stored object, stamped when new.
        let published = match &stored {
            Some(s) => s
                .annotation(versions::ANNOTATION_PUBLISHED)
                .map(str::to_string),
            None => Some((ctx.clock)().0.to_string()),
        };
        output.set_annotation(versions::ANNOTATION_PUBLISHED, published);
    }
    let written = apply::write_output(&ctx.client, &ctx.echoes, stored.as_ref(), &output).await?;
    if written {
        writes.output += 1;
        ctx.metrics.write(output.kind(), "apply");
    }
    let mut applied = Applied {
        written,
        ..Applied::default()
    };
    if let Some(plan) = &plan {
        let outcome =
            apply::move_workloads(&ctx.client, &ctx.echoes, namespace, &workloads, plan).await?;
        applied.annotated = outcome.annotated.clone();
        writes.workloads = outcome.annotated.len();
        for workload in &outcome.annotated {
            let kind = workload.split('/').next().unwrap_or_default();
            ctx.metrics.write(kind, "annotation");
        }
        // Where each workload stands now.
        let before = |mounted: Option<&str>| match mounted {
            Some(name) => versions
                .iter()
                .find(|v| v.name == name)
                .map(|v| v.object.files()),
            None => stored.as_ref().map(|s| s.files()),
        };
        let mut records = Vec::with_capacity(workloads.len());
        // The pods listed here, by workload (`Kind/name`): collecting versions reads them too.
        let mut listed = HashMap::new();
        for workload in &workloads {
            let pods = match (&workload.step, &workload.object) {
                (apply::Step::Current { .. }, Some(object))
                    if !rollout::progress(workload.entry.kind, object).complete =>
                {
                    listed
                        .entry(workload.id())
                        .or_insert(apply::workload_pods(&ctx.client, namespace, workload).await?)
                }
                _ => &[][..],
            };
            records.push(rollout::record(
                workload,
                plan,
                pods,
                &files,
                &before,
                &(ctx.clock)(),
            ));
        }
        if !kc.spec.rollout.is_empty() {
            let version = if versioned {
                version_name.clone()
            } else {
                rollout::short(plan.hash)
            };
            let previous = kc
                .status
                .as_ref()
                .map_or(&[][..], |s| s.conditions.as_slice());
            conditions::merge(
                &mut built.status.conditions,
                vec![rollout::rolled_out(&records, &version)],
                &[],
                previous,
                kc.metadata.generation,
                &(ctx.clock)(),
            );
        }
        ctx.metrics.set_rollout(
            &gauge_target(kc),
            records.iter().filter_map(|r| r.state).collect(),
        );
        built.status.rollout = records;
        if versioned {
            built.status.output_version = Some(output.name().to_string());
            put_rollout_warnings(kc, built, &warnings, &(ctx.clock)());
            collect_versions(kc, ctx, &versions, output.name(), &workloads, &listed).await?;
        }
    }
    let Some(management) = management else {
        return Ok(applied);
    };
    let client = broker::config(&ctx.client, namespace, &management)
        .await?
        .and_then(|config| {
            kollacfg_broker::Broker::new(config)
                .map(|b| b.with_observer(Arc::new(BrokerRequests(ctx.metrics.clone()))))
                .map_err(broker::SyncError::Broker)
        });
    let pass = broker::sync(
        client,
        &files,
        published.as_ref(),
        &pending,
        &built.absent_policies,
    )
    .await;
    ctx.metrics
        .broker_sync_duration
        .observe(pass.took.as_secs_f64());
    ctx.metrics
        .broker_policies_restored
        .inc_by(pass.restored as u64);
    if let Ok(outcome) = &pass.result {
        writes.broker = outcome.put.len() + outcome.deleted.len();
        if writes.broker > 0 {
            tracing::info!(
                written = outcome.put.len(),
                deleted = outcome.deleted.len(),
                "broker policies synced"
            );
        }
        if pass.restored > 0 {
            tracing::info!(restored = pass.restored, "broker drift repaired");
        }
    }
    // The deletions the broker confirmed leave the record on the output.
    let remaining = broker::still_pending(&pending, &pass);
    if remaining != pending {
        let mut updated = output.clone();
        updated.set_annotation(
            broker::ANNOTATION_PENDING_DELETES,
            broker::pending_annotation(&remaining),
        );
        if apply::write_output(&ctx.client, &ctx.echoes, Some(&output), &updated).await? {
            ctx.metrics.write(updated.kind(), "apply");
        }
    }
    put_broker_conditions(kc, fragments, built, &management, &pass, &(ctx.clock)());
    applied.broker_failure = pass
        .result
        .as_ref()
        .err()
        .map(|e| (e.reason(), e.to_string()));
    Ok(applied)
}

/// Puts `BrokerSynced` (and `InsecureBroker`), `status.broker` and each deciding
/// RabbitPolicy's `Live` condition into `built` after `pass`.
fn put_broker_conditions(
    kc: &KollaConfig,
    fragments: &[AnyResource],
    built: &mut build::Built,
    management: &kollacfg_api::Management,
    pass: &broker::Pass,
    now: &Time,
) {
    let report = broker::report(
        management,
        pass,
        &built.policy_winners,
        &built.absent_policies,
    );
    let previous = kc.status.clone().unwrap_or_default();
    let generation = kc.metadata.generation;
    conditions::merge(
        &mut built.status.conditions,
        report.target,
        &[],
        &previous.conditions,
        generation,
        now,
    );
    let changed = broker::synced_changed(&previous.conditions, &built.status.conditions);
    built.status.broker =
        broker::broker_status(previous.broker.as_ref(), report.counts, changed, now);
    for (id, status) in &mut built.fragments {
        if let Some(live) = report.fragments.get(id) {
            let stored = stored_conditions(fragments, id);
            let (extra, carried) =
                if broker::keeps_last_live(pass, stored, status.observed_generation) {
                    (Vec::new(), &[kollacfg_api::CONDITION_LIVE][..])
                } else {
                    (vec![live.clone()], &[][..])
                };
            conditions::merge(
                &mut status.conditions,
                extra,
                carried,
                stored,
                status.observed_generation,
                now,
            );
        }
    }
}

/// The conditions stored on fragment `id` (before this pass).
fn stored_conditions<'a>(
    fragments: &'a [AnyResource],
    id: &kollacfg_render::ResourceRef,
) -> &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
    fragments
        .iter()
        .find(|f| f.kind() == id.kind && f.metadata().name.as_deref() == Some(id.name.as_str()))
        .map_or(&[], build::fragment_previous)
}

/// With nothing rendered, the workloads were not moved: what `status` said of them (the
/// records, the `RolledOut` and `RolloutWarning` conditions, the newest version) stays.
fn carry_rollout(kc: &KollaConfig, built: &mut build::Built) {
    let previous = kc.status.clone().unwrap_or_default();
    conditions::merge(
        &mut built.status.conditions,
        Vec::new(),
        &[
            kollacfg_api::CONDITION_ROLLED_OUT,
            kollacfg_api::CONDITION_ROLLOUT_WARNING,
        ],
        &previous.conditions,
        kc.metadata.generation,
        &Time(Timestamp::UNIX_EPOCH),
    );
    built.status.rollout = previous.rollout;
    built.status.output_version = previous.output_version;
}

/// With nothing rendered, the broker was not touched: its conditions (on the KollaConfig and
/// on the RabbitPolicies) and counts stay those of the previous statuses.
fn carry_broker_conditions(kc: &KollaConfig, fragments: &[AnyResource], built: &mut build::Built) {
    let previous = kc.status.clone().unwrap_or_default();
    let now = Time(Timestamp::UNIX_EPOCH);
    conditions::merge(
        &mut built.status.conditions,
        Vec::new(),
        &[
            kollacfg_api::CONDITION_BROKER_SYNCED,
            kollacfg_api::CONDITION_INSECURE_BROKER,
        ],
        &previous.conditions,
        kc.metadata.generation,
        &now,
    );
    built.status.broker = previous.broker;
    for (id, status) in &mut built.fragments {
        conditions::merge(
            &mut status.conditions,
            Vec::new(),
            &[kollacfg_api::CONDITION_LIVE],
            stored_conditions(fragments, id),
            status.observed_generation,
            &now,
        );
    }
}

/// Versioned mode: the warning condition `RolloutWarning` listing what is wrong with the
/// rollout entries (a workload not found, a volume missing); absent when nothing is.
fn put_rollout_warnings(
    kc: &KollaConfig,
    built: &mut build::Built,
    warnings: &[String],
    now: &Time,
) {
    let previous = kc
        .status
        .as_ref()
        .map_or(&[][..], |s| s.conditions.as_slice());
    built
        .status
        .conditions
        .retain(|c| c.type_ != kollacfg_api::CONDITION_ROLLOUT_WARNING);
    if warnings.is_empty() {
        return;
    }
    let reason = if warnings.iter().any(|w| w.ends_with(" not found")) {
        "WorkloadNotFound"
    } else {
        "VolumeMissing"
    };
    conditions::merge(
        &mut built.status.conditions,
        vec![conditions::Desired::new(
            kollacfg_api::CONDITION_ROLLOUT_WARNING,
            conditions::State::True,
            reason,
            warnings.join("; "),
        )],
        &[],
        previous,
        kc.metadata.generation,
        now,
    );
}

/// Versioned mode: deletes the versions beyond `spec.output.keepVersions` that neither the
/// current version nor anything of the rollout workloads (template, revisions, pods) refers
/// to. Reads the references only when some version is a candidate.
async fn collect_versions(
    kc: &KollaConfig,
    ctx: &Context,
    stored: &[versions::Version],
    current: &str,
    workloads: &[apply::Workload],
    listed: &HashMap<String, Vec<serde_json::Value>>,
) -> Result<()> {
    let keep = kc.spec.output.keep_versions();
    let candidates = versions::to_delete(stored, keep, current, &Default::default());
    if candidates.is_empty() {
        return Ok(());
    }
    let referenced = versions::referenced(&ctx.client, kc, workloads, listed).await?;
    let doomed = versions::to_delete(stored, keep, current, &referenced);
    for name in versions::delete(&ctx.client, &ctx.echoes, kc, &doomed).await? {
        ctx.metrics.write(kc.spec.output.kind.as_str(), "delete");
        tracing::debug!(version = name, "version collected");
    }
    Ok(())
}

/// Says in the KollaConfig's status that its output could not be written (best effort: with
/// the API server down this fails too, and the error is retried anyway).
async fn report_write_failure(kc: &KollaConfig, ctx: &Context, error: &Error) {
    let status = build::write_failed_status(kc, error.reason(), &error.to_string(), &(ctx.clock)());
    match apply::write_target_status(&ctx.client, &ctx.echoes, kc, &status).await {
        Ok(true) => ctx.metrics.write("KollaConfig", "status"),
        Ok(false) => {}
        Err(e) => tracing::debug!("reporting the failed write in status failed too: {e}"),
    }
}

/// After a failed reconcile: log it and retry that object after its next backoff delay.
pub fn error_policy(kc: Arc<KollaConfig>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.next_delay(&ObjectRef::from_obj(&*kc));
    tracing::warn!(
        namespace = kc.namespace(),
        name = kc.name_any(),
        reason = error.reason(),
        retry_in_s = delay.as_secs(),
        "reconcile failed: {error}"
    );
    Action::requeue(delay)
}
