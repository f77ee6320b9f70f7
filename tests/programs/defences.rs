//! Hardening, over real sockets against the real server:
//! - rate limiting: a flood from one /24 is held to the configured rate (slipped answers
//!   truncated) while another prefix gets every answer; allow-lists;
//! - cookies: a valid server cookie exempts its client; a rolled secret still accepts the
//!   old cookies for the overlap, and not after it; a bad secret file names its line;
//! - TCP: a client sending one byte at a time, or never reading, is cut off on time and
//!   holds nothing up; a per-client connection cap;
//! - a list written slowly in place never goes live half-written.

use crate::common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::server::{RunningServer, rules_with, test_dir};

/// RFC 7873 §4: the COOKIE option.
const COOKIE: u16 = 10;
/// RFC 7873 §8: BADCOOKIE.
const BADCOOKIE: u16 = 23;

/// A query for `name` A with an OPT record carrying `cookie` (client cookie, then the
/// server cookie if any) when given.
fn query(id: u16, name: &str, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    // OPT: root, TYPE 41, CLASS 1232, TTL 0, the options.
    let options = cookie.map_or_else(Vec::new, |c| {
        let mut o = COOKIE.to_be_bytes().to_vec();
        o.extend_from_slice(&(c.len() as u16).to_be_bytes());
        o.extend_from_slice(c);
        o
    });
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    q.extend_from_slice(&(options.len() as u16).to_be_bytes());
    q.extend_from_slice(&options);
    q
}

/// What a test reads of an answer.
#[derive(Debug)]
struct Reply {
    id: u16,
    truncated: bool,
    rcode: u16,
    answers: u16,
    /// The COOKIE option's data, if the answer has one.
    cookie: Option<Vec<u8>>,
}

/// Reads an answer, its OPT record found by stepping over every record (names may be
/// compressed).
fn parse(packet: &[u8]) -> Reply {
    let u16_at = |at: usize| u16::from_be_bytes([packet[at], packet[at + 1]]);
    let skip_name = |mut at: usize| loop {
        match packet[at] {
            0 => return at + 1,
            b if b & 0xc0 == 0xc0 => return at + 2,
            b => at += 1 + usize::from(b),
        }
    };
    let (qd, an, ns, ar) = (u16_at(4), u16_at(6), u16_at(8), u16_at(10));
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(at) + 4;
    }
    let (mut ext_rcode, mut cookie) = (0u16, None);
    for _ in 0..u32::from(an) + u32::from(ns) + u32::from(ar) {
        at = skip_name(at);
        let (rtype, rdlen) = (u16_at(at), usize::from(u16_at(at + 8)));
        if rtype == 41 {
            ext_rcode = u16::from(packet[at + 4]) << 4;
            let mut o = at + 10;
            while o < at + 10 + rdlen {
                let (code, len) = (u16_at(o), usize::from(u16_at(o + 2)));
                if code == COOKIE {
                    cookie = Some(packet[o + 4..o + 4 + len].to_vec());
                }
                o += 4 + len;
            }
        }
        at += 10 + rdlen;
    }
    Reply {
        id: u16_at(0),
        truncated: packet[2] & 0x02 != 0,
        rcode: ext_rcode | u16::from(packet[3] & 0x0f),
        answers: an,
        cookie,
    }
}

/// A UDP socket from `source` (any 127/8 address: each /24 of it is another account).
fn socket(source: &str, server: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind((source, 0)).expect("bind a loopback source");
    s.connect(server).unwrap();
    s
}

/// Asks once and waits for the answer.
fn ask(s: &UdpSocket, q: &[u8]) -> Reply {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send(q).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).expect("an answer within 2 s");
    parse(&buf[..n])
}

/// How a burst was answered.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    /// NOERROR with records, not truncated.
    full: usize,
    /// TC=1 with no records.
    truncated: usize,
    /// BADCOOKIE, each with a fresh server cookie.
    badcookie: usize,
    other: usize,
}

impl Tally {
    /// Counts one answer under what it is.
    fn count(&mut self, answer: &[u8]) {
        match parse(answer) {
            Reply { truncated: true, answers: 0, .. } => self.truncated += 1,
            Reply { truncated: false, rcode: 0, answers: 1.., .. } => self.full += 1,
            Reply { rcode: BADCOOKIE, answers: 0, cookie: Some(ref c), .. } if c.len() == 24 => self.badcookie += 1,
            _ => self.other += 1,
        }
    }
}

