//! Zone transfer out (AXFR, RFC 5936) as a line sees it: admitted by source address,
//! refused without leaking a record, split over messages for a large zone, and taken by
//! a real secondary (NSD from Debian) that then serves the view's answer.

use crate::common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::inprocess::InProcess;
use common::secondaries::start_secondary;
use common::server::dig;
use common::tools::tool;
use linedns::engine::export::export;
use linedns::{CompileOptions, compile_file};

/// `tests/rules/server.yaml` plus `transfers` (and `extra` records), in a temp file.
fn rules_with(name: &str, transfers: &str, extra: &str) -> PathBuf {
    let base = std::fs::read_to_string(common::repo_path("tests/rules/server.yaml")).unwrap();
    let base = base.replace("    records:\n", &format!("    records:\n{extra}"));
    let dir = std::env::temp_dir().join(format!("linedns-xfr-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    let mut file = std::fs::File::create(&path).unwrap();
    write!(file, "{base}transfers:\n{transfers}").unwrap();
    path
}

/// The secret of the test key (base64 of 32 bytes), as `tsig-keygen` would print one.
const SECRET: &str = "q4Kxv7oO3eS1b8m7yqvS0a8y2c6r2G5b4n8k1l0p9o8=";

/// [`rules_with`], with the key `xfr-key` defined.
fn rules_with_key(name: &str, transfers: &str, extra: &str) -> PathBuf {
    let path = rules_with(name, transfers, extra);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}keys:\n  xfr-key: {{ algorithm: hmac-sha256, secret: \"{SECRET}\" }}\n"))
        .unwrap();
    path
}

/// kdig against `server`, signing with `key` (name, secret) if given: stdout and stderr.
fn kdig_keyed(server: std::net::SocketAddr, key: Option<(&str, &str)>, args: &[&str]) -> (String, String) {
    kdig_with(server, key.map(|(name, secret)| format!("hmac-sha256:{name}:{secret}")), args)
}

/// kdig against `server`, signing with the `-y` key `ALGORITHM:NAME:SECRET` if given.
fn kdig_with(server: std::net::SocketAddr, key: Option<String>, args: &[&str]) -> (String, String) {
    let mut cmd = tool("kdig");
    cmd.args([format!("@{}", server.ip()), "-p".into(), server.port().to_string(), "+retry=0".into()]);
    if let Some(spec) = key {
        cmd.args(["-y", &spec]);
    }
    let out = cmd.args(args).output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The records of a kdig AXFR, as `owner ttl class type data` lines.
fn axfr_records(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// A record line with an SOA's serial replaced by `SERIAL`.
fn serial_blind(record: &str) -> String {
    let mut fields: Vec<&str> = record.split(' ').collect();
    if fields.get(3) == Some(&"SOA") && fields.len() > 6 {
        fields[6] = "SERIAL";
    }
    fields.join(" ")
}

/// `N` of kdig's `;; Received ... (N messages, M records)`.
fn messages(output: &str) -> usize {
    let line = output.lines().find(|l| l.contains(" messages, ")).unwrap_or_else(|| panic!("{output}"));
    line.split('(').nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn axfr_sends_the_lines_view_to_admitted_sources_only() {
    common::tools::require(&["kdig"]);
    let rules = rules_with(
        "view",
        "  - { name: backup, allow: [127.0.0.1/32, \"::1\"], line: telecom }\n  - { name: other, allow: [127.0.0.3], zones: [example.com] }\n",
        "",
    );
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let out = dig(addr, &["example.com", "AXFR"]);
    let got = axfr_records(&out);
    // RFC 5936 §2.2: the SOA first and last.
    assert!(got.first().unwrap().contains(" SOA "), "{out}");
    assert!(got.last().unwrap().contains(" SOA "), "{out}");
    // Exactly the telecom view: the export of that line, compared as sets, but for the
    // serial (the export's is the rules', the server's is the view's own).
    let snap = compile_file(&rules, &CompileOptions::default()).unwrap().snapshot;
    let zone = snap.find_zone("example.com").unwrap();
    let want: BTreeSet<String> = export(&snap, zone, snap.lines.find("telecom").unwrap(), &snap.probe_health())
        .iter()
        .map(|r| serial_blind(&format!("{}. {} IN {} {}", r.owner, r.ttl, r.data.rtype(), r.data)))
        .collect();
    let have: BTreeSet<String> = got.iter().map(|r| serial_blind(r)).collect();
    assert_eq!(have, want, "{out}");
    assert!(have.contains("www.example.com. 60 IN A 192.0.2.1"), "{out}");
    // Another source: the second rule's view (default); an unlisted one: REFUSED, and
    // no record of the zone on the wire.
    let other = dig(addr, &["-b", "127.0.0.3", "example.com", "AXFR"]);
    assert!(axfr_records(&other).iter().any(|r| r == "www.example.com. 60 IN A 192.0.2.101"), "{other}");
    for (source, zone) in [("127.0.0.2", "example.com."), ("127.0.0.4", "example.com."), ("127.0.0.1", "example.org.")]
    {
        let (messages, bytes) = axfr_on_the_wire(addr, source.parse().unwrap(), zone);
        assert_eq!(messages.len(), 1, "one answer from {source}");
        let m = &messages[0];
        assert_eq!(m.metadata.response_code, hickory_proto::op::ResponseCode::Refused, "{source} {zone}");
        assert!(m.answers.is_empty() && m.authorities.is_empty() && m.additionals.is_empty());
        // Not a byte of the zone's data: no owner name beyond the question's.
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("www") && !text.contains("hostmaster"), "nothing of the zone leaks");
    }
    server.stop();
}

/// An AXFR query for `zone` with ID `id`, as hickory writes it.
fn axfr_query(id: u16, zone: &str) -> Vec<u8> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut query = Message::query();
    query.metadata.id = id;
    query.add_query(Query::query(Name::from_ascii(zone).unwrap(), RecordType::AXFR));
    query.to_vec().unwrap()
}

/// An AXFR query from `source` over TCP, read until the server closes or 2 s pass: the
/// messages, and every byte received.
fn axfr_on_the_wire(
    server: std::net::SocketAddr,
    source: std::net::IpAddr,
    zone: &str,
) -> (Vec<hickory_proto::op::Message>, Vec<u8>) {
    use hickory_proto::op::Message;
    use std::io::Read as _;
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::new(source, 0).into()).unwrap();
    socket.connect_timeout(&server.into(), Duration::from_secs(2)).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let bytes = axfr_query(4242, zone);
    stream.write_all(&(bytes.len() as u16).to_be_bytes()).unwrap();
    stream.write_all(&bytes).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
        // One whole message is all a refusal may hold.
        if received.len() >= 2 && received.len() >= 2 + usize::from(u16::from_be_bytes([received[0], received[1]])) {
            break;
        }
    }
    let mut messages = Vec::new();
    let mut at = 0;
    while at + 2 <= received.len() {
        let len = usize::from(u16::from_be_bytes([received[at], received[at + 1]]));
        messages.push(Message::from_vec(&received[at + 2..at + 2 + len]).unwrap());
        at += 2 + len;
    }
    (messages, received)
}

