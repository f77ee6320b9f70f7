//! Key rollover on a shortened timetable (TTLs of 2 s, a propagation delay of 1 s) while
//! a real validating resolver keeps asking: a ZSK roll started by the key's lifetime
//! (pre-publish) and a CSK roll started with `linedns keys roll --ksk`, carried through
//! the parent by CDS (the test plays the registrar: it copies the child's CDS into the
//! parent's DS), with no validation failure at any step. linedns serves the parent
//! `test.` too; Unbound trusts the parent's key only. Unbound retries a failed
//! validation with fresh keys, which hides a roll that is too fast; so what linedns
//! serves is also sampled directly and checked against a validator that caches every
//! set for its TTL.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::resolver::start_unbound;
use common::secondaries::free_port;
use common::server::{RunningServer, dig};
use common::tools::{require, tool};
use linedns::wire::dnssec;

/// The rules: the parent `test.`, the child `zsk.test.` (KSK + ZSK, the ZSK rolling every
/// 8 s) and the child `csk.test.` (a CSK, Ed25519), their DS in the parent from
/// `ds_zsk` and `ds_csk`.
fn rules(port: u16, ds_zsk: &[String], ds_csk: &[String]) -> String {
    let quoted = |ds: &[String]| ds.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
    let child = |origin: &str, dnssec: &str| {
        format!(
            "  - origin: {origin}\n    ttl: 2\n    soa: {{ mname: ns1.test., rname: hostmaster, serial: 1, minimum: 2 }}\n    ns: [ns1.test.]\n    dnssec: {{ dnskey_ttl: 2, propagation_delay: 1, {dnssec} }}\n    records:\n      - {{ name: static, type: A, values: 192.0.2.80 }}\n    line_records:\n      - {{ name: www, type: A, ttl: 2, pools: {{ telecom: [192.0.2.1], default: [192.0.2.101] }} }}\n"
        )
    };
    format!(
        "version: 1\nserver:\n  state_dir: state\nlines:\n  - name: telecom\n    sources: [{{ cidr: [198.51.100.0/24] }}]\nzones:\n  - origin: test\n    ttl: 2\n    soa: {{ mname: ns1, rname: hostmaster, serial: 1, minimum: 2 }}\n    ns: [ns1]\n    dnssec: {{ dnskey_ttl: 2, zsk_lifetime: 0 }}\n    records:\n      - {{ name: ns1, type: A, values: 192.0.2.53 }}\n      - {{ name: zsk, type: NS, values: ns1.test. }}\n      - {{ name: zsk, type: DS, ttl: 2, values: [{}] }}\n      - {{ name: csk, type: NS, values: ns1.test. }}\n      - {{ name: csk, type: DS, ttl: 2, values: [{}] }}\n{}{}",
        quoted(ds_zsk),
        quoted(ds_csk),
        child("zsk.test", "zsk_lifetime: 8"),
        child("csk.test", &format!("ksk_lifetime: 0, parent: [\"127.0.0.1:{port}\"]")),
    )
}

fn linedns(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_linedns")).args(args).output().expect("run linedns")
}

/// The DS data (`TAG ALG TYPE DIGEST`) of a keygen's output for `zone`.
fn ds_of(output: &str, zone: &str) -> Vec<String> {
    let prefix = format!("{zone}. IN DS ");
    output.lines().filter_map(|l| l.trim().strip_prefix(&prefix)).map(str::to_string).collect()
}

/// The CDS records `server` publishes for `zone`, as DS data.
fn cds(server: SocketAddr, zone: &str) -> Vec<String> {
    let out = dig(server, &[zone, "CDS", "+norec"]);
    let mut data: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(';') && l.contains("\tCDS\t"))
        .map(|l| l.split("\tCDS\t").nth(1).unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    data.sort();
    data
}

