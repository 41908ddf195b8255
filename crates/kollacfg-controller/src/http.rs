//! The operations endpoint: `/healthz` (the process serves), `/readyz` (every cache is full and
//! reconciles run) and `/metrics` (Prometheus text format). Plain HTTP/1.1, read-only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Status, content type and body for `method path`.
pub fn route(metrics: &Metrics, method: &Method, path: &str) -> (StatusCode, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET only\n".into());
    }
    match path {
        "/healthz" => (StatusCode::OK, TEXT, "ok\n".into()),
        "/readyz" if metrics.is_ready() => (StatusCode::OK, TEXT, "ready\n".into()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            "caches not filled yet\n".into(),
        ),
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.render(),
        ),
        _ => (StatusCode::NOT_FOUND, TEXT, "not found\n".into()),
    }
}

/// Binds `addr`; the returned future serves until dropped.
pub async fn bind(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let serve = async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accepting a connection on the metrics port failed: {e}");
                    continue;
                }
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (status, content_type, body) =
                        route(&metrics, request.method(), request.uri().path());
                    let response = Response::builder()
                        .status(status)
                        .header("content-type", content_type)
                        .body(Full::new(Bytes::from(body)))
                        .expect("a static response is valid");
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    Ok((local, serve))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn readyz_follows_the_caches() {
        let m = Metrics::default();
        assert_eq!(route(&m, &Method::GET, "/healthz").0, StatusCode::OK);
        assert_eq!(
            route(&m, &Method::GET, "/readyz").0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        m.set_ready(true);
        assert_eq!(route(&m, &Method::GET, "/readyz").0, StatusCode::OK);
        assert_eq!(
            route(&m, &Method::POST, "/readyz").0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(route(&m, &Method::GET, "/nope").0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn serves_metrics_over_http_on_loopback() {
        let metrics = Arc::new(Metrics::default());
        metrics.reconciles.inc();
        let (addr, serve) = bind("127.0.0.1:0".parse().unwrap(), metrics).await.unwrap();
        let server = tokio::spawn(serve);
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("kollacfg_reconciles_total 1"), "{answer}");
        server.abort();
    }
}