/// Sends `count` copies of `q` from `s` at about `per_second`, reading answers as they
/// come (and for 300 ms after); also asks `probe` once every 50 ms from `probe_socket`
/// if given, whose answers are tallied apart. Bounded by count and time.
fn flood(
    s: &UdpSocket,
    q: &[u8],
    count: usize,
    per_second: usize,
    probe: Option<(&UdpSocket, &[u8])>,
) -> (Tally, Tally) {
    s.set_nonblocking(true).unwrap();
    if let Some((p, _)) = probe {
        p.set_nonblocking(true).unwrap();
    }
    let (mut tally, mut probed) = (Tally::default(), Tally::default());
    let mut buf = [0u8; 4096];
    let read = |sock: &UdpSocket, tally: &mut Tally, buf: &mut [u8]| {
        while let Ok(n) = sock.recv(buf) {
            tally.count(&buf[..n]);
        }
    };
    let start = Instant::now();
    let tick = Duration::from_millis(10);
    let per_tick = (per_second / 100).max(1);
    let mut next_probe = start;
    let mut round = 0u32;
    while tally.sent < count && start.elapsed() < Duration::from_secs(10) {
        for _ in 0..per_tick.min(count - tally.sent) {
            let _ = s.send(q);
            tally.sent += 1;
        }
        if let Some((p, pq)) = probe
            && Instant::now() >= next_probe
        {
            let _ = p.send(pq);
            probed.sent += 1;
            next_probe += Duration::from_millis(50);
        }
        read(s, &mut tally, &mut buf);
        if let Some((p, _)) = probe {
            read(p, &mut probed, &mut buf);
        }
        round += 1;
        std::thread::sleep((start + tick * round).saturating_duration_since(Instant::now()));
    }
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        read(s, &mut tally, &mut buf);
        if let Some((p, _)) = probe {
            read(p, &mut probed, &mut buf);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    s.set_nonblocking(false).unwrap();
    (tally, probed)
}

#[test]
fn a_flood_from_one_slash_24_is_held_to_its_rate_while_another_prefix_gets_every_answer() {
    let dir = test_dir("rrl");
    let rules = rules_with(&dir, "  rrl: { rate: 100, slip: 2 }\n");
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let flooder = socket("127.0.0.1", addr);
    let other = socket("127.0.1.1", addr);
    let start = Instant::now();
    let (flooded, probed) = flood(
        &flooder,
        &query(1, "www.example.com", None),
        10_000,
        10_000,
        Some((&other, &query(2, "www.example.com", None))),
    );
    let seconds = start.elapsed().as_secs_f64();
    // The counts run per second of the clock: a burst of `seconds` touches at most
    // ceil(seconds) + 1 of them.
    let most = 100 * (seconds.ceil() as usize + 1);
    assert!(
        flooded.full >= 100 && flooded.full <= most,
        "10,000 queries in {seconds:.2} s from one /24 at rate 100: {} full answers (want 100..={most}): {flooded:?}",
        flooded.full
    );
    // slip 2: every second limited answer goes out truncated, the rest are dropped.
    let limited = flooded.sent - flooded.full;
    assert!(
        flooded.truncated * 2 >= limited * 9 / 10 && flooded.truncated * 2 <= limited * 11 / 10 + 2,
        "about half of the {limited} limited answers slip (TC=1, no records): {flooded:?}"
    );
    assert_eq!((flooded.other, flooded.badcookie), (0, 0), "{flooded:?}");
    // The other prefix, in the same seconds, got every answer, in full.
    assert!(probed.sent >= 15, "{probed:?}");
    assert_eq!(probed.full, probed.sent, "another /24 is not limited by the flood: {probed:?}");
    // A new second: the flooded prefix gets answers again.
    std::thread::sleep(Duration::from_millis(1100));
    let r = ask(&flooder, &query(3, "static.example.com", None));
    assert_eq!((r.id, r.truncated, r.rcode, r.answers), (3, false, 0, 1), "{r:?}");
    let log = server.stop();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_allowed_network_is_never_limited() {
    let dir = test_dir("rrl-allow");
    let rules = rules_with(&dir, "  rrl: { rate: 20, slip: 2, allow: [127.0.0.0/24] }\n");
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let (allowed, _) = flood(&socket("127.0.0.1", addr), &query(1, "www.example.com", None), 500, 2000, None);
    assert_eq!(allowed.full, 500, "{allowed:?}");
    let (limited, _) = flood(&socket("127.0.2.1", addr), &query(1, "www.example.com", None), 500, 2000, None);
    assert!(limited.full <= 60 && limited.truncated > 100, "a prefix off the list is limited: {limited:?}");
    server.stop();
}

#[test]
fn a_valid_server_cookie_exempts_its_client_and_kdig_sees_the_cookie() {
    common::tools::require(&["kdig"]);
    let dir = test_dir("cookies");
    let rules = rules_with(&dir, "  rrl: { rate: 50, slip: 2 }\n");
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];

    // A real client: kdig sends a client cookie and checks the server cookie it gets.
    let out = common::server::kdig(&[
        format!("@{}", addr.ip()),
        "-p".into(),
        addr.port().to_string(),
        "+cookie".into(),
        "www.example.com".into(),
    ]);
    let shown = out.lines().find_map(|l| l.strip_prefix(";; COOKIE: ")).map(str::trim);
    let shown = shown.unwrap_or_else(|| panic!("kdig shows the answer's cookie: {out}"));
    // kdig's client cookie (8 octets), then our server cookie: version 1, 3 reserved
    // zero octets, a timestamp and the hash (16 octets, RFC 9018 §4.2).
    assert_eq!(shown.len(), 48, "client + server cookie: {out}");
    assert_eq!(&shown[16..24], "01000000", "an RFC 9018 version-1 server cookie: {out}");
    assert!(out.contains("status: NOERROR") && out.contains("192.0.2.101"), "{out}");

    let client = [0x24u8, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];
    let s = socket("127.0.0.1", addr);
    let first = ask(&s, &query(7, "static.example.com", Some(&client)));
    let cookie = first.cookie.expect("the answer to a client cookie carries a cookie");
    assert_eq!(cookie.len(), 24, "client cookie + 16-octet server cookie (RFC 9018): {cookie:?}");
    assert_eq!(&cookie[..8], &client, "the client cookie comes back");
    assert_eq!(cookie[8], 1, "server cookie version 1");

    // With the server cookie, a flood well over the rate is answered in full.
    let (proven, _) = flood(&s, &query(8, "www.example.com", Some(&cookie)), 1000, 2000, None);
    assert_eq!(proven.full, 1000, "a client with a valid cookie is not limited: {proven:?}");
    // A client cookie alone, or a server cookie made for another client, is limited;
    // the slipped answers are BADCOOKIE with a fresh cookie, so a real client retries
    // with it.
    let (client_only, _) =
        flood(&socket("127.0.3.1", addr), &query(9, "www.example.com", Some(&client)), 1000, 2000, None);
    assert!(client_only.full <= 150 && client_only.badcookie > 300, "{client_only:?}");
    let (stolen, _) = flood(&socket("127.0.4.1", addr), &query(10, "www.example.com", Some(&cookie)), 1000, 2000, None);
    assert!(stolen.full <= 150 && stolen.badcookie > 300, "a cookie is its own client's only: {stolen:?}");
    server.stop();
}

#[test]
fn a_rolled_secret_still_accepts_the_old_cookies_for_the_overlap_and_not_after() {
    common::tools::require(&["kill"]);
    let dir = test_dir("cookie-roll");
    let secret_file = dir.join("cookie.secret");
    std::fs::write(&secret_file, "# the fleet's secret\ne5e973e5a6b2a43f48e7dc849e37bfcf\n").unwrap();
    let extra = format!(
        "  rrl: {{ rate: 20, slip: 2 }}\n  cookies: {{ secret_file: {}, overlap_s: 4 }}\n",
        secret_file.display()
    );
    let rules = rules_with(&dir, &extra);
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let client = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let s = socket("127.0.0.1", addr);
    let old = ask(&s, &query(1, "static.example.com", Some(&client))).cookie.unwrap();
    let exempt = |cookie: &[u8]| flood(&s, &query(2, "www.example.com", Some(cookie)), 300, 1500, None).0;
    assert_eq!(exempt(&old).full, 300, "the cookie is valid under the configured secret");

    // Roll the secret and reload.
    std::fs::write(&secret_file, "445536bcd2513298075a5d379663c962\n").unwrap();
    let rolled_at = Instant::now();
    let status = std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log().contains("generation 2 live") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.log().contains("generation 2 live"), "{}", server.log());
    // (Another name than the floods': its answers count in an account of their own.)
    let new = ask(&s, &query(3, "static.example.com", Some(&client))).cookie.unwrap();
    assert_ne!(new[8..], old[8..], "new cookies are made with the new secret");
    let during = exempt(&old);
    assert!(rolled_at.elapsed() < Duration::from_secs(4), "the check ran inside the overlap");
    assert_eq!(during.full, 300, "the old cookie is accepted during the overlap: {during:?}");
    assert_eq!(exempt(&new).full, 300);

    // After the overlap the old secret's cookies are no longer valid.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(rolled_at.elapsed()));
    let after = exempt(&old);
    assert!(after.full <= 60 && after.badcookie > 50, "the old cookie is refused after the overlap: {after:?}");
    assert_eq!(exempt(&new).full, 300, "the new one still is accepted");
    server.stop();
}

