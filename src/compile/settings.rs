//! The rules' `server:` section: listen addresses, workers, sizes, timeouts, CHAOS,
//! the file watch and the admin listener.

use std::path::Path;

use super::Compiler;
use crate::config::{At, ServerDef, defaults};
use crate::engine::settings::ServerSettings;

/// The settings of rules without a `server:` section.
pub(super) fn defaults() -> ServerSettings {
    ServerSettings {
        listen: defaults::LISTEN.to_vec(),
        workers: defaults::WORKERS,
        udp_payload_max: defaults::UDP_PAYLOAD_MAX,
        tcp_idle_timeout: defaults::TCP_IDLE_TIMEOUT,
        tcp_max_connections: defaults::TCP_MAX_CONNECTIONS,
        chaos_version: None,
        chaos_id: None,
        watch: defaults::WATCH,
        admin_listen: Some(defaults::ADMIN_LISTEN),
        admin_token_file: None,
        cpus: Vec::new(),
        state_dir: None,
        serial_coalesce: defaults::SERIAL_COALESCE,
    }
}

impl Compiler<'_> {
    pub(super) fn server_settings(&mut self, def: &At<ServerDef>) -> ServerSettings {
        let place = self.place(def);
        let d = &def.value;
        let mut settings = defaults();
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
            settings.udp_payload_max = size;
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
        if let Some(ms) = d.serial_coalesce_ms {
            if ms < 1000 {
                // Serials follow the clock: at most one new serial per second keeps them
                // from running ahead of it (see engine::versions).
                self.fail(place.clone(), "server", format!("serial_coalesce_ms {ms} is below 1000"));
            }
            settings.serial_coalesce = std::time::Duration::from_millis(ms);
        }
        if let Some(chaos) = &d.chaos {
            settings.chaos_version = chaos.version.clone();
            settings.chaos_id = chaos.id.clone();
        }
        settings
    }
}