/// Files in a zone's `retired/` key directory.
fn retired(dir: &Path, zone: &str) -> usize {
    std::fs::read_dir(dir.join("state/keys").join(zone).join("retired")).map_or(0, |d| d.count()) / 2
}

/// What linedns served at one moment, asked directly: per zone, the DNSKEY set's key
/// tags, and the tags of the RRSIGs over the DNSKEY set and over the data; the parent's
/// DS tags of `csk.test`.
#[derive(Debug, Default)]
struct Sample {
    at: f64,
    dnskey: BTreeMap<&'static str, BTreeSet<u16>>,
    key_sigs: BTreeMap<&'static str, BTreeSet<u16>>,
    data_sigs: BTreeMap<&'static str, BTreeSet<u16>>,
    parent_ds: BTreeSet<u16>,
}

/// The key tags of the DNSKEY records and of the RRSIGs of `covered` in kdig's output.
fn tags(out: &str, covered: &str) -> (BTreeSet<u16>, BTreeSet<u16>) {
    let (mut keys, mut sigs) = (BTreeSet::new(), BTreeSet::new());
    for line in out.lines().filter(|l| !l.starts_with(';')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 7 && f[3] == "DNSKEY" {
            let public = data_encoding::BASE64.decode(f[7..].concat().as_bytes()).unwrap();
            let rdata = dnssec::dnskey_rdata(f[4].parse().unwrap(), f[6].parse().unwrap(), &public);
            keys.insert(dnssec::key_tag(&rdata));
        }
        if f.len() > 10 && f[3] == "RRSIG" && f[4] == covered {
            sigs.insert(f[10].parse().unwrap());
        }
        if f.len() > 4 && f[3] == "DS" {
            keys.insert(f[4].parse().unwrap());
        }
    }
    (keys, sigs)
}

fn sample(server: SocketAddr, at: f64) -> Sample {
    let mut s = Sample { at, ..Sample::default() };
    for zone in ["zsk.test", "csk.test"] {
        let (keys, key_sigs) = tags(&dig(server, &[zone, "DNSKEY", "+dnssec", "+norec"]), "DNSKEY");
        let www = format!("www.{zone}");
        let (_, data_sigs) = tags(&dig(server, &[&www, "A", "+dnssec", "+norec"]), "A");
        s.dnskey.insert(zone, keys);
        s.key_sigs.insert(zone, key_sigs);
        s.data_sigs.insert(zone, data_sigs);
    }
    s.parent_ds = tags(&dig(server, &["csk.test", "DS", "+dnssec", "+norec"]), "DS").0;
    s
}

/// What a validator whose caches hold each set for its TTL would find wrong in
/// `samples` (TTLs of 2 s; `slack` for the sampling's own step):
/// a signature by a key not in every DNSKEY set of the TTL before it (a cache holding
/// an older set could not check it); a key leaving the DNSKEY set within a TTL of its
/// last signature (a cached signature would lose its key); a DNSKEY set whose signers
/// have no DS in every parent DS set of the TTL before it.
fn cache_model_violations(samples: &[Sample]) -> Vec<String> {
    const TTL: f64 = 2.0;
    const SLACK: f64 = 0.6;
    let mut found = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let window = || samples[..=i].iter().filter(|o| o.at >= s.at - TTL + SLACK);
        for zone in ["zsk.test", "csk.test"] {
            for tag in s.data_sigs[zone].iter().chain(&s.key_sigs[zone]) {
                if let Some(o) = window().find(|o| !o.dnskey[zone].contains(tag)) {
                    found.push(format!(
                        "{:.2}s {zone}: key {tag} signs, but the DNSKEY set at {:.2}s lacks it",
                        s.at, o.at
                    ));
                }
            }
        }
        let signers = &s.key_sigs["csk.test"];
        if let Some(o) = window().find(|o| o.parent_ds.is_disjoint(signers)) {
            found.push(format!(
                "{:.2}s csk.test: DNSKEY signed by {signers:?}, the parent's DS at {:.2}s is {:?}",
                s.at, o.at, o.parent_ds
            ));
        }
    }
    for zone in ["zsk.test", "csk.test"] {
        let all: BTreeSet<u16> = samples.iter().flat_map(|s| s.dnskey[zone].iter().copied()).collect();
        for tag in all {
            let last_sig = samples
                .iter()
                .filter(|s| s.data_sigs[zone].contains(&tag) || s.key_sigs[zone].contains(&tag))
                .map(|s| s.at)
                .fold(f64::NAN, f64::max);
            let seen = samples.iter().position(|s| s.dnskey[zone].contains(&tag));
            let gone = seen.and_then(|i| samples[i..].iter().find(|s| !s.dnskey[zone].contains(&tag))).map(|s| s.at);
            if let Some(gone) = gone
                && gone - last_sig < TTL - SLACK
            {
                found.push(format!(
                    "{zone}: key {tag} left the DNSKEY set at {gone:.2}s, {:.2}s after its last signature",
                    gone - last_sig
                ));
            }
        }
    }
    found
}

