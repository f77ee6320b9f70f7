//! The rules' `providers:`: each provider's name, how it is reached, the line whose view
//! it serves, its zones and how much one push may change there.

use super::Compiler;
use super::host::{Provider, ProviderKind, Secret};
use crate::config::{At, ProviderDef, ProviderKind as KindDef, defaults};
use crate::engine::zone::Zone;
use crate::error::Place;
use crate::name::Name;
use crate::wire::tsig::Key;

impl Compiler<'_> {
    /// Compiles `providers:` against the lines, the compiled `zones` and the `keys`.
    pub(super) fn providers(&mut self, defs: &[At<ProviderDef>], zones: &[Zone], keys: &[Key]) -> Vec<Provider> {
        let mut providers: Vec<Provider> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for def in defs {
            let place = self.place(def);
            let d = &def.value;
            let rule = format!("provider {:?}", d.name);
            if d.name.trim().is_empty() {
                self.fail(place.clone(), "providers", "a provider needs a `name`");
            } else if names.contains(&d.name.as_str()) {
                self.fail(place.clone(), rule.clone(), format!("provider {:?} is defined twice", d.name));
            }
            names.push(&d.name);
            let line = d.line.as_deref().unwrap_or(defaults::LINE_NAME);
            self.line_named(line, place.clone(), &rule);
            let zones = match &d.zones {
                Some(names) => self
                    .zone_indexes(names, zones, &place, &rule)
                    .iter()
                    .map(|&i| zones[i as usize].origin.clone())
                    .collect(),
                None => zones.iter().map(|z| z.origin.clone()).collect(),
            };
            let max_change = d.max_change.unwrap_or(defaults::PROVIDER_MAX_CHANGE);
            if !(0.0..=1.0).contains(&max_change) {
                self.fail(place.clone(), rule.clone(), format!("max_change {max_change} is not a share from 0 to 1"));
            }
            let drift_ms = d.drift_interval_ms.unwrap_or(defaults::PROVIDER_DRIFT_INTERVAL.as_millis() as u64);
            if drift_ms < 1000 {
                self.fail(place.clone(), rule.clone(), format!("drift_interval_ms {drift_ms} is below 1000"));
            }
            let Some(kind) = self.provider_kind(d, keys, &place, &rule) else { continue };
            providers.push(Provider {
                name: d.name.clone(),
                kind,
                line: line.to_string(),
                zones,
                max_change_permille: (max_change.clamp(0.0, 1.0) * 1000.0).round() as u32,
                drift_interval: std::time::Duration::from_millis(drift_ms),
            });
        }
        providers
    }

    /// A `powerdns` provider: its API's address and key (read from its file now, which a
    /// reload then watches).
    fn powerdns(&mut self, d: &ProviderDef, place: &Place, rule: &str) -> Option<ProviderKind> {
        let (Some(api), Some(key_file)) = (&d.api, &d.api_key_file) else {
            self.fail(place.clone(), rule, "a powerdns provider needs `api` (http://IP:PORT) and `api_key_file`");
            return None;
        };
        let Some((api, host)) = http_address(api) else {
            self.fail(place.clone(), rule, format!("api: {api:?} is not http://IP:PORT (HTTPS is not taken yet)"));
            return None;
        };
        let key = self.secret_file("api_key_file", key_file, place, rule)?;
        let server_id = d.server_id.clone().unwrap_or_else(|| "localhost".to_string());
        Some(ProviderKind::PowerDns { api, host, server_id, key })
    }

    /// The credential in the file `written` (relative to the rules; the rules' `field`),
    /// trimmed; the file is watched like the rules. `None` (an error at `place`) when it
    /// is missing or empty.
    pub(super) fn secret_file(&mut self, field: &str, written: &str, place: &Place, rule: &str) -> Option<Secret> {
        let path = self.file.parent().unwrap_or(std::path::Path::new(".")).join(written);
        self.inputs.push((path.clone(), super::stamp(&path)));
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Some(Secret(text.trim().to_string())),
            Ok(_) => {
                self.fail(place.clone(), rule, format!("{field} {} is empty", path.display()));
                None
            }
            Err(e) => {
                self.fail(place.clone(), rule, format!("cannot read {field} {}: {e}", path.display()));
                None
            }
        }
    }

    /// How the provider `d` is reached, or `None` (with errors) when it cannot be.
    fn provider_kind(&mut self, d: &ProviderDef, keys: &[Key], place: &Place, rule: &str) -> Option<ProviderKind> {
        match d.kind {
            KindDef::DnsUpdate => {
                let Some(text) = &d.server else {
                    self.fail(place.clone(), rule, "a dns_update provider needs `server` (IP or IP:PORT)");
                    return None;
                };
                let server = match super::parse_server_address(text) {
                    Ok(server) => server,
                    Err(m) => {
                        self.fail(place.clone(), rule, format!("server: {m}"));
                        return None;
                    }
                };
                let key = match &d.key {
                    Some(written) => {
                        let index = self.key_index(written, keys, place.clone(), rule)?;
                        Some(Name::from_key(&keys[index as usize].name)?)
                    }
                    None => None,
                };
                Some(ProviderKind::DnsUpdate { server, key })
            }
            KindDef::Powerdns => self.powerdns(d, place, rule),
            KindDef::Octodns => {
                let (Some(directory), Some(target)) = (&d.directory, &d.target) else {
                    self.fail(
                        place.clone(),
                        rule,
                        "an octodns provider needs `directory` and `target` (an octoDNS provider)",
                    );
                    return None;
                };
                if target.get("class").and_then(|c| c.as_str()).is_none() {
                    self.fail(place.clone(), rule, "target: an octoDNS provider needs its `class`");
                    return None;
                }
                let directory = self.file.parent().unwrap_or(std::path::Path::new(".")).join(directory);
                Some(ProviderKind::Octodns { directory, target: target.to_string() })
            }
        }
    }
}

/// The address and `Host` of an `http://IP:PORT[/]` URL (a name is not resolved here).
fn http_address(url: &str) -> Option<(std::net::SocketAddr, String)> {
    let rest = url.strip_prefix("http://")?.trim_end_matches('/');
    let addr = rest.parse().ok()?;
    Some((addr, rest.to_string()))
}
