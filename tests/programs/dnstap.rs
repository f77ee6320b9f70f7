//! dnstap query logs read back by real readers: BIND's `dnstap-read` (bind9-dnsutils) and
//! Knot's `kdig -G` (knot-dnsutils) for the queries and answers, Frame Streams'
//! `fstrm_capture` (fstrm-bin) as the reader of a Unix socket; the extra field (line and
//! ECS scope) decoded with the crate's own dnstap message. Then sampling, a reader that
//! is not there yet, and a reader that stops reading: dropped frames are counted and
//! every query is still answered.

use crate::common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::server::{RunningServer, dig, rules_with, test_dir};
use linedns::serve::dnstap::message::Dnstap;
use prost::Message as _;

/// The server test rules with `dnstap` (YAML flow mapping) in their `server:` section.
fn rules(dir: &Path, dnstap: &str) -> String {
    rules_with(dir, &format!("  dnstap: {dnstap}\n"))
}

/// The data frames of a Frame Streams file (START, data..., STOP), decoded.
fn frames(file: &Path) -> Vec<Dnstap> {
    let data = std::fs::read(file).unwrap();
    let word = |at: usize| u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(word(0), 0, "a control frame first");
    let mut at = 8 + word(4);
    let mut out = Vec::new();
    loop {
        let len = word(at);
        if len == 0 {
            assert_eq!(word(at + 8), 3, "the stream ends with STOP");
            return out;
        }
        out.push(Dnstap::decode(&data[at + 4..at + 4 + len]).expect("a dnstap message"));
        at += 4 + len;
    }
}

