//! Health checks: each named check compiled once, and one probe per distinct
//! (target, check) over all pools.

use std::net::IpAddr;
use std::path::Path;

use super::Compiler;
use crate::config::{At, HealthCheckDef, defaults};
use crate::engine::answer::Rcode;
use crate::engine::health::{CheckKind, CheckSpec, Probe, ProbeId, ProbeKey, ProbeState};
use crate::rdata::RecordType;
use crate::{config, name, rdata};

impl Compiler<'_> {
    /// Compiles a `health_checks` entry.
    pub(super) fn health_check(&mut self, name: &str, def: &At<HealthCheckDef>) -> Option<CheckSpec> {
        let place = self.place(def);
        let rule = format!("health check {name:?}");
        let d = &def.value;
        let errors_before = self.errors.len();
        let not_for =
            |field: &str, set: bool, kinds: &str| set.then(|| format!("`{field}` only applies to {kinds} checks"));
        let web = matches!(d.kind, config::CheckKind::Http | config::CheckKind::Https);
        let tls = d.kind == config::CheckKind::Https;
        let misplaced = [
            not_for("path", d.path.is_some() && !web, "http and https"),
            not_for("host", d.host.is_some() && !web, "http and https"),
            not_for("expect_status", d.expect_status.is_some() && !web, "http and https"),
            not_for("body_contains", d.body_contains.is_some() && !web, "http and https"),
            not_for("ca_file", d.ca_file.is_some() && !tls, "https"),
            not_for("server_name", d.server_name.is_some() && !tls, "https"),
            not_for("query", d.query.is_some() && d.kind != config::CheckKind::Dns, "dns"),
            not_for("qtype", d.qtype.is_some() && d.kind != config::CheckKind::Dns, "dns"),
            not_for("expect_rcode", d.expect_rcode.is_some() && d.kind != config::CheckKind::Dns, "dns"),
        ];
        for m in misplaced.into_iter().flatten() {
            self.fail(place.clone(), rule.clone(), m);
        }
        let kind = match d.kind {
            config::CheckKind::Tcp => CheckKind::Tcp,
            config::CheckKind::Http | config::CheckKind::Https => {
                let path = d.path.clone().unwrap_or_else(|| defaults::HTTP_PATH.into());
                // RFC 3986 §3.3: a request path is printable ASCII (others percent-encoded).
                if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
                    self.fail(
                        place.clone(),
                        rule.clone(),
                        format!(
                            "bad path {path:?}: starts with / and has no spaces; other characters than printable ASCII are percent-encoded"
                        ),
                    );
                }
                let expect_status = d.expect_status.clone().unwrap_or_else(|| defaults::HTTP_HEALTHY_STATUS.collect());
                if let Some(bad) = expect_status.iter().find(|s| !(100..=599).contains(*s)) {
                    self.fail(place.clone(), rule.clone(), format!("bad expect_status {bad}"));
                }
                let tls = tls.then(|| {
                    let rules_dir = self.file.parent().map(Path::to_path_buf).unwrap_or_default();
                    let ca_file = d.ca_file.as_ref().map(|f| rules_dir.join(f));
                    if let Some(ca) = &ca_file {
                        match std::fs::read_to_string(ca) {
                            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {}
                            Ok(_) => self.fail(
                                place.clone(),
                                rule.clone(),
                                format!("ca_file {}: no PEM certificate in it", ca.display()),
                            ),
                            Err(e) => self.fail(
                                place.clone(),
                                rule.clone(),
                                format!("cannot read ca_file {}: {e}", ca.display()),
                            ),
                        }
                    }
                    crate::engine::health::TlsCheck { ca_file, server_name: d.server_name.clone() }
                });
                CheckKind::Http {
                    path,
                    host: d.host.clone(),
                    expect_status,
                    body_contains: d.body_contains.clone(),
                    tls,
                }
            }
            config::CheckKind::Dns => {
                let query = match d.query.as_deref().map(name::normalize) {
                    Some(Ok(q)) => q,
                    Some(Err(m)) => {
                        self.fail(place.clone(), rule.clone(), m);
                        String::new()
                    }
                    None => {
                        self.fail(place.clone(), rule.clone(), "a dns check needs `query` (the name to ask)");
                        String::new()
                    }
                };
                let qtype = match rdata::parse_type(
                    d.qtype.as_deref().unwrap_or(defaults::DNS_CHECK_QTYPE),
                    &[RecordType::A, RecordType::AAAA, RecordType::SOA, RecordType::NS, RecordType::TXT],
                ) {
                    Ok(t) => u16::from(t),
                    Err(m) => {
                        self.fail(place.clone(), rule.clone(), m);
                        1
                    }
                };
                // A DNS probe reads the header's 4-bit rcode: the extended ones cannot match.
                let header_rcodes = Rcode::ALL.iter().filter(|r| r.code() < 16);
                let want = d.expect_rcode.as_deref().unwrap_or(defaults::DNS_CHECK_RCODE);
                let expect_rcode = match Rcode::from_name(want).filter(|r| r.code() < 16) {
                    Some(r) => r.code() as u8,
                    None => {
                        let names: Vec<&str> = header_rcodes.map(|r| r.name()).collect();
                        self.fail(
                            place.clone(),
                            rule.clone(),
                            format!("bad expect_rcode {:?} (one of {})", want.to_ascii_uppercase(), names.join(", ")),
                        );
                        0
                    }
                };
                CheckKind::Dns { query, qtype, expect_rcode }
            }
        };
        let interval = d.interval_ms.unwrap_or(defaults::PROBE_INTERVAL_MS);
        let timeout = d.timeout_ms.unwrap_or(defaults::PROBE_TIMEOUT_MS);
        if !(100..=3_600_000).contains(&interval) {
            self.fail(place.clone(), rule.clone(), format!("interval_ms {interval} is outside 100..=3600000"));
        }
        // Probes of one target run one after another, so a timeout longer than the
        // interval is fine: the next probe starts an interval after this one ends.
        if !(10..=60_000).contains(&timeout) {
            self.fail(place.clone(), rule.clone(), format!("timeout_ms {timeout} is outside 10..=60000"));
        }
        let (fall, rise) = (d.fall.unwrap_or(defaults::PROBE_FALL), d.rise.unwrap_or(defaults::PROBE_RISE));
        if fall == 0 || rise == 0 {
            self.fail(place.clone(), rule.clone(), "fall and rise must be at least 1");
        }
        (self.errors.len() == errors_before).then(|| CheckSpec {
            name: name.to_string(),
            kind,
            port: d.port,
            interval: std::time::Duration::from_millis(interval),
            timeout: std::time::Duration::from_millis(timeout),
            jitter: std::time::Duration::from_millis(d.jitter_ms.unwrap_or(interval / defaults::PROBE_JITTER_DIVISOR)),
            fall,
            rise,
            initially_up: d.initial != Some(config::InitialState::Down),
        })
    }

    /// The probe of `check` for a node at `addr` (none for a node that is no address),
    /// probed at `probe_at` (`IP` or `IP:PORT`) if given; one probe per distinct target
    /// and check.
    pub(super) fn probe_for(
        &mut self,
        check: &std::sync::Arc<CheckSpec>,
        addr: Option<IpAddr>,
        probe_at: Option<&str>,
    ) -> Result<ProbeId, String> {
        let (ip, port) = match probe_at {
            None => (
                addr.ok_or(
                    "only addresses are probed: give `probe: IP` or `IP:PORT`, where the service behind it answers",
                )?,
                None,
            ),
            Some(text) => match text.parse::<std::net::SocketAddr>() {
                Ok(sa) => (sa.ip(), Some(sa.port())),
                Err(_) => {
                    (text.parse::<IpAddr>().map_err(|_| format!("bad probe address {text:?} (IP or IP:PORT)"))?, None)
                }
            },
        };
        let default_port = match &check.kind {
            CheckKind::Tcp => None,
            CheckKind::Http { tls: None, .. } => Some(80),
            CheckKind::Http { tls: Some(_), .. } => Some(443),
            CheckKind::Dns { .. } => Some(53),
        };
        let port = port.or(check.port).or(default_port).ok_or_else(|| {
            format!(
                "health check {:?} is tcp and has no port: set `port` on the check or probe: IP:PORT on the node",
                check.name
            )
        })?;
        let key = ProbeKey { target: std::net::SocketAddr::new(ip, port), check: check.name.clone() };
        if let Some(&id) = self.probe_ids.get(&key) {
            return Ok(id);
        }
        let id = ProbeId(self.probes.len() as u32);
        self.probe_ids.insert(key.clone(), id);
        self.probes.push(Probe {
            key,
            spec: check.clone(),
            state: std::sync::Arc::new(ProbeState::new(check.initially_up)),
        });
        Ok(id)
    }
}
