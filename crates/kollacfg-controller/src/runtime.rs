//! Starts everything: the API client from the standard environment, one reflector per fragment
//! kind, the controller with its watches (KollaConfigs, fragments, Secrets, ConfigMaps), and a
//! graceful shutdown on SIGTERM/SIGINT. The first reconcile waits until every cache is full.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::{future::BoxFuture, FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kollacfg_api::{
    AnyResource, ConfigOverride, ErlangVmArgs, KollaConfig, NovaComputePolicy, NovaVifPolicy,
    OsloMessagingPolicy, RabbitListenerPolicy, RabbitPolicy,
};
use kube::runtime::controller::{Config, Controller};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::controller::{error_policy, reconcile, Context};
use crate::stores::{for_fragment_kinds, related_kolla_configs, Stores, TargetMemory};

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch only this namespace; `None` watches all of them.
    pub namespace: Option<String>,
    /// How many KollaConfigs are reconciled at once.
    pub concurrency: u16,
    /// Where `/healthz`, `/readyz` and `/metrics` are served; `None` serves nothing.
    pub metrics_addr: Option<SocketAddr>,
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

/// Keeps one store filled from its watch, retrying with backoff on errors.
fn drive<K>(writer: reflector::store::Writer<K>, api: Api<K>) -> BoxFuture<'static, ()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    )
    .for_each(|event| async move {
        if let Err(e) = event {
            tracing::warn!("fragment watch failed (retrying): {e}");
        }
    })
    .boxed()
}

/// Runs the controller with `client` until SIGTERM or SIGINT.
pub async fn run(client: Client, settings: Settings) -> Result<(), RunError> {
    let ns = settings.namespace.as_deref();
    let (stores, writers) = Stores::new();
    let mut drivers: Vec<BoxFuture<'static, ()>> = Vec::new();
    macro_rules! start_reflectors {
        ($($kind:ident => $field:ident),*) => {
            $(drivers.push(drive(writers.$field, api::<$kind>(&client, ns)));)*
        };
    }
    for_fragment_kinds!(start_reflectors);

    let wc = watcher::Config::default();
    let mut controller = Controller::new(api::<KollaConfig>(&client, ns), wc.clone())
        .with_config(Config::default().concurrency(settings.concurrency));
    let kolla_configs = controller.store();
    let memory = TargetMemory::default();
    macro_rules! watch_fragments {
        ($($kind:ident => $field:ident),*) => {
            $(
                let m = memory.clone();
                controller = controller.watches(api::<$kind>(&client, ns), wc.clone(), move |f: $kind| {
                    m.targets_of(&AnyResource::from(f))
                });
            )*
        };
    }
    for_fragment_kinds!(watch_fragments);
    let (for_secrets, for_maps) = (kolla_configs.clone(), kolla_configs);
    let controller = controller
        .watches(api::<Secret>(&client, ns), wc.clone(), move |s: Secret| {
            related_kolla_configs(&for_secrets, "Secret", &s)
        })
        .watches(api::<ConfigMap>(&client, ns), wc, move |c: ConfigMap| {
            related_kolla_configs(&for_maps, "ConfigMap", &c)
        })
        .shutdown_on_signal();

    let ctx = Arc::new(Context::new(client, stores.clone()));
    let metrics = ctx.metrics.clone();
    let serve: BoxFuture<'static, ()> = match settings.metrics_addr {
        Some(addr) => {
            let (bound, serve) = crate::http::bind(addr, metrics.clone())
                .await
                .map_err(|source| RunError::MetricsBind { addr, source })?;
            tracing::info!(%bound, "serving /healthz, /readyz and /metrics");
            serve.boxed()
        }
        None => futures::future::pending().boxed(),
    };
    let control = async move {
        tracing::info!(namespace = ns.unwrap_or("(all)"), "filling the caches");
        stores
            .wait_until_ready()
            .await
            .map_err(|_| RunError::CacheClosed)?;
        tracing::info!("caches filled; reconciling");
        metrics.set_ready(true);
        controller
            .run(reconcile, error_policy, ctx)
            .for_each(|result| async move {
                match result {
                    Ok((object, _)) => tracing::trace!(%object, "reconcile done"),
                    Err(e) => tracing::debug!("controller: {e}"),
                }
            })
            .await;
        tracing::info!("shut down");
        Ok(())
    };
    tokio::select! {
        result = control => result,
        _ = futures::future::join_all(drivers) => Err(RunError::CacheClosed),
        _ = serve => Ok(()),
    }
}