/// `dnstap-read FILE`, one line per frame.
fn dnstap_read(file: &Path) -> Vec<String> {
    let out = common::tools::tool("dnstap-read").arg(file).output().unwrap();
    assert!(out.status.success(), "dnstap-read: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// A sample of the server's metrics.
fn metric(admin: SocketAddr, sample: &str) -> u64 {
    let out = common::tools::tool("curl").args(["-s", "--max-time", "5", &format!("http://{admin}/metrics")]).output();
    let text = String::from_utf8_lossy(&out.unwrap().stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with(sample)).unwrap_or_else(|| panic!("{sample} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Sends `count` queries for static.example.com A over UDP, one at a time, and returns
/// how many were answered (each waits at most 2 s).
fn ask_many(server: SocketAddr, count: u16) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut answered = 0;
    let mut buf = [0u8; 1500];
    for id in 0..count {
        let mut query = id.to_be_bytes().to_vec();
        query.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for label in ["static", "example", "com"] {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 1, 0, 1]);
        socket.send_to(&query, server).unwrap();
        if socket.recv(&mut buf).is_ok_and(|n| n > 12 && buf[..2] == id.to_be_bytes()) {
            answered += 1;
        }
    }
    answered
}

/// `fstrm_capture` reading dnstap from a Unix socket into a file, stopped by PID.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(socket: &Path, file: &Path) -> Capture {
        let child = common::tools::tool("fstrm_capture")
            .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
            .arg(socket)
            .arg("-w")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fstrm_capture");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < Duration::from_secs(5), "fstrm_capture made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Capture { child, file: file.to_path_buf() }
    }

    /// Stops it (SIGTERM: it closes the file with STOP) and returns the file.
    fn stop(mut self) -> PathBuf {
        common::tools::tool("kill").arg(self.child.id().to_string()).status().unwrap();
        let _ = self.child.wait();
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn queries_and_answers_in_a_file_read_back_by_dnstap_read_and_kdig() {
    common::tools::require(&["dnstap-read", "kdig", "kill", "curl"]);
    let dir = test_dir("dnstap-file");
    let log = dir.join("queries.dnstap");
    let server = RunningServer::start(&rules(&dir, &format!("{{ file: {} }}", log.display())), &["127.0.0.1:0"]);
    let dns = server.addrs[0];
    let live = [
        dig(dns, &["www.example.com", "A", "+subnet=198.51.100.7/32"]),
        dig(dns, &["static.example.com", "A", "+tcp"]),
        dig(dns, &["nothing.example.com", "AAAA"]),
    ];
    let log_text = server.stop();
    assert!(log_text.contains("dnstap: logging one query in 1"), "{log_text}");

    let lines = dnstap_read(&log);
    assert_eq!(lines.len(), 6, "a query and an answer for each of the 3 queries:\n{}", lines.join("\n"));
    for (i, (transport, question)) in
        [("UDP", "www.example.com/IN/A"), ("TCP", "static.example.com/IN/A"), ("UDP", "nothing.example.com/IN/AAAA")]
            .iter()
            .enumerate()
    {
        let (query, answer) = (&lines[2 * i], &lines[2 * i + 1]);
        assert!(query.contains(" AQ 127.0.0.1:") && query.contains(transport) && query.ends_with(question), "{query}");
        assert!(
            answer.contains(" AR 127.0.0.1:") && answer.contains(transport) && answer.ends_with(question),
            "{answer}"
        );
    }
    // kdig replays the answers as it printed them live: the same sections.
    let replay = common::tools::tool("kdig").arg("-G").arg(&log).output().unwrap();
    let replay = String::from_utf8_lossy(&replay.stdout).into_owned();
    let section = |text: &str, name: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with(";"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    for (out, name) in live.iter().zip(["www.example.com.", "static.example.com.", "example.com."]) {
        let answers = section(out, name);
        assert!(!answers.is_empty(), "{out}");
        for record in answers {
            assert!(section(&replay, name).contains(&record), "{record} replayed by kdig -G:\n{replay}");
        }
    }
    assert!(replay.contains("status: NXDOMAIN") || replay.contains("status: NOERROR"), "{replay}");
    assert!(replay.contains("CLIENT-SUBNET: 198.51.100.7/32/27"), "the ECS scope answered:\n{replay}");

    // The extra field: the client's line and the ECS scope.
    let frames = frames(&log);
    assert_eq!(frames.len(), 6);
    let extra = |i: usize| String::from_utf8(frames[i].extra.clone().unwrap_or_default()).unwrap();
    assert_eq!(extra(1), "line=gd-telecom ecs=198.51.100.7/32 scope=27");
    assert_eq!(extra(3), "", "an answer that does not depend on the line has no extra");
    let identity = String::from_utf8(frames[0].identity.clone().unwrap()).unwrap();
    assert!(!identity.is_empty());
    assert!(String::from_utf8(frames[0].version.clone().unwrap()).unwrap().starts_with("linedns "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_socket_reader_gets_the_frames_and_one_query_in_ten_is_sampled() {
    common::tools::require(&["dnstap-read", "fstrm_capture", "kdig", "kill", "curl"]);
    let dir = test_dir("dnstap-socket");
    let socket = dir.join("dnstap.sock");
    // The server starts before its reader: frames are dropped (counted) until it answers.
    let rules = rules(&dir, &format!("{{ socket: {}, sample: 0.1 }}", socket.display()));
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    assert_eq!(ask_many(server.addrs[0], 50), 50);
    assert!(metric(server.admin, "linedns_dnstap_frames_total{result=\"dropped\"}") >= 2);
    let capture = Capture::start(&socket, &dir.join("capture.dnstap"));
    // The writer dials again within its 2 s: wait for the first frame written.
    let start = Instant::now();
    while metric(server.admin, "linedns_dnstap_frames_total{result=\"written\"}") == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "not connected to the reader within 10 s");
        ask_many(server.addrs[0], 10);
    }
    let before = settled(server.admin, "linedns_dnstap_frames_total{result=\"written\"}");
    assert_eq!(ask_many(server.addrs[0], 400), 400);
    let written = settled(server.admin, "linedns_dnstap_frames_total{result=\"written\"}") - before;
    // Each of the 2 UDP workers logs every 10th query it answers: 38 to 40 of 400, two
    // frames each.
    assert!((76..=80).contains(&written), "{written} frames for 400 queries at sample 0.1");
    server.stop();
    let file = capture.stop();
    let lines = dnstap_read(&file);
    let total = frames_read(&lines);
    assert!(total >= 76 && total.is_multiple_of(2), "{total} frames read back:\n{}", lines.join("\n"));
    assert!(lines.iter().all(|l| l.ends_with("static.example.com/IN/A")), "{}", lines.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A counter once it has stopped moving for 300 ms (the writer thread counts after the
/// answers went), at most 5 s.
fn settled(admin: SocketAddr, sample: &str) -> u64 {
    let start = Instant::now();
    let mut last = metric(admin, sample);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = metric(admin, sample);
        if now == last || start.elapsed() > Duration::from_secs(5) {
            return now;
        }
        last = now;
    }
}

/// The frames `dnstap-read` printed (one line each).
fn frames_read(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.contains(" AQ ") || l.contains(" AR ")).count()
}

/// A reader that takes the handshake, then never reads: the socket's buffer fills, the
/// writer blocks, the queue fills, and frames are dropped and counted while every query
/// is still answered.
#[test]
fn a_reader_that_stops_reading_costs_dropped_frames_not_answers() {
    common::tools::require(&["kdig", "kill", "curl"]);
    let dir = test_dir("dnstap-stalled");
    let path = dir.join("stalled.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ready = linedns::serve::dnstap::frames::read_control(&mut stream).unwrap();
        use std::io::Write;
        stream
            .write_all(&linedns::serve::dnstap::frames::control(linedns::serve::dnstap::frames::Control::Accept, true))
            .unwrap();
        // Hold the connection open, reading nothing, until the test ends.
        std::thread::sleep(Duration::from_secs(30));
        drop(stream);
    });
    let rules = rules(&dir, &format!("{{ socket: {}, queue: 64 }}", path.display()));
    let server = RunningServer::start(&rules, &["127.0.0.1:0"]);
    let started = Instant::now();
    let answered = ask_many(server.addrs[0], 5000);
    let took = started.elapsed();
    assert_eq!(answered, 5000, "every query answered");
    let dropped = metric(server.admin, "linedns_dnstap_frames_total{result=\"dropped\"}");
    let written = metric(server.admin, "linedns_dnstap_frames_total{result=\"written\"}");
    assert!(dropped > 0, "frames dropped once the reader stopped reading ({written} written)");
    // Every frame is written or counted as dropped, but for those still queued (at most
    // the queue's 64 queries and the one being written, two frames each).
    let counted = dropped + written;
    assert!((10_000 - 2 * 65..=10_000).contains(&counted), "{written} written + {dropped} dropped of 10000");
    assert!(took < Duration::from_secs(20), "5000 queries in {took:?}");
    // Stopping does not wait for the stalled reader beyond its timeouts (stop() allows 10 s).
    let stopping = Instant::now();
    server.stop();
    assert!(stopping.elapsed() < Duration::from_secs(8), "stopped in {:?}", stopping.elapsed());
    drop(reader);
    let _ = std::fs::remove_dir_all(&dir);
}