#[test]
fn a_bad_secret_file_names_its_line_and_keeps_the_server_from_starting() {
    let dir = test_dir("cookie-bad");
    let secret_file = dir.join("cookie.secret");
    std::fs::write(&secret_file, "e5e973e5a6b2a43f48e7dc849e37bfcf\nnot-hex\n").unwrap();
    let rules = rules_with(&dir, &format!("  cookies: {{ secret_file: {} }}\n", secret_file.display()));
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_linedns")).args(["check-config", &rules]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("{}:2", secret_file.display())) && stderr.contains("32 hex digits"), "{stderr}");
    assert!(!stderr.contains("not-hex"), "a secret file's content is never logged: {stderr}");
}

/// A TCP connection to `server` from `source` (any 127/8 address).
fn tcp_from(source: &str, server: SocketAddr) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(source.parse().unwrap(), 0).into()).unwrap();
    socket.connect(&server.into()).unwrap();
    socket.into()
}

/// A message with its two-octet TCP length (RFC 7766 §8).
fn framed(message: &[u8]) -> Vec<u8> {
    [&(message.len() as u16).to_be_bytes()[..], message].concat()
}

/// One query over a TCP connection and its answer (`None` if the connection ends or no
/// answer comes within 2 s).
fn tcp_ask(stream: &mut std::net::TcpStream, q: &[u8]) -> Option<Reply> {
    use std::io::{Read, Write};
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    stream.write_all(&framed(q)).ok()?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).ok()?;
    Some(parse(&answer))
}

