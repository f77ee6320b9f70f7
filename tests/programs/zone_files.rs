//! Zones kept where operators keep them: a BIND master file served by linedns answers
//! as BIND 9 answers from the same file (every name and type, compared with kdig), line
//! records go on top, bad files are errors naming file:line and keep the old data
//! serving, and `linedns import` gives rules that answer the same.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::secondaries::{free_port, start_bind_primary};
use common::server::{RunningServer, answers, dig};
use common::tools::{require, tool};

const ORIGIN: &str = "example.org";
const FIXTURES: [&str; 4] = ["example.org.zone", "example.org.hosts", "example.org.sub", "example.org.types"];

/// A scratch directory holding a copy of the zone file fixtures.
fn zone_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("linedns-zone-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in FIXTURES {
        std::fs::copy(common::repo_path(&format!("tests/data/zones/{file}")), dir.join(file)).unwrap();
    }
    dir
}

/// Rules serving the zone from `file`, with `extra` YAML under the zone.
fn file_rules(dir: &Path, file: &Path, extra: &str) -> PathBuf {
    let rules = dir.join("rules.yaml");
    let text = format!(
        "version: 1\nlines:\n  - name: telecom\n    sources: [{{ cidr: [198.51.100.0/25] }}]\n  - name: unicom\n    sources: [{{ cidr: [198.51.100.128/25] }}]\nzones:\n  - origin: {ORIGIN}\n    file: {}\n{extra}",
        file.display()
    );
    std::fs::write(&rules, text).unwrap();
    rules
}

/// What a client sees of one answer: status, AA, and the answer, authority and additional sections,
/// each sorted (the order of records in a set is not part of the answer).
fn view(addr: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> String {
    let mut args = vec![name, rtype, "+norec"];
    args.extend_from_slice(extra);
    // Under a loaded CI machine a server can miss kdig's 2 s wait; a client would ask
    // again, and so does this (three tries), so that only a wrong answer is a failure.
    let mut out = String::new();
    for _ in 0..3 {
        out = dig(addr, &args);
        if out.contains("status: ") {
            break;
        }
    }
    let status = out.split("status: ").nth(1).and_then(|s| s.split(';').next());
    let status = status.unwrap_or_else(|| panic!("no answer from {addr} to {name} {rtype} in three tries:\n{out}"));
    let flags = out.split(";; Flags: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("none");
    let mut sections: Vec<String> = Vec::new();
    for section in ["ANSWER", "AUTHORITY", "ADDITIONAL"] {
        let mut records: Vec<&str> = out
            .split(&format!(";; {section} SECTION:"))
            .nth(1)
            .unwrap_or("")
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty() && !l.starts_with(";;"))
            .collect();
        records.sort();
        sections.push(format!("{section}:\n{}", records.join("\n")));
    }
    format!("{status} [{flags}]\n{}", sections.join("\n"))
}

/// Every (owner, type) of the zone as BIND reads the file (`named-compilezone`), then
/// the questions no record answers directly: a missing name, a missing type, a wildcard,
/// an empty non-terminal, a name below a delegation, DS at the cut, a CNAME to follow.
fn questions(dir: &Path) -> Vec<(String, String)> {
    let out = tool("named-compilezone")
        .current_dir(dir)
        .args(["-q", "-s", "full", "-o", "-", ORIGIN, "example.org.zone"])
        .output()
        .expect("run named-compilezone");
    assert!(out.status.success(), "named-compilezone: {}", String::from_utf8_lossy(&out.stderr));
    let mut asked: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4).then(|| (f[0].to_string(), f[3].to_string()))
        })
        .collect();
    asked.sort();
    asked.dedup();
    assert!(asked.len() > 45, "named-compilezone listed {} sets", asked.len());
    for (name, rtype) in [
        ("nope.example.org.", "A"),
        ("www.example.org.", "MX"),
        ("a.b.wild.example.org.", "TXT"),
        ("a.wild.example.org.", "MX"),
        ("deep.sub.example.org.", "A"),
        ("x.child.example.org.", "A"),
        ("child.example.org.", "DS"),
        ("ftp.example.org.", "A"),
        ("ftp.example.org.", "TXT"),
        ("signed.example.org.", "RRSIG"),
        // RFC 2317 §4: the CNAME followed into the classless delegation, and a name below it.
        ("1.rev.example.org.", "PTR"),
        ("1.0/25.rev.example.org.", "PTR"),
        ("a\\.b.esc.example.org.", "A"),
    ] {
        asked.push((name.into(), rtype.into()));
    }
    asked
}

