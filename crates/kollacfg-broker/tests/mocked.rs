//! The broker client and `sync` against a scripted management API on 127.0.0.1: the exact
//! requests of each pass (first sync, nothing changed, edit, delete, absent), a policy refused
//! among three, a missing vhost, 401, timeouts, no server, TLS with a private CA.

mod fake_broker;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_broker::{live_policy, pol, FakeBroker};
use kollacfg_broker::*;
use serde_json::json;

const AUTH: &str = "Basic YWRtaW46czNjcmV0"; // admin:s3cret

fn config(url: &str) -> BrokerConfig {
    BrokerConfig {
        url: url.to_string(),
        username: "admin".into(),
        password: "s3cret".into(),
        ca_pem: None,
        insecure_skip_tls_verify: false,
        timeout: Duration::from_secs(5),
    }
}

fn broker(fake: &FakeBroker) -> Broker {
    Broker::new(config(&fake.url)).expect("client")
}

/// The requests of a first sync of [`desired`]: one GET, then a PUT per policy, in key order.
const FIRST_SYNC: [&str; 4] = [
    "GET /api/policies",
    "PUT /api/policies/%2F/ha-all",
    "PUT /api/policies/%2F/ttl",
    "PUT /api/policies/nova/expiry",
];

fn desired() -> Vec<Policy> {
    vec![
        pol(
            "/",
            "ha-all",
            ".*",
            json!({"ha-mode": "exactly", "ha-params": 2}),
        ),
        pol(
            "/",
            "ttl",
            "^notifications\\.",
            json!({"message-ttl": 600000}),
        ),
        pol("nova", "expiry", "^reply_", json!({"expires": 3600000})),
    ]
}

fn none() -> BTreeSet<PolicyKey> {
    BTreeSet::new()
}

fn key(vhost: &str, name: &str) -> PolicyKey {
    PolicyKey::new(vhost, name)
}

#[tokio::test]
async fn first_sync_gets_once_then_puts_every_policy_in_key_order() {
    let fake = FakeBroker::start().await;
    let outcome = sync(&broker(&fake), &desired(), &none()).await.unwrap();
    assert_eq!(fake.lines(), FIRST_SYNC);
    let seen = fake.seen();
    assert!(seen.iter().all(|s| s.auth.as_deref() == Some(AUTH)));
    assert_eq!(seen[0].body, None);
    assert_eq!(
        seen[1].body,
        Some(json!({"pattern": ".*", "apply-to": "all", "priority": 0,
                    "definition": {"ha-mode": "exactly", "ha-params": 2}}))
    );
    assert_eq!(
        outcome.put,
        [key("/", "ha-all"), key("/", "ttl"), key("nova", "expiry")]
    );
    assert!(outcome.deleted.is_empty() && outcome.failures.is_empty());
    assert_eq!((outcome.plan.desired, outcome.plan.live), (3, 0));
}

#[tokio::test]
async fn a_pass_with_nothing_changed_sends_exactly_one_get() {
    let fake = FakeBroker::start().await;
    // What the broker lists: its own key order, 2.0 for 2, plus a policy made by hand.
    fake.preload(live_policy(
        "/",
        "ha-all",
        ".*",
        json!({"ha-params": 2.0, "ha-mode": "exactly"}),
    ));
    fake.preload(live_policy(
        "/",
        "ttl",
        "^notifications\\.",
        json!({"message-ttl": 600000}),
    ));
    fake.preload(live_policy(
        "nova",
        "expiry",
        "^reply_",
        json!({"expires": 3600000}),
    ));
    fake.preload(live_policy("/", "by-hand", "^x", json!({"max-length": 10})));
    let outcome = sync(&broker(&fake), &desired(), &none()).await.unwrap();
    assert_eq!(fake.lines(), ["GET /api/policies"]);
    assert!(outcome.put.is_empty() && outcome.deleted.is_empty());
    assert_eq!(outcome.plan.unmanaged, [key("/", "by-hand")]);
    assert_eq!((outcome.plan.desired, outcome.plan.live), (3, 4));
}

#[tokio::test]
async fn an_edit_is_one_put_and_a_second_pass_is_one_get() {
    let fake = FakeBroker::start().await;
    let b = broker(&fake);
    sync(&b, &desired(), &none()).await.unwrap();
    fake.clear_seen();
    let mut edited = desired();
    edited[1].definition = json!({"message-ttl": 60000}).as_object().unwrap().clone();
    edited[1].priority = 5;
    let outcome = sync(&b, &edited, &none()).await.unwrap();
    assert_eq!(
        fake.lines(),
        ["GET /api/policies", "PUT /api/policies/%2F/ttl"]
    );
    assert_eq!(
        fake.seen()[1].body,
        Some(
            json!({"pattern": "^notifications\\.", "apply-to": "all", "priority": 5,
                    "definition": {"message-ttl": 60000}})
        )
    );
    assert_eq!(outcome.put, [key("/", "ttl")]);
    fake.clear_seen();
    sync(&b, &edited, &none()).await.unwrap();
    assert_eq!(fake.lines(), ["GET /api/policies"]);
}

