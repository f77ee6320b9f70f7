//! One probe of one target: TCP connect, HTTP(S) GET, or a DNS query. The caller bounds it
//! with the check's timeout, so a target that hangs fails in time and holds up nothing
//! else (each probe runs in its own task).

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::{CheckKind, CheckSpec, TlsCheck};

/// Most of an HTTP response read for a check (status line, headers and body prefix).
const HTTP_READ_LIMIT: u64 = 64 * 1024;

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
pub async fn run(spec: &CheckSpec, prepared: &Prepared, target: SocketAddr, id: u16) -> Result<(), String> {
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
            let local: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
            let socket = UdpSocket::bind(local).await.map_err(|e| format!("bind: {e}"))?;
            socket.connect(target).await.map_err(|e| format!("connect: {e}"))?;
            let mut packet = Vec::with_capacity(64);
            packet.extend_from_slice(&id.to_be_bytes());
            packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
            crate::wire::encode::write_name(&mut packet, query);
            packet.extend_from_slice(&qtype.to_be_bytes());
            packet.extend_from_slice(&1u16.to_be_bytes());
            socket.send(&packet).await.map_err(|e| format!("send: {e}"))?;
            let mut buf = [0u8; 1500];
            loop {
                let n = socket.recv(&mut buf).await.map_err(|e| format!("receive: {e}"))?;
                // Only the answer to this query counts (same ID, QR set); stray packets wait.
                if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 {
                    let rcode = buf[3] & 0x0f;
                    return if rcode == *expect_rcode { Ok(()) } else { Err(format!("DNS rcode {rcode}")) };
                }
            }
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

/// One GET and its checks, over any stream (plain TCP or TLS).
async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
    host: &str,
    expect_status: &[u16],
    body_contains: Option<&str>,
) -> Result<(), String> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: linedns-health/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
    let mut response = Vec::new();
    // A server that closes without TLS close_notify still gave its answer.
    let read = (&mut stream).take(HTTP_READ_LIMIT).read_to_end(&mut response).await;
    if let Err(e) = read
        && response.is_empty()
    {
        return Err(format!("read: {e}"));
    }
    let status = http_status(&response).ok_or("not an HTTP response")?;
    if !expect_status.contains(&status) {
        return Err(format!("HTTP status {status}"));
    }
    if let Some(needle) = body_contains {
        let body = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(&[][..], |i| &response[i + 4..]);
        if !body.windows(needle.len().max(1)).any(|w| w == needle.as_bytes()) {
            return Err(format!("body does not contain {needle:?}"));
        }
    }
    Ok(())
}

/// The status code of an HTTP/1.x status line (`HTTP/1.1 200 OK`).
fn http_status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok().filter(|s| (100..=599).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(http_status(b"HTTP/1.1 200 OK\r\n\r\n"), Some(200));
        assert_eq!(http_status(b"HTTP/1.0 503 Service Unavailable\r\n"), Some(503));
        assert_eq!(http_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(http_status(b"HTTP/1.1 999 What\r\n"), None);
        assert_eq!(http_status(b""), None);
    }
}
