//! Test fixtures: a mocked API server that checks the exact request sequence a reconcile sends
//! (and that nothing else is sent), and one small world of objects to reconcile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kollacfg_api::{parse_documents, AnyResource, KollaConfig};
use kube::client::Body;
use kube::runtime::watcher::Event;
use kube::Client;
use serde_json::{json, Value};

use crate::controller::{Backoff, Context};
use crate::stores::Stores;

/// The KollaConfig of the test world.
pub const TARGET: &str = r#"
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: rabbitmq, namespace: openstack, uid: 0c6d1a2e-1111-2222-3333-444455556666, generation: 3, resourceVersion: "10"}
spec:
  service: rabbitmq
  base: {secretRef: {name: rabbitmq-kolla}}
  rollout: [{kind: StatefulSet, name: rabbitmq}]
"#;

/// Its fragments.
pub const FRAGMENTS: &str = r#"
apiVersion: kollacfg.dev/v1alpha1
kind: RabbitListenerPolicy
metadata: {name: keepalive, namespace: openstack, generation: 1}
spec: {kollaConfigRef: {name: rabbitmq}, tcpKeepalive: true}
---
apiVersion: kollacfg.dev/v1alpha1
kind: ConfigOverride
metadata: {name: stats, namespace: openstack, generation: 2}
spec:
  kollaConfigRef: {name: rabbitmq}
  file: rabbitmq.conf
  conf: {collect_statistics_interval: "30000"}
"#;

/// The base rabbitmq.conf.
pub const BASE_CONF: &str = "# kolla\nlisteners.tcp.default = 5672\n";

/// The fixed clock of the tests.
pub fn clock() -> Time {
    Time(Timestamp::from_second(1_700_000_000).unwrap())
}

/// Parses one kollacfg resource.
pub fn resource(yaml: &str) -> AnyResource {
    parse_documents(yaml).unwrap().remove(0)
}

/// The test KollaConfig, with `status` when given (as read back from the server).
pub fn kolla_config(status: Option<&Value>) -> KollaConfig {
    let mut value = serde_json::to_value(resource(TARGET)).unwrap();
    if let Some(status) = status {
        value["status"] = status.clone();
    }
    serde_json::from_value(value).unwrap()
}

/// The test fragments, each with the status given for `Kind/name`, if any.
pub fn fragments(statuses: &BTreeMap<String, Value>) -> Vec<AnyResource> {
    parse_documents(FRAGMENTS)
        .unwrap()
        .into_iter()
        .map(|f| {
            let key = format!("{}/{}", f.kind(), f.metadata().name.as_deref().unwrap());
            match statuses.get(&key) {
                Some(status) => {
                    let mut value = serde_json::to_value(&f).unwrap();
                    value["status"] = status.clone();
                    parse_documents(&value.to_string()).unwrap().remove(0)
                }
                None => f,
            }
        })
        .collect()
}

/// A client talking to the returned mock.
pub fn client() -> (Client, ApiServerVerifier) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), ApiServerVerifier(handle))
}

/// A context whose client talks to the returned mock, with the fragment stores filled.
pub fn context(fragments: &[AnyResource]) -> (Arc<Context>, ApiServerVerifier) {
    let (client, verifier) = client();
    let (stores, mut writers) = Stores::new();
    // A full first list per kind (Init, InitApply..., InitDone), so the stores are ready.
    macro_rules! init {
        ($($kind:ident => $field:ident),*) => {
            $(writers.$field.apply_watcher_event(&Event::Init);)*
        };
    }
    crate::stores::for_fragment_kinds!(init);
    for f in fragments {
        match f.clone() {
            AnyResource::RabbitListenerPolicy(r) => writers
                .rabbit_listener_policies
                .apply_watcher_event(&Event::InitApply(r)),
            AnyResource::ConfigOverride(r) => writers
                .config_overrides
                .apply_watcher_event(&Event::InitApply(r)),
            other => panic!("the fixture does not store {}", other.kind()),
        }
    }
    macro_rules! done {
        ($($kind:ident => $field:ident),*) => {
            $(writers.$field.apply_watcher_event(&Event::InitDone);)*
        };
    }
    crate::stores::for_fragment_kinds!(done);
    let mut ctx = Context::new(client, stores);
    ctx.backoff = Backoff::default();
    ctx.clock = clock;
    // Each pass of these tests is one reconcile: a change is written at once.
    ctx.settle = std::time::Duration::ZERO;
    (Arc::new(ctx), verifier)
}

/// A JSON Status answer.
pub fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "reason": reason, "code": code, "message": format!("mocked {reason}")})
}

/// One expected request and the answer to give.
pub struct Step {
    /// The expected method.
    pub method: Method,
    /// The expected path and query.
    pub uri: String,
    /// The answer's HTTP status.
    pub code: u16,
    /// The answer's body; `Null` answers with the request's own body.
    pub body: Value,
}

impl Step {
    /// Expect `method uri`, answer 200 with the request's own body.
    pub fn echo(method: Method, uri: &str) -> Self {
        Self::new(method, uri, 200, Value::Null)
    }

    /// Expect `method uri`, answer `code` with `body`.
    pub fn new(method: Method, uri: &str, code: u16, body: Value) -> Self {
        Self {
            method,
            uri: uri.to_string(),
            code,
            body,
        }
    }
}

/// A request the mock received: method, path and query, body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// The body.
    pub body: Value,
}

/// The server side of the mocked client.
pub struct ApiServerVerifier(tower_test::mock::Handle<Request<Body>, Response<Body>>);

/// A request as received, and the handle to answer it.
pub type Pending = (
    Request<Body>,
    tower_test::mock::SendResponse<Response<Body>>,
);

impl ApiServerVerifier {
    /// The next request, unanswered; `None` once the client is gone.
    pub async fn next(&mut self) -> Option<Pending> {
        self.0.next_request().await
    }

    /// Answers `script` in order, asserting each request's method and URI, then asserts that no
    /// further request arrives before the client is dropped. Returns what was received.
    pub async fn run(mut self, script: Vec<Step>) -> Vec<Seen> {
        let mut seen = Vec::new();
        for step in script {
            let next = tokio::time::timeout(Duration::from_secs(5), self.0.next_request())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {} {}", step.method, step.uri));
            let Some((request, send)) = next else {
                panic!(
                    "the reconcile ended before {} {}; received so far: {seen:#?}",
                    step.method, step.uri
                );
            };
            let method = request.method().clone();
            let uri = request.uri().to_string();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            assert_eq!(
                (&method, uri.as_str()),
                (&step.method, step.uri.as_str()),
                "unexpected request; received so far: {seen:#?}"
            );
            let answer = if step.body.is_null() {
                bytes.to_vec()
            } else {
                serde_json::to_vec(&step.body).unwrap()
            };
            send.send_response(
                Response::builder()
                    .status(step.code)
                    .body(Body::from(answer))
                    .unwrap(),
            );
            seen.push(Seen { method, uri, body });
        }
        if let Some((request, _)) = self.0.next_request().await {
            panic!(
                "unexpected extra request {} {}",
                request.method(),
                request.uri()
            );
        }
        seen
    }
}
