//! The house rules of `src/`, checked on the source text: no import cycle between files,
//! and each layer imports only from the layers below it (ARCHITECTURE.md).
//!
//! Every `crate::`, `super::` and `self::` path of every file (in `use` items, braces
//! expanded, and in code) is resolved to the file that defines the module it names; the
//! file graph must be acyclic. Unit-test modules (`#[cfg(test)] mod tests`) are left
//! out: they may use anything of the file they test.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each layer (a top-level module of the crate) may not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("engine", &["crate::serve", "crate::compile", "crate::config", "tokio", "std::fs", "hyper"]),
    ("wire", &["crate::engine", "crate::compile", "crate::serve", "crate::config", "crate::geo"]),
    ("geo", &["crate::engine", "crate::compile", "crate::serve", "crate::config", "crate::wire"]),
    ("config", &["crate::engine", "crate::compile", "crate::serve", "crate::wire"]),
    ("compile", &["crate::serve", "tokio"]),
    ("name", &["crate::"]),
    ("rdata", &["crate::engine", "crate::compile", "crate::serve", "crate::wire"]),
    ("error", &["crate::"]),
];

/// The crate's source files by module path (`[]` is lib.rs, `["engine"]` engine/mod.rs).
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "bin" {
                    walk(&path, &[prefix, &[name]].concat(), out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = match name.as_str() {
                    "mod" | "lib" => prefix.to_vec(),
                    _ => [prefix, &[name]].concat(),
                };
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The file's code without comments and without its unit-test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else { return vec![tree] };
    let (prefix, rest) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&rest[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).flat_map(|p| expand(&format!("{prefix}{p}"))).collect()
}

/// Every path of `code` that starts at `crate`, `super` or `self`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` items, braces expanded.
    for item in code.split(';') {
        let item = item.trim();
        let body = item.strip_prefix("pub use ").or_else(|| item.strip_prefix("use "));
        if let Some(body) = body.or_else(|| item.split_once("\nuse ").map(|(_, b)| b)) {
            out.extend(expand(body.split(" as ").next().unwrap_or(body)));
        }
    }
    // Paths written in code.
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(root) {
            let start = from + i;
            from = start + root.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let end = code[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |j| start + j);
            out.push(code[start..end].trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module a path names, as the longest prefix that is a file of the crate.
fn resolve(path: &str, here: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut module: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    let mut best = files.contains_key(&module).then(|| module.clone());
    for segment in segments {
        if segment == "super" {
            module.pop();
            continue;
        }
        module.push(segment.to_string());
        if files.contains_key(&module) {
            best = Some(module.clone());
        }
    }
    best
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on_stack: BTreeSet<&'g Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_import_cycle_and_layers_import_downward_only() {
    let src = common::repo_path("src");
    let files = modules(&src);
    assert!(files.len() > 20, "found the crate's files: {files:?}");
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut broken = Vec::new();
    for (module, file) in &files {
        let code = code_of(file);
        let edges = graph.entry(module.clone()).or_default();
        for path in paths(&code) {
            if let Some(target) = resolve(&path, module, &files)
                && target != *module
            {
                edges.insert(target);
            }
        }
        if let Some(layer) = module.first()
            && let Some((_, forbidden)) = FORBIDDEN.iter().find(|(l, _)| l == layer)
        {
            for word in forbidden.iter() {
                if code.contains(word) {
                    broken.push(format!("{}: layer {layer} names {word}", file.display()));
                }
            }
        }
    }
    // lib.rs declares and re-exports everything: it is the top, not part of a cycle.
    graph.remove(&Vec::new());
    for edges in graph.values_mut() {
        edges.remove(&Vec::new());
    }
    let found = cycles(&graph);
    let shown: Vec<String> =
        found.iter().map(|c| c.iter().map(|m| m.join("::")).collect::<Vec<_>>().join(" <-> ")).collect();
    assert!(shown.is_empty(), "import cycles between files:\n{}", shown.join("\n"));
    assert!(broken.is_empty(), "layer rules broken:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_and_a_forbidden_import() {
    // Two files that import each other form one cycle.
    let a = vec!["a".to_string()];
    let b = vec!["b".to_string()];
    let graph = BTreeMap::from([(a.clone(), BTreeSet::from([b.clone()])), (b.clone(), BTreeSet::from([a.clone()]))]);
    assert_eq!(cycles(&graph).len(), 1);
    let acyclic = BTreeMap::from([(a.clone(), BTreeSet::from([b.clone()])), (b, BTreeSet::new())]);
    assert!(cycles(&acyclic).is_empty());
    // Braces expand; paths in code are found; super resolves against the file.
    assert_eq!(expand("super::{a::B, c::{D, e::F}}"), ["super::a::B", "super::c::D", "super::c::e::F"]);
    assert_eq!(paths("let x = crate::engine::health::Forced::Up;"), ["crate::engine::health::Forced::Up"]);
    let files = modules(&common::repo_path("src"));
    let here = vec!["engine".to_string(), "resolve".to_string()];
    assert_eq!(resolve("super::snapshot::Snapshot", &here, &files), Some(vec!["engine".into(), "snapshot".into()]));
    assert_eq!(resolve("crate::engine::Engine", &here, &files), Some(vec!["engine".into()]));
}

/// Where a socket may be opened outside `serve/client.rs`, and why: none of them asks
/// another server a DNS question.
const SOCKETS_ALLOWED: &[(&str, &str)] = &[
    ("src/serve/listen.rs", "binds the server's own listeners"),
    ("src/serve/health/probe.rs", "TCP and HTTP health checks (the DNS check asks through the client)"),
    ("src/serve/push/powerdns.rs", "the PowerDNS HTTP API (HTTP, not DNS)"),
    ("src/serve/dnstap/mod.rs", "the dnstap collector's Unix socket"),
    ("src/serve/systemd.rs", "sd_notify's datagram to the service manager's Unix socket"),
];

#[test]
fn every_dns_question_to_another_server_goes_through_the_one_client() {
    let src = common::repo_path("src");
    let opening = ["UdpSocket::bind", "TcpStream::connect", "TcpSocket::new", "Socket::new", ".send_to("];
    let asking = ["encode::query(", "sign_request(", "ResponseVerifier::new("];
    let mut found = Vec::new();
    for path in modules(&src).values() {
        let shown = path.strip_prefix(common::repo_path("")).unwrap_or(path).display().to_string();
        if shown == "src/serve/client.rs" || shown.starts_with("src/wire/") {
            continue;
        }
        let code = code_of(path);
        let allowed = SOCKETS_ALLOWED.iter().any(|(file, _)| *file == shown);
        for pattern in opening.iter().filter(|_| !allowed).chain(&asking) {
            if code.contains(pattern) {
                found.push(format!("{shown}: {pattern}"));
            }
        }
    }
    assert!(found.is_empty(), "sockets or DNS questions outside serve/client.rs:\n{}", found.join("\n"));
}
