//! Fragments whose `kollaConfigRef` names no KollaConfig: nothing reconciles them, so a sweep
//! reports `Ready=False, TargetNotFound` on each (writing only what differs). Once the target
//! exists, its own reconcile takes over their status.

use std::collections::HashSet;
use std::time::Duration;

use kollacfg_api::{AnyResource, KollaConfig};
use kube::runtime::reflector::Store;

use crate::apply::write_fragment_status;
use crate::build::{fragment_previous, orphan_status};
use crate::controller::Context;
use crate::error::Result;

/// How often the sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The fragments in `all` naming no KollaConfig of `kolla_configs` (same namespace, name),
/// sorted by kind, namespace and name.
pub fn orphans<'a>(kolla_configs: &[&KollaConfig], all: &'a [AnyResource]) -> Vec<&'a AnyResource> {
    let targets: HashSet<(Option<&str>, Option<&str>)> = kolla_configs
        .iter()
        .map(|kc| {
            (
                kc.metadata.namespace.as_deref(),
                kc.metadata.name.as_deref(),
            )
        })
        .collect();
    let mut found = all
        .iter()
        .filter(|f| !targets.contains(&(f.metadata().namespace.as_deref(), f.kolla_config_ref())))
        .collect::<Vec<_>>();
    found.sort_by_key(|f| {
        let meta = f.metadata();
        (f.kind(), meta.namespace.clone(), meta.name.clone())
    });
    found
}

/// One sweep: writes the orphan status of every orphan fragment whose stored status differs.
/// Returns how many statuses it wrote.
pub async fn sweep(ctx: &Context, kolla_configs: &[&KollaConfig]) -> Result<usize> {
    let targets: HashSet<(Option<&str>, &str)> = kolla_configs
        .iter()
        .map(|kc| {
            (
                kc.metadata.namespace.as_deref(),
                kc.metadata.name.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    // Copy only the orphans out of the caches, not every fragment.
    let all = ctx
        .stores
        .fragments_where(|namespace, target| !targets.contains(&(namespace, target)));
    let now = (ctx.clock)();
    let mut written = 0;
    for fragment in orphans(kolla_configs, &all) {
        let target = fragment.kolla_config_ref().unwrap_or_default();
        let status = orphan_status(
            target,
            fragment_previous(fragment),
            fragment.metadata().generation,
            &now,
        );
        if write_fragment_status(&ctx.client, &ctx.echoes, fragment, &status).await? {
            ctx.metrics.write(fragment.kind(), "status");
            written += 1;
        }
    }
    Ok(written)
}

/// Sweeps every [`SWEEP_EVERY`] until dropped. Failures are logged and retried next time.
/// Each sweep also forgets what the controller kept for deleted KollaConfigs.
pub async fn sweep_forever(ctx: &Context, kolla_configs: Store<KollaConfig>) {
    loop {
        let state = kolla_configs.state();
        let refs: Vec<&KollaConfig> = state.iter().map(|kc| &**kc).collect();
        ctx.forget_deleted(&refs);
        match sweep(ctx, &refs).await {
            Ok(0) => {}
            Ok(written) => tracing::info!(written, "fragments without a KollaConfig reported"),
            Err(e) => tracing::warn!(
                reason = e.reason(),
                "reporting orphan fragments failed: {e}"
            ),
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::Method;

    use super::*;
    use crate::fixtures::{context, fragments, kolla_config, Step};

    const CO_URI: &str = "/apis/kollacfg.dev/v1alpha1/namespaces/openstack/configoverrides/stats/status?&force=true&fieldManager=kollacfg";
    const RL_URI: &str = "/apis/kollacfg.dev/v1alpha1/namespaces/openstack/rabbitlistenerpolicies/keepalive/status?&force=true&fieldManager=kollacfg";

    #[test]
    fn only_fragments_without_their_target_are_orphans() {
        let frags = fragments(&BTreeMap::new());
        let kc = kolla_config(None);
        assert!(orphans(&[&kc], &frags).is_empty());
        assert_eq!(orphans(&[], &frags).len(), 2);
        let mut elsewhere = kc.clone();
        elsewhere.metadata.namespace = Some("other".into());
        assert_eq!(orphans(&[&elsewhere], &frags).len(), 2);
    }

    #[tokio::test]
    async fn orphans_get_target_not_found_once() {
        let frags = fragments(&BTreeMap::new());
        let (ctx, verifier) = context(&frags);
        // The mock answers with the fragments as stored (only the requests are checked).
        let answer = |kind: &str| {
            let f = frags.iter().find(|f| f.kind() == kind).unwrap();
            serde_json::to_value(f).unwrap()
        };
        let script = vec![
            Step::new(Method::PATCH, CO_URI, 200, answer("ConfigOverride")),
            Step::new(Method::PATCH, RL_URI, 200, answer("RabbitListenerPolicy")),
        ];
        let server = tokio::spawn(verifier.run(script));
        assert_eq!(sweep(&ctx, &[]).await.unwrap(), 2);
        drop(ctx);
        let seen = server.await.unwrap();
        let ready = &seen[0].body["status"]["conditions"][2];
        assert_eq!(ready["type"], "Ready");
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "TargetNotFound");

        // The same world with those statuses stored: no request at all.
        let statuses: BTreeMap<String, serde_json::Value> = [
            ("ConfigOverride/stats", &seen[0]),
            ("RabbitListenerPolicy/keepalive", &seen[1]),
        ]
        .into_iter()
        .map(|(k, s)| (k.to_string(), s.body["status"].clone()))
        .collect();
        let (ctx, verifier) = context(&fragments(&statuses));
        let server = tokio::spawn(verifier.run(vec![]));
        assert_eq!(sweep(&ctx, &[]).await.unwrap(), 0);
        drop(ctx);
        assert!(server.await.unwrap().is_empty());
    }
}