#[test]
fn a_zsk_roll_and_a_csk_roll_through_the_parent_never_fail_validation() {
    require(&["kdig", "unbound", "curl", "promtool"]);
    let dir = std::env::temp_dir().join(format!("linedns-rollover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules_path = dir.join("rules.yaml");
    let rules_arg = rules_path.to_str().unwrap().to_string();
    let port = free_port();
    let placeholder = vec!["1 13 2 00".to_string()];
    std::fs::write(&rules_path, rules(port, &placeholder, &placeholder)).unwrap();
    let keygen = |zone: &str, extra: &[&str]| {
        let mut args = vec!["keygen", "-c", &rules_arg, zone];
        args.extend_from_slice(extra);
        let out = linedns(&args);
        assert!(out.status.success(), "keygen {zone}: {}", String::from_utf8_lossy(&out.stderr));
        ds_of(&String::from_utf8_lossy(&out.stdout), zone)
    };
    let parent_ds = keygen("test", &[]);
    let ds_zsk = keygen("zsk.test", &["--split"]);
    let mut ds_csk = keygen("csk.test", &["--algorithm", "ed25519"]);
    std::fs::write(&rules_path, rules(port, &ds_zsk, &ds_csk)).unwrap();
    let server = RunningServer::start(&rules_arg, &[&format!("127.0.0.1:{port}")]);
    let ours = server.addrs[0];
    let anchors: Vec<String> = parent_ds.iter().map(|d| format!("test. DS {d}")).collect();
    // Unbound answers `test.` itself (RFC 6761) unless told not to.
    let unbound = start_unbound(&dir.join("unbound"), "test", ours, &anchors, "  local-zone: \"test.\" nodefault\n");
    let resolver = unbound.addr;

    // The resolver's questions, asked over and over: each must validate (AD) every time.
    let questions: [(&str, &str, &str); 6] = [
        ("www.zsk.test", "A", "NOERROR"),
        ("www.csk.test", "A", "NOERROR"),
        ("static.csk.test", "A", "NOERROR"),
        ("nope.zsk.test", "A", "NXDOMAIN"),
        ("nope.csk.test", "TXT", "NXDOMAIN"),
        ("static.zsk.test", "TXT", "NOERROR"),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    // Straight from linedns, every quarter second: what caches would be built from.
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let sampler = {
        let (stop, samples) = (stop.clone(), samples.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                let taken = sample(ours, started.elapsed().as_secs_f64());
                samples.lock().unwrap().push(taken);
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let rounds = Arc::new(Mutex::new(0u32));
    let asker = {
        let (stop, failures, rounds) = (stop.clone(), failures.clone(), rounds.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                for (name, rtype, want) in questions {
                    let out = dig(resolver, &[name, rtype, "+dnssec"]);
                    let status = out.split("status: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("none");
                    let flags = out.split(";; Flags: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("");
                    if status != want || !flags.split(' ').any(|f| f == "ad") {
                        let at = started.elapsed().as_secs_f32();
                        failures.lock().unwrap().push(format!("{at:.1}s {name} {rtype}: {status} [{flags}]\n{out}"));
                    }
                }
                *rounds.lock().unwrap() += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };

    // Let the resolver validate the first keys, then roll the CSK by hand.
    std::thread::sleep(Duration::from_secs(2));
    let rolled = linedns(&["keys", "roll", "-c", &rules_arg, "csk.test", "--ksk"]);
    assert!(rolled.status.success(), "keys roll: {}", String::from_utf8_lossy(&rolled.stderr));
    let said = String::from_utf8_lossy(&rolled.stdout);
    assert!(said.contains("CSK roll: new key") && said.contains("replaces key"), "{said}");
    // A second roll while this one is under way is refused.
    let again = linedns(&["keys", "roll", "-c", &rules_arg, "csk.test", "--ksk"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("under way"));
    // The registrar: whenever the child's CDS differs from the parent's DS, the parent
    // takes it (the rules' DS, reloaded), until both rolls have retired a key.
    let deadline = Instant::now() + Duration::from_secs(60);
    while retired(&dir, "zsk.test") < 1 || retired(&dir, "csk.test") < 1 {
        assert!(
            Instant::now() < deadline,
            "the rolls did not finish in 60 s:\n{}\n{}",
            String::from_utf8_lossy(&linedns(&["keys", "status", "-c", &rules_arg]).stdout),
            server.log()
        );
        let published = cds(ours, "csk.test");
        let mut parent = ds_csk.clone();
        parent.sort();
        if !published.is_empty() && published != parent {
            ds_csk = published;
            std::fs::write(&rules_path, rules(port, &ds_zsk, &ds_csk)).unwrap();
            assert_eq!(common::admin::reload(server.admin, None), 200);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // A few more rounds on the new keys alone.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    asker.join().unwrap();
    sampler.join().unwrap();
    let samples = samples.lock().unwrap();
    let violations = cache_model_violations(&samples);
    assert!(
        violations.is_empty(),
        "{} steps a caching validator would fail on:\n{}",
        violations.len(),
        violations.join("\n")
    );
    let failures = failures.lock().unwrap();
    let rounds = *rounds.lock().unwrap();
    assert!(rounds >= 10, "only {rounds} rounds of questions");
    assert!(
        failures.is_empty(),
        "{} failures in {rounds} rounds:\n{}\n{}",
        failures.len(),
        failures.join("\n"),
        server.log()
    );
    let log = server.log();
    for step in ["ZSK roll: new ZSK", "waiting for the parent", "the parent serves the new DS", "left the DNSKEY set"] {
        assert!(log.contains(step), "the log shows {step:?}:\n{log}");
    }
    // The steps are counted, each key's state shown, and promtool reads it all.
    let metrics = tool("curl").args(["-s", &format!("http://{}/metrics", server.admin)]).output().unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    for want in [
        "linedns_dnssec_rollover_steps_total{zone=\"zsk.test\",step=\"zsk-roll-started\"}",
        "linedns_dnssec_rollover_steps_total{zone=\"csk.test\",step=\"ds-seen\"} 1",
        "linedns_dnssec_rollover_steps_total{zone=\"csk.test\",step=\"key-retired\"} 1",
        "linedns_dnssec_key{zone=\"csk.test\",tag=",
    ] {
        assert!(metrics.contains(want), "{want} in:\n{metrics}");
    }
    let mut promtool = tool("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    promtool.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(checked.status.success(), "promtool: {}", String::from_utf8_lossy(&checked.stderr));
    let status =
        String::from_utf8_lossy(&linedns(&["keys", "status", "-c", &rules_arg, "csk.test"]).stdout).to_string();
    assert!(status.contains("CSK") && status.contains("active, in CDS"), "{status}");
    drop(unbound);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
