//! Reconciles against a mocked API server, asserting the exact requests: the first pass
//! writes the output, the rollout annotation and the statuses; a second pass over the world it
//! left writes nothing; API failures become errors whose retry delay grows.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use k8s_openapi::api::core::v1::Secret;
use kollacfg_api::{parse_documents, to_fragment, to_target, AnyResource, KollaConfig};
use kollacfg_render::render::render_target;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde_json::{json, Value};

use crate::build::ANNOTATION_CONFIG_HASH;
use crate::controller::{error_policy, reconcile_once, Writes, RESYNC};
use crate::error::Error;
use crate::fixtures::*;
use crate::hash::files_hash;

const BASE_URI: &str = "/api/v1/namespaces/openstack/secrets/rabbitmq-kolla";
const OUTPUT_URI: &str = "/api/v1/namespaces/openstack/secrets/rabbitmq-config";
const STS_URI: &str = "/apis/apps/v1/namespaces/openstack/statefulsets/rabbitmq";
const KC_URI: &str = "/apis/kollacfg.dev/v1alpha1/namespaces/openstack/kollaconfigs/rabbitmq";
const CO_URI: &str = "/apis/kollacfg.dev/v1alpha1/namespaces/openstack/configoverrides/stats";
const RL_URI: &str =
    "/apis/kollacfg.dev/v1alpha1/namespaces/openstack/rabbitlistenerpolicies/keepalive";
const SSA: &str = "?&force=true&fieldManager=kollacfg";
const EVENTS_URI: &str = "/apis/events.k8s.io/v1/namespaces/openstack/events?";

fn base_secret() -> Value {
    let data: BTreeMap<String, Vec<u8>> =
        BTreeMap::from([("rabbitmq.conf".to_string(), BASE_CONF.as_bytes().to_vec())]);
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("rabbitmq-kolla".into()),
            namespace: Some("openstack".into()),
            ..Default::default()
        },
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k, k8s_openapi::ByteString(v)))
                .collect(),
        ),
        ..Default::default()
    };
    serde_json::to_value(secret).unwrap()
}

/// The StatefulSet, its template carrying `annotation`; its controller has rolled that
/// template out to its one pod, which is ready.
fn statefulset(annotation: Option<&str>) -> Value {
    let annotations = annotation.map_or(json!({}), |h| json!({ ANNOTATION_CONFIG_HASH: h }));
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "rabbitmq", "namespace": "openstack", "generation": 2},
           "spec": {"selector": {}, "serviceName": "rabbitmq", "replicas": 1,
                    "template": {"metadata": {"annotations": annotations}}},
           "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1,
                      "readyReplicas": 1, "currentRevision": "r2", "updateRevision": "r2"}})
}

/// The engine's files for the test world, as the CLI would render them.
fn expected_files() -> BTreeMap<String, Vec<u8>> {
    let frags: Vec<_> = fragments(&BTreeMap::new())
        .iter()
        .filter_map(to_fragment)
        .collect();
    let refs: Vec<_> = frags.iter().collect();
    let base = BTreeMap::from([("rabbitmq.conf".to_string(), BASE_CONF.as_bytes().to_vec())]);
    render_target(&to_target(&kolla_config(None)), &refs, &base)
        .unwrap()
        .files
}

async fn pass(
    kc: KollaConfig,
    frags: Vec<AnyResource>,
    script: Vec<Step>,
) -> (Result<(Action, Writes), Error>, Vec<Seen>) {
    let (result, seen, _, _) = pass_with_metrics(kc, frags, script).await;
    (result, seen)
}

