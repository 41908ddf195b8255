//! The RabbitMQ management API client: `GET /api/policies`, `PUT` and `DELETE
//! /api/policies/{vhost}/{name}`, each answer mapped to a [`BrokerError`] an operator can act on.
//! The password is sent as HTTP basic auth and never appears in an error, a log line or Debug.
//!
//! Answers seen from RabbitMQ 3.10's management plugin (and mapped here): a wrong password or a
//! user without a management tag → 401; a PUT into a vhost that does not exist → 404
//! `{"reason":"vhost_not_found"}`; a definition, pattern or apply-to RabbitMQ refuses → 400 with
//! the reason HTML-escaped (`&lt;&lt;"everywhere"&gt;&gt; is not a valid ha-mode value`); a
//! DELETE of a policy that is not there → 404.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::policy::{Policy, PolicyKey};

/// Where the broker's management API is and how to talk to it.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Base URL of the management API, e.g. `http://rabbitmq.openstack.svc:15672`; a path
    /// prefix (`management.path_prefix`) may follow the port.
    pub url: String,
    /// Management user (needs the `policymaker` or `administrator` tag).
    pub username: String,
    /// Its password. Never printed.
    pub password: String,
    /// PEM certificates of a private CA: with `https://`, only these are trusted.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any server certificate (only when set explicitly).
    pub insecure_skip_tls_verify: bool,
    /// Limit on each request, connecting included.
    pub timeout: Duration,
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("ca_pem", &self.ca_pem.as_ref().map(|pem| pem.len()))
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a request to the broker failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// No answer: connection refused, DNS, TLS handshake, timeout, or a 5xx.
    #[error("broker unreachable: {0}")]
    Unreachable(String),
    /// 401/403: wrong credentials, or a user without a management tag.
    #[error("unauthorized: the broker refused the credentials (wrong password, or a user without the policymaker or administrator tag)")]
    Unauthorized,
    /// The policy's vhost does not exist on the broker.
    #[error("vhost {vhost:?} does not exist on the broker")]
    VhostMissing {
        /// The vhost.
        vhost: String,
    },
    /// RabbitMQ refused the request (400 and the like), in its own words.
    #[error("rejected by the broker (HTTP {status}): {reason}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// RabbitMQ's reason.
        reason: String,
    },
    /// An answer that is not what the management API sends.
    #[error("unexpected answer from the broker: {0}")]
    Protocol(String),
    /// The configuration cannot work (bad URL, bad CA PEM).
    #[error("broker configuration: {0}")]
    Config(String),
}

impl BrokerError {
    /// The condition reason / metric label of the error: `BrokerUnreachable`, `Unauthorized`,
    /// `VhostMissing`, `PolicyRejected`, `BrokerProtocol`, `BrokerConfig`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "BrokerUnreachable",
            Self::Unauthorized => "Unauthorized",
            Self::VhostMissing { .. } => "VhostMissing",
            Self::Rejected { .. } => "PolicyRejected",
            Self::Protocol(_) => "BrokerProtocol",
            Self::Config(_) => "BrokerConfig",
        }
    }

    /// Whether the error concerns one policy only (the broker answered, and refused it), so
    /// that a sync goes on with the others.
    pub fn is_per_policy(&self) -> bool {
        matches!(
            self,
            Self::VhostMissing { .. } | Self::Rejected { .. } | Self::Protocol(_)
        )
    }
}

/// Sees every request sent: its method and the status answered (`None`: no answer).
pub trait RequestObserver: Send + Sync {
    /// Called once per request, after it completed or failed.
    fn observe(&self, method: &str, status: Option<u16>);
}