/// Asks both servers every question; returns the ones answered differently.
fn differences(ours: SocketAddr, bind: SocketAddr, asked: &[(String, String)], extra: &[&str]) -> Vec<String> {
    asked
        .iter()
        .filter_map(|(name, rtype)| {
            let (a, b) = (view(ours, name, rtype, extra), view(bind, name, rtype, extra));
            (a != b).then(|| format!("{name} {rtype}:\nlinedns: {a}\nBIND:    {b}"))
        })
        .collect()
}

/// The records of an AXFR of the zone from `server`, one per line, sorted (the SOA once).
fn axfr(server: SocketAddr) -> Vec<String> {
    let out = dig(server, &[ORIGIN, "AXFR"]);
    assert!(!out.contains("failed") && out.contains("SOA"), "AXFR from {server}:\n{out}");
    let mut records: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    records.sort();
    records.dedup();
    records
}

/// The `linedns` binary built for the tests.
fn linedns() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
}

/// The 1-based line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("the fixture holds it") + 1
}

fn start_bind(dir: &Path) -> common::secondaries::Secondary {
    let port = free_port();
    let bind = start_bind_primary(dir, ORIGIN, "example.org.zone", port, None, None, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dig(bind.addr, &[ORIGIN, "SOA"]).contains("status: NOERROR") {
        assert!(Instant::now() < deadline, "named did not start:\n{}", bind.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    bind
}

#[test]
fn a_bind_zone_file_answers_as_bind_answers_it_and_import_gives_the_same() {
    require(&["kdig", "named", "named-compilezone"]);
    let dir = zone_dir("compare");
    // BIND reads a copy in its own directory; linedns the one beside its rules.
    std::fs::create_dir_all(dir.join("bind")).unwrap();
    for file in FIXTURES {
        std::fs::copy(dir.join(file), dir.join("bind").join(file)).unwrap();
    }
    let bind = start_bind(&dir.join("bind"));
    let asked = questions(&dir);
    let rules = file_rules(&dir, &dir.join("example.org.zone"), "");
    let server = RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let ours = server.addrs[0];
    let differ = differences(ours, bind.addr, &asked, &[]);
    assert!(differ.is_empty(), "{} of {} answers differ:\n{}", differ.len(), asked.len(), differ.join("\n\n"));
    // Over TCP too (the large DNSKEY and TXT sets, and a referral).
    let tcp: Vec<(String, String)> =
        asked.iter().filter(|(n, _)| n.starts_with("signed") || n.starts_with("child")).cloned().collect();
    let differ = differences(ours, bind.addr, &tcp, &["+tcp"]);
    assert!(differ.is_empty(), "over TCP:\n{}", differ.join("\n\n"));
    // explain names the file and line each static set was read from.
    let explain = linedns()
        .args(["explain", "-c", rules.to_str().unwrap(), "192.0.2.1", "host.example.org", "SSHFP"])
        .output()
        .unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    let sshfp_line = line_of(&std::fs::read_to_string(dir.join("example.org.zone")).unwrap(), "SSHFP 1 1");
    let want = format!("source   SSHFP: {}:{sshfp_line}", dir.join("example.org.zone").display());
    assert!(explain.contains(&want), "{want:?} in:\n{explain}");
    server.stop();

    // A transfer out holds the same records as BIND's (RFC 2317's names among them).
    let transfer_rules = dir.join("transfer.yaml");
    let text = std::fs::read_to_string(&rules).unwrap().replacen(
        "version: 1\n",
        "version: 1\nserver:\n  state_dir: state\ntransfers:\n  - { name: local, allow: [127.0.0.1] }\n",
        1,
    );
    std::fs::write(&transfer_rules, text).unwrap();
    let server = RunningServer::start(transfer_rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let (ours, theirs) = (axfr(server.addrs[0]), axfr(bind.addr));
    assert!(ours.iter().any(|r| r.starts_with("0/25.rev.example.org.")), "{ours:#?}");
    assert_eq!(ours, theirs, "AXFR from linedns, then from BIND");
    server.stop();

    // `linedns import` prints rules that answer the same.
    let imported = linedns().args(["import"]).arg(dir.join("example.org.zone")).output().unwrap();
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let text = String::from_utf8(imported.stdout).unwrap();
    assert!(text.contains("type: \"SSHFP\"") && text.contains("type: \"TYPE65534\""), "{text}");
    let imported_rules = dir.join("imported.yaml");
    std::fs::write(&imported_rules, text).unwrap();
    let server = RunningServer::start(imported_rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let differ = differences(server.addrs[0], bind.addr, &asked, &[]);
    assert!(differ.is_empty(), "imported rules: {} answers differ:\n{}", differ.len(), differ.join("\n\n"));
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn line_records_answer_on_top_of_the_file() {
    require(&["kdig"]);
    let dir = zone_dir("on-top");
    let file = dir.join("example.org.zone");
    let top = "    line_records:\n      - name: www\n        type: A\n        replace: true\n        ttl: 60\n        pools:\n          telecom: [203.0.113.1]\n          unicom: [203.0.113.2]\n          default: [203.0.113.9]\n";
    let rules = file_rules(&dir, &file, top);
    let server = RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    for (subnet, want) in
        [("198.51.100.0/25", "203.0.113.1"), ("198.51.100.128/25", "203.0.113.2"), ("8.8.8.0/24", "203.0.113.9")]
    {
        let out = dig(addr, &["www.example.org", "A", &format!("+subnet={subnet}")]);
        assert_eq!(answers(&out), [want], "{subnet}:\n{out}");
    }
    // Everything else as the file says: www's other types, and a CNAME to www.
    assert_eq!(answers(&dig(addr, &["www.example.org", "AAAA"])), ["2001:db8::80"]);
    assert!(dig(addr, &["www.example.org", "TXT"]).contains("\"www text\""));
    let ftp = dig(addr, &["ftp.example.org", "A", "+subnet=198.51.100.128/25"]);
    assert!(ftp.contains("CNAME\twww.example.org.") && ftp.contains("203.0.113.2"), "{ftp}");
    assert_eq!(answers(&dig(addr, &["db.example.org", "A"])), ["192.0.2.150"], "from the $INCLUDE");
    server.stop();

    // Without `replace`, a set in both is an error naming both places.
    let rules = file_rules(&dir, &file, &top.replace("        replace: true\n", ""));
    let out = linedns().args(["check-config"]).arg(&rules).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    let www_line = line_of(&std::fs::read_to_string(&file).unwrap(), "www     IN  A");
    let both = [format!("example.org.zone:{www_line}"), "rules.yaml:".into(), "replace: true".into()];
    assert!(both.iter().all(|w| err.contains(w.as_str())), "{both:?} in: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_zone_files_are_errors_at_file_and_line_and_the_old_data_keeps_serving() {
    require(&["kdig"]);
    let dir = zone_dir("bad");
    let file = dir.join("example.org.zone");
    let good = std::fs::read_to_string(&file).unwrap();
    // The watch on (it is off by default): a fix goes live without a signal.
    let rules = file_rules(&dir, &file, "server:\n  watch: true\n");
    let check = |text: &str| {
        std::fs::write(&file, text).unwrap();
        let out = linedns().args(["check-config"]).arg(&rules).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Each bad line goes after the hosts' `mail` record.
    let cases = [
        ("broken IN A 192.0.2", "expected IPv4 address"),
        ("broken IN BOGUS 1 2 3", "unknown record type"),
        ("broken.example.net. IN A 192.0.2.1", "outside the zone"),
        ("ftp IN TXT \"beside a CNAME\"", "example.org.zone:30) and TXT data ("),
        ("broken IN TXT \"unterminated", "bad text"),
    ];
    for (bad, says) in cases {
        let text = good.replace("www     IN  A   192.0.2.80", &format!("{bad}\nwww     IN  A   192.0.2.80"));
        let line = line_of(&text, bad);
        let err = check(&text);
        assert!(err.contains(says), "{bad:?}: {err}");
        // The scanner's own errors point at the end of the bad text: the line, or the next.
        // A CNAME conflict names the first of the name's records.
        let at = [format!("example.org.zone:{line}:"), format!("example.org.zone:{}:", line + 1)];
        assert!(at.iter().any(|w| err.contains(w.as_str())), "{bad:?} not placed at {at:?}: {err}");
    }
    // Served, then broken: the reload fails, names the place, and the old data stays.
    std::fs::write(&file, &good).unwrap();
    let server = RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    assert_eq!(answers(&dig(addr, &["mail.example.org", "A"])), ["192.0.2.25"]);
    std::fs::write(&file, good.replace("mail    300 IN A 192.0.2.25", "mail    300 IN A 192.0.2")).unwrap();
    tool("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("expected IPv4 address") {
        assert!(Instant::now() < deadline, "no reload error logged:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.log().contains("example.org.zone:"), "{}", server.log());
    assert_eq!(answers(&dig(addr, &["mail.example.org", "A"])), ["192.0.2.25"], "the old data serves");
    // Fixed in place: the watch reloads it without a signal, an $INCLUDE's change too.
    std::fs::write(&file, good.replace("mail    300 IN A 192.0.2.25", "mail    300 IN A 192.0.2.26")).unwrap();
    let hosts = dir.join("example.org.hosts");
    let hosts_text = std::fs::read_to_string(&hosts).unwrap();
    std::fs::write(&hosts, hosts_text.replace("192.0.2.150", "192.0.2.152")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while answers(&dig(addr, &["mail.example.org", "A"])) != ["192.0.2.26"]
        || answers(&dig(addr, &["db.example.org", "A"])) != ["192.0.2.152"]
    {
        assert!(Instant::now() < deadline, "the changed files were not reloaded:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends an unsigned NOTIFY for the zone to `server` and returns the answer's flags.
fn unsigned_notify(server: SocketAddr) -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // ID 0x4e54, opcode NOTIFY with AA, one question: example.org SOA IN.
    let mut message = vec![0x4e, 0x54, 4 << 3 | 0x04, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    message.extend_from_slice(b"\x07example\x03org\x00\x00\x06\x00\x01");
    socket.send_to(&message, server).unwrap();
    let mut answer = [0u8; 512];
    let n = socket.recv(&mut answer).expect("an answer to the NOTIFY");
    assert!(n >= 12 && answer[..2] == [0x4e, 0x54] && answer[2] & 0x80 != 0, "{:?}", &answer[..n]);
    assert_eq!((answer[2] >> 3) & 0x0f, 4, "the answer echoes opcode NOTIFY");
    u16::from_be_bytes([answer[2], answer[3]])
}

/// `/metrics` of the admin API at `admin`.
fn metrics(admin: SocketAddr) -> String {
    let out = tool("curl").args(["-s", &format!("http://{admin}/metrics")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits up to `within` for `check` to hold, polling every 50 ms; how long it took.
fn wait_for(within: Duration, what: &str, mut check: impl FnMut() -> bool, log: impl Fn() -> String) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what} not within {within:?}:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

#[test]
fn a_hidden_bind_primary_is_followed_by_ixfr_within_a_second_and_its_copy_outlives_it() {
    require(&["kdig", "named", "rndc", "curl"]);
    let dir = zone_dir("hidden-primary");
    let bind_dir = dir.join("bind");
    std::fs::create_dir_all(&bind_dir).unwrap();
    for file in FIXTURES {
        std::fs::copy(dir.join(file), bind_dir.join(file)).unwrap();
    }
    let (key_name, secret) = ("hidden-primary", "6lA5wlwH/8HgpVNwzbxVpX5ZTOXYvfzMFRaTBQlShu4=");
    let (bind_port, rndc_port, our_port) = (free_port(), free_port(), free_port());
    let ours: SocketAddr = ([127, 0, 0, 1], our_port).into();
    let start_bind = || {
        start_bind_primary(
            &bind_dir,
            ORIGIN,
            "example.org.zone",
            bind_port,
            Some((key_name, secret)),
            Some(ours),
            rndc_port,
        )
    };
    let bind = start_bind();
    let bind_addr = bind.addr;
    wait_for(
        Duration::from_secs(20),
        "named answering",
        || {
            dig(bind_addr, &[ORIGIN, "SOA", "-y", &format!("hmac-sha256:{key_name}:{secret}")])
                .contains("status: NOERROR")
        },
        || bind.log(),
    );
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "version: 1\nserver:\n  state_dir: state\nkeys:\n  {key_name}: {{ algorithm: hmac-sha256, secret: \"{secret}\" }}\nzones:\n  - origin: {ORIGIN}\n    primary: {{ servers: [\"{bind_addr}\"], key: {key_name} }}\n    line_records:\n      - {{ name: www, type: A, replace: true, pools: {{ default: [203.0.113.9] }} }}\n"
        ),
    )
    .unwrap();
    let listen = ours.to_string();
    let server = RunningServer::start(rules.to_str().unwrap(), &[&listen]);
    // Transferred at start (AXFR: there is no copy yet); line records on top.
    wait_for(
        Duration::from_secs(10),
        "the first transfer",
        || dig(ours, &["host.example.org", "SSHFP"]).contains("SSHFP\t1 1"),
        || server.log(),
    );
    assert!(server.log().contains("transferred from") && server.log().contains("by AXFR"), "{}", server.log());
    assert_eq!(answers(&dig(ours, &["www.example.org", "A"])), ["203.0.113.9"]);
    assert_eq!(answers(&dig(ours, &["mail.example.org", "A"])), ["192.0.2.25"]);

    // A change on the primary: a new serial, one address, and short SOA timers (refresh
    // 2 s, retry 1 s, expire 8 s) for the expiry below. `rndc reload` makes BIND keep the
    // difference (and NOTIFY us, in its own time); once it serves the new serial, `rndc
    // notify` tells us at once, and we serve the change within a second.
    let zone_file = bind_dir.join("example.org.zone");
    let text = std::fs::read_to_string(&zone_file).unwrap();
    let changed = text
        .replace("2026120101 ; serial", "2026120102 ; serial")
        .replace("7200       ; refresh", "2 ; refresh")
        .replace("900        ; retry", "1 ; retry")
        .replace("1209600    ; expire", "8 ; expire")
        .replace("mail    300 IN A 192.0.2.25", "mail    300 IN A 192.0.2.26");
    std::fs::write(&zone_file, changed).unwrap();
    common::secondaries::rndc(&bind_dir, rndc_port, &["reload", ORIGIN]);
    wait_for(
        Duration::from_secs(10),
        "BIND loading the change",
        || dig(bind_addr, &[ORIGIN, "SOA"]).contains("2026120102"),
        || bind.log(),
    );
    let started = Instant::now();
    common::secondaries::rndc(&bind_dir, rndc_port, &["notify", ORIGIN]);
    wait_for(
        Duration::from_secs(5),
        "the change served",
        || answers(&dig(ours, &["mail.example.org", "A"])) == ["192.0.2.26"],
        || server.log(),
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "the change took {took:?} to be served:\n{}", server.log());
    assert!(server.log().contains("NOTIFY for example.org from its primary"), "{}", server.log());
    assert!(
        server.log().contains("serial 2026120102 transferred from") && server.log().contains("by IXFR"),
        "{}",
        server.log()
    );
    assert!(dig(ours, &[ORIGIN, "SOA"]).contains("2026120102"), "the primary's serial shows");
    let m = metrics(server.admin);
    assert!(m.contains("linedns_secondary_serial{zone=\"example.org\"} 2026120102"), "{m}");
    assert!(m.contains("linedns_secondary_transfers_total{zone=\"example.org\",kind=\"ixfr\"} 1"), "{m}");
    // An unsigned NOTIFY, even from the primary's address, is not acted on (NOTAUTH).
    assert_eq!(unsigned_notify(ours) & 0x0f, 9, "NOTAUTH");

    // The primary stops: the copy keeps serving, also after a restart.
    drop(bind);
    assert_eq!(answers(&dig(ours, &["mail.example.org", "A"])), ["192.0.2.26"]);
    server.stop();
    let server = RunningServer::start(rules.to_str().unwrap(), &[&listen]);
    assert_eq!(
        answers(&dig(ours, &["mail.example.org", "A"])),
        ["192.0.2.26"],
        "from the disk copy:\n{}",
        server.log()
    );
    assert!(dig(ours, &[ORIGIN, "SOA"]).contains("2026120102"));
    let explain =
        linedns().args(["explain", "-c", rules.to_str().unwrap(), "192.0.2.1", "mail.example.org"]).output().unwrap();
    let explain = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.contains(&format!("source   A: transferred from {bind_addr} at serial 2026120102")), "{explain}");

    // Past the SOA expire time with no primary: SERVFAIL for the zone, logged, in metrics.
    wait_for(
        Duration::from_secs(15),
        "the expiry",
        || dig(ours, &["mail.example.org", "A"]).contains("status: SERVFAIL"),
        || server.log(),
    );
    assert!(server.log().contains("zone example.org: EXPIRED"), "{}", server.log());
    assert!(metrics(server.admin).contains("linedns_secondary_expired{zone=\"example.org\"} 1"));
    // The primary back: transferred again, served again.
    let bind = start_bind();
    wait_for(
        Duration::from_secs(10),
        "the zone served again",
        || dig(ours, &["mail.example.org", "A"]).contains("status: NOERROR"),
        || format!("{}\n{}", server.log(), bind.log()),
    );
    assert!(metrics(server.admin).contains("linedns_secondary_expired{zone=\"example.org\"} 0"));
    server.stop();
    drop(bind);
    let _ = std::fs::remove_dir_all(&dir);
}
