//! Rules + geo data → [`Snapshot`]. Load, reload and `check-config` all run this one path;
//! `check-config` throws the result away.
//!
//! Errors are collected rather than stopping at the first, and each names its file,
//! line/column, rule and value.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::config::{
    self, At, HealthCheckDef, LineDef, LineRecordDef, MinHealthyDef, NodeDef, RecordDef, RulesFile, ServerDef,
    SourceDef, WhenAllDownDef, ZoneDef, place_of,
};
use crate::engine::answer::Rcode;
use crate::engine::health::{CheckKind, CheckSpec, Probe, ProbeKey, ProbeState};
use crate::engine::line::{LineRecord, LineTable, MinHealthy, Node, NodeId, Pool, PoolNode, WhenAllDown};
use crate::engine::settings::ServerSettings;
use crate::engine::snapshot::{Snapshot, SourcePrefix};
use crate::engine::zone::{Content, NameNode, RrSet, Zone};
use crate::engine::{Engine, SnapshotSource};
use crate::error::{CompileErrors, ConfigError, Place};
use crate::geo::lists::{self, NumberedNet};
use crate::geo::mmdb::{self, Family, Selector};
use crate::geo::table::LineIdx;
use crate::geo::{Classifier, DEFAULT_LINE, LinePrefix, LineShape};
use crate::name;
use crate::rdata::{self, RData, RecordType};

/// Environment variable naming the geo-data root (overridden by `--geo-data`).
pub const GEO_DATA_ENV: &str = "LINEDNS_GEO_DATA";

/// Name of the built-in catch-all line.
pub const DEFAULT_LINE_NAME: &str = "default";

/// Most lines a rule set may define (line ids are 16-bit).
const MAX_LINES: usize = 4096;

/// Settings from outside the rules file.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Geo-data root overriding the rules' `geo_data`.
    pub geo_data: Option<PathBuf>,
}

impl CompileOptions {
    /// Options from the environment: [`GEO_DATA_ENV`] if set.
    pub fn from_env() -> Self {
        CompileOptions { geo_data: std::env::var_os(GEO_DATA_ENV).filter(|v| !v.is_empty()).map(PathBuf::from) }
    }
}

/// Compiles the rules file at `path`.
pub fn compile_file(path: &Path, options: &CompileOptions) -> Result<Snapshot, CompileErrors> {
    // Stamped before reading: a write racing the compile shows up as a change later.
    let rules_stamp = stamp(path);
    let rules = config::load(path)?;
    let mut compiler = Compiler::new(path, options);
    compiler.inputs[0].1 = rules_stamp;
    compiler.run(rules)
}

/// A rules file and the options to compile it with: the source an [`Engine`] reloads
/// from.
#[derive(Clone, Debug)]
pub struct RulesSource {
    /// The rules file.
    pub path: PathBuf,
    /// Options from outside the file.
    pub options: CompileOptions,
}

