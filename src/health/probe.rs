//! One probe of one target: TCP connect, HTTP GET, or a DNS query. The caller bounds it
//! with the check's timeout, so a target that hangs fails in time and holds up nothing
//! else (each probe runs in its own task).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::{CheckKind, CheckSpec};

/// Most of an HTTP response read for a check (status line, headers and body prefix).
const HTTP_READ_LIMIT: u64 = 64 * 1024;

/// Runs the check once against `target`; `Err` says why it failed.
pub async fn run(spec: &CheckSpec, target: SocketAddr, id: u16) -> Result<(), String> {
    match &spec.kind {
        CheckKind::Tcp => TcpStream::connect(target).await.map(drop).map_err(|e| format!("connect: {e}")),
        CheckKind::Http { path, host, expect_status, body_contains } => {
            let mut stream = TcpStream::connect(target).await.map_err(|e| format!("connect: {e}"))?;
            let host = host.clone().unwrap_or_else(|| target.to_string());
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: linedns-health/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            );
            stream.write_all(request.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
            let mut response = Vec::new();
            stream.take(HTTP_READ_LIMIT).read_to_end(&mut response).await.map_err(|e| format!("read: {e}"))?;
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
