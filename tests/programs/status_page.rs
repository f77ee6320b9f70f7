//! The status page at `/` of the admin listener, in a real headless browser (Debian's
//! chromium): it renders from `GET /status`, shows every line and every node of the
//! rules with its health, and changes when a node's probe target goes away, when an
//! override drains a node, and when a reload fails. The DOM is checked (each node chip
//! carries its record, line, address and health), and screenshots are kept as test
//! artifacts in the target directory (`target/tmp/status-page*.png`).

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::backend::Backend;
use common::browser::render;
use common::server::{RunningServer, dig};

/// The rules: three lines, two line records, every node probed at one of two backends.
fn rules(a: SocketAddr, b: SocketAddr) -> String {
    format!(
        r#"version: 1
server:
  watch: false
health_checks:
  port: {{ kind: tcp, interval_ms: 100, timeout_ms: 200, jitter_ms: 10, fall: 2, rise: 1 }}
lines:
  - name: telecom
    sources: [{{ cidr: [198.51.100.0/25] }}]
  - name: unicom
    sources: [{{ cidr: [198.51.100.128/25] }}]
zones:
  - origin: example.com
    soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}
    ns: [ns1]
    records:
      - {{ name: ns1, type: A, values: 192.0.2.53 }}
    line_records:
      - name: www
        type: A
        ttl: 60
        health_check: port
        pools:
          telecom:
            - {{ address: 192.0.2.1, probe: "{a}" }}
            - {{ address: 192.0.2.2, probe: "{b}" }}
          unicom:
            - {{ address: 192.0.2.21, probe: "{b}" }}
          default:
            - {{ address: 192.0.2.101, probe: "{a}" }}
      - name: api
        type: A
        ttl: 30
        health_check: port
        pools:
          unicom:
            - {{ address: 192.0.2.71, probe: "{b}" }}
          default:
            - {{ address: 192.0.2.102, probe: "{b}" }}
"#
    )
}

/// One node chip of the page: (record, line, address, health).
type Chip = (String, String, String, String);

/// The value of `name="..."` in an element's start tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// The start tags of the DOM that carry `marker` (an attribute name).
fn tags_with<'d>(dom: &'d str, marker: &str) -> Vec<&'d str> {
    let needle = format!(" {marker}=\"");
    let mut tags = Vec::new();
    let mut from = 0;
    while let Some(at) = dom[from..].find(&needle) {
        let at = from + at;
        let open = dom[..at].rfind('<').unwrap();
        let close = at + dom[at..].find('>').unwrap();
        tags.push(&dom[open..=close]);
        from = close;
    }
    tags
}

/// Every node chip on the page.
fn chips(dom: &str) -> BTreeSet<Chip> {
    tags_with(dom, "data-node")
        .into_iter()
        .map(|tag| {
            let get = |n| attribute(tag, n).unwrap_or_else(|| panic!("{n} missing in {tag}"));
            (get("data-record"), get("data-line"), get("data-node"), get("data-health"))
        })
        .collect()
}

fn chip(record: &str, line: &str, node: &str, health: &str) -> Chip {
    (record.into(), line.into(), node.into(), health.into())
}