/// [`pass`], also returning the metrics text after it and the writes it remembered.
async fn pass_with_metrics(
    kc: KollaConfig,
    frags: Vec<AnyResource>,
    script: Vec<Step>,
) -> (
    Result<(Action, Writes), Error>,
    Vec<Seen>,
    String,
    std::sync::Arc<crate::echoes::Echoes>,
) {
    let (ctx, verifier) = context(&frags);
    let server = tokio::spawn(verifier.run(script));
    let result = tokio::time::timeout(Duration::from_secs(10), reconcile_once(&kc, &ctx))
        .await
        .expect("the reconcile hung");
    let metrics = ctx.metrics.render();
    let echoes = ctx.echoes.clone();
    drop(ctx);
    let seen = server.await.expect("the mocked API server failed");
    (result, seen, metrics, echoes)
}

/// The KollaConfig's status write of a pass that fails (the failure is reported in status
/// before the error is returned).
fn failure_status_step(kc: &KollaConfig) -> Step {
    Step::new(
        Method::PATCH,
        &format!("{KC_URI}/status{SSA}"),
        200,
        serde_json::to_value(kc).unwrap(),
    )
}

/// A pass over the default fragments that must fail: its error, the context (for the retry
/// policy) and the verifier, which yields what it saw once the context is dropped.
async fn failing_pass(
    kc: &KollaConfig,
    script: Vec<Step>,
) -> (
    Error,
    std::sync::Arc<crate::controller::Context>,
    tokio::task::JoinHandle<Vec<Seen>>,
) {
    let (ctx, verifier) = context(&fragments(&BTreeMap::new()));
    let server = tokio::spawn(verifier.run(script));
    let error = reconcile_once(kc, &ctx)
        .await
        .expect_err("the pass must fail");
    (error, ctx, server)
}

/// First pass over a fresh world: returns the statuses it wrote and the output it applied.
async fn first_pass() -> (Vec<Seen>, Value) {
    let kc = kolla_config(None);
    let frags = fragments(&BTreeMap::new());
    // Each write is answered with the object at a new resourceVersion.
    let at = |mut object: Value, version: &str| {
        object["metadata"]["resourceVersion"] = json!(version);
        object
    };
    let kc_json = at(serde_json::to_value(&kc).unwrap(), "103");
    let script = vec![
        Step::new(Method::GET, BASE_URI, 200, at(base_secret(), "100")),
        Step::new(Method::GET, OUTPUT_URI, 404, status_body(404, "NotFound")),
        Step::new(Method::GET, STS_URI, 200, statefulset(None)),
        // The mock answers an apply with a Secret holding only its name; only requests are
        // checked.
        Step::new(
            Method::PATCH,
            &format!("{OUTPUT_URI}{SSA}"),
            200,
            json!({"metadata": {"name": "rabbitmq-config", "namespace": "openstack",
                                "resourceVersion": "101"}}),
        ),
        Step::new(
            Method::PATCH,
            &format!("{STS_URI}{SSA}"),
            200,
            at(statefulset(None), "102"),
        ),
        Step::new(
            Method::PATCH,
            &format!("{KC_URI}/status{SSA}"),
            200,
            kc_json,
        ),
        Step::new(
            Method::PATCH,
            &format!("{CO_URI}/status{SSA}"),
            200,
            at(serde_json::to_value(&frags[1]).unwrap(), "104"),
        ),
        Step::new(
            Method::PATCH,
            &format!("{RL_URI}/status{SSA}"),
            200,
            at(serde_json::to_value(&frags[0]).unwrap(), "105"),
        ),
        Step::echo(Method::POST, EVENTS_URI),
        Step::echo(Method::POST, EVENTS_URI),
        Step::echo(Method::POST, EVENTS_URI),
    ];
    let (result, seen, metrics, echoes) = pass_with_metrics(kc, frags, script).await;
    let (action, writes) = result.expect("first pass failed");
    // Every write is remembered at the version it returned, so that its watch event starts
    // no reconcile; what was only read is not.
    let object = |name: &str, version: &str| kube::api::ObjectMeta {
        namespace: Some("openstack".into()),
        name: Some(name.into()),
        resource_version: Some(version.into()),
        ..Default::default()
    };
    assert_eq!(echoes.pending(), 5);
    assert!(
        !echoes
            .is_echo("Secret", &object("rabbitmq-kolla", "100"), false)
            .await
    );
    for (kind, name, version) in [
        ("Secret", "rabbitmq-config", "101"),
        ("StatefulSet", "rabbitmq", "102"),
        ("KollaConfig", "rabbitmq", "103"),
        ("ConfigOverride", "stats", "104"),
        ("RabbitListenerPolicy", "keepalive", "105"),
    ] {
        assert!(
            echoes.is_echo(kind, &object(name, version), false).await,
            "{kind} {name} at {version} not remembered"
        );
    }
    assert_eq!(echoes.pending(), 0);
    for line in [
        "kollacfg_api_writes_total{kind=\"Secret\",write=\"apply\"} 1",
        "kollacfg_api_writes_total{kind=\"StatefulSet\",write=\"annotation\"} 1",
        "kollacfg_api_writes_total{kind=\"KollaConfig\",write=\"status\"} 1",
        "kollacfg_api_writes_total{kind=\"ConfigOverride\",write=\"status\"} 1",
        "kollacfg_api_writes_total{kind=\"Event\",write=\"event\"} 3",
    ] {
        assert!(metrics.contains(line), "no {line} in {metrics}");
    }
    // The rollout is followed until it completes.
    assert_eq!(action, Action::requeue(crate::rollout::POLL));
    assert_eq!(
        writes,
        Writes {
            output: 1,
            workloads: 1,
            statuses: 3,
            events: 3,
            broker: 0,
        }
    );
    let output = seen[3].body.clone();
    (seen, output)
}

