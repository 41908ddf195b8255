//! Starts everything: the API client from the standard environment, one reflector per fragment
//! kind, the controller with its watches (KollaConfigs, fragments, Secrets, ConfigMaps), and a
//! graceful shutdown on SIGTERM/SIGINT. The first reconcile waits until every cache is full.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kollacfg_api::{
    AnyResource, ConfigOverride, ErlangVmArgs, KollaConfig, NovaComputePolicy, NovaVifPolicy,
    OsloMessagingPolicy, RabbitListenerPolicy, RabbitPolicy, WorkloadKind,
};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{oneshot, watch};

use crate::controller::{error_policy, reconcile, Context};
use crate::echoes::Echoes;
use crate::leader::{self, LeaseSettings};
use crate::metrics::Metrics;
use crate::stores::{
    for_fragment_kinds, related_kolla_configs, rolled_out_by, Stores, TargetMemory,
};

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch only these namespaces; empty watches all of them. Each one gets a controller
    /// instance of its own (caches, watches, reconcile loop): a KollaConfig and its fragments
    /// live in one namespace, so the instances are independent.
    pub namespaces: Vec<String>,
    /// How many KollaConfigs are reconciled at once (per watched namespace).
    pub concurrency: u16,
    /// Where `/healthz`, `/readyz` and `/metrics` are served; `None` serves nothing.
    pub metrics_addr: Option<SocketAddr>,
    /// Run only while holding this Lease (`None`: always run; one replica only).
    pub leader_election: Option<LeaderElection>,
    /// How often the live broker of a KollaConfig with `spec.rabbitmq.management` is read
    /// again to repair drift (one GET per KollaConfig per period).
    pub broker_resync: std::time::Duration,
    /// How long a change that restarts workloads (or a target's first output) must stay the
    /// same before it is written ([`crate::controller::SETTLE`] by default).
    pub settle: std::time::Duration,
}

/// Which Lease the replicas compete for.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// Its namespace; default `$POD_NAMESPACE`, else `kollacfg-system`.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl LeaderElection {
    /// The full settings, with this replica's identity from `$POD_NAME`, else `$HOSTNAME`,
    /// else the process id.
    pub fn settings(&self) -> LeaseSettings {
        let namespace = self
            .namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "kollacfg-system".to_string());
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .map(|host| format!("{host}-{}", std::process::id()))
            .unwrap_or_else(|_| format!("kollacfg-{}", std::process::id()));
        LeaseSettings::new(namespace, self.name.clone(), identity)
    }
}

/// Why the controller could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// No usable kubeconfig or in-cluster configuration.
    #[error("loading the cluster configuration (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    Kubeconfig(#[source] kube::Error),
    /// A cache's writer went away before its first full list.
    #[error("a resource cache stopped before it was filled")]
    CacheClosed,
    /// The metrics address could not be bound.
    #[error("serving /metrics on {addr}: {source}")]
    MetricsBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs the controller until SIGTERM or SIGINT, on its own async runtime.
pub fn run_blocking(settings: Settings) -> Result<(), RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?
        .block_on(async {
            let client = Client::try_default().await.map_err(RunError::Kubeconfig)?;
            run(client, settings).await
        })
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// How every watch lists: from etcd (`MostRecent`), not from the API server's watch cache, so
/// that after an API server restart a relist cannot hand back a resource version the server
/// has already compacted (which would loop on `410 Gone`).
fn watch_config() -> watcher::Config {
    watcher::Config::default().list_semantic(watcher::ListSemantic::MostRecent)
}

/// Runs `changes` (a watch of `K`, with its own backoff) in a task of its own, returned in
/// `tasks` to be aborted on shutdown, and hands its objects to the controller through an
/// unbounded channel, so the watch goes on whether or not the controller is busy.
///
/// Errors stay here: they are logged and counted, and the watch retries by itself. They must
/// not reach the controller, which puts all its triggers behind one shared backoff on any
/// error: one failing watch would stall every trigger, and the errors queued during an API
/// server outage would be replayed one per backoff period (up to a minute each) after it ended.
///
/// The echoes of the controller's own writes stay here too ([`crate::echoes`]): what it wrote
/// needs no second look. The caches upstream have taken them already.
///
/// `changes` is the watch's event stream; the objects applied (listed, added, changed) pass
/// on, and the objects deleted too when `deletions` says so.
fn forward<K, S>(
    changes: S,
    deletions: bool,
    watching: &Watching,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Send + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let Watching { metrics, echoes } = watching.clone();
    let kind = K::kind(&()).into_owned();
    tasks.push(tokio::spawn(async move {
        futures::pin_mut!(changes);
        while let Some(change) = changes.next().await {
            let (object, deleted) = match change {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    (object, false)
                }
                Ok(watcher::Event::Delete(object)) if deletions => (object, true),
                Ok(_) => continue,
                Err(e) => {
                    metrics.watch_error(&kind);
                    tracing::warn!(%kind, "watch failed, retrying: {e}");
                    continue;
                }
            };
            if echoes.is_echo(&kind, object.meta(), deleted).await {
                metrics.watch_echo(&kind);
                continue;
            }
            if tx.unbounded_send(object).is_err() {
                break;
            }
        }
    }));
    rx.map(Ok)
}

