//! Lines: names, parents (no cycles), priority ranks, and each line's fallback chain.

use super::{Compiler, MAX_LINES, clone_at};
use crate::config::defaults;
use crate::config::{At, LineDef};
use crate::error::Place;
use crate::geo::DEFAULT_LINE;
use crate::geo::table::LineId;

impl Compiler<'_> {
    pub(super) fn define_lines(&mut self, defs: &[At<LineDef>], priority: &[At<String>]) {
        if defs.len() >= MAX_LINES {
            self.fail(
                Place::file(&self.file),
                "lines",
                format!("{} lines defined; at most {} are supported", defs.len(), MAX_LINES - 1),
            );
            return;
        }
        for def in defs {
            let name = &def.value.name;
            let rule = format!("line {:?}", name.value);
            let place = self.place(name);
            if name.value == defaults::LINE_NAME {
                self.fail(
                    place,
                    rule,
                    "`default` is built in (it holds every address no other line claims); give this line another name",
                );
            } else if name.value.is_empty()
                || !name.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.fail(place, rule, format!("bad line name {:?}: letters, digits, '-' and '_' only", name.value));
            } else if self.lines.find(&name.value).is_some() {
                self.fail(place, rule, format!("line {:?} is defined twice", name.value));
            }
            self.lines.names.push(name.value.as_str().into());
            self.lines.parents.push(None);
        }
        for (i, def) in defs.iter().enumerate() {
            if let Some(parent) = &def.value.parent {
                let line = self.lookup_line(parent, &format!("line {:?}", def.value.name.value));
                self.lines.parents[i + 1] = line;
            }
        }
        for (i, def) in defs.iter().enumerate() {
            let mut seen = vec![LineId::from_index(i + 1)];
            let mut cur = self.lines.parents[i + 1];
            while let Some(p) = cur {
                seen.push(p);
                if p.index() == i + 1 {
                    let path: Vec<&str> = seen.iter().map(|&l| self.lines.name(l)).collect();
                    let place = self.place(def.value.parent.as_ref().expect("has a parent"));
                    self.fail(
                        place,
                        format!("line {:?}", def.value.name.value),
                        format!("parent cycle: {}", path.join(" → ")),
                    );
                    break;
                }
                if seen.len() > self.lines.len() {
                    break; // a cycle above this line, reported at its own members
                }
                cur = self.lines.parents[p.index()];
            }
        }
        // Ranks: the priority list first, then the order of definition.
        let listed = priority.len() as u32;
        self.ranks.extend((0..defs.len() as u32).map(|i| listed + i));
        let mut seen_in_priority = Vec::new();
        for (pos, entry) in priority.iter().enumerate() {
            if let Some(line) = self.lookup_line(entry, "priority") {
                if seen_in_priority.contains(&line) {
                    let place = self.place(entry);
                    self.fail(place, "priority", format!("line {:?} is listed twice", entry.value));
                }
                seen_in_priority.push(line);
                self.ranks[line.index()] = pos as u32;
            }
        }
        if !self.errors.is_empty() {
            return;
        }
        for (i, def) in defs.iter().enumerate() {
            let line = LineId::from_index(i + 1);
            let chain = match &def.value.fallback {
                Some(list) => {
                    let names: Vec<At<String>> = list.value.iter().map(clone_at).collect();
                    self.chain_from(line, &names, &format!("line {:?} fallback", def.value.name.value))
                        .unwrap_or_default()
                }
                None => {
                    let mut chain = Vec::new();
                    let mut cur = self.lines.parents[line.index()];
                    while let Some(p) = cur {
                        chain.push(p);
                        cur = self.lines.parents[p.index()];
                    }
                    chain.push(DEFAULT_LINE);
                    chain
                }
            };
            self.chains.push(chain);
        }
    }

    /// Resolves a written fallback chain for `line`: known lines, not the line itself, no
    /// line twice; `default` is appended when missing so every chain ends with an answer.
    pub(super) fn chain_from(&mut self, line: LineId, names: &[At<String>], rule: &str) -> Option<Vec<LineId>> {
        let mut chain = Vec::new();
        let mut ok = true;
        for entry in names {
            let Some(next) = self.lookup_line(entry, rule) else {
                ok = false;
                continue;
            };
            let place = self.place(entry);
            if next == line {
                self.fail(place, rule, format!("cycle: line {:?} falls back to itself", entry.value));
                ok = false;
            } else if chain.contains(&next) {
                self.fail(place, rule, format!("cycle: line {:?} appears twice in the chain", entry.value));
                ok = false;
            } else {
                chain.push(next);
            }
        }
        if !chain.contains(&DEFAULT_LINE) {
            chain.push(DEFAULT_LINE);
        }
        ok.then_some(chain)
    }

    pub(super) fn lookup_line(&mut self, name: &At<String>, rule: &str) -> Option<LineId> {
        let place = self.place(name);
        self.line_named(&name.value, place, rule)
    }

    /// The line called `name`, or an error at `place` naming the lines there are.
    pub(super) fn line_named(&mut self, name: &str, place: Place, rule: &str) -> Option<LineId> {
        let found = self.lines.find(name);
        if found.is_none() {
            let known: Vec<&str> = self.lines.names.iter().map(|n| &**n).collect();
            self.fail(place, rule, format!("unknown line {name:?} (lines: {})", known.join(", ")));
        }
        found
    }
}