#[test]
fn a_large_zone_goes_in_many_messages() {
    common::tools::require(&["kdig"]);
    let extra: String = (0..10_000)
        .map(|i| format!("      - {{ name: host{i}, type: A, values: 198.18.{}.{} }}\n", i / 250, i % 250))
        .collect();
    let rules = rules_with_key("large", "  - { name: all, allow: [127.0.0.1], key: xfr-key }\n", &extra);
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    // kdig checks the TSIG of every message: the RFC 8945 §5.3.1 chain over all of them.
    let (out, err) = kdig_keyed(server.addrs[0], Some(("xfr-key", SECRET)), &["+timeout=10", "example.com", "AXFR"]);
    assert!(err.is_empty(), "{err}");
    let got = axfr_records(&out);
    assert!(got.len() > 10_000, "{} records", got.len());
    assert!(got.iter().any(|r| r == "host9999.example.com. 300 IN A 198.18.39.249"));
    assert!(messages(&out) > 10, "{} messages", messages(&out));
    server.stop();
}

#[test]
fn tsig_keys_pick_the_view_and_bad_signatures_get_notauth() {
    common::tools::require(&["kdig"]);
    let rules = rules_with_key(
        "tsig",
        "  - { name: keyed, key: xfr-key, line: telecom }\n  - { name: by-address, allow: [127.0.0.5] }\n",
        "",
    );
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    // The key admits from any address, and kdig verifies the signed answer.
    let (out, err) = kdig_keyed(addr, Some(("xfr-key", SECRET)), &["example.com", "AXFR"]);
    assert!(err.is_empty(), "{err}");
    assert!(axfr_records(&out).iter().any(|r| r == "www.example.com. 60 IN A 192.0.2.1"), "{out}");
    assert!(axfr_records(&out).iter().any(|r| r.starts_with("xfr-key. 0 ANY TSIG hmac-sha256.")), "signed: {out}");
    // No key (and not the listed address): REFUSED. Unknown key: BADKEY. Wrong secret:
    // BADSIG. Nothing of the zone in any of them.
    let (out, err) = kdig_keyed(addr, None, &["example.com", "AXFR"]);
    assert!(err.contains("REFUSED") && axfr_records(&out).is_empty(), "{out}{err}");
    let (out, err) = kdig_keyed(addr, Some(("other-key", SECRET)), &["example.com", "AXFR"]);
    assert!(err.contains("BADKEY") && axfr_records(&out).is_empty(), "{out}{err}");
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let (out, err) = kdig_keyed(addr, Some(("xfr-key", wrong)), &["example.com", "AXFR"]);
    assert!(err.contains("BADSIG") && axfr_records(&out).is_empty(), "{out}{err}");
    // A request signed an hour ago: NOTAUTH, TSIG error BADTIME, our time in Other Data.
    let key = linedns::wire::tsig::Key::new(
        "xfr-key",
        linedns::wire::tsig::Algorithm::HmacSha256,
        &data_encoding::BASE64.decode(SECRET.as_bytes()).unwrap(),
    );
    let mut bytes = axfr_query(77, "example.com.");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    linedns::wire::tsig::sign_request(&mut bytes, &key, now - 3600);
    let reply = tcp_exchange(addr, &bytes);
    assert_eq!(reply[3] & 0x0f, 9, "NOTAUTH");
    // The record ends: Original ID, Error, Other Len (6), Other Data (our time).
    let tail = &reply[reply.len() - 12..];
    assert_eq!(u16::from_be_bytes([tail[2], tail[3]]), 18, "TSIG error BADTIME");
    assert_eq!(u16::from_be_bytes([tail[4], tail[5]]), 6, "Other Data holds our 48-bit time");
    server.stop();
}

