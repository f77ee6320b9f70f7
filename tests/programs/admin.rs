//! The admin API with real clients: curl for HTTP, promtool (Debian's prometheus
//! package) for the metrics text, kdig for DNS. The in-process server for behaviour; the
//! real binary for its listener check, SIGHUP and the file watch.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;

use common::admin::call;
use common::inprocess::InProcess;
use common::server::{RunningServer, answers, dig};

const TOKEN: &str = "test-token-123";

fn curl(args: &[&str]) -> (u16, String) {
    let out = common::tools::tool("curl")
        .args(["-s", "-w", "\n%{http_code}", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn url(admin: SocketAddr, path: &str) -> String {
    format!("http://{admin}{path}")
}

/// Samples of the metrics text: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap_or(f64::NAN))))
        .collect()
}

#[test]
fn metrics_are_valid_prometheus_text_and_count_the_queries_sent() {
    common::tools::require(&["curl", "promtool", "kdig"]);
    let server = InProcess::start("tests/rules/server.yaml", &["127.0.0.1:0"]);
    let dns = server.addrs[0];
    for _ in 0..5 {
        dig(dns, &["www.example.com", "A", "+subnet=198.51.100.0/27"]);
    }
    for _ in 0..3 {
        dig(dns, &["nope.example.com", "A"]);
    }
    for _ in 0..2 {
        dig(dns, &["www.example.com", "AAAA", "+tcp", "+subnet=2001:db8:1::/48"]);
    }
    dig(dns, &["example.org", "A"]);
    let (code, text) = curl(&[&url(server.admin, "/metrics")]);
    assert_eq!(code, 200);
    // promtool, from Debian's prometheus package, is the reference parser and linter.
    let mut promtool = common::tools::tool("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let s = samples(&text);
    let q = |line: &str, qtype: &str, rcode: &str, transport: &str| {
        s.get(&format!(
            "linedns_queries_total{{line=\"{line}\",qtype=\"{qtype}\",rcode=\"{rcode}\",transport=\"{transport}\"}}"
        ))
        .copied()
    };
    assert_eq!(q("gd-telecom", "A", "NOERROR", "udp"), Some(5.0), "{text}");
    assert_eq!(q("none", "A", "NXDOMAIN", "udp"), Some(3.0), "{text}");
    assert_eq!(q("telecom", "AAAA", "NOERROR", "tcp"), Some(2.0), "{text}");
    assert_eq!(q("none", "A", "REFUSED", "udp"), Some(1.0), "{text}");
    assert_eq!(s["linedns_line_answers_total{classified_by=\"ecs\"}"], 7.0);
    assert_eq!(s["linedns_snapshot_generation"], 1.0);
    assert_eq!(s["linedns_build_info{version=\"0.1.0\"}"], 1.0);
    let total: f64 = s.iter().filter(|(k, _)| k.starts_with("linedns_queries_total")).map(|(_, v)| v).sum();
    assert_eq!(total, 11.0, "every query counted once");
    server.stop();
}

#[test]
fn admin_refuses_a_public_bind_without_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_linedns"))
        .current_dir(common::repo_path(""))
        .env_remove("LINEDNS_ADMIN_TOKEN")
        .args(["serve", "-c", "tests/rules/server.yaml", "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0 without a token"), "{err}");
    // With a token the same bind is allowed (checked without opening it).
    assert!(linedns::serve::admin::check_bind("0.0.0.0:9153".parse().unwrap(), Some(TOKEN)).is_ok());
    assert!(linedns::serve::admin::check_bind("[::1]:9153".parse().unwrap(), None).is_ok());
}

/// The admin API's bounds: a request head over 16 KiB, a body over 64 KiB and a client
/// that never finishes its request are cut off, and the API keeps answering.
#[test]
fn admin_requests_are_bounded_in_size_and_time() {
    common::tools::require(&["curl"]);
    let server = InProcess::start_with_token("tests/rules/server.yaml", &["127.0.0.1:0"], Some(TOKEN));
    let admin = server.admin;
    // A 20 KiB header: refused before any route runs.
    let big_header = format!("X-Filler: {}", "a".repeat(20 * 1024));
    let (code, _) = curl(&["-H", &big_header, &url(admin, "/lines")]);
    assert_eq!(code, 431, "oversized head answered {code}");
    // A 100 KiB body: 400, and the override it carries is not set.
    let body =
        format!(r#"{{"target":{{"node":"192.0.2.1"}},"state":"down","who":"{}","why":"x"}}"#, "w".repeat(100 * 1024));
    let (code, reply) = call(admin, "POST", "/overrides", Some(TOKEN), Some(&body));
    assert_eq!(code, 400, "{reply}");
    assert!(reply.contains("too large"), "{reply}");
    assert_eq!(curl(&[&url(admin, "/overrides")]).1.trim(), "[]");
    // A client that sends half a request and waits: the server closes within its 5 s.
    let mut slow = std::net::TcpStream::connect(admin).unwrap();
    std::io::Write::write_all(&mut slow, b"GET /lines HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut slow, &mut rest);
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "held for {:?}", started.elapsed());
    // Meanwhile and after, the API answers.
    assert_eq!(curl(&[&url(admin, "/lines")]).0, 200);
    server.stop();
}

#[test]
fn mutating_calls_need_the_token_and_overrides_steer_answers() {
    common::tools::require(&["curl", "kdig"]);
    let server = InProcess::start_with_token("tests/rules/server.yaml", &["127.0.0.1:0"], Some(TOKEN));
    let (dns, admin) = (server.addrs[0], server.admin);
    // Reads need no token.
    assert_eq!(curl(&[&url(admin, "/lines")]).0, 200);
    let (code, body) = curl(&[&url(admin, "/explain?ip=198.51.100.64%2F26&name=www.example.com&type=A")]);
    assert_eq!(code, 200);
    let explained: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((explained["line"].as_str(), explained["scope"].as_u64()), (Some("telecom"), Some(26)));
    // Writes without (or with a wrong) token: 401, nothing changes.
    assert_eq!(call(admin, "POST", "/reload", None, None).0, 401);
    assert_eq!(call(admin, "POST", "/reload", Some("wrong"), None).0, 401);
    let node_down = r#"{"target":{"node":"192.0.2.1"},"state":"down","who":"alice","why":"disk failing"}"#;
    assert_eq!(call(admin, "POST", "/overrides", None, Some(node_down)).0, 401);
    assert_eq!(answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"])), ["192.0.2.1", "192.0.2.2"]);

    // A node forced down leaves the answers.
    let (code, body) = call(admin, "POST", "/overrides", Some(TOKEN), Some(node_down));
    assert_eq!(code, 200, "{body}");
    let node_id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_u64().unwrap();
    assert_eq!(answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"])), ["192.0.2.2"]);
    // A line drained: its clients fall back (telecom → default).
    let drain = r#"{"target":{"line":"telecom"},"state":"drained","who":"bob","why":"maintenance window"}"#;
    assert_eq!(call(admin, "POST", "/overrides", Some(TOKEN), Some(drain)).0, 200);
    assert_eq!(answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"])), ["192.0.2.101"]);
    // Listed with who, when and why; unknown targets are refused.
    let (_, list) = curl(&[&url(admin, "/overrides")]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!((list[0]["who"].as_str(), list[0]["why"].as_str()), (Some("alice"), Some("disk failing")));
    assert!(list[0]["at"].as_u64().unwrap() > 1_700_000_000 && list[0]["active"] == true);
    let unknown = r#"{"target":{"line":"nowhere"},"state":"down","who":"x","why":"y"}"#;
    assert_eq!(call(admin, "POST", "/overrides", Some(TOKEN), Some(unknown)).0, 422);

    // Overrides survive a reload.
    let (code, report) = call(admin, "POST", "/reload", Some(TOKEN), None);
    assert_eq!(code, 200, "{report}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&report).unwrap()["generation"], 2);
    assert_eq!(answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"])), ["192.0.2.101"]);
    // Lifting them restores the answers.
    for id in [node_id, node_id + 1] {
        assert_eq!(call(admin, "DELETE", &format!("/overrides/{id}"), Some(TOKEN), None).0, 200);
    }
    assert_eq!(answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"])), ["192.0.2.1", "192.0.2.2"]);
    // One pool of one record: telecom's pool of www A down; the AAAA record is untouched.
    let pool = r#"{"target":{"pool":{"record":"www.example.com A","line":"telecom"}},"state":"down","who":"carol","why":"drill"}"#;
    let (code, body) = call(admin, "POST", "/overrides", Some(TOKEN), Some(pool));
    assert_eq!(code, 200, "{body}");
    assert_eq!(answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"])), ["192.0.2.101"]);
    assert_eq!(answers(&dig(dns, &["www.example.com", "AAAA", "+subnet=2001:db8:1::/48"])), ["2001:db8:f::1"]);
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_u64().unwrap();
    assert_eq!(call(admin, "DELETE", &format!("/overrides/{id}"), Some(TOKEN), None).0, 200);
    let (_, metrics) = curl(&[&url(admin, "/metrics")]);
    assert!(metrics.contains("linedns_reloads_total{result=\"success\"} 1"), "{metrics}");
    server.stop();
}

#[test]
fn sighup_and_the_file_watch_reload_the_rules() {
    common::tools::require(&["curl", "kdig"]);
    let dir = std::env::temp_dir().join(format!("linedns-triggers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    // The watch on (it is off by default).
    let original = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml"))
        .unwrap()
        .replace("listen: [\"127.0.0.1:0\"]", "listen: [\"127.0.0.1:0\"]\n  watch: true");
    std::fs::write(&path, &original).unwrap();
    let server = RunningServer::start(path.to_str().unwrap(), &["127.0.0.1:0"]);
    let dns = server.addrs[0];
    assert_eq!(answers(&dig(dns, &["static.example.com"])), ["192.0.2.80"]);

    // The watch: an edit goes live within a few seconds, without any signal.
    std::fs::write(&path, original.replace("values: 192.0.2.80", "values: 192.0.2.81")).unwrap();
    let started = std::time::Instant::now();
    while answers(&dig(dns, &["static.example.com"])) != ["192.0.2.81"] {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(6),
            "the file watch did not reload:\n{}",
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(server.log().contains("reload (files changed): generation 2 live"), "{}", server.log());
    // What changed, in words (no `[]` or `(1, 2)` Debug lists).
    let reloaded = server.log().lines().find(|l| l.contains("generation 2 live")).unwrap().to_string();
    assert!(reloaded.contains("lines added: none, removed: none; zones added: none"), "{reloaded}");
    assert!(!reloaded.contains("[]") && !reloaded.contains("+["), "{reloaded}");

    // SIGHUP: reloads at once (here the same content: generation 3).
    let pid = server_pid(&server);
    common::tools::tool("kill").args(["-HUP", &pid]).status().unwrap();
    let started = std::time::Instant::now();
    while !server.log().contains("reload (SIGHUP): generation 3 live") {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "no SIGHUP reload:\n{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A broken edit is logged with its place and the old rules keep answering.
    std::fs::write(&path, "version: 1\nlines:\n  - name: [broken\n").unwrap();
    let started = std::time::Instant::now();
    while !server.log().contains("reload (files changed) failed") {
        assert!(started.elapsed() < std::time::Duration::from_secs(6), "broken edit not reported:\n{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(server.log().contains("rules.yaml:3:"), "the error names file and line:\n{}", server.log());
    assert_eq!(answers(&dig(dns, &["static.example.com"])), ["192.0.2.81"]);
    server.stop();
}

fn server_pid(server: &RunningServer) -> String {
    server.pid().to_string()
}

/// An override set through the API is kept in the state directory: still in force after
/// a restart and after `kill -9`, gone once deleted, and a corrupt file is reported and
/// the server starts without it.
#[test]
fn overrides_survive_a_restart_and_a_crash() {
    common::tools::require(&["curl", "kdig"]);
    let dir = std::env::temp_dir().join(format!("linedns-override-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    let original = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml")).unwrap();
    let with_state =
        original.replacen("server:\n", &format!("server:\n  state_dir: {}\n", dir.join("state").display()), 1);
    std::fs::write(&rules, with_state).unwrap();
    let start =
        || RunningServer::start_with(rules.to_str().unwrap(), &["127.0.0.1:0"], &[("LINEDNS_ADMIN_TOKEN", TOKEN)]);
    let telecom = |dns: SocketAddr| answers(&dig(dns, &["www.example.com", "+subnet=198.51.100.64/26"]));

    let server = start();
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.1", "192.0.2.2"]);
    let drain = r#"{"target":{"line":"telecom"},"state":"drained","who":"bob","why":"maintenance window"}"#;
    let (code, body) = call(server.admin, "POST", "/overrides", Some(TOKEN), Some(drain));
    assert_eq!(code, 200, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_u64().unwrap();
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.101"], "drained: telecom falls back to default");
    // Every mutating call is logged with where it came from, what and how it ended; an
    // override also with its who and why.
    let log = server.log();
    assert!(log.contains("admin API: POST /overrides from 127.0.0.1:") && log.contains(" 200 done"), "{log}");
    assert!(log.contains("by bob (maintenance window)"), "{log}");
    // In words: no Rust Debug text (`Line("telecom")`, `Drained`).
    assert!(log.contains(&format!("override {id}: line telecom forced drained by bob")), "{log}");
    assert!(!log.contains("Line(") && !log.contains("Drained"), "{log}");
    server.stop();

    // A clean restart: the drain is in force from the first query, listed as it was set.
    let server = start();
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.101"], "the drain survives a restart:\n{}", server.log());
    let (_, list) = curl(&[&url(server.admin, "/overrides")]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!((list[0]["id"].as_u64(), list[0]["who"].as_str()), (Some(id), Some("bob")), "{list}");
    assert!(server.log().contains("restored from"), "{}", server.log());
    // A crash: dropping a RunningServer kills it with SIGKILL (kill -9); start again.
    drop(server);
    let server = start();
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.101"], "the drain survives kill -9");
    // Deleted, it stays deleted after a restart.
    let path = format!("/overrides/{id}");
    assert_eq!(call(server.admin, "DELETE", &path, Some(TOKEN), None).0, 200);
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.1", "192.0.2.2"]);
    server.stop();
    let server = start();
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.1", "192.0.2.2"], "a deleted override stays deleted");
    server.stop();

    // A corrupt file: reported with its path, the server starts without it.
    let file = dir.join("state").join("overrides.json");
    std::fs::write(&file, "{ not json").unwrap();
    let server = start();
    assert_eq!(telecom(server.addrs[0]), ["192.0.2.1", "192.0.2.2"]);
    let log = server.stop();
    assert!(log.contains("overrides.json") && log.contains("starting without the stored overrides"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The overrides in force, as the API lists them.
fn override_count(admin: SocketAddr) -> usize {
    let (_, list) = curl(&[&url(admin, "/overrides")]);
    serde_json::from_str::<serde_json::Value>(&list).unwrap().as_array().unwrap().len()
}

/// Without a token (the default, on loopback), a request naming another host (DNS
/// rebinding), sent from another web origin, or changing state with a body type a page
/// can send across origins gets 403 with the reason and changes nothing; the same call as
/// JSON, from curl, works. `HEAD /metrics` is answered.
#[test]
fn cross_site_and_rebinding_requests_are_refused_and_change_nothing() {
    common::tools::require(&["curl"]);
    let server = InProcess::start("tests/rules/server.yaml", &["127.0.0.1:0"]);
    let admin = server.admin;
    let drain = r#"{"target":{"node":"192.0.2.1"},"state":"drained","who":"mallory","why":"csrf"}"#;
    let port = admin.port();
    let refused: [&[&str]; 6] = [
        // The issue's request: a foreign Host and Origin, text/plain.
        &[
            "-H",
            "Content-Type: text/plain",
            "-H",
            "Origin: http://evil.example",
            "-H",
            &format!("Host: evil.example:{port}"),
        ],
        &["-H", "Content-Type: application/json", "-H", &format!("Host: evil.example:{port}")],
        &["-H", "Content-Type: application/json", "-H", "Origin: http://evil.example"],
        &["-H", "Content-Type: application/json", "-H", "Origin: null"],
        &["-H", "Content-Type: text/plain"],
        &["-H", "Content-Type: application/x-www-form-urlencoded"],
    ];
    for headers in refused {
        let (code, body) = curl(&[&["-X", "POST", "-d", drain], headers, &[&url(admin, "/overrides")]].concat());
        assert_eq!(code, 403, "{headers:?}: {body}");
        let error = serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].as_str().unwrap().to_string();
        assert!(error.contains("refused") || error.contains("Content-Type: application/json"), "{error}");
        assert_eq!(override_count(admin), 0, "{headers:?} changed nothing");
    }
    // Reads are refused under a foreign Host too (the status is no one else's).
    assert_eq!(curl(&["-H", "Host: evil.example", &url(admin, "/status")]).0, 403);
    // A reload with no body type: 403.
    assert_eq!(curl(&["-X", "POST", &url(admin, "/reload")]).0, 403);
    // The operator's own calls: curl with JSON, under the listener's address or
    // localhost (an ssh -L tunnel's port, too).
    let (code, body) = call(admin, "POST", "/overrides", None, Some(drain));
    assert_eq!(code, 200, "{body}");
    let localhost = ["-H", "Host: localhost:19153", "-H", "Content-Type: application/json"];
    assert_eq!(curl(&[&["-X", "DELETE"], &localhost[..], &[&url(admin, "/overrides/1")]].concat()).0, 200);
    assert_eq!(override_count(admin), 0);
    // HEAD /metrics: the headers of GET, no body.
    let head =
        common::tools::tool("curl").args(["-s", "-I", "--max-time", "5", &url(admin, "/metrics")]).output().unwrap();
    let head = String::from_utf8_lossy(&head.stdout);
    assert!(
        head.starts_with("HTTP/1.1 200") && head.to_ascii_lowercase().contains("content-type: text/plain"),
        "{head}"
    );
    server.stop();
}

/// A web page served from another origin (python3's http.server on another loopback
/// port), opened in headless Chromium, tries to drain a node through the admin API with
/// `fetch`: as a `no-cors` text/plain POST, as a form, and as JSON (which needs a
/// preflight). None changes an override, each is refused in the log; the token-less
/// default is what it attacks.
#[test]
fn a_page_from_another_origin_cannot_change_an_override() {
    common::tools::require(&["curl", "chromium", "python3"]);
    let server = InProcess::start("tests/rules/server.yaml", &["127.0.0.1:0"]);
    let admin = server.admin;
    let dir = common::server::test_dir("admin-csrf");
    let page = format!(
        r#"<!doctype html><html><body><script>
const api = "http://{admin}/overrides";
const body = JSON.stringify({{target: {{node: "192.0.2.1"}}, state: "drained", who: "mallory", why: "csrf"}});
Promise.allSettled([
  fetch(api, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}),
  fetch(api, {{method: "POST", mode: "no-cors", body: new URLSearchParams({{o: body}})}}),
  fetch(api, {{method: "POST", headers: {{"Content-Type": "application/json"}}, body}}),
]).then(rs => {{
  document.body.setAttribute("data-done", rs.map(r => r.status).join(","));
}});
</script></body></html>"#
    );
    std::fs::write(dir.join("attack.html"), page).unwrap();
    let web_port = common::secondaries::free_port();
    let mut web = common::tools::tool("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &web_port.to_string()])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let page_url = format!("http://127.0.0.1:{web_port}/attack.html");
    let started = std::time::Instant::now();
    while curl(&[&page_url]).0 != 200 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the page server did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let profile = dir.join("chromium-profile");
    let out = common::tools::tool("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=5000", "--timeout=15000", "--dump-dom", &page_url])
        .output()
        .expect("chromium");
    let _ = web.kill();
    let _ = web.wait();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-done="),
        "the page ran its three fetches:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(override_count(admin), 0, "no override was made by the page");
    // The requests that reached the API were refused, naming the page's origin.
    let (_, metrics) = curl(&[&url(admin, "/metrics")]);
    assert!(metrics.contains("linedns_admin_refused_total "), "{metrics}");
    let refused: f64 = samples(&metrics)["linedns_admin_refused_total"];
    assert!(refused >= 2.0, "the no-cors POSTs (and the JSON one's preflight) were refused: {refused}");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `server.metrics.listen`: a second listener that answers `GET` and `HEAD /metrics` and
/// nothing else (no status, no API, no change), for scraping from other hosts.
#[test]
fn the_metrics_only_listener_serves_metrics_and_nothing_else() {
    common::tools::require(&["curl"]);
    let dir = common::server::test_dir("metrics-only");
    let port = common::secondaries::free_port();
    let rules = common::server::rules_with(&dir, &format!("  metrics: {{ listen: \"127.0.0.1:{port}\" }}\n"));
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let metrics = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(server.log().contains(&format!("metrics only {metrics}")), "{}", server.log());
    let (code, text) = curl(&[&url(metrics, "/metrics")]);
    assert_eq!(code, 200);
    assert!(text.contains("linedns_queries_total"), "{text}");
    // A foreign Host is fine here: there is nothing to protect but counters.
    assert_eq!(curl(&["-H", "Host: prometheus.example", &url(metrics, "/metrics")]).0, 200);
    assert_eq!(curl(&["-I", &url(metrics, "/metrics")]).0, 200);
    for path in ["/", "/status", "/overrides", "/explain?ip=198.51.100.9"] {
        assert_eq!(curl(&[&url(metrics, path)]).0, 404, "{path}");
    }
    let drain = r#"{"target":{"line":"telecom"},"state":"drained","who":"x","why":"y"}"#;
    let post = ["-X", "POST", "-H", "Content-Type: application/json", "-d", drain];
    assert_eq!(curl(&[&post[..], &[&url(metrics, "/overrides")]].concat()).0, 404);
    assert_eq!(curl(&[&post[..], &[&url(metrics, "/metrics")]].concat()).0, 405);
    // The API is where it was.
    assert_eq!(curl(&[&url(server.admin, "/status")]).0, 200);
    assert_eq!(override_count(server.admin), 0);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
