//! Sources of a line's prefixes: CIDR list files, inline CIDRs, RIR delegated files
//! and MaxMind DB selectors, each prefix kept with where it came from.

use std::path::Path;

use super::{Compiler, data_path, stamp};
use crate::config::{At, SourceDef};
use crate::engine::snapshot::SourcePrefix;
use crate::geo::lists::NumberedNet;
use crate::geo::mmdb::{Family, Selector};
use crate::geo::table::LineId;
use crate::geo::{lists, mmdb};

impl Compiler<'_> {
    pub(super) fn source_id(&mut self, description: String) -> u32 {
        if let Some(&id) = self.source_ids.get(&description) {
            return id;
        }
        let id = self.sources.len() as u32;
        self.sources.push(description.as_str().into());
        self.source_ids.insert(description, id);
        id
    }

    pub(super) fn load_source(&mut self, root: &Path, line: LineId, source: &At<SourceDef>) {
        let rule = format!("line {:?}", self.lines.name(line));
        let place = self.place(source);
        let s = &source.value;
        let kinds: Vec<&str> = [
            ("file", s.file.is_some()),
            ("cidr", s.cidr.is_some()),
            ("apnic", s.apnic.is_some()),
            ("mmdb", s.mmdb.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if kinds.len() != 1 {
            self.fail(
                place,
                rule,
                format!(
                    "a source needs exactly one of file, cidr, apnic, mmdb (found: {})",
                    if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
                ),
            );
            return;
        }
        let misplaced: Vec<&str> = [
            ("country", s.country.is_some() && s.file.is_some() || s.country.is_some() && s.cidr.is_some()),
            ("subdivision", s.subdivision.is_some() && s.mmdb.is_none()),
            ("asn", s.asn.is_some() && s.mmdb.is_none()),
            ("family", s.family.is_some() && s.mmdb.is_none()),
        ]
        .iter()
        .filter(|(_, bad)| *bad)
        .map(|(k, _)| *k)
        .collect();
        if !misplaced.is_empty() {
            self.fail(place, rule, format!("`{}` does not apply to a {} source", misplaced.join("`, `"), kinds[0]));
            return;
        }
        if let Some(cidrs) = &s.cidr {
            let id = self.source_id(format!("{}:{} (inline)", self.file.display(), source.referenced.line()));
            for text in cidrs {
                match lists::parse_cidr(text) {
                    Ok(net) => self.prefixes.push(SourcePrefix { net, line, source: id, line_no: 0 }),
                    Err(m) => self.fail(place.clone(), rule.clone(), m),
                }
            }
            return;
        }
        if let Some(file) = &s.file {
            let path = data_path(root, file);
            if let Some(nets) = self.read_list(&path, &place, &rule, lists::parse_cidr_list) {
                self.push_numbered(&path, line, &nets);
            }
            return;
        }
        let countries: Vec<String> = s.country.clone().map(|c| c.into_vec()).unwrap_or_default();
        if let Some(file) = &s.apnic {
            if countries.is_empty() {
                self.fail(place, rule, "an apnic source needs `country` (e.g. country: CN)");
                return;
            }
            let path = data_path(root, file);
            if let Some(nets) =
                self.read_list(&path, &place, &rule, |text, p| lists::parse_delegated(text, p, &countries))
            {
                self.push_numbered(&path, line, &nets);
            }
            return;
        }
        if let Some(file) = &s.mmdb {
            let selector = Selector {
                country: countries,
                subdivision: s.subdivision.clone().map(|c| c.into_vec()).unwrap_or_default(),
                asn: s.asn.clone().map(|c| c.into_vec()).unwrap_or_default(),
                family: s.family.unwrap_or(Family::Both),
            };
            if selector.country.is_empty() && selector.subdivision.is_empty() && selector.asn.is_empty() {
                self.fail(place, rule, "an mmdb source needs at least one of `country`, `subdivision`, `asn`");
                return;
            }
            let path = data_path(root, file);
            self.inputs.push((path.clone(), stamp(&path)));
            match mmdb::select(&path, &selector) {
                Ok(nets) => {
                    for (net, why) in nets {
                        let id = self.source_id(format!("{} {why}", path.display()));
                        self.prefixes.push(SourcePrefix { net, line, source: id, line_no: 0 });
                    }
                }
                Err(m) => self.fail(place, rule, format!("{}: {m}", path.display())),
            }
        }
    }

    pub(super) fn push_numbered(&mut self, path: &Path, line: LineId, nets: &[NumberedNet]) {
        let id = self.source_id(path.display().to_string());
        self.prefixes.extend(nets.iter().map(|&(net, line_no)| SourcePrefix { net, line, source: id, line_no }));
    }
}