/// A signed answer over UDP keeps within the client's size: an answer that fits unsigned
/// but not with its TSIG is sent truncated (TC), signed, and whole over TCP.
#[test]
fn a_signed_udp_answer_keeps_within_the_size_with_its_tsig() {
    common::tools::require(&["kdig"]);
    let txt = "x".repeat(1130);
    let rules = rules_with_key(
        "udp-size",
        "  - { name: t, key: xfr-key }\n",
        &format!("      - {{ name: fat, type: TXT, values: \"{txt}\" }}\n"),
    );
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let ask = |extra: &[&str]| {
        let mut args = vec!["+bufsize=1232", "+ignore", "fat.example.com", "TXT"];
        args.extend_from_slice(extra);
        kdig_keyed(server.addrs[0], Some(("xfr-key", SECRET)), &args)
    };
    // Unsigned, the answer fits in 1232 octets.
    let (unsigned, _) =
        kdig_keyed(server.addrs[0], None, &["+bufsize=1232", "+ignore", "+notcp", "fat.example.com", "TXT"]);
    assert!(unsigned.contains("ANSWER: 1") && !unsigned.contains(" tc "), "{unsigned}");
    // Signed over UDP: truncated, still within 1232 octets, and kdig verified its TSIG.
    let (udp, err) = ask(&["+notcp"]);
    assert!(err.is_empty(), "{err}");
    assert!(udp.contains("Flags: qr aa tc"), "{udp}");
    let size: usize = udp.split(";; Received ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(size <= 1232, "{size} octets:\n{udp}");
    // Over TCP, whole and signed.
    let (tcp, err) = ask(&["+tcp"]);
    assert!(err.is_empty() && tcp.contains("ANSWER: 1") && tcp.contains("TSIG PSEUDOSECTION"), "{tcp}{err}");
    server.stop();
}

/// Sends one message over TCP and returns the first answer's bytes.
fn tcp_exchange(server: std::net::SocketAddr, message: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(server).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    stream.write_all(&(message.len() as u16).to_be_bytes()).unwrap();
    stream.write_all(message).unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply).unwrap();
    reply
}

