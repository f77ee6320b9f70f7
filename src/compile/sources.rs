//! Sources of a line's prefixes: CIDR list files, inline CIDRs, RIR delegated files
//! and MaxMind DB selectors, each prefix kept with where it came from.

use std::path::Path;

use super::{Compiler, data_path, stamp};
use crate::config::{At, Source, SourceDef};
use crate::engine::snapshot::SourcePrefix;
use crate::geo::lists::NumberedNet;
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
        let kind = match source.value.kind() {
            Ok(kind) => kind,
            Err(m) => return self.fail(place, rule, m),
        };
        match kind {
            Source::Cidr(cidrs) => {
                let id = self.source_id(format!("{}:{} (inline)", self.file.display(), source.referenced.line()));
                for text in cidrs {
                    match lists::parse_cidr(text) {
                        Ok(net) => self.prefixes.push(SourcePrefix { net, line, source: id, line_no: 0 }),
                        Err(m) => self.fail(place.clone(), rule.clone(), m),
                    }
                }
            }
            Source::File(file) => {
                let path = data_path(root, file);
                if let Some(nets) = self.read_list(&path, &place, &rule, lists::parse_cidr_list) {
                    self.push_numbered(&path, line, &nets);
                }
            }
            Source::Apnic { file, countries } => {
                let path = data_path(root, file);
                let parse = |text: &str, p: &Path| lists::parse_delegated(text, p, &countries);
                if let Some(nets) = self.read_list(&path, &place, &rule, parse) {
                    self.push_numbered(&path, line, &nets);
                }
            }
            Source::Mmdb { file, selector } => {
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
    }

    pub(super) fn push_numbered(&mut self, path: &Path, line: LineId, nets: &[NumberedNet]) {
        let id = self.source_id(path.display().to_string());
        self.prefixes.extend(nets.iter().map(|&(net, line_no)| SourcePrefix { net, line, source: id, line_no }));
    }
}
