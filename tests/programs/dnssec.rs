//! DNSSEC as a validating resolver sees it: Unbound, with the zone's DS as its trust
//! anchor, in front of linedns on loopback, gets every line's answer (by ECS), NXDOMAIN,
//! NODATA, a wildcard's answer, a CNAME, an empty non-terminal and an insecure
//! delegation with the AD bit, and SERVFAIL for an answer a responder in the middle
//! altered. The keys are made by `linedns keygen`, or by BIND's `dnssec-keygen` and
//! imported. Missing, unreadable and mismatched key files are errors naming them.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::resolver::{Tamper, start_unbound};
use common::secondaries::start_secondary;
use common::server::{RunningServer, answers, dig};
use common::tools::{require, tool};

const ZONE: &str = "example.com";

/// The rules of the signed zone (state in `state/`, beside them), `dnssec` its block.
fn rules_text(dnssec: &str) -> String {
    format!(
        r#"version: 1
server:
  state_dir: state
lines:
  - name: telecom
    sources: [{{ cidr: [198.51.100.0/24] }}]
  - name: unicom
    sources: [{{ cidr: [203.0.113.0/24] }}]
zones:
  - origin: {ZONE}
    ttl: 300
    soa: {{ mname: ns1, rname: hostmaster, serial: 2026120201, minimum: 60 }}
    ns: [ns1]
    dnssec: {dnssec}
    records:
      - {{ name: ns1, type: A, values: 192.0.2.53 }}
      - {{ name: static, type: A, values: 192.0.2.80 }}
      - {{ name: static, type: MX, values: "10 mail.example.net." }}
      - {{ name: alias, type: CNAME, values: www }}
      - {{ name: "*.wild", type: TXT, values: "from the wildcard" }}
      - {{ name: a.b.ent, type: A, values: 192.0.2.9 }}
      - {{ name: child, type: NS, values: ns.child }}
      - {{ name: ns.child, type: A, values: 192.0.2.77 }}
    line_records:
      - name: www
        type: A
        ttl: 60
        pools:
          telecom: [192.0.2.1, 192.0.2.2]
          unicom: [192.0.2.21]
          default: [192.0.2.101]
"#
    )
}

/// A scratch directory holding the rules (`dnssec` block as given).
fn scratch(name: &str, dnssec: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("linedns-dnssec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, rules_text(dnssec)).unwrap();
    (dir, rules)
}

fn linedns(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_linedns")).args(args).output().expect("run linedns")
}

/// The DS records a command printed (`example.com. IN DS ...`), as trust anchors.
fn ds_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().trim_start_matches("DS").trim())
        .filter(|l| l.starts_with(&format!("{ZONE}. IN DS ")))
        .map(str::to_string)
        .collect()
}

