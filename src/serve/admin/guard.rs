//! What keeps the admin API to its operator: every request must name this listener in
//! its `Host` (against DNS rebinding), must not come from another web origin (against a
//! page in the operator's browser), and a call that changes state must carry a JSON body
//! type (which a browser sends cross-origin only after a preflight this API never grants).
//! Pure: the request's headers in, a refusal in words out.
//!
//! - `Host` (RFC 9110 §7.2): `localhost`, a name of `server.admin.hosts`, or an IP
//!   address the listener answers on — a loopback address for a loopback listener, its
//!   own address, or any address for a wildcard one. A rebinding attack reaches the
//!   listener under the attacker's own name, which is none of these. Any port (an `ssh
//!   -L` tunnel changes it).
//! - `Origin` (RFC 6454 §7): absent (curl, Prometheus, same-origin GETs), or the origin
//!   of this very listener (the status page). `Sec-Fetch-Site` (Fetch Metadata), when a
//!   browser sends it, must be `same-origin` or `none`.
//! - POST, PUT, PATCH and DELETE need `Content-Type: application/json`: a form, a
//!   `text/plain` fetch or an `<img>` cannot send it without a CORS preflight, and the API
//!   answers no preflight.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use hyper::Method;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, ORIGIN};

/// Who may call the admin API: the listener's address and the names it is known by.
#[derive(Clone, Debug)]
pub struct AdminGuard {
    /// The listener's own address.
    pub listener: SocketAddr,
    /// Host names besides `localhost` that the API answers to (`server.admin.hosts`).
    pub names: Vec<Box<str>>,
}

impl AdminGuard {
    /// Checks a request's method and headers; why it is refused, if it is.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = match headers.get(HOST).map(|h| h.to_str()) {
            None => None,
            Some(Ok(host)) => Some(host.trim()),
            Some(Err(_)) => return Err(Refusal::HostNotText),
        };
        if let Some(host) = host {
            self.check_host(host)?;
        }
        check_origin(headers, host)?;
        if matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
            check_json(headers)?;
        }
        Ok(())
    }

    /// `host` (`NAME[:PORT]`, `IP[:PORT]` or `[IPv6][:PORT]`) names this listener.
    fn check_host(&self, host: &str) -> Result<(), Refusal> {
        let name = host_name(host);
        let lower = name.to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        let allowed = match name.parse::<IpAddr>() {
            Ok(ip) => self.answers_on(ip),
            Err(_) => lower == "localhost" || self.names.iter().any(|n| n.eq_ignore_ascii_case(lower)),
        };
        if allowed { Ok(()) } else { Err(Refusal::ForeignHost { host: host.to_string(), listener: self.listener }) }
    }

    /// Whether the listener can be reached at `ip`.
    fn answers_on(&self, ip: IpAddr) -> bool {
        let own = self.listener.ip();
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if own.is_unspecified() {
            true
        } else if own.is_loopback() {
            ip.is_loopback()
        } else {
            ip == own
        }
    }
}

