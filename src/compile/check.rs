//! The rules' `check:`: the servers the consistency checker asks, and its limits.

use std::time::Duration;

use super::Compiler;
use crate::config::{At, CheckDef, defaults};
use crate::engine::consistency::{CheckServer, CheckSettings, Role};
use crate::engine::zone::Zone;

impl Compiler<'_> {
    /// Compiles `check:` against the lines and the compiled `zones`.
    pub(super) fn check(&mut self, def: &At<CheckDef>, zones: &[Zone]) -> CheckSettings {
        let place = self.place(def);
        let d = &def.value;
        let mut settings = CheckSettings::default();
        for s in &d.servers {
            let rule = format!("check server {:?}", s.name);
            let address = match super::parse_server_address(&s.address) {
                Ok(a) => a,
                Err(m) => {
                    self.fail(place.clone(), rule, format!("address: {m}"));
                    continue;
                }
            };
            let role = match (s.role.as_deref(), s.line.as_deref()) {
                (Some("geo"), None) => Role::Geo,
                (Some("geo"), Some(_)) => {
                    self.fail(place.clone(), rule, "a `geo` server answers every line: it takes no `line`");
                    continue;
                }
                (None | Some("secondary"), line) => {
                    let name = line.unwrap_or(defaults::LINE_NAME);
                    let Some(line) = self.line_named(name, place.clone(), &rule) else { continue };
                    Role::Secondary(line)
                }
                (Some(other), _) => {
                    self.fail(place.clone(), rule, format!("unknown role {other:?} (geo, secondary)"));
                    continue;
                }
            };
            let zones = s.zones.as_ref().map(|names| self.zone_indexes(names, zones, &place, &rule));
            let name = crate::name::normalize(&s.name).unwrap_or_else(|_| s.name.clone());
            settings.servers.push(CheckServer { name: name.into(), address, role, zones });
        }
        if let Some(text) = &d.primary {
            match super::parse_server_address(text) {
                Ok(a) => settings.primary = Some(a),
                Err(m) => self.fail(place.clone(), "check", format!("primary: {m}")),
            }
        }
        if let Some(ms) = d.timeout_ms {
            if ms == 0 {
                self.fail(place.clone(), "check", "timeout_ms must be at least 1");
            }
            settings.timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = d.interval_ms {
            if ms < 1000 {
                self.fail(place.clone(), "check", format!("interval_ms {ms} is below 1000"));
            }
            settings.interval = Some(Duration::from_millis(ms));
        }
        settings
    }
}