/// Whether the server has closed `stream` (a read sees the end, or a reset), waiting at
/// most `wait`; data still arriving is read and dropped.
fn closed_within(stream: &mut std::net::TcpStream, wait: Duration) -> bool {
    use std::io::Read;
    let end = Instant::now() + wait;
    let mut buf = [0u8; 65536];
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    while Instant::now() < end {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_tcp_client_that_sends_one_byte_at_a_time_is_cut_off_on_time_and_holds_nothing_up() {
    use std::io::Write;
    let dir = test_dir("tcp-slow");
    // Shorter than the rules' idle timeout (2 s), which must not be what cuts it.
    let rules = rules_with(&dir, "  tcp_query_timeout_ms: 500\n");
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let q = query(5, "www.example.com", None);
    let framed = framed(&q);
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    let mut cut_at = None;
    for octet in &framed {
        let _ = slow.write_all(&[*octet]);
        // Meanwhile another client is answered at once.
        let mut other = std::net::TcpStream::connect(addr).unwrap();
        let t = Instant::now();
        let r = tcp_ask(&mut other, &query(6, "static.example.com", None)).expect("another client is answered");
        assert!(r.answers == 1 && t.elapsed() < Duration::from_millis(500), "{r:?} in {:?}", t.elapsed());
        if closed_within(&mut slow, Duration::from_millis(300)) {
            cut_at = Some(started.elapsed());
            break;
        }
    }
    let cut_at = cut_at.expect("the slow client's connection is closed before its query is whole");
    assert!(
        cut_at >= Duration::from_millis(450) && cut_at < Duration::from_millis(1500),
        "cut off {cut_at:?} after its first octet (limit 500 ms)"
    );
    server.stop();
}

#[test]
fn a_tcp_client_that_never_reads_loses_its_connection_and_holds_nothing_up() {
    use std::io::Write;
    let dir = test_dir("tcp-noread");
    let rules = rules_with(&dir, "  tcp_write_timeout_ms: 1000\n");
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    // 20,000 pipelined queries for a 1.7 KB answer: 34 MB of answers, more than the
    // socket buffers hold, never read.
    let q = {
        let mut q = query(9, "big.example.com", None);
        let qtype_at = q.len() - 11 - 4;
        q[qtype_at..qtype_at + 2].copy_from_slice(&16u16.to_be_bytes()); // TXT
        q
    };
    let framed = framed(&q);
    let mut sink = std::net::TcpStream::connect(addr).unwrap();
    sink.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut writer = sink.try_clone().unwrap();
    let feeding = std::thread::spawn(move || {
        for _ in 0..20_000 {
            if writer.write_all(&framed).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile another client is answered at once.
    let mut other = std::net::TcpStream::connect(addr).unwrap();
    let t = Instant::now();
    let r = tcp_ask(&mut other, &query(6, "static.example.com", None)).expect("another client is answered");
    assert!(r.answers == 1 && t.elapsed() < Duration::from_millis(500), "{r:?} in {:?}", t.elapsed());
    // The server gives up on the writer after its write limit and closes: with our
    // queries unread in its buffer that is a reset, which our next writes see (reading
    // would drain the answers and let the server go on, so this test never reads).
    std::thread::sleep(Duration::from_millis(2500));
    let reset = (0..5).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        sink.set_write_timeout(Some(Duration::from_millis(200))).unwrap();
        matches!(
            sink.write(&[0]).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
        )
    });
    assert!(reset, "the connection of a client that never reads is closed by the server");
    feeding.join().unwrap();
    server.stop();
}

#[test]
fn a_tcp_client_over_its_connection_cap_is_closed_and_others_are_not() {
    let dir = test_dir("tcp-cap");
    let rules = rules_with(&dir, "  tcp_max_per_client: 3\n");
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let q = query(1, "static.example.com", None);
    let mut open: Vec<_> = (0..3).map(|_| tcp_from("127.0.0.1", addr)).collect();
    for c in &mut open {
        assert!(tcp_ask(c, &q).is_some(), "the first three connections are served");
    }
    let mut fourth = tcp_from("127.0.0.1", addr);
    assert!(tcp_ask(&mut fourth, &q).is_none(), "a fourth from the same address is closed");
    let mut elsewhere = tcp_from("127.0.0.2", addr);
    assert!(tcp_ask(&mut elsewhere, &q).is_some(), "another address is served");
    // A closed connection gives its place back.
    drop(open.pop());
    std::thread::sleep(Duration::from_millis(200));
    let mut again = tcp_from("127.0.0.1", addr);
    assert!(tcp_ask(&mut again, &q).is_some(), "a place freed is taken again");
    for c in &mut open {
        assert!(tcp_ask(c, &q).is_some(), "the open ones are still served");
    }
    server.stop();
}

/// A query for `name` A with an ECS option for `subnet` (an IPv4 /32).
fn ecs_query(id: u16, name: &str, client: std::net::Ipv4Addr) -> Vec<u8> {
    let mut q = query(id, name, None);
    let ecs = [&[0u8, 8, 0, 8, 0, 1, 32, 0][..], &client.octets()].concat();
    let rdlength_at = q.len() - 2;
    q[rdlength_at..].copy_from_slice(&(ecs.len() as u16).to_be_bytes());
    q.extend_from_slice(&ecs);
    q
}

/// The A addresses of an answer (its answer section's A records).
fn a_records(packet: &[u8]) -> Vec<std::net::Ipv4Addr> {
    let mut at = 12;
    while packet[at] != 0 {
        at += 1 + usize::from(packet[at]);
    }
    at += 5;
    let mut out = Vec::new();
    for _ in 0..u16::from_be_bytes([packet[6], packet[7]]) {
        at += if packet[at] & 0xc0 == 0xc0 { 2 } else { unreachable!("answers are compressed") };
        let (rtype, rdlen) = (
            u16::from_be_bytes([packet[at], packet[at + 1]]),
            usize::from(u16::from_be_bytes([packet[at + 8], packet[at + 9]])),
        );
        if rtype == 1 {
            out.push(std::net::Ipv4Addr::new(packet[at + 10], packet[at + 11], packet[at + 12], packet[at + 13]));
        }
        at += 10 + rdlen;
    }
    out
}

#[test]
fn a_list_written_slowly_in_place_never_goes_live_half_written() {
    use std::io::Write;
    common::tools::require(&["kill"]);
    let dir = test_dir("half-written");
    std::fs::write(
        dir.join("rules.yaml"),
        "version: 1\nserver:\n  watch: true\nlines:\n  - name: telecom\n    sources: [{ file: telecom.txt }]\nzones:\n  - origin: example.com\n    \
         soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\n    records: [{ name: ns1, type: A, values: 192.0.2.53 }]\n    \
         line_records:\n      - { name: www, type: A, pools: { telecom: [192.0.2.1], default: [192.0.2.100] } }\n",
    )
    .unwrap();
    // The old list and the new one both hold 198.51.100.0/24, the new one as its last line:
    // any part of the new list without its end would send 198.51.100.7 to default.
    std::fs::write(dir.join("telecom.txt"), "198.51.100.0/24\n").unwrap();
    let rules = dir.join("rules.yaml");
    let server = RunningServer::start(rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let asker = socket("127.0.0.1", addr);
    asker.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let telecom = [std::net::Ipv4Addr::new(192, 0, 2, 1)];
    let ask_for = |client: [u8; 4]| {
        asker.send(&ecs_query(1, "www.example.com", client.into())).unwrap();
        let mut buf = [0u8; 1500];
        let n = asker.recv(&mut buf).expect("an answer");
        a_records(&buf[..n])
    };
    assert_eq!(ask_for([198, 51, 100, 7]), telecom);
    assert_eq!(ask_for([10, 0, 0, 7]), [std::net::Ipv4Addr::new(192, 0, 2, 100)]);

    // Write 40,000 lines in place, 1,000 every 40 ms (as rsync --inplace at a limited
    // rate would), and send SIGHUP every 150 ms meanwhile, while asking all the time.
    let list = dir.join("telecom.txt");
    let pid = server.pid().to_string();
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&list).unwrap(); // truncates: in place
        let mut last_hup = Instant::now();
        for chunk in 0..40u32 {
            let text: String =
                (0..1000u32).map(|i| format!("10.{chunk}.{}.{}/26\n", i % 250, (i / 250) * 64)).collect();
            file.write_all(text.as_bytes()).unwrap();
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(40));
            if last_hup.elapsed() > Duration::from_millis(150) {
                let _ = std::process::Command::new("kill").args(["-HUP", &pid]).status();
                last_hup = Instant::now();
            }
        }
        file.write_all(b"198.51.100.0/24\n").unwrap();
    });
    let mut asked = 0;
    while !writer.is_finished() {
        assert_eq!(
            ask_for([198, 51, 100, 7]),
            telecom,
            "answered from a partial list after {asked} queries:\n{}",
            server.log()
        );
        asked += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    writer.join().unwrap();
    // Once it is whole and quiet, the new list goes live (the watch, or a SIGHUP's retry).
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask_for([10, 0, 0, 7]) != telecom && Instant::now() < deadline {
        assert_eq!(ask_for([198, 51, 100, 7]), telecom);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ask_for([10, 0, 0, 7]), telecom, "the whole new list is live:\n{}", server.log());
    assert_eq!(ask_for([198, 51, 100, 7]), telecom);
    assert!(asked > 100, "asked {asked} times during the write");
    server.stop();
}

#[test]
fn a_flood_of_random_names_under_a_wildcard_shares_one_account() {
    let dir = test_dir("rrl-wildcard");
    let rules = rules_with(&dir, "  rrl: { rate: 50, slip: 2 }\n");
    let text = std::fs::read_to_string(&rules).unwrap().replacen(
        "    records:\n",
        "    records:\n      - { name: \"*.wild\", type: A, values: 192.0.2.99 }\n",
        1,
    );
    std::fs::write(&rules, text).unwrap();
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let addr = server.addrs[0];
    let s = socket("127.0.5.1", addr);
    let r = ask(&s, &query(1, "x1.wild.example.com", None));
    assert_eq!((r.rcode, r.answers), (0, 1), "the wildcard answers: {r:?}");
    // 2,000 different names, each answered from the wildcard: one account, limited.
    s.set_nonblocking(true).unwrap();
    let mut tally = Tally::default();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    for i in 0..2000u32 {
        let _ = s.send(&query(i as u16, &format!("r{i}x.wild.example.com"), None));
        if i % 40 == 39 {
            std::thread::sleep(
                (start + Duration::from_millis(u64::from(i / 40) * 10)).saturating_duration_since(Instant::now()),
            );
        }
        while let Ok(n) = s.recv(&mut buf) {
            tally.count(&buf[..n]);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    while let Ok(n) = s.recv(&mut buf) {
        tally.count(&buf[..n]);
    }
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        tally.full <= 50 * (seconds.ceil() as usize + 1),
        "random names under a wildcard are limited together: {tally:?}"
    );
    assert!(tally.truncated > 500, "{tally:?}");
    server.stop();
}