impl SnapshotSource for RulesSource {
    fn load(&self) -> Result<Snapshot, CompileErrors> {
        compile_file(&self.path, &self.options)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

impl Engine {
    /// Compiles the rules file and serves it; [`Engine::reload`] reads the same file again.
    pub fn from_rules(path: &Path, options: CompileOptions) -> Result<Engine, CompileErrors> {
        let source = RulesSource { path: path.to_path_buf(), options };
        Ok(Engine::with_source(source.load()?, Box::new(source)))
    }
}

/// A file's modification time and length, what the reload watch compares.
pub fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Compiles rules given as text; `path` names them in errors and anchors relative paths.
pub fn compile_str(text: &str, path: &Path, options: &CompileOptions) -> Result<Snapshot, CompileErrors> {
    let rules = config::parse(text, path)?;
    Compiler::new(path, options).run(rules)
}

struct Compiler<'o> {
    file: PathBuf,
    options: &'o CompileOptions,
    errors: Vec<ConfigError>,
    lines: LineTable,
    ranks: Vec<u32>,
    /// Fallback chain of each line (without the line itself), ending with `default`.
    chains: Vec<Vec<LineIdx>>,
    prefixes: Vec<SourcePrefix>,
    sources: Vec<Box<str>>,
    source_ids: FxHashMap<String, u32>,
    list_cache: FxHashMap<PathBuf, Rc<Vec<NumberedNet>>>,
    nodes: Vec<Node>,
    node_ids: FxHashMap<IpAddr, NodeId>,
    line_records: Vec<LineRecord>,
    checks: FxHashMap<String, std::sync::Arc<CheckSpec>>,
    probes: Vec<Probe>,
    probe_ids: FxHashMap<ProbeKey, u32>,
    inputs: Vec<(PathBuf, Option<(std::time::SystemTime, u64)>)>,
    /// Checks that failed to compile: records naming them add no errors of their own.
    broken_checks: Vec<String>,
}

impl<'o> Compiler<'o> {
    fn new(file: &Path, options: &'o CompileOptions) -> Self {
        Compiler {
            file: file.to_path_buf(),
            options,
            errors: Vec::new(),
            lines: LineTable { names: vec![DEFAULT_LINE_NAME.into()], parents: vec![None] },
            ranks: vec![u32::MAX],
            chains: vec![Vec::new()],
            prefixes: Vec::new(),
            sources: Vec::new(),
            source_ids: FxHashMap::default(),
            list_cache: FxHashMap::default(),
            nodes: Vec::new(),
            node_ids: FxHashMap::default(),
            line_records: Vec::new(),
            checks: FxHashMap::default(),
            probes: Vec::new(),
            probe_ids: FxHashMap::default(),
            inputs: vec![(file.to_path_buf(), stamp(file))],
            broken_checks: Vec::new(),
        }
    }

    fn place<T>(&self, at: &At<T>) -> Place {
        place_of(&self.file, at)
    }

    fn fail(&mut self, place: Place, rule: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(place, message).in_rule(rule));
    }

    fn run(mut self, rules: RulesFile) -> Result<Snapshot, CompileErrors> {
        if rules.version.value != config::RULES_VERSION {
            let place = self.place(&rules.version);
            self.fail(
                place,
                "version",
                format!(
                    "unsupported rules version {} (this linedns reads version {})",
                    rules.version.value,
                    config::RULES_VERSION
                ),
            );
            return Err(CompileErrors(self.errors));
        }
        let root = self.geo_root(&rules);
        self.define_lines(&rules.lines, &rules.priority);
        if !self.errors.is_empty() {
            // Sources and zones refer to lines; with broken lines they would only add noise.
            return Err(CompileErrors(self.errors));
        }
        for (i, def) in rules.lines.iter().enumerate() {
            for source in &def.value.sources {
                self.load_source(&root, (i + 1) as LineIdx, source);
            }
        }
        let shapes: Vec<LineShape> =
            self.lines.parents.iter().zip(&self.ranks).map(|(&parent, &rank)| LineShape { parent, rank }).collect();
        let line_prefixes: Vec<LinePrefix> =
            self.prefixes.iter().map(|p| LinePrefix { net: p.net, line: p.line }).collect();
        let (classifier, ties) = Classifier::build(&shapes, &line_prefixes);

        for (name, def) in &rules.health_checks {
            match self.health_check(name, def) {
                Some(spec) => {
                    self.checks.insert(name.clone(), std::sync::Arc::new(spec));
                }
                None => self.broken_checks.push(name.clone()),
            }
        }
        let mut zones = Vec::new();
        let mut zone_by_origin = FxHashMap::default();
        for def in &rules.zones {
            if let Some(zone) = self.compile_zone(def) {
                if zone_by_origin.contains_key(&zone.origin) {
                    let place = self.place(&def.value.origin);
                    self.fail(place, format!("zone {}", zone.origin), "zone defined twice");
                    continue;
                }
                zone_by_origin.insert(zone.origin.clone(), zones.len() as u32);
                zones.push(zone);
            }
        }
        let settings = match &rules.server {
            Some(def) => self.server_settings(def),
            None => ServerSettings::default(),
        };
        if !self.errors.is_empty() {
            return Err(CompileErrors(self.errors));
        }
        Ok(Snapshot {
            settings,
            lines: self.lines,
            classifier,
            prefixes: self.prefixes,
            sources: self.sources,
            ties,
            zones,
            zone_by_origin,
            line_records: self.line_records,
            nodes: self.nodes,
            probes: self.probes,
            inputs: self.inputs,
        })
    }