/// A client for one broker's management API.
#[derive(Clone)]
pub struct Broker {
    http: reqwest::Client,
    base: String,
    username: String,
    password: String,
    timeout: Duration,
    observer: Option<Arc<dyn RequestObserver>>,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("url", &self.base)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Bytes escaped in a path segment: everything but unreserved characters (`/` → `%2F`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Broker {
    /// A client for `config`. Checks the URL (`http://` or `https://`, no credentials in it)
    /// and the CA PEM; sends nothing.
    pub fn new(config: BrokerConfig) -> Result<Broker, BrokerError> {
        let url = config.url.as_str();
        let scheme = ["http://", "https://"]
            .into_iter()
            .find(|s| url.starts_with(s))
            .ok_or_else(|| {
                BrokerError::Config(format!("url {url:?} must start with http:// or https://"))
            })?;
        let rest = url[scheme.len()..].trim_end_matches('/');
        let url = &url[..scheme.len() + rest.len()];
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(BrokerError::Config(format!("url {url:?} has no host")));
        }
        if authority.contains('@') {
            return Err(BrokerError::Config(
                "url must not carry credentials: give the user and password separately".to_string(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("kollacfg/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| BrokerError::Config(format!("CA certificate: {}", chain(&e))))?;
            if certs.is_empty() {
                return Err(BrokerError::Config(
                    "CA certificate: no PEM certificate (-----BEGIN CERTIFICATE-----) found"
                        .to_string(),
                ));
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if config.insecure_skip_tls_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| BrokerError::Config(format!("HTTP client: {}", chain(&e))))?;
        Ok(Broker {
            http,
            base: url.to_string(),
            username: config.username,
            password: config.password,
            timeout: config.timeout,
            observer: None,
        })
    }

    /// The same client, reporting every request to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Broker {
        self.observer = Some(observer);
        self
    }

    /// The base URL (no credentials).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /api/policies`: every policy of every vhost.
    pub async fn list_policies(&self) -> Result<Vec<Policy>, BrokerError> {
        let url = format!("{}/api/policies", self.base);
        let (status, body) = self.send(reqwest::Method::GET, &url, None).await?;
        match status {
            200 => serde_json::from_slice(&body).map_err(|e| {
                BrokerError::Protocol(format!("GET /api/policies: not a policy list: {e}"))
            }),
            _ => Err(self.refusal(status, &body, None)),
        }
    }

    /// `PUT /api/policies/{vhost}/{name}` with RabbitMQ's body (`pattern`, `apply-to`,
    /// `priority`, `definition`).
    pub async fn put_policy(&self, policy: &Policy) -> Result<(), BrokerError> {
        let url = self.policy_url(&policy.key());
        let body = policy.put_body();
        let (status, answer) = self.send(reqwest::Method::PUT, &url, Some(&body)).await?;
        match status {
            200..=299 => Ok(()),
            _ => Err(self.refusal(status, &answer, Some(&policy.vhost))),
        }
    }

    /// `DELETE /api/policies/{vhost}/{name}`; a policy that is not there (404) is already
    /// gone, which is success.
    pub async fn delete_policy(&self, key: &PolicyKey) -> Result<(), BrokerError> {
        let url = self.policy_url(key);
        let (status, answer) = self.send(reqwest::Method::DELETE, &url, None).await?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => Err(self.refusal(status, &answer, None)),
        }
    }

    fn policy_url(&self, key: &PolicyKey) -> String {
        format!(
            "{}/api/policies/{}/{}",
            self.base,
            utf8_percent_encode(&key.vhost, SEGMENT),
            utf8_percent_encode(&key.name, SEGMENT)
        )
    }

    /// Sends one request; an answer of any status is `Ok`, no answer is `Unreachable`.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), BrokerError> {
        let mut request = self
            .http
            .request(method.clone(), url)
            .basic_auth(&self.username, Some(&self.password));
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.bytes().await.map(|b| (status, b.to_vec()))
            }
            Err(e) => Err(e),
        };
        let path = url.strip_prefix(&self.base).unwrap_or(url);
        let result = answer.map_err(|e| {
            let why = if e.is_timeout() {
                format!("no answer within {:?}", self.timeout)
            } else {
                chain(&e.without_url())
            };
            BrokerError::Unreachable(format!("{method} {}{path}: {why}", self.base))
        });
        if let Some(observer) = &self.observer {
            observer.observe(method.as_str(), result.as_ref().ok().map(|(s, _)| *s));
        }
        tracing::debug!(%method, path, status = ?result.as_ref().ok().map(|(s, _)| *s), "broker request");
        result
    }

    /// The error for an answer that is not a success.
    fn refusal(&self, status: u16, body: &[u8], vhost: Option<&str>) -> BrokerError {
        let reason = broker_reason(body);
        match (status, vhost) {
            (401 | 403, _) => BrokerError::Unauthorized,
            (404, Some(vhost)) => BrokerError::VhostMissing {
                vhost: vhost.to_string(),
            },
            (500..=599, _) => {
                BrokerError::Unreachable(format!("{} answered HTTP {status}: {reason}", self.base))
            }
            (400..=499, _) => BrokerError::Rejected { status, reason },
            _ => BrokerError::Protocol(format!("HTTP {status}: {reason}")),
        }
    }
}

/// RabbitMQ's own words from an error body `{"error": ..., "reason": ...}`: the reason,
/// HTML entities decoded and its line breaks folded; the raw text (cut short) otherwise.
pub fn broker_reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let reason = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| match (v.get("reason"), v.get("error")) {
            (Some(Value::String(r)), _) => Some(r.clone()),
            (_, Some(Value::String(e))) => Some(e.clone()),
            _ => None,
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    let decoded = reason
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let parts: Vec<&str> = decoded
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join(": ")
}

/// An error and its sources, `outer: inner: ...`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}