/// Polls the status JSON until `cond` holds on it (at most 10 s).
fn wait_for_status(admin: SocketAddr, what: &str, cond: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    loop {
        let out =
            common::tools::tool("curl").args(["-s", "--max-time", "5", &format!("http://{admin}/status")]).output();
        let status = serde_json::from_slice(&out.unwrap().stdout).unwrap_or(serde_json::Value::Null);
        if cond(&status) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "not within 10 s: {what}: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn the_status_page_shows_every_line_and_node_and_follows_their_health() {
    common::tools::require(&["chromium", "curl", "kdig", "kill"]);
    let mut a = Backend::start();
    let b = Backend::start();
    let rules_file = std::env::temp_dir().join(format!("linedns-status-{}.yaml", std::process::id()));
    std::fs::write(&rules_file, rules(a.addr, b.addr)).unwrap();
    let server = RunningServer::start(rules_file.to_str().unwrap(), &["127.0.0.1:0"]);
    for subnet in ["198.51.100.0/25", "198.51.100.0/25", "198.51.100.128/25"] {
        dig(server.addrs[0], &["www.example.com", "A", &format!("+subnet={subnet}")]);
    }
    let all_probed = |s: &serde_json::Value| {
        s["records"].as_array().is_some_and(|r| {
            r.iter()
                .flat_map(|r| r["pools"].as_array().unwrap())
                .flat_map(|p| p["nodes"].as_array().unwrap())
                .all(|n| n["probe"]["last_ok"] == serde_json::json!(true))
        })
    };
    wait_for_status(server.admin, "every node probed", all_probed);
    let page = format!("http://{}/", server.admin);

    // Every line and every node of the rules, all up.
    let dom = render(&page, &artifact("status-page-up.png"), 1000, 1200);
    let lines: BTreeSet<String> = tags_with(&dom, "data-line")
        .iter()
        .filter(|t| t.starts_with("<tr"))
        .filter_map(|t| attribute(t, "data-line"))
        .collect();
    assert_eq!(lines, ["default", "telecom", "unicom"].map(String::from).into(), "every line of the rules");
    let (www, api) = ("www.example.com A", "api.example.com A");
    let mut expected: BTreeSet<Chip> = [
        chip(www, "telecom", "192.0.2.1", "up"),
        chip(www, "telecom", "192.0.2.2", "up"),
        chip(www, "unicom", "192.0.2.21", "up"),
        chip(www, "default", "192.0.2.101", "up"),
        chip(api, "unicom", "192.0.2.71", "up"),
        chip(api, "default", "192.0.2.102", "up"),
    ]
    .into();
    assert_eq!(chips(&dom), expected);
    assert!(dom.contains("last probe ok"), "the last probe's result and latency are shown");
    // The per-line query counts: two telecom queries, one unicom.
    let telecom_row = &dom[dom.find("<tr data-line=\"telecom\"").unwrap()..];
    assert!(telecom_row[..telecom_row.find("</tr>").unwrap()].contains(">2<"), "{telecom_row}");

    // Backend A goes away: the nodes probed there are down after `fall` failures.
    a.stop();
    wait_for_status(server.admin, "the nodes probed at A down", |s| {
        s["records"][0]["pools"].as_array().unwrap().iter().any(|p| p["nodes"][0]["health"] == "down")
    });
    // An operator drains 192.0.2.21 through the API; a bad reload keeps the old rules.
    let drain = r#"{"target":{"node":"192.0.2.21"},"state":"drained","who":"alice","why":"kernel update"}"#;
    let (_, drained) = common::admin::call(server.admin, "POST", "/overrides", None, Some(drain));
    assert!(drained.contains("alice"), "{drained}");
    std::fs::write(&rules_file, "version: 1\nlines: [ {name: broken\n").unwrap();
    common::tools::tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    wait_for_status(server.admin, "the failed reload listed", |s| s["reloads"][0]["ok"] == false);

    let dom = render(&page, &artifact("status-page.png"), 1000, 1400);
    for (record, line, node) in [(www, "telecom", "192.0.2.1"), (www, "default", "192.0.2.101")] {
        assert!(expected.remove(&chip(record, line, node, "up")));
        expected.insert(chip(record, line, node, "down"));
    }
    assert!(expected.remove(&chip(www, "unicom", "192.0.2.21", "up")));
    expected.insert(chip(www, "unicom", "192.0.2.21", "drained"));
    assert_eq!(chips(&dom), expected, "the page follows the probes and the override");
    assert!(dom.contains("last probe failed"), "the failed probe is shown");
    let override_row = tags_with(&dom, "data-override");
    assert_eq!(override_row.len(), 1, "the override is listed");
    assert!(dom.contains(">alice<") && dom.contains(">kernel update<"), "who and why are shown");
    assert!(dom.contains("failed: generation 1 kept"), "the failed reload is listed");
    let reloads = &dom[dom.find("<section id=\"reloads\"").unwrap()..];
    let reloads = &reloads[..reloads.find("</section>").unwrap()];
    assert!(reloads.contains(&format!("{}:2:", rules_file.display())), "the error names file and line:\n{reloads}");
    // And on a phone's width.
    render(&page, &artifact("status-page-phone.png"), 390, 844);
    server.stop();
    let _ = std::fs::remove_file(&rules_file);
}

/// `linedns_reload_last_success` and `linedns_reloads_total{result="failure"}` from
/// `/metrics`.
fn reload_gauges(admin: SocketAddr) -> (u64, u64) {
    let out = common::tools::tool("curl").args(["-s", "--max-time", "5", &format!("http://{admin}/metrics")]).output();
    let text = String::from_utf8_lossy(&out.unwrap().stdout).into_owned();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    (value("linedns_reload_last_success "), value("linedns_reloads_total{result=\"failure\"} "))
}

/// A broken save, with the file watch on: one failed reload counted, the gauge at 0, a
/// banner on the page naming the error; a SIGHUP sent after another broken save is one
/// more, not two (the watch does not try the same files again); the fixed save: gauge 1,
/// no banner.
#[test]
fn a_broken_save_is_counted_once_and_bannered_until_fixed() {
    common::tools::require(&["chromium", "curl", "kill"]);
    let a = Backend::start();
    let b = Backend::start();
    let rules_file = std::env::temp_dir().join(format!("linedns-status-broken-{}.yaml", std::process::id()));
    let good = rules(a.addr, b.addr).replace("watch: false", "watch: true");
    std::fs::write(&rules_file, &good).unwrap();
    let server = RunningServer::start(rules_file.to_str().unwrap(), &["127.0.0.1:0"]);
    let page = format!("http://{}/", server.admin);
    assert_eq!(reload_gauges(server.admin), (1, 0), "loaded at start");
    let dom = render(&page, &artifact("status-page-rules-ok.png"), 1000, 900);
    assert!(dom.contains("data-rules-failing=\"no\""), "no banner while the rules load");

    // A broken save: the watch tries it once.
    std::fs::write(&rules_file, good.replace("serial: 1 }", "serial: one }")).unwrap();
    wait_for_status(server.admin, "the failed reload", |s| !s["rules_failing"].is_null());
    std::thread::sleep(Duration::from_millis(2500)); // the watch looks again: nothing new
    assert_eq!(reload_gauges(server.admin), (0, 1), "one broken save, one failure, the gauge 0");
    let dom = render(&page, &artifact("status-page-rules-failing.png"), 1000, 900);
    assert!(dom.contains("data-rules-failing=\"yes\""), "the banner is up:\n{dom}");
    let banner = &dom[dom.find("id=\"rules-banner\"").unwrap()..];
    let banner = &banner[..banner.find("</div>").unwrap()];
    assert!(
        banner.contains("The rules on disk do not load") && banner.contains(&format!("{}:", rules_file.display())),
        "the banner says so and names the file:\n{banner}"
    );

    // Another broken save and at once a SIGHUP (the packaged workflow): one more failure.
    std::fs::write(&rules_file, good.replace("serial: 1 }", "serial: two }")).unwrap();
    common::tools::tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    std::thread::sleep(Duration::from_millis(3000)); // the watch's look and debounce pass
    assert_eq!(reload_gauges(server.admin), (0, 2), "the SIGHUP's attempt, not the watch's again");

    // The fixed save: the gauge back at 1, the banner gone.
    std::fs::write(&rules_file, &good).unwrap();
    wait_for_status(server.admin, "the rules load again", |s| s["rules_failing"].is_null());
    assert_eq!(reload_gauges(server.admin), (1, 2));
    let dom = render(&page, &artifact("status-page-rules-fixed.png"), 1000, 900);
    assert!(dom.contains("data-rules-failing=\"no\""), "the banner is gone");
    server.stop();
    let _ = std::fs::remove_file(&rules_file);
}
