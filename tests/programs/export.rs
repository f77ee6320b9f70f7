//! `linedns export`: a zone as one line sees it, as a master file that BIND's and Knot's
//! zone checkers accept, holding exactly what that line's clients are answered.

use crate::common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use common::{real_geo_data, real_snapshot, repo_path};
use linedns::engine::export::{export, master_file};
use linedns::engine::health::Forced;
use linedns::engine::overrides::Target;
use linedns::{ClientInfo, CompileOptions, Engine, Query, RecordType};

fn linedns(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
        .current_dir(repo_path(""))
        .env_remove("LINEDNS_GEO_DATA")
        .args(args)
        .output()
        .expect("run linedns")
}

/// Every line of the bundled rules and of the real-data rules: the export is a zone
/// `named-checkzone` and `kzonecheck` load without complaint.
#[test]
fn every_lines_export_passes_bind_and_knot_zone_checks() {
    common::tools::require(&["named-checkzone", "kzonecheck"]);
    let geo = real_geo_data();
    let geo = geo.to_str().unwrap();
    let cases = [
        (
            "rules/default.yaml",
            None,
            "example.com",
            vec!["default", "domestic", "telecom", "gd-telecom", "unicom", "mobile", "cernet"],
        ),
        (
            "rules/china-carriers.yaml",
            Some(geo),
            "example.cn",
            vec!["default", "telecom", "jl-unicom", "gd-mobile", "cernet"],
        ),
    ];
    let dir = std::env::temp_dir().join(format!("linedns-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (rules, geo, zone, lines) in cases {
        for line in lines {
            let mut args = vec!["export", "-c", rules, "--zone", zone, "--line", line];
            args.extend(geo.iter().flat_map(|g| ["--geo-data", g]));
            let out = linedns(&args);
            assert!(out.status.success(), "{rules} {line}: {}", String::from_utf8_lossy(&out.stderr));
            let file = dir.join(format!("{zone}-{line}.zone"));
            std::fs::write(&file, &out.stdout).unwrap();
            let bind = common::tools::tool("named-checkzone").args(["-i", "full", zone]).arg(&file).output().unwrap();
            assert!(bind.status.success(), "named-checkzone {line}: {}", String::from_utf8_lossy(&bind.stdout));
            let knot = common::tools::tool("kzonecheck").args(["-o", zone]).arg(&file).output().unwrap();
            assert!(
                knot.status.success(),
                "kzonecheck {line}: {}{}",
                String::from_utf8_lossy(&knot.stdout),
                String::from_utf8_lossy(&knot.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// For every line of the real carrier rules, the exported addresses of `www` are what a
/// client classified into that line gets from the resolver.
#[test]
fn export_holds_each_lines_answer_on_the_real_lists() {
    let snap = real_snapshot();
    let zone = snap.find_zone("example.cn").unwrap();
    let health = snap.probe_health();
    for index in 0..snap.lines.len() {
        let line = linedns::geo::table::LineId::from_index(index);
        // A client of this line: the first block of the table classified to it.
        let (block, _) = snap.classifier.v4_blocks().find(|(_, l)| *l == line).expect("a block of every line");
        let addr = IpAddr::V4(block.start.into());
        let client = ClientInfo::from_ecs(addr, block.len);
        for qtype in [RecordType::A, RecordType::AAAA] {
            let answered: BTreeSet<String> = snap
                .resolve(&Query::new("www.example.cn", qtype), &client, &health)
                .answers
                .iter()
                .map(|r| r.data.to_string())
                .collect();
            let exported: BTreeSet<String> = export(&snap, zone, line, &health)
                .iter()
                .filter(|r| r.owner == "www.example.cn" && r.data.rtype() == qtype)
                .map(|r| r.data.to_string())
                .collect();
            assert!(!answered.is_empty());
            assert_eq!(exported, answered, "line {} {qtype}", snap.lines.name(line));
        }
    }
}

/// Health shapes the export as it shapes answers: a node forced down leaves the line's
/// view, and returns when the override is lifted.
#[test]
fn a_node_down_leaves_the_export() {
    let engine = Arc::new(Engine::from_rules(&repo_path("rules/default.yaml"), CompileOptions::default()).unwrap());
    let view = || {
        let live = engine.snapshot();
        master_file(&live, "example.com.", "telecom", &live.live_health(), |_, _| None).unwrap()
    };
    assert!(view().contains("www.example.com. 60 IN A 192.0.2.1\n"), "{}", view());
    let down = engine
        .add_override(Target::Node("192.0.2.1".parse().unwrap()), Forced::Down, "ops".into(), "test".into(), 0)
        .unwrap();
    let degraded = view();
    assert!(
        !degraded.contains("192.0.2.1\n") && degraded.contains("www.example.com. 30 IN A 192.0.2.2\n"),
        "{degraded}"
    );
    assert!(engine.remove_override(down.id));
    assert!(view().contains("www.example.com. 60 IN A 192.0.2.1\n"));
}

#[test]
fn unknown_zone_or_line_is_a_usage_error_naming_what_exists() {
    let out = linedns(&["export", "-c", "rules/default.yaml", "--zone", "example.org"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no zone \"example.org\" in the rules (zones: example.com.)")
    );
    let out = linedns(&["export", "-c", "rules/default.yaml", "--zone", "example.com", "--line", "mars"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no line \"mars\" in the rules (lines: default, "));
}

/// What a secondary transfers and what `export` prints are the same records, serial
/// included: with a state directory, `export` prints the server's serial for the view;
/// and the export passes BIND's and Knot's zone checks.
#[test]
fn export_equals_the_axfr_of_the_same_line_serial_included() {
    common::tools::require(&["kdig", "named-checkzone", "kzonecheck"]);
    let dir = std::env::temp_dir().join(format!("linedns-export-axfr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = std::fs::read_to_string(repo_path("tests/rules/server.yaml")).unwrap();
    let text = base.replace("listen: [\"127.0.0.1:0\"]", "listen: [\"127.0.0.1:0\"]\n  state_dir: state")
        + "transfers:\n  - { name: local, allow: [127.0.0.1], line: unicom }\n";
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, text).unwrap();
    let server = common::server::RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let records = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with(';') && !l.starts_with('$') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let axfr = common::server::dig(server.addrs[0], &["example.com", "AXFR"]);
    let out = linedns(&["export", "-c", rules.to_str().unwrap(), "--zone", "example.com", "--line", "unicom"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8(out.stdout).unwrap();
    assert!(exported.contains("(the server's serial for this view)"), "{exported}");
    let (from_axfr, from_export) = (records(&axfr), records(&exported));
    assert!(from_axfr.iter().any(|r| r.contains(" SOA ")) && from_axfr.contains("www.example.com. 60 IN A 192.0.2.21"));
    assert_eq!(from_axfr, from_export, "AXFR:\n{axfr}\nexport:\n{exported}");
    let file = dir.join("unicom.zone");
    std::fs::write(&file, &exported).unwrap();
    let named = common::tools::tool("named-checkzone").args(["example.com", file.to_str().unwrap()]).output().unwrap();
    assert!(named.status.success(), "{}", String::from_utf8_lossy(&named.stdout));
    let knot = common::tools::tool("kzonecheck").args(["-o", "example.com", file.to_str().unwrap()]).output().unwrap();
    assert!(knot.status.success(), "{}", String::from_utf8_lossy(&knot.stderr));
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A weighted pool answering one address (`max_answers: 1`) is exported, and so
/// transferred, with its heaviest node, the same every time (the bundled rules' api
/// record: 192.0.2.61 weighted 3 against 192.0.2.62 weighted 1); equal weights give the
/// node written first. Queries still draw by weight.
#[test]
fn a_weighted_single_answer_pool_exports_its_heaviest_node() {
    let api = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("api.example.com."))
            .map(String::from)
            .collect()
    };
    for _ in 0..3 {
        let out = linedns(&["export", "-c", "rules/default.yaml", "--zone", "example.com", "--line", "telecom"]);
        assert_eq!(api(&out), ["api.example.com. 30 IN A 192.0.2.61"], "{}", String::from_utf8_lossy(&out.stderr));
    }
    let dir = common::server::test_dir("weighted-export");
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nzones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\n    \
         records: [{ name: ns1, type: A, values: 192.0.2.53 }]\n    line_records:\n      - name: api\n        type: A\n        \
         ttl: 30\n        max_answers: 1\n        pools:\n          default:\n            - { address: 192.0.2.8, weight: 2 }\n            \
         - { address: 192.0.2.9, weight: 2 }\n            - { address: 192.0.2.7, weight: 1 }\n",
    )
    .unwrap();
    let out = linedns(&["export", "-c", rules.to_str().unwrap(), "--zone", "example.com"]);
    assert_eq!(api(&out), ["api.example.com. 30 IN A 192.0.2.8"], "{}", String::from_utf8_lossy(&out.stderr));
    // Queries still spread by weight: both heavy nodes and the light one come up.
    let engine = Engine::from_rules(&rules, CompileOptions::default()).unwrap();
    let snapshot = engine.snapshot();
    let mut seen = BTreeSet::new();
    for entropy in 0..200u64 {
        let client = ClientInfo::from_source("192.0.2.200".parse().unwrap()).with_entropy(entropy);
        let answer = snapshot.resolve(&Query::new("api.example.com", RecordType::A), &client, &snapshot.live_health());
        seen.extend(answer.answers.iter().map(|r| r.data.to_string()));
    }
    assert_eq!(seen, ["192.0.2.7", "192.0.2.8", "192.0.2.9"].map(String::from).into());
    let _ = std::fs::remove_dir_all(&dir);
}
