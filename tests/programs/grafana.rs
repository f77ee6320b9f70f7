//! The Grafana dashboard (`contrib/grafana/linedns.json`): every metric its queries name
//! is a family of a live server's `/metrics`, and every query is PromQL that promtool
//! (Debian's prometheus) accepts.

use crate::common;

use std::collections::BTreeSet;

use common::server::RunningServer;
use common::tools::{require, tool};

/// The dashboard, parsed.
fn dashboard() -> serde_json::Value {
    let path = common::repo_path("contrib/grafana/linedns.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Every query of the dashboard's panels, with its panel's title.
fn queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap_or("?").to_string();
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "panel {title:?} uses the dashboard's Prometheus input"
        );
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("panel {title:?} has no queries"));
        assert!(!targets.is_empty(), "panel {title:?} has no queries");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("a query of {title:?} has no expr"));
            out.push((title.clone(), expr.to_string()));
        }
    }
    out
}

/// The `linedns_...` metric names in a PromQL expression, histogram series named by
/// their family.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut at = 0;
    while let Some(found) = expr[at..].find("linedns_") {
        let start = at + found;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &expr[start..end];
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        names.insert(family.to_string());
        at = end;
    }
    names
}

#[test]
fn every_metric_the_dashboard_names_is_served_and_every_query_is_promql() {
    require(&["curl", "promtool"]);
    let dashboard = dashboard();
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    let queries = queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let server = RunningServer::start("tests/rules/server.yaml", &["127.0.0.1:0"]);
    let scrape = tool("curl").args(["-s", &format!("http://{}/metrics", server.admin)]).output().unwrap();
    let scrape = String::from_utf8_lossy(&scrape.stdout).to_string();
    let families: BTreeSet<&str> =
        scrape.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    let mut missing = Vec::new();
    for (title, expr) in &queries {
        for name in metric_names(expr) {
            if !families.contains(name.as_str()) {
                missing.push(format!("{name} (panel {title:?})"));
            }
        }
    }
    assert!(missing.is_empty(), "not in /metrics: {}\n{scrape}", missing.join(", "));
    // promtool parses each query, as a recording rule ($__rate_interval is Grafana's).
    let dir = std::env::temp_dir().join(format!("linedns-grafana-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules: String = queries
        .iter()
        .enumerate()
        .map(|(i, (_, e))| {
            format!("      - record: dashboard:query{i}\n        expr: '{}'\n", e.replace("$__rate_interval", "5m"))
        })
        .collect();
    let file = dir.join("dashboard-rules.yaml");
    std::fs::write(&file, format!("groups:\n  - name: dashboard\n    rules:\n{rules}")).unwrap();
    let checked = tool("promtool").args(["check", "rules"]).arg(&file).output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