/// Why a request to the admin API is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The `Host` header holds octets that are not text.
    HostNotText,
    /// `Host` names neither this listener nor one of its names (DNS rebinding).
    ForeignHost {
        /// The `Host` as sent.
        host: String,
        /// The listener's address.
        listener: SocketAddr,
    },
    /// `Origin` is another web page's.
    ForeignOrigin(String),
    /// `Sec-Fetch-Site` says the request comes from another site.
    CrossSite(String),
    /// A call that changes state without a JSON body type (the type given, if any).
    NotJson(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::HostNotText => write!(f, "the Host header is not text"),
            Refusal::ForeignHost { host, listener } => write!(
                f,
                "Host {host:?} is not this admin API's address ({listener}) or one of its names (localhost, and \
                 server.admin.hosts): refused, against DNS rebinding. Add the name to server.admin.hosts \
                 if it is one of this server's"
            ),
            Refusal::ForeignOrigin(origin) => write!(
                f,
                "a request from the web page origin {origin:?} is refused: the admin API answers its own \
                 status page and clients that are not browsers (curl, Prometheus, linedns)"
            ),
            Refusal::CrossSite(site) => {
                write!(f, "a {site} request from a web page is refused (Sec-Fetch-Site: {site})")
            }
            Refusal::NotJson(media) => {
                let given = if media.is_empty() { "none".to_string() } else { format!("{media:?}") };
                write!(
                    f,
                    "this call changes state: send it with Content-Type: application/json (given: {given}), \
                     as `curl -H 'Content-Type: application/json'` does"
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// The name or address of a `Host` value, without its port (and brackets).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        // One colon: NAME:PORT. More: an IPv6 address without brackets.
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// A request from a web page of another origin is refused: `Origin` must be this
/// listener's own (`http://` or `https://` and the `Host`), and `Sec-Fetch-Site`, when
/// sent, `same-origin` or `none`.
fn check_origin(headers: &HeaderMap, host: Option<&str>) -> Result<(), Refusal> {
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        let same = host.is_some_and(|host| {
            ["http://", "https://"]
                .iter()
                .any(|scheme| origin.strip_prefix(scheme).is_some_and(|o| o.eq_ignore_ascii_case(host)))
        });
        if !same {
            return Err(Refusal::ForeignOrigin(origin.to_string()));
        }
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => Ok(()),
        Some(site) => Err(Refusal::CrossSite(site.to_string())),
    }
}

/// A call that changes state must say its body is JSON.
fn check_json(headers: &HeaderMap) -> Result<(), Refusal> {
    let media = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = media.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") { Ok(()) } else { Err(Refusal::NotJson(media.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(listener: &str) -> AdminGuard {
        AdminGuard { listener: listener.parse().unwrap(), names: vec!["dns-admin.example".into()] }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn host_must_name_the_listener() {
        let g = guard("127.0.0.1:9153");
        for ok in
            ["127.0.0.1:9153", "localhost:19153", "LOCALHOST", "[::1]:9153", "127.0.0.2", "dns-admin.example:9153"]
        {
            assert_eq!(g.check(&Method::GET, &headers(&[("host", ok)])), Ok(()), "{ok}");
        }
        for bad in ["evil.example:9153", "192.0.2.1:9153", "localhost.evil.example", "[2001:db8::1]:9153"] {
            assert!(
                g.check(&Method::GET, &headers(&[("host", bad)])).unwrap_err().to_string().contains("DNS rebinding"),
                "{bad}"
            );
        }
        let public = guard("192.0.2.53:9153");
        assert!(public.check(&Method::GET, &headers(&[("host", "192.0.2.53:9153")])).is_ok());
        assert!(public.check(&Method::GET, &headers(&[("host", "192.0.2.54:9153")])).is_err());
        let any = guard("0.0.0.0:9153");
        assert!(any.check(&Method::GET, &headers(&[("host", "198.51.100.7:9153")])).is_ok());
        assert!(any.check(&Method::GET, &headers(&[("host", "evil.example")])).is_err());
    }

    #[test]
    fn only_the_listeners_own_origin_passes() {
        let g = guard("127.0.0.1:9153");
        let host = ("host", "127.0.0.1:9153");
        assert!(g.check(&Method::GET, &headers(&[host, ("origin", "http://127.0.0.1:9153")])).is_ok());
        let err = g.check(&Method::GET, &headers(&[host, ("origin", "http://evil.example")])).unwrap_err();
        assert_eq!(err, Refusal::ForeignOrigin("http://evil.example".into()));
        assert!(err.to_string().contains("\"http://evil.example\" is refused"), "{err}");
        assert!(g.check(&Method::GET, &headers(&[host, ("origin", "null")])).is_err());
        assert!(g.check(&Method::GET, &headers(&[host, ("sec-fetch-site", "cross-site")])).is_err());
        assert!(g.check(&Method::GET, &headers(&[host, ("sec-fetch-site", "same-site")])).is_err());
        assert!(g.check(&Method::GET, &headers(&[host, ("sec-fetch-site", "same-origin")])).is_ok());
    }

    #[test]
    fn a_change_needs_a_json_body_type() {
        let g = guard("127.0.0.1:9153");
        let host = ("host", "127.0.0.1:9153");
        assert!(g.check(&Method::POST, &headers(&[host, ("content-type", "application/json")])).is_ok());
        assert!(
            g.check(&Method::DELETE, &headers(&[host, ("content-type", "application/json; charset=utf-8")])).is_ok()
        );
        for bad in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let err = g.check(&Method::POST, &headers(&[host, ("content-type", bad)])).unwrap_err();
            assert!(matches!(err, Refusal::NotJson(_)), "{err}");
            assert!(err.to_string().contains("Content-Type: application/json"), "{err}");
        }
        assert!(g.check(&Method::POST, &headers(&[host])).unwrap_err().to_string().contains("given: none"));
        assert!(g.check(&Method::GET, &headers(&[host])).is_ok(), "reading needs no body type");
    }
}
