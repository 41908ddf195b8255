//! A scripted stand-in for RabbitMQ's management API on 127.0.0.1: it records every request
//! (method, raw path, JSON body, Authorization header) and answers like the real API — a
//! policy store behind `GET /api/policies`, `PUT`/`DELETE /api/policies/{vhost}/{name}` —
//! unless a scripted answer matches the request first. The answers' shapes are the ones seen
//! from RabbitMQ 3.10 (see the client's module docs).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

/// One request as the broker saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// `GET`, `PUT`, `DELETE`.
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// The `Authorization` header.
    pub auth: Option<String>,
}

/// A scripted answer for requests with this method and path.
#[derive(Debug, Clone)]
pub struct Script {
    /// Method to match.
    pub method: &'static str,
    /// Raw path to match.
    pub path: String,
    /// Status to answer.
    pub status: u16,
    /// Body to answer.
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

#[derive(Default)]
struct State {
    policies: BTreeMap<(String, String), Value>,
    seen: Vec<Seen>,
    scripts: Vec<Script>,
}

/// The fake broker; clones share it.
#[derive(Clone)]
pub struct FakeBroker {
    state: Arc<Mutex<State>>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// A policy applying to `all` with priority 0.
pub fn pol(vhost: &str, name: &str, pattern: &str, definition: Value) -> kollacfg_broker::Policy {
    kollacfg_broker::Policy {
        vhost: vhost.into(),
        name: name.into(),
        pattern: pattern.into(),
        apply_to: "all".into(),
        priority: 0,
        definition: definition.as_object().expect("an object").clone(),
    }
}

/// A policy's JSON as `GET /api/policies` lists it (apply-to `all`, priority 0).
pub fn live_policy(vhost: &str, name: &str, pattern: &str, definition: Value) -> Value {
    json!({"vhost": vhost, "name": name, "pattern": pattern, "apply-to": "all",
           "definition": definition, "priority": 0})
}

impl FakeBroker {
    /// Starts serving plain HTTP on a free loopback port.
    pub async fn start() -> FakeBroker {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let fake = FakeBroker {
            state: Arc::default(),
            url: format!("http://{addr}"),
        };
        let serving = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                serving.serve(TokioIo::new(stream));
            }
        });
        fake
    }

    /// Serves one connection (plain or TLS) in a task of its own.
    pub fn serve<I>(&self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let fake = self.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let fake = fake.clone();
                async move { Ok::<_, Infallible>(fake.answer(req).await) }
            });
            let _ = http1::Builder::new().serve_connection(io, service).await;
        });
    }

    /// Puts a policy on the broker without recording a request (the state a test starts from).
    pub fn preload(&self, policy: Value) {
        let key = (
            policy["vhost"].as_str().unwrap().to_string(),
            policy["name"].as_str().unwrap().to_string(),
        );
        self.state.lock().unwrap().policies.insert(key, policy);
    }

    /// Answers `method path` with `status` and `body` (after `delay`) from now on.
    pub fn script(
        &self,
        method: &'static str,
        path: &str,
        status: u16,
        body: &str,
        delay: Duration,
    ) {
        self.state.lock().unwrap().scripts.push(Script {
            method,
            path: path.to_string(),
            status,
            body: body.to_string(),
            delay,
        });
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// `METHOD path` of every request so far.
    pub fn lines(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }

    /// Forgets the requests seen so far.
    pub fn clear_seen(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    /// The policies stored now, as `GET /api/policies` would list them.
    pub fn policies(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .policies
            .values()
            .cloned()
            .collect()
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let bytes = req.into_body().collect().await.expect("body").to_bytes();
        let body = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).expect("JSON body"));
        let script = {
            let mut state = self.state.lock().unwrap();
            state.seen.push(Seen {
                method: method.clone(),
                path: path.clone(),
                body: body.clone(),
                auth,
            });
            state
                .scripts
                .iter()
                .find(|s| s.method == method && s.path == path)
                .cloned()
        };
        if let Some(script) = script {
            tokio::time::sleep(script.delay).await;
            return reply(script.status, script.body);
        }
        let mut state = self.state.lock().unwrap();
        let segments: Vec<String> = path
            .trim_start_matches("/api/policies")
            .split('/')
            .skip(1)
            .map(|s| percent_decode_str(s).decode_utf8().unwrap().into_owned())
            .collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", []) => {
                let list: Vec<Value> = state.policies.values().cloned().collect();
                reply(200, Value::Array(list).to_string())
            }
            ("PUT", [vhost, name]) => {
                let mut policy = body.expect("a PUT has a body");
                policy["vhost"] = json!(vhost);
                policy["name"] = json!(name);
                let key = (vhost.clone(), name.clone());
                let existed = state.policies.insert(key, policy).is_some();
                reply(if existed { 204 } else { 201 }, String::new())
            }
            ("DELETE", [vhost, name]) => {
                match state.policies.remove(&(vhost.clone(), name.clone())) {
                    Some(_) => reply(204, String::new()),
                    None => reply(
                        404,
                        r#"{"error":"Object Not Found","reason":"Not Found"}"#.into(),
                    ),
                }
            }
            _ => reply(
                404,
                r#"{"error":"Object Not Found","reason":"Not Found"}"#.into(),
            ),
        }
    }
}

fn reply(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}