    /// `--geo-data`/`LINEDNS_GEO_DATA`, else the rules' `geo_data` (relative to the rules
    /// file), else the rules file's directory.
    fn geo_root(&self, rules: &RulesFile) -> PathBuf {
        let rules_dir = self.file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(dir) = &self.options.geo_data {
            return dir.clone();
        }
        match &rules.geo_data {
            Some(dir) => rules_dir.join(&dir.value),
            None => rules_dir,
        }
    }

    fn define_lines(&mut self, defs: &[At<LineDef>], priority: &[At<String>]) {
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
            if name.value == DEFAULT_LINE_NAME {
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
            let mut seen = vec![(i + 1) as LineIdx];
            let mut cur = self.lines.parents[i + 1];
            while let Some(p) = cur {
                seen.push(p);
                if p as usize == i + 1 {
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
                cur = self.lines.parents[p as usize];
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
                self.ranks[line as usize] = pos as u32;
            }
        }
        if !self.errors.is_empty() {
            return;
        }
        for (i, def) in defs.iter().enumerate() {
            let line = (i + 1) as LineIdx;
            let chain = match &def.value.fallback {
                Some(list) => {
                    let names: Vec<At<String>> = list.value.iter().map(clone_at).collect();
                    self.chain_from(line, &names, &format!("line {:?} fallback", def.value.name.value))
                        .unwrap_or_default()
                }
                None => {
                    let mut chain = Vec::new();
                    let mut cur = self.lines.parents[line as usize];
                    while let Some(p) = cur {
                        chain.push(p);
                        cur = self.lines.parents[p as usize];
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
    fn chain_from(&mut self, line: LineIdx, names: &[At<String>], rule: &str) -> Option<Vec<LineIdx>> {
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

    fn lookup_line(&mut self, name: &At<String>, rule: &str) -> Option<LineIdx> {
        let found = self.lines.find(&name.value);
        if found.is_none() {
            let place = self.place(name);
            let known: Vec<&str> = self.lines.names.iter().map(|n| &**n).collect();
            self.fail(place, rule, format!("unknown line {:?} (lines: {})", name.value, known.join(", ")));
        }
        found
    }

    fn source_id(&mut self, description: String) -> u32 {
        if let Some(&id) = self.source_ids.get(&description) {
            return id;
        }
        let id = self.sources.len() as u32;
        self.sources.push(description.as_str().into());
        self.source_ids.insert(description, id);
        id
    }

    fn load_source(&mut self, root: &Path, line: LineIdx, source: &At<SourceDef>) {
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

    /// Reads and parses a text source once per path (several lines may share a file).
    fn read_list(
        &mut self,
        path: &Path,
        place: &Place,
        rule: &str,
        parse: impl Fn(&str, &Path) -> Result<Vec<NumberedNet>, ConfigError>,
    ) -> Option<Rc<Vec<NumberedNet>>> {
        if let Some(cached) = self.list_cache.get(path) {
            return Some(cached.clone());
        }
        self.inputs.push((path.to_path_buf(), stamp(path)));
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.fail(place.clone(), rule, format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        match parse(&text, path) {
            Ok(nets) => {
                let nets = Rc::new(nets);
                self.list_cache.insert(path.to_path_buf(), nets.clone());
                Some(nets)
            }
            Err(e) => {
                self.errors.push(e.in_rule(format!("{rule} (source at {place})")));
                None
            }
        }
    }

    fn push_numbered(&mut self, path: &Path, line: LineIdx, nets: &[NumberedNet]) {
        let id = self.source_id(path.display().to_string());
        self.prefixes.extend(nets.iter().map(|&(net, line_no)| SourcePrefix { net, line, source: id, line_no }));
    }

    fn compile_zone(&mut self, def: &At<ZoneDef>) -> Option<Zone> {
        let z = &def.value;
        let origin = match name::normalize(&z.origin.value) {
            Ok(o) => o,
            Err(m) => {
                let place = self.place(&z.origin);
                self.fail(place, "zone", m);
                return None;
            }
        };
        let rule = format!("zone {origin}");
        let ttl = z.ttl.unwrap_or(config::DEFAULT_TTL);
        let mut names: FxHashMap<Box<str>, NameNode> = FxHashMap::default();
        let mut first_place: FxHashMap<Box<str>, Place> = FxHashMap::default();

        let soa_def = &z.soa.value;
        let soa_place = self.place(&z.soa);
        let soa_name = |n: &str| name::in_origin(n, &origin);
        let soa = match (soa_name(&soa_def.mname), soa_name(&soa_def.rname)) {
            (Ok(mname), Ok(rname)) => RData::Soa {
                mname: mname.into(),
                rname: rname.into(),
                serial: soa_def.serial,
                refresh: soa_def.refresh,
                retry: soa_def.retry,
                expire: soa_def.expire,
                minimum: soa_def.minimum,
            },
            (Err(m), _) | (_, Err(m)) => {
                self.fail(soa_place, format!("{rule} soa"), m);
                return None;
            }
        };
        let soa_set = RrSet {
            rtype: RecordType::SOA,
            ttl: soa_def.ttl.unwrap_or(ttl),
            content: Content::Static(Box::new([soa.clone()])),
        };
        if z.ns.is_empty() {
            let place = self.place(def);
            self.fail(place, rule.clone(), "a zone needs at least one name server in `ns`");
        }
        let mut ns_records = Vec::new();
        for ns in &z.ns {
            match name::in_origin(&ns.value, &origin) {
                Ok(n) => ns_records.push(RData::Ns(n.into())),
                Err(m) => {
                    let place = self.place(ns);
                    self.fail(place, format!("{rule} ns"), m);
                }
            }
        }
        let apex = names.entry(origin.as_str().into()).or_default();
        apex.sets.push(RrSet { rtype: RecordType::SOA, ttl: soa_set.ttl, content: Content::Static(Box::new([soa])) });
        apex.sets.push(RrSet { rtype: RecordType::NS, ttl, content: Content::Static(ns_records.into()) });
        first_place.insert(origin.as_str().into(), self.place(&z.origin));

        for record in &z.records {
            if let Some((owner, set)) = self.static_set(record, &origin, ttl, &rule) {
                self.add_set(&mut names, &mut first_place, owner, set, self.place(record), &rule);
            }
        }
        for record in &z.line_records {
            if let Some((owner, set)) = self.line_set(record, &origin, ttl, &rule) {
                self.add_set(&mut names, &mut first_place, owner, set, self.place(record), &rule);
            }
        }
        // RFC 1034 §3.6.2: a name with a CNAME has no other data.
        let mut cname_conflicts: Vec<(Box<str>, Place)> = names
            .iter()
            .filter(|(_, node)| node.get(RecordType::CNAME).is_some() && node.sets.len() > 1)
            .map(|(owner, _)| (owner.clone(), first_place[owner].clone()))
            .collect();
        cname_conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        for (owner, place) in cname_conflicts {
            self.fail(
                place,
                rule.clone(),
                format!("{owner} has a CNAME and other records (RFC 1034 §3.6.2 forbids it)"),
            );
        }
        // Every ancestor of a name exists (empty non-terminals, RFC 8020).
        let owners: Vec<Box<str>> = names.keys().cloned().collect();
        for owner in owners {
            let mut cur: &str = &owner;
            while let Some(p) = name::parent(cur) {
                if p.len() <= origin.len() {
                    break;
                }
                names.entry(p.into()).or_default();
                cur = p;
            }
        }
        let has_cuts = names.iter().any(|(owner, node)| **owner != *origin && node.get(RecordType::NS).is_some());
        Some(Zone { origin: origin.into(), soa: soa_set, names, has_cuts })
    }

    fn add_set(
        &mut self,
        names: &mut FxHashMap<Box<str>, NameNode>,
        first_place: &mut FxHashMap<Box<str>, Place>,
        owner: String,
        set: RrSet,
        place: Place,
        rule: &str,
    ) {
        let node = names.entry(owner.as_str().into()).or_default();
        if node.get(set.rtype).is_some() {
            self.fail(place, rule, format!("{owner} {} is defined twice (put all values in one entry)", set.rtype));
            return;
        }
        node.sets.push(set);
        first_place.entry(owner.into()).or_insert(place);
    }

    /// Owner name of a record: inside the zone, normalized.
    fn owner(&mut self, written: &At<String>, origin: &str, rule: &str) -> Option<String> {
        let place = self.place(written);
        match name::in_origin(&written.value, origin) {
            Ok(owner) if name::is_at_or_below(&owner, origin) => Some(owner),
            Ok(owner) => {
                self.fail(place, rule, format!("name {owner:?} is outside the zone {origin}"));
                None
            }
            Err(m) => {
                self.fail(place, rule, m);
                None
            }
        }
    }

    /// The record type written at `written`, one of `allowed`; `hint` is added to errors.
    fn record_type(
        &mut self,
        written: &At<String>,
        allowed: &[RecordType],
        hint: &str,
        rule: &str,
    ) -> Option<RecordType> {
        match rdata::parse_type(&written.value, allowed) {
            Ok(t) => Some(t),
            Err(m) => {
                let place = self.place(written);
                self.fail(place, rule, format!("{m}{hint}"));
                None
            }
        }
    }

    fn static_set(
        &mut self,
        record: &At<RecordDef>,
        origin: &str,
        zone_ttl: u32,
        rule: &str,
    ) -> Option<(String, RrSet)> {
        let r = &record.value;
        let owner = self.owner(&r.name, origin, rule)?;
        let rule = format!("{rule}, record {} {}", r.name.value, r.rtype.value);
        let rtype = self.record_type(&r.rtype, rdata::STATIC_TYPES, "", &rule)?;
        let place = self.place(record);
        let values = r.values.clone().into_vec();
        if values.is_empty() {
            self.fail(place, rule, "no values");
            return None;
        }
        if rtype == RecordType::CNAME && values.len() > 1 {
            self.fail(place, rule, "a CNAME has exactly one value");
            return None;
        }
        let mut data = Vec::with_capacity(values.len());
        for value in &values {
            match RData::parse(rtype, value, origin) {
                Ok(d) => data.push(d),
                Err(m) => self.fail(place.clone(), rule.clone(), m),
            }
        }
        (data.len() == values.len())
            .then(|| (owner, RrSet { rtype, ttl: r.ttl.unwrap_or(zone_ttl), content: Content::Static(data.into()) }))
    }

    fn line_set(
        &mut self,
        record: &At<LineRecordDef>,
        origin: &str,
        zone_ttl: u32,
        rule: &str,
    ) -> Option<(String, RrSet)> {
        let r = &record.value;
        let owner = self.owner(&r.name, origin, rule)?;
        let rule = format!("{rule}, line record {} {}", r.name.value, r.rtype.value);
        let place = self.place(record);
        let rtype =
            self.record_type(&r.rtype, &[RecordType::A, RecordType::AAAA], ": line records are A or AAAA", &rule)?;
        if r.max_answers == Some(0) {
            self.fail(place.clone(), rule.clone(), "max_answers must be at least 1");
        }
        let errors_before = self.errors.len();
        let check = match &r.health_check {
            Some(name) => match self.checks.get(&name.value) {
                Some(spec) => Some(spec.clone()),
                // Its own error is reported; the record's would only repeat it.
                None if self.broken_checks.contains(&name.value) => return None,
                None => {
                    let place = self.place(name);
                    let known: Vec<&String> = self.checks.keys().collect();
                    self.fail(
                        place,
                        rule.clone(),
                        format!("unknown health check {:?} (health_checks: {known:?})", name.value),
                    );
                    None
                }
            },
            None => None,
        };
        let mut pools = Vec::new();
        let mut pool_of_line = vec![None; self.lines.len()];
        for (line_name, nodes) in &r.pools {
            let pool_place = self.place(nodes);
            let Some(line) = self.lines.find(line_name) else {
                let known: Vec<&str> = self.lines.names.iter().map(|n| &**n).collect();
                self.fail(
                    pool_place,
                    rule.clone(),
                    format!("pool for unknown line {line_name:?} (lines: {})", known.join(", ")),
                );
                continue;
            };
            if nodes.value.is_empty() {
                self.fail(pool_place, rule.clone(), format!("the pool of line {line_name:?} is empty"));
                continue;
            }
            let mut pool_nodes: Vec<PoolNode> = Vec::new();
            for node in &nodes.value {
                let (text, weight, probe_at) = match node {
                    NodeDef::Address(a) => (a.as_str(), 1, None),
                    NodeDef::Detailed { address, weight, probe } => {
                        (address.as_str(), weight.unwrap_or(1), probe.as_deref())
                    }
                };
                let addr: IpAddr = match text.parse() {
                    Ok(a) => a,
                    Err(_) => {
                        self.fail(
                            pool_place.clone(),
                            rule.clone(),
                            format!("pool {line_name:?}: bad address {text:?}"),
                        );
                        continue;
                    }
                };
                if addr.is_ipv4() != (rtype == RecordType::A) {
                    self.fail(
                        pool_place.clone(),
                        rule.clone(),
                        format!("pool {line_name:?}: {addr} does not fit an {rtype} record"),
                    );
                    continue;
                }
                if !(1..=1_000_000).contains(&weight) {
                    self.fail(
                        pool_place.clone(),
                        rule.clone(),
                        format!("pool {line_name:?}: weight {weight} of {addr} is outside 1..=1000000"),
                    );
                    continue;
                }
                let id = self.node_id(addr);
                if pool_nodes.iter().any(|n| n.node == id) {
                    self.fail(pool_place.clone(), rule.clone(), format!("pool {line_name:?}: {addr} is listed twice"));
                    continue;
                }
                let probe = match &check {
                    Some(check) => match self.probe_for(check, addr, probe_at) {
                        Ok(p) => Some(p),
                        Err(m) => {
                            self.fail(pool_place.clone(), rule.clone(), format!("pool {line_name:?}: {addr}: {m}"));
                            continue;
                        }
                    },
                    None if probe_at.is_some() => {
                        self.fail(
                            pool_place.clone(),
                            rule.clone(),
                            format!(
                                "pool {line_name:?}: {addr} has a probe address but the record has no health_check"
                            ),
                        );
                        continue;
                    }
                    None => None,
                };
                pool_nodes.push(PoolNode { node: id, weight, probe });
            }
            pool_of_line[line as usize] = Some(pools.len() as u16);
            let weighted = pool_nodes.iter().any(|n| n.weight != 1);
            pools.push(Pool { line, nodes: pool_nodes.into(), weighted });
        }
        if pool_of_line[DEFAULT_LINE as usize].is_none() {
            self.fail(
                place.clone(),
                rule.clone(),
                "no pool for line `default`: clients that no line claims would get no answer",
            );
        }
        let mut overrides: FxHashMap<LineIdx, Vec<LineIdx>> = FxHashMap::default();
        for (line_name, chain) in &r.fallback {
            let chain_place = self.place(chain);
            let Some(line) = self.lines.find(line_name) else {
                self.fail(chain_place, rule.clone(), format!("fallback for unknown line {line_name:?}"));
                continue;
            };
            let names: Vec<At<String>> = chain
                .value
                .iter()
                .map(|n| At { value: n.clone(), referenced: chain.referenced, defined: chain.defined })
                .collect();
            if let Some(resolved) = self.chain_from(line, &names, &format!("{rule}, fallback of {line_name:?}")) {
                overrides.insert(line, resolved);
            }
        }
        let min_healthy = match &r.min_healthy {
            None => MinHealthy::Count(1),
            Some(at) => match &at.value {
                MinHealthyDef::Count(n) if *n >= 1 => {
                    if let Some(small) = pools.iter().find(|p: &&Pool| p.nodes.len() < *n as usize) {
                        let place = self.place(at);
                        let line = self.lines.name(small.line).to_string();
                        self.fail(place, rule.clone(), format!("min_healthy {n} exceeds the {} node(s) of the pool of {line:?}: it could never be used", small.nodes.len()));
                    }
                    MinHealthy::Count(*n)
                }
                MinHealthyDef::Share(text)
                    if text
                        .strip_suffix('%')
                        .and_then(|p| p.trim().parse::<u8>().ok())
                        .is_some_and(|p| (1..=100).contains(&p)) =>
                {
                    MinHealthy::Percent(text.trim_end_matches('%').trim().parse().expect("checked"))
                }
                other => {
                    let place = self.place(at);
                    self.fail(
                        place,
                        rule.clone(),
                        format!("bad min_healthy {other:?}: a count of at least 1 or a share like \"50%\""),
                    );
                    MinHealthy::Count(1)
                }
            },
        };
        let ttl = r.ttl.unwrap_or(zone_ttl);
        let when_all_down = match &r.when_all_down {
            None => WhenAllDown::FailOpen,
            Some(at) => match &at.value {
                WhenAllDownDef::Mode(m) if m == "fail_open" => WhenAllDown::FailOpen,
                WhenAllDownDef::Mode(m) if m == "servfail" => WhenAllDown::ServFail,
                WhenAllDownDef::LastResort { last_resort } => {
                    let mut nodes = Vec::new();
                    for text in last_resort {
                        match text.parse::<IpAddr>() {
                            Ok(addr) if addr.is_ipv4() == (rtype == RecordType::A) => {
                                nodes.push(PoolNode { node: self.node_id(addr), weight: 1, probe: None })
                            }
                            _ => {
                                let place = self.place(at);
                                self.fail(
                                    place,
                                    rule.clone(),
                                    format!("last_resort: {text:?} is not an {rtype} address"),
                                );
                            }
                        }
                    }
                    if nodes.is_empty() {
                        let place = self.place(at);
                        self.fail(place, rule.clone(), "last_resort needs at least one address");
                    }
                    WhenAllDown::LastResort(Pool { line: DEFAULT_LINE, nodes: nodes.into(), weighted: false })
                }
                WhenAllDownDef::Mode(other) => {
                    let place = self.place(at);
                    self.fail(
                        place,
                        rule.clone(),
                        format!("bad when_all_down {other:?}: fail_open, servfail, or {{ last_resort: [addresses] }}"),
                    );
                    WhenAllDown::FailOpen
                }
            },
        };
        if self.errors.len() > errors_before {
            return None;
        }
        let chains: Vec<Box<[LineIdx]>> = (0..self.lines.len())
            .map(|l| {
                let l = l as LineIdx;
                let rest = overrides.get(&l).unwrap_or(&self.chains[l as usize]);
                std::iter::once(l).chain(rest.iter().copied().filter(|&x| x != l)).collect()
            })
            .collect();
        let idx = self.line_records.len() as u32;
        self.line_records.push(LineRecord {
            name: owner.as_str().into(),
            rtype,
            ttl,
            max_answers: r.max_answers.unwrap_or(u16::MAX),
            pools: pools.into(),
            pool_of_line: pool_of_line.into(),
            chains: chains.into(),
            min_healthy,
            degraded_ttl: r.degraded_ttl.unwrap_or(ttl / 2),
            when_all_down,
        });
        Some((owner, RrSet { rtype, ttl, content: Content::Line(idx) }))
    }

    fn server_settings(&mut self, def: &At<ServerDef>) -> ServerSettings {
        let place = self.place(def);
        let d = &def.value;
        let mut settings = ServerSettings::default();
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
        settings.workers = d.workers.unwrap_or(0);
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
        settings.watch = d.watch.unwrap_or(true);
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
            let rules_dir = self.file.parent().map(Path::to_path_buf).unwrap_or_default();
            settings.admin_token_file = admin.token_file.as_ref().map(|f| rules_dir.join(f));
        }
        if let Some(chaos) = &d.chaos {
            settings.chaos_version = chaos.version.clone();
            settings.chaos_id = chaos.id.clone();
        }
        settings
    }

    /// Compiles a `health_checks` entry.
    fn health_check(&mut self, name: &str, def: &At<HealthCheckDef>) -> Option<CheckSpec> {
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
                let path = d.path.clone().unwrap_or_else(|| "/".into());
                if !path.starts_with('/') || path.contains(char::is_whitespace) {
                    self.fail(
                        place.clone(),
                        rule.clone(),
                        format!("bad path {path:?}: starts with / and has no spaces"),
                    );
                }
                let expect_status = d.expect_status.clone().unwrap_or_else(|| (200..400).collect());
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
                    d.qtype.as_deref().unwrap_or("A"),
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
                let want = d.expect_rcode.as_deref().unwrap_or("NOERROR");
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
        let interval = d.interval_ms.unwrap_or(2000);
        let timeout = d.timeout_ms.unwrap_or(1000);
        if !(100..=3_600_000).contains(&interval) {
            self.fail(place.clone(), rule.clone(), format!("interval_ms {interval} is outside 100..=3600000"));
        }
        // Probes of one target run one after another, so a timeout longer than the
        // interval is fine: the next probe starts an interval after this one ends.
        if !(10..=60_000).contains(&timeout) {
            self.fail(place.clone(), rule.clone(), format!("timeout_ms {timeout} is outside 10..=60000"));
        }
        let (fall, rise) = (d.fall.unwrap_or(3), d.rise.unwrap_or(2));
        if fall == 0 || rise == 0 {
            self.fail(place.clone(), rule.clone(), "fall and rise must be at least 1");
        }
        (self.errors.len() == errors_before).then(|| CheckSpec {
            name: name.to_string(),
            kind,
            port: d.port,
            interval: std::time::Duration::from_millis(interval),
            timeout: std::time::Duration::from_millis(timeout),
            jitter: std::time::Duration::from_millis(d.jitter_ms.unwrap_or(interval / 10)),
            fall,
            rise,
            initially_up: d.initial != Some(config::InitialState::Down),
        })
    }

    /// The probe of `check` for a node at `addr`, probed at `probe_at` (`IP` or
    /// `IP:PORT`) if given; one probe per distinct target and check.
    fn probe_for(
        &mut self,
        check: &std::sync::Arc<CheckSpec>,
        addr: IpAddr,
        probe_at: Option<&str>,
    ) -> Result<u32, String> {
        let (ip, port) = match probe_at {
            None => (addr, None),
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
        let id = self.probes.len() as u32;
        self.probe_ids.insert(key.clone(), id);
        self.probes.push(Probe {
            key,
            spec: check.clone(),
            state: std::sync::Arc::new(ProbeState::new(check.initially_up)),
        });
        Ok(id)
    }

    fn node_id(&mut self, addr: IpAddr) -> NodeId {
        if let Some(&id) = self.node_ids.get(&addr) {
            return id;
        }
        let id = self.nodes.len() as NodeId;
        let data = match addr {
            IpAddr::V4(a) => RData::A(a),
            IpAddr::V6(a) => RData::Aaaa(a),
        };
        self.nodes.push(Node { addr, data });
        self.node_ids.insert(addr, id);
        id
    }
}

/// `root/file`, with `.` and `a/..` removed lexically so errors and explanations show
/// the path an operator would type (symlinks are left alone: nothing is resolved).
fn data_path(root: &Path, file: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in root.join(file).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn clone_at<T: Clone>(at: &At<T>) -> At<T> {
    At { value: at.value.clone(), referenced: at.referenced, defined: at.defined }
}
