//! The rules' `server:` section: listen addresses, workers, sizes, timeouts, CHAOS,
//! the file watch and the admin listener.

use std::path::Path;

use super::host::{DnstapOutput, DnstapSettings, HostSettings};
use super::{Compiler, Place, stamp};
use crate::config::{At, ServerDef, defaults};
use crate::engine::cookies::Secret;
use crate::engine::settings::{AnswerSettings, CookieSettings, RrlSettings};

/// The answer settings of rules without a `server:` section.
pub(super) fn answer_defaults() -> AnswerSettings {
    AnswerSettings {
        udp_payload_max: defaults::UDP_PAYLOAD_MAX,
        chaos_version: None,
        chaos_id: None,
        rrl: RrlSettings {
            rate: 0,
            slip: defaults::RRL_SLIP,
            ipv4_prefix: defaults::RRL_IPV4_PREFIX,
            ipv6_prefix: defaults::RRL_IPV6_PREFIX,
            table_size: crate::engine::rrl::DEFAULT_SLOTS,
            allow: Vec::new(),
        },
        cookies: CookieSettings { enabled: true, secrets: None, overlap: defaults::COOKIE_OVERLAP },
    }
}

impl Compiler<'_> {
    /// The `server:` section: what the engine answers with, and what the host runs with.
    pub(super) fn server_settings(&mut self, def: &At<ServerDef>) -> (AnswerSettings, HostSettings) {
        let place = self.place(def);
        let d = &def.value;
        let (mut answer, mut settings) = (answer_defaults(), HostSettings::default());
        // Paths in `server:` are relative to the rules file.
        let rules_dir = self.file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(listen) = &d.listen {
            settings.listen.clear();
            for text in listen {
                match text.parse() {
                    Ok(addr) => settings.listen.push(addr),
                    Err(_) => self.fail(
                        place.clone(),
                        "server listen",
                        format!("bad address {text:?} (IP:PORT, IPv6 as [::1]:53)"),
                    ),
                }
            }
            if listen.is_empty() {
                self.fail(place.clone(), "server listen", "no address to listen on");
            }
        }
        settings.workers = d.workers.unwrap_or(defaults::WORKERS);
        if let Some(size) = d.udp_payload_max {
            if !(512..=4096).contains(&size) {
                self.fail(place.clone(), "server", format!("udp_payload_max {size} is outside 512..=4096"));
            }
            answer.udp_payload_max = size;
        }
        if let Some(ms) = d.tcp_idle_timeout_ms {
            if ms < 100 {
                self.fail(place.clone(), "server", format!("tcp_idle_timeout_ms {ms} is below 100"));
            }
            settings.tcp_idle_timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(n) = d.tcp_max_connections {
            if n == 0 {
                self.fail(place.clone(), "server", "tcp_max_connections must be at least 1");
            }
            settings.tcp_max_connections = n;
        }
        if let Some(n) = d.tcp_max_per_client {
            if n == 0 {
                self.fail(place.clone(), "server", "tcp_max_per_client must be at least 1");
            }
            settings.tcp_max_per_client = n;
        }
        for (given, name, into) in [
            (d.tcp_query_timeout_ms, "tcp_query_timeout_ms", &mut settings.tcp_query_timeout),
            (d.tcp_write_timeout_ms, "tcp_write_timeout_ms", &mut settings.tcp_write_timeout),
        ] {
            if let Some(ms) = given {
                if ms < 100 {
                    self.fail(place.clone(), "server", format!("{name} {ms} is below 100"));
                }
                *into = std::time::Duration::from_millis(ms);
            }
        }
        settings.watch = d.watch.unwrap_or(defaults::WATCH);
        if let Some(admin) = &d.admin {
            match admin.listen.as_deref() {
                None => {}
                Some("off") => settings.admin_listen = None,
                Some(text) => match text.parse() {
                    Ok(addr) => settings.admin_listen = Some(addr),
                    Err(_) => self.fail(
                        place.clone(),
                        "server admin",
                        format!("bad listen address {text:?} (IP:PORT or off)"),
                    ),
                },
            }
            settings.admin_token_file = admin.token_file.as_ref().map(|f| rules_dir.join(f));
            for name in &admin.hosts {
                let valid = !name.is_empty()
                    && name
                        .split('.')
                        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                if valid {
                    settings.admin_hosts.push(name.to_ascii_lowercase().into());
                } else {
                    self.fail(
                        place.clone(),
                        "server admin",
                        format!("hosts: {name:?} is not a host name (letters, digits, '-' and dots)"),
                    );
                }
            }
        }
        if let Some(metrics) = &d.metrics {
            match metrics.listen.parse() {
                Ok(addr) => settings.metrics_listen = Some(addr),
                Err(_) => self.fail(
                    place.clone(),
                    "server metrics",
                    format!("bad listen address {:?} (IP:PORT)", metrics.listen),
                ),
            }
        }
        if let Some(cpus) = &d.cpus {
            let available = std::thread::available_parallelism().map_or(1, |n| n.get());
            for &cpu in cpus {
                if cpu >= available {
                    self.fail(place.clone(), "server", format!("cpus: CPU {cpu} does not exist here (0..{available})"));
                }
            }
            settings.cpus = cpus.clone();
        }
        settings.state_dir = d.state_dir.as_ref().map(|dir| rules_dir.join(dir));
        if d.group.is_some() && d.user.is_none() {
            self.fail(place.clone(), "server", "group is set without user".to_string());
        }
        settings.user = d.user.clone();
        settings.group = d.group.clone();
        if let Some(ms) = d.serial_coalesce_ms {
            if ms < 1000 {
                // Serials follow the clock: at most one new serial per second keeps them
                // from running ahead of it (see engine::versions).
                self.fail(place.clone(), "server", format!("serial_coalesce_ms {ms} is below 1000"));
            }
            settings.serial_coalesce = std::time::Duration::from_millis(ms);
        }
        if let Some(rrl) = &d.rrl {
            self.rrl_settings(&place, rrl, &mut answer.rrl);
        }
        if let Some(cookies) = &d.cookies {
            answer.cookies.enabled = cookies.enabled.unwrap_or(true);
            answer.cookies.overlap = cookies.overlap_s.map_or(defaults::COOKIE_OVERLAP, std::time::Duration::from_secs);
            if let Some(file) = &cookies.secret_file {
                answer.cookies.secrets = self.cookie_secrets(&place, &rules_dir.join(file));
            }
        }
        if let Some(dnstap) = &d.dnstap {
            settings.dnstap = self.dnstap_settings(&place, dnstap, &rules_dir);
        }
        if let Some(chaos) = &d.chaos {
            answer.chaos_version = chaos.version.clone();
            answer.chaos_id = chaos.id.clone();
        }
        (answer, settings)
    }
}