#[test]
fn nsd_secondary_transfers_the_view_with_tsig_and_serves_it() {
    common::tools::require(&["kdig", "nsd"]);
    let rules = rules_with_key("nsd", "  - { name: nsd, allow: [127.0.0.1], key: xfr-key, line: telecom }\n", "");
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let dir = rules.parent().unwrap().join("nsd");
    std::fs::create_dir_all(&dir).unwrap();
    let nsd = start_secondary("nsd", &dir, server.addrs[0], ("xfr-key", SECRET));
    let secondary = nsd.addr;
    // NSD transfers at start; the telecom view's www, whoever asks NSD.
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(20) {
        last = dig(secondary, &["www.example.com", "A"]);
        if last.contains("192.0.2.1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let answers = common::server::answers(&last);
    assert_eq!(answers, ["192.0.2.1", "192.0.2.2"], "NSD serves the telecom view:\n{last}\nNSD's log:\n{}", nsd.log());
    assert!(last.contains("flags: qr aa") || last.contains("Flags: qr aa"), "NSD is authoritative for it:\n{last}");
    drop(nsd);
    server.stop();
    let _ = std::fs::remove_dir_all(rules.parent().unwrap());
}

/// Knot DNS and BIND 9 from Debian transfer the telecom view with TSIG (their SOA check
/// over UDP is signed and answered signed too) and serve it.
#[test]
fn knot_and_bind_secondaries_transfer_the_view_with_tsig() {
    common::tools::require(&["kdig", "knotd", "named"]);
    let rules = rules_with_key("knot-bind", "  - { name: providers, key: xfr-key, line: telecom }\n", "");
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    for kind in ["knotd", "named"] {
        let dir = rules.parent().unwrap().join(kind);
        std::fs::create_dir_all(&dir).unwrap();
        let secondary = start_secondary(kind, &dir, server.addrs[0], ("xfr-key", SECRET));
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < Duration::from_secs(15) {
            last = dig(secondary.addr, &["www.example.com", "A"]);
            if last.contains("192.0.2.1") {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(dir.join(format!("{kind}.log"))).unwrap_or_default();
        assert_eq!(
            common::server::answers(&last),
            ["192.0.2.1", "192.0.2.2"],
            "{kind} serves the view:\n{last}\n{log}"
        );
        drop(secondary);
    }
    server.stop();
    let _ = std::fs::remove_dir_all(rules.parent().unwrap());
}

/// A key from a BIND key file, as `tsig-keygen` writes it (hmac-sha512 here): the rules
/// name the file, and a transfer signed with that key gets the view.
#[test]
fn a_key_from_a_tsig_keygen_file_signs_transfers() {
    common::tools::require(&["kdig", "tsig-keygen"]);
    let rules = rules_with("keyfile", "  - { name: by-file, key: file-key, line: telecom }\n", "");
    let out = tool("tsig-keygen").args(["-a", "hmac-sha512", "file-key"]).output().unwrap();
    let key_file = String::from_utf8(out.stdout).unwrap();
    std::fs::write(rules.parent().unwrap().join("file-key.key"), &key_file).unwrap();
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, format!("{text}keys:\n  file-key: {{ file: file-key.key }}\n")).unwrap();
    let secret = key_file.split("secret \"").nth(1).unwrap().split('"').next().unwrap();
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let (stdout, stderr) =
        kdig_with(server.addrs[0], Some(format!("hmac-sha512:file-key:{secret}")), &["example.com", "AXFR"]);
    assert!(stderr.is_empty(), "{stderr}");
    assert!(axfr_records(&stdout).iter().any(|r| r == "www.example.com. 60 IN A 192.0.2.1"), "{stdout}");
    assert!(axfr_records(&stdout).iter().any(|r| r.starts_with("file-key. 0 ANY TSIG hmac-sha512.")), "{stdout}");
    server.stop();
    // A file without the key named: an error naming the file and the key.
    std::fs::write(rules.parent().unwrap().join("file-key.key"), key_file.replace("file-key", "other")).unwrap();
    let errors = compile_file(&rules, &CompileOptions::default()).unwrap_err().to_string();
    assert!(errors.contains("file-key.key holds no key named \"file-key\"") && !errors.contains(secret), "{errors}");
}

/// RFC 1995 §2: an IXFR over UDP gets the current SOA alone (the secondary then asks
/// over TCP if it is behind), with the view's serial; an unadmitted source gets REFUSED.
#[test]
fn an_ixfr_over_udp_gets_the_soa_alone() {
    use hickory_proto::op::{Message, Query, ResponseCode};
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    let rules = rules_with("udp-ixfr", "  - { name: local, allow: [127.0.0.1], line: telecom }\n", "");
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let zone = Name::from_ascii("example.com.").unwrap();
    let current = server.engine.serials.serial("example.com", "telecom").expect("the server looked at its views");
    let ask = |source: &str, held: u32| {
        let mut query = Message::query();
        query.metadata.id = 99;
        query.add_query(Query::query(zone.clone(), RecordType::IXFR));
        let soa = SOA::new(zone.clone(), zone.clone(), held, 3600, 600, 86400, 60);
        query.add_authority(Record::from_rdata(zone.clone(), 300, RData::SOA(soa)));
        let socket = std::net::UdpSocket::bind((source, 0)).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        socket.send_to(&query.to_vec().unwrap(), addr).unwrap();
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    };
    for held in [current, current.wrapping_sub(5)] {
        let reply = ask("127.0.0.1", held);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 1, "the SOA alone: {reply:?}");
        let RData::SOA(soa) = &reply.answers[0].data else { panic!("{reply:?}") };
        assert_eq!(soa.serial, current, "the view's serial");
    }
    let refused = ask("127.0.0.2", current);
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(refused.answers.is_empty());
    server.stop();
}

/// A zone added by a reload carries its view's serial from its first answer on (the
/// views of a new snapshot are looked at before it goes live): the serial it is written
/// with, where a view starts when that is ahead of the clock (a date-style serial, which
/// transfers need a state directory for).
#[test]
fn a_zone_added_by_a_reload_answers_its_views_serial_from_the_first_answer() {
    let rules = rules_with("reload-serial", "  - { name: local, allow: [127.0.0.1] }\n", "");
    let text = std::fs::read_to_string(&rules).unwrap().replacen("server:\n", "server:\n  state_dir: state\n", 1);
    std::fs::write(&rules, &text).unwrap();
    let server = InProcess::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let added =
        "  - origin: example.net\n    soa: { mname: ns1, rname: hostmaster, serial: 2099010101 }\n    ns: [ns1]\n";
    std::fs::write(&rules, text.replace("transfers:\n", &format!("{added}transfers:\n"))).unwrap();
    server.control.reload(linedns::serve::ReloadCause::AdminApi).expect("the new rules compile");
    let out = dig(server.addrs[0], &["example.net", "SOA"]);
    let serial = common::server::soa_serial(&out).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(serial, 2_099_010_101, "a view starts at the serial written");
    assert_eq!(Some(serial), server.engine.serials.serial("example.net", "default"));
    let (axfr, _) = kdig_keyed(server.addrs[0], None, &["example.net", "AXFR"]);
    assert!(axfr.contains(&format!(" {serial} ")), "the transfer has the same serial:\n{axfr}");
    server.stop();
}

/// Without a state directory, serials start from the clock at each start; a zone written
/// with a serial ahead of the clock (date-style) would start from it again after a
/// restart, behind its secondaries: transferring it is refused, naming the zone, the
/// serial and the fix. With a state directory the same rules compile.
#[test]
fn a_date_serial_transferred_without_a_state_directory_is_refused() {
    let rules = rules_with("date-serial", "  - { name: local, allow: [127.0.0.1] }\n", "");
    let text =
        std::fs::read_to_string(&rules).unwrap().replace("serial: 1, minimum: 60", "serial: 2099010101, minimum: 60");
    std::fs::write(&rules, &text).unwrap();
    let errors = compile_file(&rules, &CompileOptions::default()).expect_err("refused").to_string();
    assert!(
        errors.contains("rules.yaml:")
            && errors.contains("transfer \"local\"")
            && errors.contains("zone example.com is written with serial 2099010101, ahead of the clock")
            && errors.contains("Set server.state_dir"),
        "{errors}"
    );
    std::fs::write(&rules, text.replacen("server:\n", "server:\n  state_dir: state\n", 1)).unwrap();
    compile_file(&rules, &CompileOptions::default()).expect("with a state directory it compiles");
}