/// What every forwarded watch shares: the counters, and the controller's own writes.
#[derive(Clone)]
struct Watching {
    metrics: Arc<Metrics>,
    echoes: Arc<Echoes>,
}

/// The watch of every `K` in `api`, with a backoff after errors.
fn watch<K>(api: Api<K>) -> impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, watch_config()).default_backoff()
}

/// The watch of every `K` in `api`, kept in `writer`'s store. The reflector writes each change
/// into the store before passing it on, so the reconcile it triggers always sees it.
/// `managedFields` are dropped before caching: the controller never reads them and they are
/// most of an object's size.
fn cached<K>(
    writer: reflector::store::Writer<K>,
    api: Api<K>,
) -> impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let stream = watch(api).modify(|object: &mut K| object.meta_mut().managed_fields = None);
    reflector(writer, stream)
}

/// Resolves when SIGTERM or SIGINT arrives (the sender side flips to `true`).
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM ({e}); only SIGINT stops the controller");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutdown requested");
        let _ = tx.send(true);
    });
    rx
}

/// Waits until `shutdown` flips to `true` (or its sender is gone).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Runs the controller with `client` until SIGTERM or SIGINT. With leader election, only
/// while holding the Lease: a replica that loses it stops reconciling and stands by again.
pub async fn run(client: Client, settings: Settings) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let server = match settings.metrics_addr {
        Some(addr) => {
            let (bound, serve) = crate::http::bind(addr, metrics.clone())
                .await
                .map_err(|source| RunError::MetricsBind { addr, source })?;
            tracing::info!(%bound, "serving /healthz, /readyz and /metrics");
            Some(tokio::spawn(serve))
        }
        None => None,
    };
    let shutdown = shutdown_signal();
    let result = match settings
        .leader_election
        .as_ref()
        .map(LeaderElection::settings)
    {
        None => run_controllers(&client, &settings, metrics, shutdown).await,
        Some(lease) => {
            let api = Api::<Lease>::namespaced(client.clone(), &lease.namespace);
            loop {
                // A standby is doing its job: ready.
                metrics.set_ready(true);
                tokio::select! {
                    _ = leader::acquire(&api, &lease) => {}
                    _ = stopped(shutdown.clone()) => break Ok(()),
                }
                metrics.set_ready(false);
                let ran = tokio::select! {
                    ran = run_controllers(&client, &settings, metrics.clone(), shutdown.clone()) => Some(ran),
                    _ = leader::hold(&api, &lease) => None,
                };
                if let Some(ran) = ran {
                    leader::release(&api, &lease).await;
                    break ran;
                }
            }
        }
    };
    if let Some(server) = server {
        server.abort();
    }
    result
}

/// One controller instance per watched namespace (one for all of them when none is named),
/// run together until `shutdown`. Ready once every instance has filled its caches.
async fn run_controllers(
    client: &Client,
    settings: &Settings,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let namespaces: Vec<Option<&str>> = if settings.namespaces.is_empty() {
        vec![None]
    } else {
        settings
            .namespaces
            .iter()
            .map(|ns| Some(ns.as_str()))
            .collect()
    };
    let filling = Arc::new(AtomicUsize::new(namespaces.len()));
    futures::future::try_join_all(namespaces.into_iter().map(|ns| {
        run_controller(
            client,
            ns,
            settings,
            metrics.clone(),
            filling.clone(),
            shutdown.clone(),
        )
    }))
    .await
    .map(drop)
}

