//! `linedns push` against a real BIND 9 that takes TSIG-signed DNS UPDATEs (RFC 2136,
//! `update-policy`): the provider ends up holding the view, a second push changes
//! nothing, `--dry-run` changes nothing, a large change needs `--force`, a wrong key is a
//! clear error that leaves the other providers pushed, and what linedns does not manage
//! stays.

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::secondaries::{Secondary, free_port, spawn, start_powerdns};
use common::tools::tool;

/// The test key's secret (base64 of 32 bytes).
const SECRET: &str = "q4Kxv7oO3eS1b8m7yqvS0a8y2c6r2G5b4n8k1l0p9o8=";
/// Another secret, that BIND does not know.
const WRONG: &str = "bm90LXRoZS1rZXktYmluZC1rbm93cy0wMTIzNDU2Nzg=";

fn linedns(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_linedns")).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// BIND 9 (`named`) or Knot DNS (`knotd`) serving example.com as a primary from a file
/// of its own (its SOA, the same apex NS as the rules, and a TXT linedns does not
/// manage), taking updates signed with `push-key` and transfers signed with it.
fn start_provider(kind: &str, dir: &Path) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("example.com.zone"),
        "$TTL 300\n@ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60\n@ NS ns1.example.com.\nns1 A 192.0.2.53\n\
         theirs TXT \"kept by the provider\"\n",
    )
    .unwrap();
    let (d, port) = (dir.display(), free_port());
    // `named_noaxfr`: BIND that takes push-key's updates but transfers only to check-key
    // (as a provider that gives no transfers: linedns then asks name by name).
    let transfer_key = if kind == "named_noaxfr" { "check-key" } else { "push-key" };
    let server = match kind {
        "named" | "named_noaxfr" => {
            let conf = format!(
                "options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; \
                 listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; }};\n\
                 key \"push-key\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n\
                 key \"check-key\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\ncontrols {{ }};\n\
                 zone \"example.com\" {{ type primary; file \"example.com.zone\"; \
                 update-policy {{ grant push-key zonesub ANY; }}; allow-transfer {{ key \"{transfer_key}\"; }}; }};\n"
            );
            let args = vec!["-g".to_string(), "-c".to_string(), format!("{d}/named.conf")];
            spawn("named", "named", &args, &conf, dir, port)
        }
        "knotd" => {
            let conf = format!(
                "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\nlog:\n  - target: stderr\n    any: info\n\
                 database:\n  storage: \"{d}\"\nkey:\n  - id: push-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
                 acl:\n  - id: pusher\n    key: push-key\n    action: [transfer, update]\n\
                 template:\n  - id: default\n    storage: \"{d}\"\n\
                 zone:\n  - domain: example.com\n    file: \"{d}/example.com.zone\"\n    acl: pusher\n"
            );
            let args = vec!["-c".to_string(), format!("{d}/knot.conf")];
            spawn("knotd", "knotd", &args, &conf, dir, port)
        }
        other => panic!("no provider {other:?} (named, knotd)"),
    };
    wait_for_soa(&server);
    server
}