/// Status, flags and answers of a query to the resolver (recursion desired, DO set).
fn resolve(resolver: SocketAddr, args: &[&str]) -> (String, String, Vec<String>, String) {
    let mut all = vec!["+dnssec"];
    all.extend_from_slice(args);
    let out = dig(resolver, &all);
    let status = out.split("status: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("none").to_string();
    let flags = out.split(";; Flags: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("").to_string();
    let data = answers(&out);
    (status, flags, data, out)
}

/// Asserts the resolver validated the answer: the AD bit (RFC 4035 §3.2.3) and `status`.
fn validated(resolver: SocketAddr, args: &[&str], status: &str) -> Vec<String> {
    let (got, flags, data, out) = resolve(resolver, args);
    assert_eq!(got, status, "{args:?}:\n{out}");
    assert!(flags.split(' ').any(|f| f == "ad"), "{args:?} is not validated (no AD bit):\n{out}");
    data
}

/// Every kind of answer through Unbound, `tamper_target` the static address altered on
/// its way.
fn check_through_unbound(dir: &Path, server: SocketAddr, anchors: &[String]) {
    // The responder in the middle changes static's address 192.0.2.80 to .81.
    let tamper = Tamper::start(server, vec![192, 0, 2, 80], vec![192, 0, 2, 81]);
    let unbound = start_unbound(&dir.join("unbound"), ZONE, tamper.addr, anchors, "");
    let addr = unbound.addr;
    // Each line's answer, classified by the client's ECS subnet.
    for (subnet, want) in [
        ("198.51.100.7/24", vec!["192.0.2.1", "192.0.2.2"]),
        ("203.0.113.7/24", vec!["192.0.2.21"]),
        ("192.0.2.7/24", vec!["192.0.2.101"]),
    ] {
        let data = validated(addr, &["www.example.com", "A", &format!("+subnet={subnet}")], "NOERROR");
        let addresses: Vec<&str> = data.iter().map(String::as_str).filter(|d| d.starts_with("192.")).collect();
        assert_eq!(addresses, want, "the line of {subnet}");
    }
    validated(addr, &["nope.example.com", "A"], "NXDOMAIN");
    validated(addr, &["deeper.nope.example.com", "AAAA"], "NXDOMAIN");
    assert!(validated(addr, &["static.example.com", "TXT"], "NOERROR").is_empty(), "NODATA");
    assert!(validated(addr, &["b.ent.example.com", "A"], "NOERROR").is_empty(), "an empty non-terminal");
    let wild = validated(addr, &["anything.wild.example.com", "TXT"], "NOERROR");
    assert!(wild.iter().any(|d| d.contains("wildcard")), "{wild:?}");
    assert!(validated(addr, &["other.wild.example.com", "A"], "NOERROR").is_empty(), "a wildcard's NODATA");
    let chain = validated(addr, &["alias.example.com", "A", "+subnet=203.0.113.7/24"], "NOERROR");
    assert!(chain.contains(&"www.example.com.".to_string()) && chain.contains(&"192.0.2.21".to_string()), "{chain:?}");
    assert!(validated(addr, &["child.example.com", "DS"], "NOERROR").is_empty(), "an insecure delegation");
    let keys = validated(addr, &["example.com", "DNSKEY"], "NOERROR");
    assert!(!keys.is_empty());
    validated(addr, &["static.example.com", "MX"], "NOERROR");
    // The NSEC of a name, asked for: the answer, validated.
    let nsec = validated(addr, &["static.example.com", "NSEC"], "NOERROR");
    assert!(!nsec.is_empty(), "an NSEC answer");
    // A name below the wildcard's own name: its closest encloser is `*.wild`, and the
    // proof must not deny the wildcard, which still answers afterwards (aggressive NSEC
    // caching, RFC 8198, would use a proof that covered it).
    validated(addr, &["a.*.wild.example.com", "TXT"], "NXDOMAIN");
    let wild = validated(addr, &["later.wild.example.com", "TXT"], "NOERROR");
    assert!(wild.iter().any(|d| d.contains("wildcard")), "{wild:?}");
    // The altered answer does not validate: SERVFAIL, never the forged address.
    let (status, _, data, out) = resolve(addr, &["static.example.com", "A"]);
    assert_eq!(status, "SERVFAIL", "a tampered answer must fail validation:\n{out}");
    assert!(!data.iter().any(|d| d == "192.0.2.81"), "{out}");
    drop(unbound);
    drop(tamper);
}

#[test]
fn unbound_validates_each_line_and_each_kind_of_answer_and_rejects_a_tampered_one() {
    require(&["kdig", "unbound", "curl"]);
    let (dir, rules) = scratch("keygen", "{}");
    let rules_arg = rules.to_str().unwrap();
    let made = linedns(&["keygen", "-c", rules_arg, ZONE]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let anchors = ds_lines(&String::from_utf8_lossy(&made.stdout));
    assert_eq!(anchors.len(), 1, "one CSK, one DS:\n{}", String::from_utf8_lossy(&made.stdout));
    // A second keygen refuses: the zone has keys.
    let again = linedns(&["keygen", "-c", rules_arg, ZONE]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("holds keys"));
    let status = linedns(&["keys", "status", "-c", rules_arg]);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.contains("CSK") && status.contains("active, in CDS"), "{status}");
    assert_eq!(ds_lines(&status), anchors, "keys status shows the same DS");

    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    let ours = server.addrs[0];
    // Straight from linedns: DO=0 answers carry no signature and the same ECS scope.
    let plain = dig(ours, &["www.example.com", "A", "+subnet=198.51.100.7/24", "+norec"]);
    let signed = dig(ours, &["www.example.com", "A", "+subnet=198.51.100.7/24", "+norec", "+dnssec"]);
    assert!(!plain.contains("RRSIG") && signed.contains("RRSIG\tA 13 3 60"), "{plain}\n{signed}");
    let scope = |out: &str| out.split("CLIENT-SUBNET: ").nth(1).map(|s| s.lines().next().unwrap_or("").to_string());
    assert_eq!(scope(&plain), scope(&signed), "ECS scope is the same with DO");
    assert_eq!(scope(&signed).as_deref(), Some("198.51.100.0/24/24"));
    check_through_unbound(&dir, ours, &anchors);
    // A health change (an operator forcing a telecom node down) makes a new set for that
    // line: it is signed before it is served, and validates.
    let down = r#"{"target":{"node":"192.0.2.1"},"state":"down","who":"test","why":"a new set to sign"}"#;
    let (code, body) = common::admin::call(server.admin, "POST", "/overrides", None, Some(down));
    assert_eq!(code, 200, "{body}");
    let direct = dig(ours, &["www.example.com", "A", "+subnet=198.51.100.7/24", "+norec", "+dnssec"]);
    assert!(direct.contains("RRSIG\tA") && !direct.contains("192.0.2.1\n"), "{direct}");
    let fresh = start_unbound(&dir.join("unbound-after"), ZONE, ours, &anchors, "");
    let data = validated(fresh.addr, &["www.example.com", "A", "+subnet=198.51.100.7/24"], "NOERROR");
    let addresses: Vec<&str> = data.iter().map(String::as_str).filter(|d| d.starts_with("192.")).collect();
    assert_eq!(addresses, ["192.0.2.2"], "the telecom line without its node down");
    drop(fresh);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_made_by_bind_are_imported_and_validate() {
    require(&["kdig", "unbound", "dnssec-keygen"]);
    let (dir, rules) = scratch("bind", "{}");
    let rules_arg = rules.to_str().unwrap();
    let bind_dir = dir.join("bind-keys");
    std::fs::create_dir_all(&bind_dir).unwrap();
    // A KSK and a ZSK, as an operator coming from BIND has them.
    let mut files = Vec::new();
    for extra in [&["-f", "KSK"][..], &[][..]] {
        let out = tool("dnssec-keygen")
            .current_dir(&bind_dir)
            .args(["-q", "-a", "ECDSAP256SHA256"])
            .args(extra)
            .arg(ZONE)
            .output()
            .unwrap();
        assert!(out.status.success(), "dnssec-keygen: {}", String::from_utf8_lossy(&out.stderr));
        files.push(bind_dir.join(format!("{}.key", String::from_utf8_lossy(&out.stdout).trim())));
    }
    let mut args = vec!["keys", "import", "-c", rules_arg, ZONE];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let imported = linedns(&args);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let status = String::from_utf8_lossy(&linedns(&["keys", "status", "-c", rules_arg, ZONE]).stdout).to_string();
    assert!(status.contains("KSK") && status.contains("ZSK"), "{status}");
    let anchors = ds_lines(&status);
    assert_eq!(anchors.len(), 1, "the KSK's DS:\n{status}");
    // The DS linedns prints is the one BIND's tool makes of the same key.
    let ksk = &files[0];
    let bind_ds = tool("dnssec-dsfromkey").args(["-2"]).arg(ksk).output().unwrap();
    let bind_ds = String::from_utf8_lossy(&bind_ds.stdout);
    let bind_digest = bind_ds.split_whitespace().last().unwrap_or("");
    assert!(anchors[0].ends_with(bind_digest), "{} vs {bind_ds}", anchors[0]);
    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    // The DNSKEY set is signed by the KSK only, the rest by the ZSK only.
    let keys = dig(server.addrs[0], &["example.com", "DNSKEY", "+dnssec", "+norec"]);
    assert_eq!(keys.matches("RRSIG\tDNSKEY").count(), 1, "{keys}");
    check_through_unbound(&dir, server.addrs[0], &anchors);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_made_by_knot_is_imported_as_the_same_key() {
    require(&["kdig", "keymgr"]);
    let (dir, rules) = scratch("knot", "{}");
    let rules_arg = rules.to_str().unwrap();
    let kasp = dir.join("kasp");
    std::fs::create_dir_all(&kasp).unwrap();
    // A CSK in Knot DNS's key store (its keys/ID.pem), as `keymgr` makes one.
    let made = tool("keymgr")
        .arg("-D")
        .arg(&kasp)
        .args(["example.com.", "generate", "algorithm=13", "ksk=yes", "zsk=yes"])
        .output()
        .unwrap();
    assert!(made.status.success(), "keymgr: {}", String::from_utf8_lossy(&made.stderr));
    let id = String::from_utf8_lossy(&made.stdout).trim().to_string();
    let dnskey = tool("keymgr").arg("-D").arg(&kasp).args(["example.com.", "dnskey", &id]).output().unwrap();
    let dnskey = String::from_utf8_lossy(&dnskey.stdout).to_string();
    let public = dnskey.split_whitespace().last().expect("keymgr prints the DNSKEY").to_string();
    let pem = kasp.join("keys").join(format!("{id}.pem"));
    let imported = linedns(&["keys", "import", "-c", rules_arg, ZONE, pem.to_str().unwrap(), "--role", "csk"]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    let served = dig(server.addrs[0], &["example.com", "DNSKEY", "+norec"]);
    assert!(served.replace(' ', "").contains(&public.replace(' ', "")), "Knot's key {public} is served:\n{served}");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_unreadable_and_mismatched_keys_are_errors_and_unsigned_only_when_the_rules_say_so() {
    require(&["kdig"]);
    let (dir, rules) = scratch("bad", "{}");
    let rules_arg = rules.to_str().unwrap();
    let check = |rules: &str| {
        let out = linedns(&["check-config", rules]);
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    // No keys: the signed zone does not load, and the error says how to make them.
    let (ok, err) = check(rules_arg);
    assert!(!ok, "a signed zone without keys must not load");
    assert!(err.contains("rules.yaml:") && err.contains("no keys in") && err.contains("linedns keygen"), "{err}");
    // Made, it loads.
    let made = linedns(&["keygen", "-c", rules_arg, ZONE]);
    assert!(made.status.success());
    assert!(check(rules_arg).0);
    let key_dir = dir.join("state/keys/example.com");
    let key = std::fs::read_dir(&key_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "key"))
        .unwrap();
    let private = key.with_extension("private");
    let good = std::fs::read_to_string(&private).unwrap();
    // A private key of another key: a mismatch, naming both files.
    let other_dir = dir.join("other");
    let other_rules = other_dir.join("rules.yaml");
    std::fs::create_dir_all(&other_dir).unwrap();
    std::fs::write(&other_rules, rules_text("{}")).unwrap();
    assert!(linedns(&["keygen", "-c", other_rules.to_str().unwrap(), ZONE]).status.success());
    let other_private = std::fs::read_dir(other_dir.join("state/keys/example.com"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "private"))
        .unwrap();
    std::fs::copy(&other_private, &private).unwrap();
    let (ok, err) = check(rules_arg);
    assert!(
        !ok && err.contains("does not go with") && err.contains(key.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
    // Unreadable (a directory where the file should be): named.
    std::fs::remove_file(&private).unwrap();
    std::fs::create_dir(&private).unwrap();
    let (ok, err) = check(rules_arg);
    assert!(!ok && err.contains("cannot read the key file") && err.contains(".private"), "{err}");
    std::fs::remove_dir(&private).unwrap();
    // Corrupt base64: the file and line.
    std::fs::write(&private, good.replace("PrivateKey: ", "PrivateKey: !!")).unwrap();
    let (ok, err) = check(rules_arg);
    assert!(!ok && err.contains(".private:3: the private key is not base64"), "{err}");
    // Serving unsigned is what the rules may ask for, and then nothing is signed.
    let unsigned_rules = dir.join("unsigned.yaml");
    std::fs::write(&unsigned_rules, rules_text("{ without_keys: unsigned }")).unwrap();
    let (ok, err) = check(unsigned_rules.to_str().unwrap());
    assert!(ok, "{err}");
    let server = RunningServer::start(unsigned_rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let out = dig(server.addrs[0], &["www.example.com", "A", "+dnssec", "+norec"]);
    assert!(out.contains("status: NOERROR") && !out.contains("RRSIG"), "{out}");
    server.stop();
    // A good key again: the reload that breaks it keeps the signed zone serving.
    std::fs::write(&private, &good).unwrap();
    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    std::fs::write(&private, good.replace("PrivateKey: ", "PrivateKey: !!")).unwrap();
    let (_, reload) = common::admin::call(server.admin, "POST", "/reload", None, None);
    assert!(reload.contains("not base64"), "the reload fails and says why: {reload}");
    let out = dig(server.addrs[0], &["www.example.com", "A", "+dnssec", "+norec"]);
    assert!(out.contains("RRSIG"), "the old keys keep signing:\n{out}");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The secret of the transfer key (base64 of 32 bytes).
const SECRET: &str = "q4Kxv7oO3eS1b8m7yqvS0a8y2c6r2G5b4n8k1l0p9o8=";

#[test]
fn a_views_transfer_is_a_signed_zone_that_verifies_and_a_bind_secondary_serves_it_validated() {
    require(&["kdig", "unbound", "named", "dnssec-verify", "ldns-verify-zone"]);
    let (dir, rules) = scratch("transfer", "{}");
    let text = std::fs::read_to_string(&rules).unwrap();
    let text = format!(
        "{text}keys:\n  xfr-key: {{ algorithm: hmac-sha256, secret: \"{SECRET}\" }}\ntransfers:\n  - {{ name: providers, key: xfr-key, line: telecom }}\n"
    );
    std::fs::write(&rules, text).unwrap();
    let rules_arg = rules.to_str().unwrap();
    let made = linedns(&["keygen", "-c", rules_arg, ZONE, "--split"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let anchors = ds_lines(&String::from_utf8_lossy(&made.stdout));
    let server = RunningServer::start(rules_arg, &["127.0.0.1:0"]);
    let ours = server.addrs[0];
    // The telecom view, transferred with the key: a complete signed zone.
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let out = tool("kdig")
        .args([format!("@{}", ours.ip()), "-p".into(), ours.port().to_string(), "-y".into(), key])
        .args(["+nocomments", "+nostats", "+noquestion", "AXFR", ZONE])
        .output()
        .unwrap();
    let axfr = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(axfr.contains("NSEC") && axfr.contains("RRSIG") && axfr.contains("192.0.2.1"), "{axfr}");
    let zone_file = dir.join("transferred.zone");
    // The records as a zone file: no TSIG, and the SOA that closes an AXFR left out.
    let mut lines: Vec<&str> =
        axfr.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty() && !l.contains("\tTSIG\t")).collect();
    assert!(lines.last().is_some_and(|l| l.contains("\tSOA\t")), "{axfr}");
    lines.pop();
    std::fs::write(&zone_file, lines.join("\n") + "\n").unwrap();
    let verify = tool("dnssec-verify").args(["-o", ZONE]).arg(&zone_file).output().unwrap();
    assert!(
        verify.status.success(),
        "dnssec-verify:\n{}{}\n{axfr}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let ldns = tool("ldns-verify-zone").arg(&zone_file).output().unwrap();
    assert!(
        ldns.status.success(),
        "ldns-verify-zone:\n{}{}",
        String::from_utf8_lossy(&ldns.stdout),
        String::from_utf8_lossy(&ldns.stderr)
    );
    // A BIND secondary holding no key serves it; Unbound validates through it.
    let bind = start_secondary("named", &dir.join("named"), ours, ("xfr-key", SECRET));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !dig(bind.addr, &["www.example.com", "A", "+norec", "+dnssec"]).contains("RRSIG") {
        assert!(std::time::Instant::now() < deadline, "BIND did not serve the zone:\n{}", bind.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let unbound = start_unbound(&dir.join("unbound-bind"), ZONE, bind.addr, &anchors, "");
    let data = validated(unbound.addr, &["www.example.com", "A"], "NOERROR");
    assert!(data.contains(&"192.0.2.1".to_string()), "the telecom view through BIND: {data:?}");
    validated(unbound.addr, &["nope.example.com", "A"], "NXDOMAIN");
    validated(unbound.addr, &["static.example.com", "TXT"], "NOERROR");
    validated(unbound.addr, &["x.wild.example.com", "TXT"], "NOERROR");
    validated(unbound.addr, &["child.example.com", "DS"], "NOERROR");
    drop(unbound);
    drop(bind);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The commands the key tools print as hints work as printed: each is run as the
/// operator would paste it.
#[test]
fn the_commands_key_hints_print_work_as_printed() {
    let (dir, rules) = scratch("hints", "{}");
    let rules_arg = rules.to_str().unwrap();
    assert!(linedns(&["keygen", "-c", rules_arg, ZONE]).status.success());
    // The hint of an error, as the operator reads it: the command between backticks.
    let hint = |out: &std::process::Output| -> Vec<String> {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{err}");
        let command = err.split('`').nth(1).unwrap_or_else(|| panic!("no command in: {err}"));
        let words: Vec<String> = command.split_whitespace().map(String::from).collect();
        assert_eq!(words[0], "linedns", "{err}");
        words[1..].to_vec()
    };
    let run = |words: Vec<String>| {
        let out = Command::new(env!("CARGO_BIN_EXE_linedns")).args(&words).output().unwrap();
        assert!(out.status.success(), "{words:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A second keygen: "`linedns keys status -c RULES ZONE` shows them".
    run(hint(&linedns(&["keygen", "-c", rules_arg, ZONE])));
    // A ZSK roll of a zone with a CSK: "its CSK rolls with `linedns keys roll -c RULES ZONE --ksk`".
    let said = run(hint(&linedns(&["keys", "roll", "-c", rules_arg, ZONE])));
    assert!(said.contains("CSK roll"), "{said}");
    // A roll under way: "`linedns keys status -c RULES ZONE` shows where it is".
    run(hint(&linedns(&["keys", "roll", "-c", rules_arg, ZONE, "--ksk"])));
    let _ = std::fs::remove_dir_all(&dir);
}