/// Spawned tasks, aborted when dropped: the watches of an instance end with it, also when it
/// is dropped before it returns (a lost Lease, another instance's failure).
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// One controller instance: reflectors, watches and the reconcile loop over `ns` (`None`: all
/// namespaces), until `shutdown`. Counts `filling` down once its caches are full; the last
/// instance to get there marks the process ready.
async fn run_controller(
    client: &Client,
    ns: Option<&str>,
    settings: &Settings,
    metrics: Arc<Metrics>,
    filling: Arc<AtomicUsize>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let (stores, writers) = Stores::new();
    let mut tasks = Vec::new();
    let watching = Watching {
        metrics: metrics.clone(),
        echoes: Arc::default(),
    };

    // Every watch runs in a task of its own and passes on objects only (see `forward`).
    let (kolla_configs, kolla_config_writer) = reflector::store::<KollaConfig>();
    let mut controller = Controller::for_stream(
        forward(
            cached(kolla_config_writer, api::<KollaConfig>(client, ns)),
            false,
            &watching,
            &mut tasks,
        ),
        kolla_configs.clone(),
    )
    .with_config(Config::default().concurrency(settings.concurrency));
    let memory = TargetMemory::default();
    macro_rules! watch_fragments {
        ($($kind:ident => $field:ident),*) => {
            $(
                let m = memory.clone();
                let changes = cached(writers.$field, api::<$kind>(client, ns));
                controller = controller.watches_stream(
                    forward(changes, true, &watching, &mut tasks),
                    move |f: $kind| m.targets_of(&AnyResource::from(f)),
                );
            )*
        };
    }
    for_fragment_kinds!(watch_fragments);
    // Rollout workloads, metadata only: one named by a KollaConfig appearing or changing (its
    // rollout moving) starts a reconcile of that KollaConfig.
    macro_rules! watch_workloads {
        ($($kind:ident),*) => {
            $(
                let for_kind = kolla_configs.clone();
                controller = controller.watches_stream(
                    forward(
                        watch(api::<PartialObjectMeta<$kind>>(client, ns)),
                        true,
                        &watching,
                        &mut tasks,
                    ),
                    move |w: PartialObjectMeta<$kind>| {
                        rolled_out_by(&for_kind, WorkloadKind::$kind, &w)
                    },
                );
            )*
        };
    }
    watch_workloads!(Deployment, StatefulSet, DaemonSet);
    let (for_secrets, for_maps, for_sweep) =
        (kolla_configs.clone(), kolla_configs.clone(), kolla_configs);
    // The controller wants a shutdown future that is Sync: a oneshot fed by the signal watch.
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let relay = tokio::spawn(async move {
        stopped(shutdown).await;
        let _ = stop_tx.send(());
    });
    // Secrets and ConfigMaps: metadata only (names and owners are all the mapping reads; the
    // reconcile reads a base itself), so no Secret's data passes through the controller here.
    let secrets = watch(api::<PartialObjectMeta<Secret>>(client, ns));
    let config_maps = watch(api::<PartialObjectMeta<ConfigMap>>(client, ns));
    let controller = controller
        .watches_stream(
            forward(secrets, true, &watching, &mut tasks),
            move |s: PartialObjectMeta<Secret>| related_kolla_configs(&for_secrets, "Secret", &s),
        )
        .watches_stream(
            forward(config_maps, true, &watching, &mut tasks),
            move |c: PartialObjectMeta<ConfigMap>| {
                related_kolla_configs(&for_maps, "ConfigMap", &c)
            },
        )
        .graceful_shutdown_on(stop_rx.map(drop));

    let mut context = Context::new(client.clone(), stores.clone());
    context.metrics = metrics.clone();
    context.echoes = watching.echoes.clone();
    context.broker_resync = settings.broker_resync;
    context.settle = settings.settle;
    let ctx = Arc::new(context);
    let control = async move {
        tracing::info!(namespace = ns.unwrap_or("(all)"), "filling the caches");
        stores
            .wait_until_ready()
            .await
            .map_err(|_| RunError::CacheClosed)?;
        tracing::info!(
            namespace = ns.unwrap_or("(all)"),
            "caches filled; reconciling"
        );
        if filling.fetch_sub(1, Ordering::SeqCst) == 1 {
            metrics.set_ready(true);
        }
        let sweep_ctx = ctx.clone();
        // Fragments naming no KollaConfig, once the KollaConfigs are all known too.
        let sweeper = async move {
            if for_sweep.wait_until_ready().await.is_ok() {
                crate::orphans::sweep_forever(&sweep_ctx, for_sweep).await;
            }
            futures::future::pending::<()>().await;
        };
        let reconciles =
            controller
                .run(reconcile, error_policy, ctx)
                .for_each(|result| async move {
                    match result {
                        Ok((object, _)) => tracing::trace!(%object, "reconcile done"),
                        Err(e) => tracing::debug!("controller: {e}"),
                    }
                });
        tokio::select! {
            _ = reconciles => {}
            _ = sweeper => {}
        }
        tracing::info!("shut down");
        Ok(())
    };
    tasks.push(relay);
    let _tasks = Tasks(tasks);
    control.await
}