/// Waits until `server` answers example.com's SOA.
fn wait_for_soa(server: &Secondary) {
    for _ in 0..100 {
        if !soa_of(server.addr).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the provider did not start: {}", server.log());
}

fn soa_of(server: SocketAddr) -> String {
    let out = tool("kdig")
        .args([format!("@{}", server.ip()), "-p".into(), server.port().to_string(), "+short".into()])
        .args(["example.com", "SOA"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The rules of `tests/rules/server.yaml` with `push-key` and the providers `providers`
/// (YAML list items), in a directory of their own.
fn rules_with(name: &str, providers: &str) -> PathBuf {
    let base = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml")).unwrap();
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    let keys = format!(
        "keys:\n  push-key: {{ algorithm: hmac-sha256, secret: \"{SECRET}\" }}\n  \
         wrong-key: {{ algorithm: hmac-sha256, secret: \"{WRONG}\" }}\n"
    );
    std::fs::write(&path, format!("{base}{keys}providers:\n{providers}")).unwrap();
    path
}

/// Every record of the zone at `server` (by AXFR signed with push-key), as
/// `owner ttl type data` lines, without the SOA.
fn held(server: SocketAddr) -> BTreeSet<String> {
    held_as(server, true)
}

/// [`held`], the AXFR signed or not (PowerDNS serves it to loopback unsigned).
fn held_as(server: SocketAddr, signed: bool) -> BTreeSet<String> {
    let mut kdig = tool("kdig");
    kdig.args([format!("@{}", server.ip()), "-p".into(), server.port().to_string()]);
    if signed {
        kdig.args(["-y", &format!("hmac-sha256:push-key:{SECRET}")]);
    }
    let out = kdig.args(["example.com", "AXFR", "+nocomments", "+nostats"]).output().unwrap();
    lines_of(&String::from_utf8_lossy(&out.stdout))
}

/// `owner ttl type data` of each record line of a master file or kdig output, but the SOA
/// and the apex NS set.
fn lines_of(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';') && !l.starts_with('$'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // owner ttl IN type data...
            format!("{} {} {} {}", f[0].to_ascii_lowercase(), f[1], f[3], f[4..].join(" "))
        })
        .filter(|l| !matches!(l.split(' ').nth(2), Some("SOA" | "TSIG")))
        // The apex NS set is the provider's own (linedns leaves it alone).
        .filter(|l| !l.starts_with("example.com. ") || l.split(' ').nth(2) != Some("NS"))
        .collect()
}

/// `linedns export` of the telecom view: what the provider should hold (with the
/// provider's own SOA left aside).
fn exported(rules: &Path) -> BTreeSet<String> {
    let out = linedns(&["export", "-c", rules.to_str().unwrap(), "--zone", "example.com", "--line", "telecom"]);
    assert!(out.status.success(), "{}", text(&out));
    lines_of(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn a_push_makes_bind_hold_the_view_and_a_second_changes_nothing() {
    sync_and_threshold("named");
}

#[test]
fn a_push_makes_knot_hold_the_view_and_a_second_changes_nothing() {
    sync_and_threshold("knotd");
}

#[test]
fn a_push_makes_powerdns_hold_the_view_through_its_api_and_a_second_changes_nothing() {
    sync_and_threshold("pdns_server");
}

#[test]
fn a_push_makes_powerdns_hold_the_view_by_dns_update_and_a_second_changes_nothing() {
    sync_and_threshold("pdns_update");
}

/// The provider `kind` gets the view by `linedns push`, then nothing more; a dry run
/// and a push over max_change change nothing, `--force` applies.
fn sync_and_threshold(kind: &str) {
    let program = if kind == "pdns_update" { "pdns_server" } else { kind };
    common::tools::require(&[program, "kdig"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-{kind}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (bind, provider) = if kind == "pdns_update" {
        common::tools::require(&["pdnsutil", "sqlite3"]);
        let records = [("ns1", "A", "192.0.2.53"), ("theirs", "TXT", "\"kept by the provider\"")];
        let pdns = start_powerdns(&dir.join("pdns"), &records, free_port(), "unused", Some(("push-key", SECRET)));
        let yaml = format!(
            "  - {{ name: bind, kind: dns_update, server: \"{}\", key: push-key, line: telecom, zones: [example.com] }}\n",
            pdns.addr
        );
        (pdns, yaml)
    } else if kind == "pdns_server" {
        common::tools::require(&["pdnsutil", "sqlite3"]);
        let api_port = free_port();
        let records = [("ns1", "A", "192.0.2.53"), ("theirs", "TXT", "\"kept by the provider\"")];
        let pdns = start_powerdns(&dir.join("pdns"), &records, api_port, "the-api-key", None);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pdns.key"), "the-api-key\n").unwrap();
        let yaml = format!(
            "  - {{ name: bind, kind: powerdns, api: \"http://127.0.0.1:{api_port}\", api_key_file: {}, line: telecom, \
             zones: [example.com] }}\n",
            dir.join("pdns.key").display()
        );
        (pdns, yaml)
    } else {
        let peer = start_provider(kind, &dir.join(kind));
        let yaml = format!(
            "  - {{ name: bind, kind: dns_update, server: \"{}\", key: push-key, line: telecom, zones: [example.com] }}\n",
            peer.addr
        );
        (peer, yaml)
    };
    let signed = kind != "pdns_server";
    let held = |addr| held_as(addr, signed);
    wait_for_soa(&bind);
    let rules = rules_with(kind, &provider);
    let rules_arg = rules.to_str().unwrap();
    let before = held(bind.addr);

    // A dry run shows the plan and changes nothing.
    let out = linedns(&["push", "-c", rules_arg, "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("provider bind zone example.com: plan: "), "{shown}");
    assert!(shown.contains("  create www.example.com. A: 60 192.0.2.1, 192.0.2.2"), "{shown}");
    assert_eq!(held(bind.addr), before, "a dry run changes nothing");

    // The push: the provider holds the view, and its own TXT.
    let out = linedns(&["push", "-c", rules_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("provider bind zone example.com: applied "), "{}", text(&out));
    let now = held(bind.addr);
    let mut wanted = exported(&rules);
    wanted.insert("theirs.example.com. 300 TXT \"kept by the provider\"".to_string());
    assert_eq!(now, wanted, "the provider holds the telecom view");

    // Again: nothing to do.
    let out = linedns(&["push", "-c", rules_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("provider bind zone example.com: in sync (0 changes)"), "{}", text(&out));

    if kind == "named" {
        // `linedns check` reads the copy back too: in sync, then drift once changed there.
        let check = |rules: &str| {
            let out = linedns(&["check", "-c", rules, "--json", "--primary", &bind.addr.to_string()]);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
            let found = report["findings"].as_array().unwrap().iter().find(|f| f["check"] == "provider").cloned();
            found.unwrap_or_else(|| panic!("no provider finding: {report:#}"))
        };
        let checked = rules.with_extension("check.yaml");
        let servers = format!(
            "check:\n  timeout_ms: 300\n  servers: [{{ name: ns1.example.com, address: \"{}\", line: telecom }}]\n",
            bind.addr
        );
        std::fs::write(&checked, format!("{}{servers}", std::fs::read_to_string(&rules).unwrap())).unwrap();
        let finding = check(checked.to_str().unwrap());
        assert_eq!(
            (finding["ok"].as_bool(), finding["detail"].as_str()),
            (Some(true), Some("holds the view")),
            "{finding:#}"
        );
        nsupdate(
            bind.addr,
            "update delete static.example.com. A\nupdate add static.example.com. 300 A 192.0.2.99\nsend\n",
        );
        let finding = check(checked.to_str().unwrap());
        assert_eq!(finding["ok"].as_bool(), Some(false), "{finding:#}");
        let detail = finding["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(
                "1 RRset(s) differ from the view (drift, or not pushed yet): update static.example.com. A"
            ),
            "{detail}"
        );
        let out = linedns(&["push", "-c", rules_arg]);
        assert!(text(&out).contains("applied 0 creates, 1 updates, 0 deletes"), "{}", text(&out));
    }

    // A rules change that updates more than max_change of what linedns manages there is
    // refused, nothing applied; with --force it goes through.
    let changed = std::fs::read_to_string(&rules)
        .unwrap()
        .replace("192.0.2.80", "192.0.2.81")
        .replace("telecom: [192.0.2.1, 192.0.2.2]", "telecom: [192.0.2.3]");
    let strict = changed.replace("zones: [example.com] }", "zones: [example.com], max_change: 0.1 }");
    std::fs::write(&rules, strict).unwrap();
    let out = linedns(&["push", "-c", rules_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("more than max_change (10.0 %): nothing applied"), "{}", text(&out));
    assert_eq!(held(bind.addr), now, "a refused push applies nothing");
    let out = linedns(&["push", "-c", rules_arg, "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut wanted = exported(&rules);
    wanted.insert("theirs.example.com. 300 TXT \"kept by the provider\"".to_string());
    assert_eq!(held(bind.addr), wanted);

    if kind == "pdns_server" {
        // A wrong API key: the error says so, and names the provider and zone.
        std::fs::write(dir.join("pdns.key"), "not-the-key\n").unwrap();
        let out = linedns(&["push", "-c", rules_arg]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let shown = text(&out);
        assert!(
            shown.contains("provider bind zone example.com: cannot read its copy: the API refused the key (HTTP 401"),
            "{shown}"
        );
        assert!(!shown.contains("not-the-key"), "the key is never shown: {shown}");
    }
}

#[test]
fn a_wrong_key_is_named_and_the_other_providers_are_pushed() {
    common::tools::require(&["named", "kdig"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-keys", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bind = start_provider("named", &dir.join("bind"));
    let providers = format!(
        "  - {{ name: wrong, kind: dns_update, server: \"{0}\", key: wrong-key, line: telecom, zones: [example.com] }}\n  \
         - {{ name: right, kind: dns_update, server: \"{0}\", key: push-key, line: telecom, zones: [example.com] }}\n",
        bind.addr
    );
    let rules = rules_with("keys", &providers);
    let out = linedns(&["push", "-c", rules.to_str().unwrap()]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let wrong = shown.lines().find(|l| l.starts_with("provider wrong zone example.com: ")).expect(&shown);
    assert!(wrong.contains("TSIG") || wrong.contains("NOTAUTH"), "{wrong}");
    assert!(shown.contains("provider right zone example.com: applied "), "{shown}");
    assert!(held(bind.addr).contains("www.example.com. 60 A 192.0.2.1"), "{shown}");

    let out = linedns(&["push", "-c", rules.to_str().unwrap(), "--provider", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no provider \"nosuch\" in the rules (providers: wrong, right)"), "{}", text(&out));
}

/// Sends `commands` to `server` with `nsupdate`, signed with push-key.
fn nsupdate(server: SocketAddr, commands: &str) {
    use std::io::Write as _;
    let mut child = tool("nsupdate")
        .args(["-y", &format!("hmac-sha256:push-key:{SECRET}")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!("server {} {}\nzone example.com\n{commands}", server.ip(), server.port());
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nsupdate: {}", text(&out));
}

/// `kdig +short` of `name` `qtype` at `server`, sorted.
fn short(server: SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    let out = tool("kdig")
        .args([format!("@{}", server.ip()), "-p".into(), server.port().to_string(), "+short".into(), "+retry=0".into()])
        .args([name, qtype])
        .output()
        .unwrap();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Waits up to `within` for `done`; the time it took.
fn until(within: std::time::Duration, mut done: impl FnMut() -> bool) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if done() {
            return Some(start.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

#[test]
fn serve_pushes_a_failover_to_the_provider_within_seconds_and_puts_back_drift() {
    common::tools::require(&["named", "kdig", "nsupdate"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-serve", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bind = start_provider("named", &dir.join("bind"));
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let probe = backend.local_addr().unwrap();
    let standby = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let kept = standby.local_addr().unwrap();
    let providers = format!(
        "  - {{ name: bind, kind: dns_update, server: \"{}\", key: push-key, line: telecom, zones: [example.com], \
         drift_interval_ms: 1000 }}\n",
        bind.addr
    );
    let rules = rules_with("serve", &providers);
    let text = std::fs::read_to_string(&rules).unwrap();
    let text = text.replace(
        "version: 1\n",
        "version: 1\nhealth_checks:\n  tcp: { kind: tcp, interval_ms: 100, timeout_ms: 200, fall: 1, rise: 1 }\n",
    );
    let failover = format!(
        "    line_records:\n      - name: api\n        type: A\n        ttl: 30\n        health_check: tcp\n        pools:\n          \
         telecom: [{{ address: 192.0.2.7, probe: \"{probe}\" }}]\n          default: [{{ address: 192.0.2.9, probe: \"{kept}\" }}]\n"
    );
    std::fs::write(&rules, text.replacen("    line_records:\n", &failover, 1)).unwrap();
    let server = common::server::RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let linedns_at = server.addrs[0];
    // At start the provider gets the view: api is telecom's node.
    let started =
        until(std::time::Duration::from_secs(5), || short(bind.addr, "api.example.com", "A") == ["192.0.2.7"]);
    assert!(started.is_some(), "the provider never got the view:\n{}", server.log());

    // The node fails: linedns answers the fallback, and so does the provider soon after.
    drop(backend);
    let telecom = ["+subnet=198.51.100.0/25"];
    let asked = |server: SocketAddr| {
        let out = tool("kdig")
            .args([format!("@{}", server.ip()), "-p".into(), server.port().to_string(), "+short".into()])
            .args(telecom)
            .args(["api.example.com", "A"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let ours = until(std::time::Duration::from_secs(5), || asked(linedns_at) == "192.0.2.9");
    assert!(ours.is_some(), "linedns never failed over:\n{}", server.log());
    let theirs = until(std::time::Duration::from_secs(3), || short(bind.addr, "api.example.com", "A") == ["192.0.2.9"]);
    assert!(theirs.is_some(), "the provider did not follow within 3 s:\n{}", server.log());

    let (_, metrics) = common::admin::call(server.admin, "GET", "/metrics", None, None);
    let applied = "linedns_push_total{provider=\"bind\",zone=\"example.com\",result=\"applied\"} ";
    let line = metrics.lines().find(|l| l.starts_with(applied)).unwrap_or_else(|| panic!("{metrics}"));
    assert!(line[applied.len()..].parse::<u64>().unwrap() >= 2, "{line}");
    assert!(metrics.contains("linedns_push_out_of_sync_rrsets{provider=\"bind\",zone=\"example.com\"} 0"), "{metrics}");
    // Drift: a managed record changed at the provider is put back; one linedns does not
    // manage stays.
    nsupdate(
        bind.addr,
        "update delete static.example.com. A\nupdate add static.example.com. 300 A 192.0.2.99\n\
         update add extra.example.com. 300 TXT \"added at the provider\"\nsend\n",
    );
    assert_eq!(short(bind.addr, "static.example.com", "A"), ["192.0.2.99"], "nsupdate took");
    let back =
        until(std::time::Duration::from_secs(4), || short(bind.addr, "static.example.com", "A") == ["192.0.2.80"]);
    assert!(back.is_some(), "the drift was not put back within the interval:\n{}", server.log());
    assert_eq!(short(bind.addr, "extra.example.com", "TXT"), ["\"added at the provider\""]);
    let log = server.log();
    assert!(
        log.contains("provider bind zone example.com: 1 RRset(s) changed at the provider (drift); putting them back"),
        "{log}"
    );
    let (_, metrics) = common::admin::call(server.admin, "GET", "/metrics", None, None);
    assert!(metrics.contains("linedns_push_drift_total{provider=\"bind\",zone=\"example.com\"} 1"), "{metrics}");
    // The status page's JSON shows the provider, its drift and no error.
    let (_, status) = common::admin::call(server.admin, "GET", "/status", None, None);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let shown = &status["providers"][0];
    assert_eq!((shown["provider"].as_str(), shown["zone"].as_str()), (Some("bind"), Some("example.com")), "{status:#}");
    assert_eq!((shown["drifts"].as_u64(), shown["out_of_sync"].as_u64()), (Some(1), Some(0)), "{shown:#}");
    assert!(shown["error"].is_null() && shown["last_success"].as_u64().is_some(), "{shown:#}");
    let update =
        log.lines().find(|l| l.contains("provider bind zone example.com: update api.example.com. A: 30 192.0.2.7 -> "));
    assert!(update.is_some_and(|l| l.ends_with(" 192.0.2.9")), "{log}");
    server.stop();
    drop(standby);
}

/// `program ARGS` with `PDNS_API_KEY` and `TSIG_SECRET` set: its exit status and output.
fn octodns(program: &str, args: &[&str], api_key: &str) -> (bool, String) {
    let out = tool(program).args(args).env("PDNS_API_KEY", api_key).env("TSIG_SECRET", SECRET).output().unwrap();
    (out.status.success(), text(&out))
}

#[test]
fn octodns_takes_the_view_linedns_writes_to_powerdns_and_then_plans_no_change() {
    common::tools::require(&["pdns_server", "pdnsutil", "sqlite3", "kdig", "octodns-sync", "octodns-validate"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-octodns", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let api_port = free_port();
    let records = [("ns1", "A", "192.0.2.53"), ("theirs", "TXT", "\"kept by the provider\"")];
    let pdns = start_powerdns(&dir.join("pdns"), &records, api_port, "octo-key", None);
    wait_for_soa(&pdns);
    let provider = format!(
        "  - name: cloud\n    kind: octodns\n    directory: octodns\n    line: telecom\n    zones: [example.com]\n    \
         target: {{ class: octodns_powerdns.PowerDnsProvider, host: 127.0.0.1, port: {api_port}, api_key: env/PDNS_API_KEY }}\n"
    );
    let rules = rules_with("octodns", &provider);
    let out = linedns(&["push", "-c", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("provider cloud zone example.com: applied "), "{}", text(&out));
    let config = rules.parent().unwrap().join("octodns/config.yaml");
    let config = config.to_str().unwrap();

    let (ok, said) = octodns("octodns-validate", &["--config-file", config], "octo-key");
    assert!(ok, "octodns-validate: {said}");
    let (ok, said) = octodns("octodns-sync", &["--config-file", config, "--doit"], "octo-key");
    assert!(ok, "octodns-sync --doit: {said}");
    // PowerDNS holds the view (octoDNS's ownership TXTs aside), and its own TXT.
    let now: BTreeSet<String> = held_as(pdns.addr, false).into_iter().filter(|l| !l.starts_with("_owner.")).collect();
    let mut wanted = exported(&rules);
    wanted.insert("theirs.example.com. 300 TXT \"kept by the provider\"".to_string());
    assert_eq!(now, wanted, "PowerDNS holds the telecom view through octoDNS:\n{said}");
    // Again: octoDNS plans nothing, and linedns writes nothing new.
    let (ok, said) = octodns("octodns-sync", &["--config-file", config], "octo-key");
    assert!(ok && said.contains("No changes were planned"), "a second octodns-sync: {said}");
    let out = linedns(&["push", "-c", rules.to_str().unwrap()]);
    assert!(text(&out).contains("provider cloud zone example.com: in sync (0 changes)"), "{}", text(&out));
}

/// Changes `name` A at the PowerDNS API on `api_port` to `address` (as an operator would
/// through its API).
fn pdns_set_a(api_port: u16, api_key: &str, name: &str, address: &str) {
    let body = format!(
        "{{\"rrsets\": [{{\"name\": \"{name}\", \"type\": \"A\", \"ttl\": 300, \"changetype\": \"REPLACE\", \
         \"records\": [{{\"content\": \"{address}\", \"disabled\": false}}]}}]}}"
    );
    let out = tool("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-H", &format!("X-API-Key: {api_key}")])
        .args(["-H", "Content-Type: application/json", "--data", &body])
        .arg(format!("http://127.0.0.1:{api_port}/api/v1/servers/localhost/zones/example.com."))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204", "PATCH: {}", text(&out));
}

#[test]
fn serve_holds_a_flap_storm_and_puts_back_drift_at_powerdns() {
    common::tools::require(&["pdns_server", "pdnsutil", "sqlite3", "kdig", "curl"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-storm", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let api_port = free_port();
    let pdns = start_powerdns(&dir.join("pdns"), &[("ns1", "A", "192.0.2.53")], api_port, "storm-key", None);
    wait_for_soa(&pdns);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pdns.key"), "storm-key\n").unwrap();
    let mut backend = Some(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let probe = backend.as_ref().unwrap().local_addr().unwrap();
    let standby = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let kept = standby.local_addr().unwrap();
    let provider = format!(
        "  - {{ name: pdns, kind: powerdns, api: \"http://127.0.0.1:{api_port}\", api_key_file: {}, line: telecom, \
         zones: [example.com], drift_interval_ms: 1000 }}\n",
        dir.join("pdns.key").display()
    );
    let rules = rules_with("storm", &provider);
    let text = std::fs::read_to_string(&rules).unwrap().replace(
        "version: 1\n",
        "version: 1\nhealth_checks:\n  tcp: { kind: tcp, interval_ms: 100, timeout_ms: 200, fall: 1, rise: 1 }\n",
    );
    let record = format!(
        "    line_records:\n      - name: api\n        type: A\n        ttl: 30\n        health_check: tcp\n        pools:\n          \
         telecom: [{{ address: 192.0.2.7, probe: \"{probe}\" }}]\n          default: [{{ address: 192.0.2.9, probe: \"{kept}\" }}]\n"
    );
    std::fs::write(&rules, text.replacen("    line_records:\n", &record, 1)).unwrap();
    let server = common::server::RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let at_pdns = || short(pdns.addr, "api.example.com", "A");
    assert!(until(std::time::Duration::from_secs(5), || at_pdns() == ["192.0.2.7"]).is_some(), "{}", server.log());
    let applied = || {
        let (_, metrics) = common::admin::call(server.admin, "GET", "/metrics", None, None);
        let name = "linedns_push_total{provider=\"pdns\",zone=\"example.com\",result=\"applied\"} ";
        metrics.lines().find_map(|l| l.strip_prefix(name)).map_or(0, |v| v.parse::<u64>().unwrap())
    };
    let before = applied();

    // A flap storm: the node down and up again, ten flips in ten seconds, ending up.
    for flip in 0..10 {
        if flip % 2 == 0 {
            backend = None;
        } else {
            backend = Some(std::net::TcpListener::bind(probe).unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(1000));
    }
    assert!(backend.is_some());
    assert!(until(std::time::Duration::from_secs(3), || at_pdns() == ["192.0.2.7"]).is_some(), "{}", server.log());
    let pushes = applied() - before;
    eprintln!("flap storm: 10 flips in 10 s, {pushes} pushes applied");
    assert!((1..=12).contains(&pushes), "{pushes} pushes for 10 flips:\n{}", server.log());

    // Drift at PowerDNS: an RRset changed through its API is put back; one added there
    // that linedns does not manage stays.
    pdns_set_a(api_port, "storm-key", "theirs.example.com.", "192.0.2.77");
    pdns_set_a(api_port, "storm-key", "static.example.com.", "192.0.2.99");
    assert_eq!(short(pdns.addr, "static.example.com", "A"), ["192.0.2.99"]);
    let back =
        until(std::time::Duration::from_secs(4), || short(pdns.addr, "static.example.com", "A") == ["192.0.2.80"]);
    assert!(back.is_some(), "the drift at PowerDNS was not put back:\n{}", server.log());
    assert!(server.log().contains("provider pdns zone example.com: 1 RRset(s) changed at the provider (drift)"));
    assert_eq!(short(pdns.addr, "theirs.example.com", "A"), ["192.0.2.77"], "what linedns does not manage stays");
    server.stop();
    drop(standby);
}

#[test]
fn octodns_takes_the_view_linedns_writes_to_bind_by_rfc2136_and_then_plans_no_change() {
    common::tools::require(&["named", "kdig", "octodns-sync", "octodns-validate"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-octodns-bind", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bind = start_provider("named", &dir.join("bind"));
    let provider = format!(
        "  - name: bind\n    kind: octodns\n    directory: octodns\n    line: telecom\n    zones: [example.com]\n    \
         target: {{ class: octodns_bind.Rfc2136Provider, host: 127.0.0.1, port: {}, key_name: push-key, \
         key_secret: env/TSIG_SECRET, key_algorithm: hmac-sha256 }}\n",
        bind.addr.port()
    );
    let rules = rules_with("octodns-bind", &provider);
    let out = linedns(&["push", "-c", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let config = rules.parent().unwrap().join("octodns/config.yaml");
    let config = config.to_str().unwrap();
    let (ok, said) = octodns("octodns-validate", &["--config-file", config], "");
    assert!(ok, "octodns-validate: {said}");
    let (ok, said) = octodns("octodns-sync", &["--config-file", config, "--doit"], "");
    assert!(ok, "octodns-sync --doit: {said}");
    let now: BTreeSet<String> = held(bind.addr).into_iter().filter(|l| !l.starts_with("_owner.")).collect();
    let mut wanted = exported(&rules);
    wanted.insert("theirs.example.com. 300 TXT \"kept by the provider\"".to_string());
    assert_eq!(now, wanted, "BIND holds the telecom view through octoDNS:\n{said}");
    let (ok, said) = octodns("octodns-sync", &["--config-file", config], "");
    assert!(ok && said.contains("No changes were planned"), "a second octodns-sync: {said}");
}

#[test]
fn names_removed_from_the_rules_are_deleted_at_the_provider_when_a_state_directory_remembers_them() {
    common::tools::require(&["named", "kdig"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-removed", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bind = start_provider("named", &dir.join("named"));
    let provider = format!(
        "  - {{ name: bind, kind: dns_update, server: \"{}\", key: push-key, line: telecom, zones: [example.com], \
         max_change: 0.1 }}\n",
        bind.addr
    );
    let rules = rules_with("removed", &provider);
    let written = std::fs::read_to_string(&rules).unwrap().replacen("server:\n", "server:\n  state_dir: state\n", 1);
    std::fs::write(&rules, &written).unwrap();
    let rules_arg = rules.to_str().unwrap();
    let out = linedns(&["push", "-c", rules_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(held(bind.addr).contains("static.example.com. 300 A 192.0.2.80"));

    // Two names leave the rules: deleting them is more than max_change (10 %): refused,
    // nothing applied; with --force they go, and the provider's own TXT stays.
    let fewer: String = written
        .lines()
        .filter(|l| !l.contains("name: static,") && !l.contains("name: alias,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&rules, fewer).unwrap();
    let out = linedns(&["push", "-c", rules_arg, "--dry-run"]);
    let shown = text(&out);
    assert!(shown.contains("  delete alias.example.com. CNAME: 300 www.example.com."), "{shown}");
    assert!(shown.contains("  delete static.example.com. A: 300 192.0.2.80"), "{shown}");
    let out = linedns(&["push", "-c", rules_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("more than max_change (10.0 %): nothing applied"), "{}", text(&out));
    assert!(held(bind.addr).contains("static.example.com. 300 A 192.0.2.80"), "a refused push deletes nothing");
    let out = linedns(&["push", "-c", rules_arg, "--force"]);
    assert!(text(&out).contains("applied 0 creates, 0 updates, 2 deletes"), "{}", text(&out));
    let now = held(bind.addr);
    assert!(!now.iter().any(|l| l.starts_with("static.") || l.starts_with("alias.")), "{now:?}");
    assert!(now.contains("theirs.example.com. 300 TXT \"kept by the provider\""), "{now:?}");
    let out = linedns(&["push", "-c", rules_arg]);
    assert!(text(&out).contains("in sync (0 changes)"), "{}", text(&out));
}

#[test]
fn a_provider_that_gives_no_transfer_is_read_name_by_name() {
    common::tools::require(&["named", "kdig"]);
    let dir = std::env::temp_dir().join(format!("linedns-push-{}-noaxfr", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bind = start_provider("named_noaxfr", &dir.join("named"));
    let provider = format!(
        "  - {{ name: bind, kind: dns_update, server: \"{}\", key: push-key, line: telecom, zones: [example.com] }}\n",
        bind.addr
    );
    let rules = rules_with("noaxfr", &provider);
    let rules_arg = rules.to_str().unwrap();
    // linedns's AXFR is refused (push-key may update, not transfer).
    let refused = tool("kdig")
        .args([format!("@{}", bind.addr.ip()), "-p".into(), bind.addr.port().to_string()])
        .args(["-y", &format!("hmac-sha256:push-key:{SECRET}"), "example.com", "AXFR"])
        .output()
        .unwrap();
    assert!(text(&refused).contains("REFUSED"), "{}", text(&refused));
    let out = linedns(&["push", "-c", rules_arg]);
    assert!(out.status.success(), "{}", text(&out));
    // What BIND holds, read with the key it transfers to.
    let axfr = tool("kdig")
        .args([format!("@{}", bind.addr.ip()), "-p".into(), bind.addr.port().to_string()])
        .args(["-y", &format!("hmac-sha256:check-key:{SECRET}"), "example.com", "AXFR", "+nocomments", "+nostats"])
        .output()
        .unwrap();
    let mut wanted = exported(&rules);
    wanted.insert("theirs.example.com. 300 TXT \"kept by the provider\"".to_string());
    assert_eq!(lines_of(&String::from_utf8_lossy(&axfr.stdout)), wanted);
    let out = linedns(&["push", "-c", rules_arg]);
    assert!(text(&out).contains("provider bind zone example.com: in sync (0 changes)"), "{}", text(&out));
}