#[tokio::test]
async fn a_deletable_policy_no_longer_desired_is_one_delete_and_others_stay() {
    let fake = FakeBroker::start().await;
    let b = broker(&fake);
    sync(&b, &desired(), &none()).await.unwrap();
    fake.preload(live_policy("/", "by-hand", "^x", json!({})));
    fake.clear_seen();
    let fewer: Vec<Policy> = desired()
        .into_iter()
        .filter(|p| p.name != "expiry")
        .collect();
    let published: BTreeSet<PolicyKey> = desired().iter().map(Policy::key).collect();
    let outcome = sync(&b, &fewer, &published).await.unwrap();
    assert_eq!(
        fake.lines(),
        ["GET /api/policies", "DELETE /api/policies/nova/expiry"]
    );
    assert_eq!(outcome.deleted, [key("nova", "expiry")]);
    assert_eq!(outcome.plan.unmanaged, [key("/", "by-hand")]);
    let left: Vec<String> = fake
        .policies()
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["vhost"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(left, ["//by-hand", "//ha-all", "//ttl"]);
}

#[tokio::test]
async fn an_absent_policy_is_deleted_when_live_and_nothing_is_sent_when_not() {
    let fake = FakeBroker::start().await;
    fake.preload(live_policy("/", "ha-all", ".*", json!({"ha-mode": "all"})));
    let b = broker(&fake);
    let absent: BTreeSet<PolicyKey> = [key("/", "ha-all")].into();
    let outcome = sync(&b, &[], &absent).await.unwrap();
    assert_eq!(
        fake.lines(),
        ["GET /api/policies", "DELETE /api/policies/%2F/ha-all"]
    );
    assert_eq!(outcome.deleted, [key("/", "ha-all")]);
    fake.clear_seen();
    let outcome = sync(&b, &[], &absent).await.unwrap();
    assert_eq!(fake.lines(), ["GET /api/policies"]);
    assert!(outcome.plan.is_empty());
}

#[tokio::test]
async fn a_policy_refused_among_three_fails_alone_with_the_brokers_words() {
    let fake = FakeBroker::start().await;
    fake.script(
        "PUT",
        "/api/policies/%2F/ttl",
        400,
        r#"{"error":"bad_request","reason":"Validation failed\n\n&lt;&lt;\"everywhere\"&gt;&gt; is not a valid ha-mode value\n"}"#,
        Duration::ZERO,
    );
    let outcome = sync(&broker(&fake), &desired(), &none()).await.unwrap();
    assert_eq!(fake.lines(), FIRST_SYNC);
    assert_eq!(outcome.put, [key("/", "ha-all"), key("nova", "expiry")]);
    let error = BrokerError::Rejected {
        status: 400,
        reason: "Validation failed: <<\"everywhere\">> is not a valid ha-mode value".into(),
    };
    assert_eq!(outcome.failures, [(key("/", "ttl"), error.clone())]);
    assert_eq!(error.reason(), "PolicyRejected");
    assert_eq!(fake.policies().len(), 2);
}

#[tokio::test]
async fn a_missing_vhost_fails_that_policy_only() {
    let fake = FakeBroker::start().await;
    fake.script(
        "PUT",
        "/api/policies/nova/expiry",
        404,
        r#"{"error":"not_found","reason":"vhost_not_found"}"#,
        Duration::ZERO,
    );
    let outcome = sync(&broker(&fake), &desired(), &none()).await.unwrap();
    assert_eq!(outcome.put, [key("/", "ha-all"), key("/", "ttl")]);
    assert_eq!(
        outcome.failures,
        [(
            key("nova", "expiry"),
            BrokerError::VhostMissing {
                vhost: "nova".into()
            }
        )]
    );
}

#[tokio::test]
async fn unauthorized_stops_the_pass() {
    let fake = FakeBroker::start().await;
    fake.script(
        "GET",
        "/api/policies",
        401,
        r#"{"error":"not_authorized","reason":"Login failed"}"#,
        Duration::ZERO,
    );
    let err = sync(&broker(&fake), &desired(), &none()).await.unwrap_err();
    assert_eq!(err, BrokerError::Unauthorized);
    assert_eq!(err.reason(), "Unauthorized");
    assert_eq!(fake.lines(), ["GET /api/policies"]);

    // A 401 on a write: nothing after it is attempted.
    let fake = FakeBroker::start().await;
    fake.script("PUT", "/api/policies/%2F/ha-all", 401, "{}", Duration::ZERO);
    let err = sync(&broker(&fake), &desired(), &none()).await.unwrap_err();
    assert_eq!(err, BrokerError::Unauthorized);
    assert_eq!(
        fake.lines(),
        ["GET /api/policies", "PUT /api/policies/%2F/ha-all"]
    );
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Option<u16>)>>);