#[tokio::test]
async fn first_pass_applies_the_output_the_rollout_and_the_statuses() {
    let (seen, output) = first_pass().await;
    let files = expected_files();
    let secret: Secret = serde_json::from_value(output.clone()).unwrap();
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    assert_eq!(data, files, "the output holds the offline render's bytes");
    assert_eq!(output["apiVersion"], "v1");
    assert_eq!(output["kind"], "Secret");
    let hash = files_hash(&files);
    assert_eq!(
        seen[4].body,
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "rabbitmq", "namespace": "openstack"},
               "spec": {"template": {"metadata": {"annotations": {ANNOTATION_CONFIG_HASH: hash}}}}})
    );
    let status = &seen[5].body;
    let rolled_out = &status["status"]["conditions"][2];
    assert_eq!(rolled_out["type"], "RolledOut");
    assert_eq!(rolled_out["status"], "False");
    assert_eq!(rolled_out["reason"], "Progressing");
    let record = &status["status"]["rollout"][0];
    assert_eq!(record["kind"], "StatefulSet");
    assert_eq!(record["configHash"], hash);
    assert_eq!(record["state"], "Progressing");
    assert_eq!(record["startedTime"], "2023-11-14T22:13:20Z");
    assert_eq!(record["changedFiles"], json!(["rabbitmq.conf"]));
    assert_eq!(status["apiVersion"], "kollacfg.dev/v1alpha1");
    assert_eq!(status["kind"], "KollaConfig");
    assert_eq!(status["status"]["observedGeneration"], 3);
    assert_eq!(status["status"]["contributorCount"], 2);
    assert_eq!(status["status"]["files"][0]["name"], "rabbitmq.conf");
    assert_eq!(status["status"]["conditions"][1]["type"], "Ready");
    assert_eq!(status["status"]["conditions"][1]["status"], "True");
    assert_eq!(
        status["status"]["conditions"][1]["lastTransitionTime"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(seen[6].body["kind"], "ConfigOverride");
    assert_eq!(seen[6].body["status"]["observedGeneration"], 2);
    assert_eq!(seen[7].body["kind"], "RabbitListenerPolicy");
    let events: Vec<(&str, &str)> = seen[8..]
        .iter()
        .map(|s| {
            (
                s.body["type"].as_str().unwrap(),
                s.body["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("Normal", "Rendered"),
            ("Normal", "OutputWritten"),
            ("Normal", "RolloutStarted")
        ]
    );
    assert_eq!(
        seen[10].body["note"],
        format!(
            "StatefulSet/rabbitmq: from no kollacfg output to config hash {}; files changed: \
             rabbitmq.conf",
            &hash[..12]
        )
    );
    for event in &seen[8..] {
        assert_eq!(event.body["regarding"]["kind"], "KollaConfig");
        assert_eq!(event.body["reportingController"], "kollacfg");
        let note = event.body["note"].as_str().unwrap();
        assert!(
            !note.contains("listeners"),
            "an event shows file content: {note}"
        );
    }
}

/// The world as the first pass left it.
fn settled_world(seen: &[Seen]) -> (KollaConfig, Vec<AnyResource>) {
    let kc = kolla_config(Some(&seen[5].body["status"]));
    let statuses = BTreeMap::from([
        (
            "ConfigOverride/stats".to_string(),
            seen[6].body["status"].clone(),
        ),
        (
            "RabbitListenerPolicy/keepalive".to_string(),
            seen[7].body["status"].clone(),
        ),
    ]);
    (kc, fragments(&statuses))
}

/// The world once the first pass's rollout completed (the StatefulSet's controller rolled
/// the template out): the pass that sees it turns RolledOut True, said once. Returns the
/// KollaConfig with the status that pass wrote, the fragments and the output.
async fn rolled_out_world() -> (KollaConfig, Vec<AnyResource>, Value) {
    let (seen, output) = first_pass().await;
    let (kc, frags) = settled_world(&seen);
    let hash = files_hash(&expected_files());
    let script = vec![
        Step::new(Method::GET, BASE_URI, 200, base_secret()),
        Step::new(Method::GET, OUTPUT_URI, 200, output.clone()),
        Step::new(Method::GET, STS_URI, 200, statefulset(Some(&hash))),
        Step::new(
            Method::PATCH,
            &format!("{KC_URI}/status{SSA}"),
            200,
            serde_json::to_value(&kc).unwrap(),
        ),
        Step::echo(Method::POST, EVENTS_URI),
    ];
    let (result, seen) = pass(kc.clone(), frags.clone(), script).await;
    let (action, writes) = result.expect("completing pass failed");
    assert_eq!((writes.statuses, writes.events, writes.output), (1, 1, 0));
    assert_eq!(action, Action::requeue(RESYNC));
    let status = &seen[3].body["status"];
    assert_eq!(status["conditions"][2]["type"], "RolledOut");
    assert_eq!(status["conditions"][2]["status"], "True");
    assert_eq!(status["rollout"][0]["state"], "Complete");
    assert_eq!(status["rollout"][0]["readyReplicas"], 1);
    assert_eq!(seen[4].body["reason"], "RolloutComplete");
    (kolla_config(Some(status)), frags, output)
}

#[tokio::test]
async fn second_pass_over_the_same_world_sends_no_write() {
    let (kc, frags, output) = rolled_out_world().await;
    let hash = files_hash(&expected_files());
    let script = vec![
        Step::new(Method::GET, BASE_URI, 200, base_secret()),
        Step::new(Method::GET, OUTPUT_URI, 200, output),
        Step::new(Method::GET, STS_URI, 200, statefulset(Some(&hash))),
    ];
    let (result, seen, metrics, _) = pass_with_metrics(kc, frags, script).await;
    let (action, writes) = result.expect("second pass failed");
    assert_eq!(writes, Writes::default());
    assert!(!metrics.contains("kollacfg_api_writes_total{"), "{metrics}");
    assert_eq!(action, Action::requeue(RESYNC));
    let reads: Vec<(&Method, &str)> = seen.iter().map(|s| (&s.method, s.uri.as_str())).collect();
    assert_eq!(
        reads,
        [
            (&Method::GET, BASE_URI),
            (&Method::GET, OUTPUT_URI),
            (&Method::GET, STS_URI)
        ]
    );
}

/// `object` with the conditions of its status in reverse order.
fn conditions_reversed(object: &impl serde::Serialize) -> Value {
    let mut value = serde_json::to_value(object).unwrap();
    if let Some(list) = value["status"]["conditions"].as_array_mut() {
        assert!(list.len() > 1, "nothing to reorder: {list:?}");
        list.reverse();
    }
    value
}

/// The API server keeps conditions as a map keyed by type and merges an apply into the stored
/// order, so statuses read back may list them in another order than the controller writes
/// them: that is no difference, and nothing is rewritten.
#[tokio::test]
async fn statuses_stored_in_another_order_are_not_rewritten() {
    let (kc, frags, output) = rolled_out_world().await;
    let kc: KollaConfig = serde_json::from_value(conditions_reversed(&kc)).unwrap();
    let frags: Vec<AnyResource> = frags
        .iter()
        .map(|f| {
            parse_documents(&conditions_reversed(f).to_string())
                .unwrap()
                .remove(0)
        })
        .collect();
    let hash = files_hash(&expected_files());
    let script = vec![
        Step::new(Method::GET, BASE_URI, 200, base_secret()),
        Step::new(Method::GET, OUTPUT_URI, 200, output),
        Step::new(Method::GET, STS_URI, 200, statefulset(Some(&hash))),
    ];
    let (result, _) = pass(kc, frags, script).await;
    let (_, writes) = result.expect("pass failed");
    assert_eq!(writes, Writes::default());
}

#[tokio::test]
async fn hand_edited_output_is_restored_and_nothing_else_is_written() {
    let (kc, frags, output) = rolled_out_world().await;
    let hash = files_hash(&expected_files());
    let mut edited = output.clone();
    // The annotation is left alone; only the data is changed by hand.
    edited["data"]["rabbitmq.conf"] = json!("aGFuZCBlZGl0Cg==");
    let script = vec![
        Step::new(Method::GET, BASE_URI, 200, base_secret()),
        Step::new(Method::GET, OUTPUT_URI, 200, edited),
        Step::new(Method::GET, STS_URI, 200, statefulset(Some(&hash))),
        Step::new(Method::PATCH, &format!("{OUTPUT_URI}{SSA}"), 200, json!({})),
        Step::echo(Method::POST, EVENTS_URI),
    ];
    let (result, seen) = pass(kc, frags, script).await;
    let (_, writes) = result.expect("restoring pass failed");
    assert_eq!(writes.output, 1);
    assert_eq!(writes.events, 1);
    assert_eq!(seen[4].body["reason"], "OutputWritten");
    assert_eq!(writes.statuses + writes.workloads, 0);
    assert_eq!(seen[3].body, output, "the same apply as the first pass");
}

#[tokio::test]
async fn conflict_on_apply_is_an_error_and_the_retry_delay_grows() {
    let kc = kolla_config(None);
    let script = vec![
        Step::new(Method::GET, BASE_URI, 200, base_secret()),
        Step::new(Method::GET, OUTPUT_URI, 404, status_body(404, "NotFound")),
        Step::new(Method::GET, STS_URI, 200, statefulset(None)),
        Step::new(
            Method::PATCH,
            &format!("{OUTPUT_URI}{SSA}"),
            409,
            status_body(409, "Conflict"),
        ),
        failure_status_step(&kc),
    ];
    let (error, ctx, server) = failing_pass(&kc, script).await;
    assert!(matches!(error, Error::ApplyOutput { .. }), "{error:?}");
    assert_eq!(error.reason(), "ApplyOutput");
    let kc = std::sync::Arc::new(kc);
    let delays: Vec<Action> = (0..4)
        .map(|_| error_policy(kc.clone(), &error, ctx.clone()))
        .collect();
    assert_eq!(
        delays,
        [5, 10, 20, 40].map(|s| Action::requeue(Duration::from_secs(s)))
    );
    ctx.backoff.reset(&ObjectRef::from_obj(&*kc));
    assert_eq!(
        error_policy(kc.clone(), &error, ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    drop(ctx);
    let seen = server.await.unwrap();
    let status = &seen[4].body["status"];
    let degraded = &status["conditions"][0];
    assert_eq!(degraded["type"], "Degraded");
    assert_eq!(degraded["status"], "True");
    assert_eq!(degraded["reason"], "ApplyOutput");
    let message = degraded["message"].as_str().unwrap();
    assert!(message.contains("openstack/rabbitmq-config"), "{message}");
    assert!(
        message.ends_with("the Secret rabbitmq-config is left as it is (if any)"),
        "{message}"
    );
    assert_eq!(status["conditions"][1]["reason"], "ApplyOutput");
}

#[tokio::test]
async fn server_error_reading_the_base_is_an_error_and_writes_nothing() {
    let script = vec![Step::new(
        Method::GET,
        BASE_URI,
        500,
        status_body(500, "InternalError"),
    )];
    let (result, seen) = pass(kolla_config(None), fragments(&BTreeMap::new()), script).await;
    let error = result.expect_err("a 500 must fail");
    assert!(matches!(error, Error::ReadBase { .. }), "{error:?}");
    assert_eq!(seen.len(), 1);
}

#[test]
fn backoff_is_capped() {
    let backoff = crate::controller::Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
    let key = ObjectRef::new("a").within("b");
    let delays: Vec<u64> = (0..40)
        .map(|_| backoff.next_delay(&key).as_secs())
        .collect();
    assert_eq!(&delays[..8], [5, 10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(delays[39], 300);
}

#[tokio::test(start_paused = true)]
async fn a_hung_api_call_times_out_and_counts_as_a_failure() {
    let (ctx, mut verifier) = context(&fragments(&BTreeMap::new()));
    // Take the first request and never answer it.
    let server = tokio::spawn(async move {
        let (request, _never_answered) = verifier.next().await.expect("no request");
        assert_eq!(request.uri().to_string(), BASE_URI);
        std::future::pending::<()>().await;
    });
    let kc = std::sync::Arc::new(kolla_config(None));
    let error = crate::controller::reconcile(kc.clone(), ctx.clone())
        .await
        .expect_err("a hung call must time out");
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(ctx
        .metrics
        .render()
        .contains("kollacfg_reconcile_failures_total{reason=\"Timeout\"} 1"));
    assert_eq!(
        error_policy(kc, &error, ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    server.abort();
}

/// A stored output with these metadata fields (and no data).
fn stored_output(metadata: Value) -> Value {
    let mut meta = json!({"name": "rabbitmq-config", "namespace": "openstack"});
    meta.as_object_mut()
        .unwrap()
        .extend(metadata.as_object().unwrap().clone());
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta})
}

#[tokio::test]
async fn an_output_name_taken_by_another_object_is_left_alone() {
    let kc = kolla_config(None);
    let by_hand = stored_output(json!({"managedFields": [
        {"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1"}]}));
    let other_owner = stored_output(json!({"ownerReferences": [
        {"apiVersion": "kollacfg.dev/v1alpha1", "kind": "KollaConfig", "name": "other",
         "uid": "0000-other", "controller": true}]}));
    for (stored, owner) in [
        (by_hand, "not written by kollacfg"),
        (other_owner, "controlled by KollaConfig other"),
    ] {
        let script = vec![
            Step::new(Method::GET, BASE_URI, 200, base_secret()),
            Step::new(Method::GET, OUTPUT_URI, 200, stored),
            // No apply: the failure is reported in status, and the error returned.
            failure_status_step(&kc),
        ];
        let (error, ctx, server) = failing_pass(&kc, script).await;
        assert!(matches!(error, Error::OutputNotOwned { .. }), "{error:?}");
        assert_eq!(error.reason(), "OutputNotOwned");
        drop(ctx);
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 3, "no write but the status");
        let degraded = &seen[2].body["status"]["conditions"][0];
        assert_eq!(degraded["type"], "Degraded");
        assert_eq!(degraded["reason"], "OutputNotOwned");
        let message = degraded["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "output Secret openstack/rabbitmq-config exists and is not managed by this \
                 KollaConfig ({owner}); delete it or choose another spec.output.name"
            )),
            "{message}"
        );
    }
}

/// A change that would restart workloads waits until it has stayed the same for the settle
/// window: the passes before read and write nothing; a different change starts the wait over.
#[tokio::test]
async fn a_change_that_restarts_workloads_is_written_only_once_it_settles() {
    let kc = kolla_config(None);
    let frags = fragments(&BTreeMap::new());
    let (mut ctx, verifier) = context(&frags);
    let settle = Duration::from_secs(3600);
    std::sync::Arc::get_mut(&mut ctx).unwrap().settle = settle;
    let reads = || {
        vec![
            Step::new(Method::GET, BASE_URI, 200, base_secret()),
            Step::new(Method::GET, OUTPUT_URI, 404, status_body(404, "NotFound")),
            Step::new(Method::GET, STS_URI, 200, statefulset(None)),
        ]
    };
    let server = tokio::spawn(verifier.run(reads().into_iter().chain(reads()).collect()));
    let (first, writes) = reconcile_once(&kc, &ctx).await.expect("first pass failed");
    assert_eq!(first, Action::requeue(settle));
    assert_eq!(writes, Writes::default());
    let (second, writes) = reconcile_once(&kc, &ctx).await.expect("second pass failed");
    assert_eq!(writes, Writes::default());
    assert_ne!(second, Action::requeue(settle), "the wait started over");
    assert_ne!(second, Action::requeue(RESYNC));
    drop(ctx);
    let seen = server.await.expect("the mocked API server failed");
    assert!(seen.iter().all(|s| s.method == Method::GET), "{seen:?}");
}

#[tokio::test]
async fn the_settle_window_starts_over_when_the_change_changes() {
    let (mut ctx, _verifier) = context(&fragments(&BTreeMap::new()));
    let key = ObjectRef::from_obj(&kolla_config(None));
    let context = std::sync::Arc::get_mut(&mut ctx).unwrap();
    context.settle = Duration::from_secs(3600);
    assert_eq!(context.settle_wait(&key, "a"), Some(context.settle));
    assert!(context.settle_wait(&key, "a").unwrap() <= context.settle);
    assert_eq!(context.settle_wait(&key, "b"), Some(context.settle));
    context.settle = Duration::from_millis(1);
    assert_eq!(context.settle_wait(&key, "c"), Some(context.settle));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(context.settle_wait(&key, "c"), None, "settled");
    context.settle = Duration::ZERO;
    assert_eq!(context.settle_wait(&key, "d"), None, "no window: at once");
}

#[tokio::test]
async fn what_is_kept_for_a_deleted_kolla_config_is_forgotten() {
    let (mut ctx, _verifier) = context(&fragments(&BTreeMap::new()));
    let kept = kolla_config(None);
    let mut deleted = kolla_config(None);
    deleted.metadata.name = Some("gone".into());
    let context = std::sync::Arc::get_mut(&mut ctx).unwrap();
    context.settle = Duration::from_secs(3600);
    for kc in [&kept, &deleted] {
        assert!(context.settle_wait(&ObjectRef::from_obj(kc), "a").is_some());
        let target = format!(
            "{}/{}",
            kc.metadata.namespace.as_deref().unwrap(),
            kc.metadata.name.as_deref().unwrap()
        );
        context
            .metrics
            .set_rollout(&target, vec![kollacfg_api::RolloutState::Stuck]);
    }
    assert_eq!(context.settling_count(), 2);
    context.forget_deleted(&[&kept]);
    assert_eq!(context.settling_count(), 1);
    let text = context.metrics.render();
    assert!(
        text.contains("kollacfg_rollout_workloads{state=\"Stuck\"} 1"),
        "{text}"
    );
    // The one kept is still settling where it was.
    assert!(
        context
            .settle_wait(&ObjectRef::from_obj(&kept), "a")
            .unwrap()
            <= context.settle
    );
}