impl Compiler<'_> {
    fn dnstap_settings(
        &mut self,
        place: &Place,
        def: &crate::config::DnstapDef,
        rules_dir: &std::path::Path,
    ) -> Option<DnstapSettings> {
        let output = match (&def.socket, &def.file) {
            (Some(socket), None) => DnstapOutput::Socket(rules_dir.join(socket)),
            (None, Some(file)) => DnstapOutput::File(rules_dir.join(file)),
            _ => {
                self.fail(place.clone(), "server dnstap", "give one of socket: PATH or file: PATH".to_string());
                return None;
            }
        };
        let sample = def.sample.unwrap_or(1.0);
        if !(sample > 0.0 && sample <= 1.0) {
            self.fail(place.clone(), "server dnstap", format!("sample {sample} is not above 0 and at most 1"));
            return None;
        }
        // One query in N is logged: a share that is no 1/N would be logged as another.
        let every = (1.0 / sample).round().clamp(1.0, f64::from(u32::MAX));
        if ((1.0 / every) - sample).abs() > sample * 0.01 {
            self.fail(
                place.clone(),
                "server dnstap",
                format!(
                    "sample {sample} is not one query in N: give 1/N (1, 0.5, 0.1, 0.01, ...); the nearest is {}",
                    1.0 / every
                ),
            );
            return None;
        }
        let queue = def.queue.unwrap_or(defaults::DNSTAP_QUEUE);
        if queue == 0 {
            self.fail(place.clone(), "server dnstap", "queue 0 would drop every frame".to_string());
        }
        let (queries, responses) = (def.queries.unwrap_or(true), def.responses.unwrap_or(true));
        if !queries && !responses {
            self.fail(place.clone(), "server dnstap", "queries and responses are both false".to_string());
        }
        Some(DnstapSettings { output, every: every as u32, queries, responses, identity: def.identity.clone(), queue })
    }

    fn rrl_settings(&mut self, place: &Place, def: &crate::config::RrlDef, rrl: &mut RrlSettings) {
        rrl.rate = def.rate.unwrap_or(0);
        rrl.slip = def.slip.unwrap_or(defaults::RRL_SLIP);
        for (given, width, into) in
            [(def.ipv4_prefix, 32, &mut rrl.ipv4_prefix), (def.ipv6_prefix, 128, &mut rrl.ipv6_prefix)]
        {
            if let Some(len) = given {
                if len > width {
                    self.fail(place.clone(), "server rrl", format!("prefix length {len} is longer than {width}"));
                }
                *into = len;
            }
        }
        if let Some(size) = def.table_size {
            if !(1024..=1 << 24).contains(&size) {
                self.fail(place.clone(), "server rrl", format!("table_size {size} is outside 1024..=16777216"));
            }
            rrl.table_size = size;
        }
        for text in def.allow.iter().flatten() {
            match text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)) {
                Ok(net) => rrl.allow.push(net.trunc()),
                Err(_) => self.fail(place.clone(), "server rrl", format!("allow: {text:?} is not a network (CIDR)")),
            }
        }
    }

    /// Reads the cookie secret file: the current secret on the first line, optionally
    /// the previous one on the second (32 hex digits each; `#` comments and blank lines
    /// skipped). A bad file fails the rules (the running ones stay).
    fn cookie_secrets(&mut self, place: &Place, path: &Path) -> Option<(Secret, Option<Secret>)> {
        self.inputs.push((path.to_path_buf(), stamp(path)));
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.fail(place.clone(), "server cookies", format!("cannot read secret_file {}: {e}", path.display()));
                return None;
            }
        };
        let mut secrets = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let secret = data_encoding::HEXLOWER_PERMISSIVE
                .decode(line.as_bytes())
                .ok()
                .and_then(|bytes| Secret::try_from(bytes).ok());
            match secret {
                Some(secret) if secrets.len() < 2 => secrets.push(secret),
                Some(_) => {
                    self.fail(
                        place.clone(),
                        "server cookies",
                        format!(
                            "{}:{}: a third secret (the file holds the current and the previous)",
                            path.display(),
                            n + 1
                        ),
                    );
                    return None;
                }
                None => {
                    self.fail(
                        place.clone(),
                        "server cookies",
                        // The line is not echoed: it may be a secret with a typo.
                        format!("{}:{}: not a secret of 32 hex digits (128 bits)", path.display(), n + 1),
                    );
                    return None;
                }
            }
        }
        match secrets[..] {
            [current] => Some((current, None)),
            [current, previous] => Some((current, Some(previous))),
            _ => {
                self.fail(place.clone(), "server cookies", format!("{}: no secret in the file", path.display()));
                None
            }
        }
    }
}