impl RequestObserver for Recorder {
    fn observe(&self, method: &str, status: Option<u16>) {
        self.0.lock().unwrap().push((method.to_string(), status));
    }
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_unreachable_and_stops_the_pass() {
    let fake = FakeBroker::start().await;
    fake.script(
        "PUT",
        "/api/policies/%2F/ttl",
        201,
        "",
        Duration::from_secs(30),
    );
    let recorder = Arc::new(Recorder::default());
    let mut c = config(&fake.url);
    c.timeout = Duration::from_millis(400);
    let b = Broker::new(c).unwrap().with_observer(recorder.clone());
    let started = Instant::now();
    let err = sync(&b, &desired(), &none()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout held"
    );
    let BrokerError::Unreachable(why) = &err else {
        panic!("{err:?}")
    };
    assert!(why.contains("no answer within 400ms"), "{why}");
    assert!(
        why.contains("PUT") && why.contains("/api/policies/%2F/ttl"),
        "{why}"
    );
    assert_eq!(err.reason(), "BrokerUnreachable");
    assert_eq!(
        fake.lines(),
        [
            "GET /api/policies",
            "PUT /api/policies/%2F/ha-all",
            "PUT /api/policies/%2F/ttl",
        ]
    );
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            ("GET".to_string(), Some(200)),
            ("PUT".to_string(), Some(201)),
            ("PUT".to_string(), None),
        ]
    );
}

#[tokio::test]
async fn no_server_is_unreachable_and_the_password_is_never_shown() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let b = Broker::new(config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let err = b.list_policies().await.unwrap_err();
    assert_eq!(err.reason(), "BrokerUnreachable");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn names_and_vhosts_are_percent_encoded_in_paths() {
    let fake = FakeBroker::start().await;
    let b = broker(&fake);
    let odd = pol("a/b c", "x?y#z%", ".*", json!({}));
    b.put_policy(&odd).await.unwrap();
    b.delete_policy(&odd.key()).await.unwrap();
    // Deleting what is not there is success (404 = already gone).
    b.delete_policy(&odd.key()).await.unwrap();
    assert_eq!(
        fake.lines(),
        [
            "PUT /api/policies/a%2Fb%20c/x%3Fy%23z%25",
            "DELETE /api/policies/a%2Fb%20c/x%3Fy%23z%25",
            "DELETE /api/policies/a%2Fb%20c/x%3Fy%23z%25",
        ]
    );
}

#[tokio::test]
async fn a_server_error_is_unreachable_and_garbage_is_a_protocol_error() {
    let fake = FakeBroker::start().await;
    fake.script("GET", "/api/policies", 503, "booting", Duration::ZERO);
    let err = broker(&fake).list_policies().await.unwrap_err();
    assert_eq!(err.reason(), "BrokerUnreachable");
    assert!(err.to_string().contains("HTTP 503: booting"), "{err}");

    let fake = FakeBroker::start().await;
    fake.script(
        "GET",
        "/api/policies",
        200,
        "{\"not\": \"a list\"}",
        Duration::ZERO,
    );
    let err = broker(&fake).list_policies().await.unwrap_err();
    assert_eq!(err.reason(), "BrokerProtocol");
}

mod tls {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{self, ServerConfig};
    use tokio_rustls::TlsAcceptor;

    /// A CA, and a server certificate for 127.0.0.1 and localhost signed by it.
    fn pki() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let ca_issuer = rcgen::Issuer::new(ca, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&server_key, &ca_issuer)
            .unwrap();
        (
            ca_cert.pem(),
            server.der().clone(),
            PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
        )
    }

    /// The fake broker behind TLS with the given certificate; returns its https URL.
    async fn serve_tls(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> (FakeBroker, String) {
        let fake = FakeBroker::start().await;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let serving = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let serving = serving.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serving.serve(hyper_util::rt::TokioIo::new(tls));
                    }
                });
            }
        });
        (fake, url)
    }

    #[tokio::test]
    async fn a_private_ca_is_trusted_and_nothing_else_is() {
        let (ca_pem, cert, key) = pki();
        let (fake, url) = serve_tls(cert, key).await;

        let mut with_ca = config(&url);
        with_ca.ca_pem = Some(ca_pem.into_bytes());
        let outcome = sync(&Broker::new(with_ca).unwrap(), &desired(), &none())
            .await
            .unwrap();
        assert_eq!(outcome.put.len(), 3);
        assert_eq!(fake.lines().len(), 4);

        // Without the CA, plain verification against the system's roots refuses the server.
        let err = Broker::new(config(&url))
            .unwrap()
            .list_policies()
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "BrokerUnreachable");
        assert!(
            err.to_string().to_lowercase().contains("certificate"),
            "{err}"
        );

        // Another CA than the server's: refused too.
        let (other_ca, _, _) = pki();
        let mut wrong = config(&url);
        wrong.ca_pem = Some(other_ca.into_bytes());
        let err = Broker::new(wrong)
            .unwrap()
            .list_policies()
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "BrokerUnreachable");

        // Only when asked explicitly: no verification.
        let mut insecure = config(&url);
        insecure.insecure_skip_tls_verify = true;
        let live = Broker::new(insecure)
            .unwrap()
            .list_policies()
            .await
            .unwrap();
        assert_eq!(live.len(), 3);
    }
}
