//! One probe of one target: TCP connect, HTTP(S) GET, or a DNS query. The caller bounds it
//! with the check's timeout, so a target that hangs fails in time and holds up nothing
//! else (each probe runs in its own task).

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONNECTION, HOST, HeaderValue, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::engine::health::{CheckKind, CheckSpec, TlsCheck};
use crate::serve::client::{Client, Request, Transport};

/// Most of an HTTP response body read for a check: the text it must contain is looked
/// for in this much.
const HTTP_BODY_LIMIT: usize = 64 * 1024;

/// What a probe task prepares once for its check: the TLS client of an HTTPS check.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// Builds what `spec` needs across probes (the trusted roots of an HTTPS check).
pub fn prepare(spec: &CheckSpec) -> Result<Prepared, String> {
    let CheckKind::Http { tls: Some(tls), .. } = &spec.kind else { return Ok(Prepared::default()) };
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file).map_err(|e| format!("ca_file {}: {e}", file.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("ca_file {}: {e}", file.display()))?;
                roots.add(cert).map_err(|e| format!("ca_file {}: {e}", file.display()))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Prepared { tls: Some(Arc::new(config)) })
}

/// Runs the check once against `target`; `Err` says why it failed.
pub async fn run(spec: &CheckSpec, prepared: &Prepared, target: SocketAddr) -> Result<(), String> {
    match &spec.kind {
        CheckKind::Tcp => TcpStream::connect(target).await.map(drop).map_err(|e| format!("connect: {e}")),
        CheckKind::Http { path, host, expect_status, body_contains, tls } => {
            let stream = TcpStream::connect(target).await.map_err(|e| format!("connect: {e}"))?;
            let host_header = host.clone().unwrap_or_else(|| target.to_string());
            let body = body_contains.as_deref();
            match (tls, &prepared.tls) {
                (Some(check), Some(config)) => {
                    let name = server_name(check, host.as_deref(), target)?;
                    let connector = tokio_rustls::TlsConnector::from(config.clone());
                    let stream = connector.connect(name, stream).await.map_err(|e| format!("TLS: {e}"))?;
                    http_exchange(stream, path, &host_header, expect_status, body).await
                }
                (Some(_), None) => Err("TLS client not prepared".into()),
                (None, _) => http_exchange(stream, path, &host_header, expect_status, body).await,
            }
        }
        CheckKind::Dns { query, qtype, expect_rcode } => {
            let request = Request::query(query, *qtype);
            let reply = Client::new(spec.timeout).ask(target, &request, Transport::UdpOnly).await;
            let rcode = reply.map_err(|e| e.to_string())?.rcode();
            if rcode == *expect_rcode { Ok(()) } else { Err(format!("DNS rcode {rcode}")) }
        }
    }
}

/// The name an HTTPS check verifies: `server_name`, else the Host name, else the IP.
fn server_name(check: &TlsCheck, host: Option<&str>, target: SocketAddr) -> Result<ServerName<'static>, String> {
    let text = check.server_name.as_deref().or(host).map(|h| h.split(':').next().unwrap_or(h).to_string());
    match text {
        Some(name) => ServerName::try_from(name.clone()).map_err(|_| format!("bad server name {name:?}")),
        None => Ok(ServerName::IpAddress(target.ip().into())),
    }
}

/// Ends the connection task when the exchange is over (or abandoned at the timeout).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One GET over HTTP/1.1 (hyper) and its checks, over any stream (plain TCP or TLS).
async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    path: &str,
    host: &str,
    expect_status: &[u16],
    body_contains: Option<&str>,
) -> Result<(), String> {
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let mut request = hyper::Request::get(path).body(Empty::<Bytes>::new()).map_err(|e| format!("bad path: {e}"))?;
    let headers = request.headers_mut();
    headers.insert(HOST, HeaderValue::from_str(host).map_err(|_| format!("bad Host {host:?}"))?);
    headers.insert(USER_AGENT, HeaderValue::from_static(concat!("linedns-health/", env!("CARGO_PKG_VERSION"))));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status().as_u16();
    if !expect_status.contains(&status) {
        return Err(format!("HTTP status {status}"));
    }
    let Some(needle) = body_contains else { return Ok(()) };
    // Read up to the limit; a server that closes without TLS close_notify still gave
    // what it sent.
    let mut body = response.into_body();
    let mut seen = Vec::new();
    while seen.len() < HTTP_BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    seen.extend_from_slice(data);
                }
            }
            Some(Err(e)) if seen.is_empty() => return Err(format!("read: {e}")),
            Some(Err(_)) | None => break,
        }
    }
    seen.truncate(HTTP_BODY_LIMIT);
    if seen.windows(needle.len().max(1)).any(|w| w == needle.as_bytes()) {
        Ok(())
    } else {
        Err(format!("body does not contain {needle:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers one connection on loopback with `response`, whatever was asked.
    async fn canned(response: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(response).await;
        });
        addr
    }

    async fn get(response: &'static [u8], body_contains: Option<&str>) -> Result<(), String> {
        let stream = TcpStream::connect(canned(response).await).await.unwrap();
        http_exchange(stream, "/health", "example.com", &[200], body_contains).await
    }

    #[tokio::test]
    async fn status_lines() {
        assert_eq!(get(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", None).await, Ok(()));
        assert_eq!(get(b"HTTP/1.0 503 Service Unavailable\r\n\r\n", None).await, Err("HTTP status 503".into()));
        assert!(get(b"SSH-2.0-OpenSSH\r\n", None).await.is_err());
        assert!(get(b"HTTP/1.1 999 What\r\n\r\n", None).await.is_err());
        assert!(get(b"", None).await.is_err());
        // The body is read until the server closes when it gives no length.
        assert_eq!(get(b"HTTP/1.1 200 OK\r\n\r\nall is well", Some("is well")).await, Ok(()));
        assert!(get(b"HTTP/1.1 200 OK\r\n\r\nall is bad", Some("is well")).await.is_err());
    }
}
