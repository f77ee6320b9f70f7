//! The rules' `transfers:`: each rule's name, the source prefixes it admits, the line
//! whose view it transfers, and the zones it may transfer.

use super::Compiler;
use crate::config::{At, TransferDef, defaults};
use crate::engine::access::TransferRule;
use crate::engine::versions;
use crate::engine::zone::Zone;
use crate::error::Place;
use crate::geo::lists;
use crate::wire::tsig::Key;

impl Compiler<'_> {
    /// Compiles `transfers:` against the lines and the compiled `zones`; `kept` is
    /// whether the server keeps serials (a `server.state_dir`).
    pub(super) fn transfers(
        &mut self,
        defs: &[At<TransferDef>],
        zones: &[Zone],
        keys: &[Key],
        kept: bool,
    ) -> Vec<TransferRule> {
        let mut rules: Vec<TransferRule> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for def in defs {
            let place = self.place(def);
            let d = &def.value;
            let rule = format!("transfer {:?}", d.name);
            if d.name.trim().is_empty() {
                self.fail(place.clone(), "transfers", "a transfer rule needs a `name`");
            } else if names.contains(&d.name.as_str()) {
                self.fail(place.clone(), rule.clone(), format!("transfer rule {:?} is defined twice", d.name));
            }
            names.push(&d.name);
            if d.allow.is_empty() && d.key.is_none() {
                self.fail(place.clone(), rule.clone(), "a transfer rule needs `allow` (addresses), a `key`, or both");
            }
            let key = d.key.as_ref().and_then(|written| self.key_index(written, keys, place.clone(), &rule));
            let mut allow = Vec::new();
            for text in &d.allow {
                // A bare address admits just itself (a /32 or /128).
                match lists::parse_cidr(text) {
                    Ok(net) => allow.push(net),
                    Err(m) => self.fail(place.clone(), rule.clone(), format!("allow: {m}")),
                }
            }
            let line_name = d.line.as_deref().unwrap_or(defaults::LINE_NAME);
            let Some(line) = self.line_named(line_name, place.clone(), &rule) else { continue };
            let zone_list = d.zones.as_ref().map(|names| self.zone_indexes(names, zones, &place, &rule));
            let mut notify = Vec::new();
            for text in &d.notify {
                match super::parse_server_address(text).map_err(|m| format!("notify: {m}")) {
                    Ok(addr) => notify.push(addr),
                    Err(m) => self.fail(place.clone(), rule.clone(), m),
                }
            }
            let rule_def = TransferRule { name: d.name.as_str().into(), allow, key, line, zones: zone_list, notify };
            if !kept {
                self.serials_without_state(&rule_def, zones, place.clone(), &rule);
            }
            rules.push(rule_def);
        }
        rules
    }

    /// Without a state directory, serials start from the clock at each start
    /// ([`crate::engine::versions`]); a zone written with a serial ahead of the clock (a
    /// date-style serial) would start from that serial again after a restart, behind
    /// what its secondaries hold: an error for each such zone that `rule` transfers.
    fn serials_without_state(&mut self, rule: &TransferRule, zones: &[Zone], place: Place, name: &str) {
        let now = self.now;
        for (i, zone) in zones.iter().enumerate() {
            if rule.covers(i as u32) && versions::ahead_of_clock(zone.written_serial, now) {
                self.fail(
                    place.clone(),
                    name.to_string(),
                    format!(
                        "zone {} is written with serial {}, ahead of the clock ({}), and there is no \
                         server.state_dir: after a restart its serials would start from {} again, behind what \
                         the secondaries hold. Set server.state_dir (serials are kept there), or write a serial \
                         not ahead of the clock (e.g. 1: serials then follow the clock)",
                        zone.origin, zone.written_serial, now, zone.written_serial
                    ),
                );
            }
        }
    }
}
