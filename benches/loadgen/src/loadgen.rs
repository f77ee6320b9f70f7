//! A batched DNS load generator for one UDP server, on one thread (pin it to its own core):
//! several sockets, `sendmmsg`/`recvmmsg`, a bounded number of queries in flight, each
//! query from a file of distinct ECS subnets, and every answer checked against the
//! addresses expected for its subnet's line.
//!
//! ```text
//! loadgen --server 127.0.0.1:5353 --queries q.txt [--seconds 10] [--sockets 16]
//!         [--inflight 200] [--rate QPS] [--server-pid PID[,PID...]] [--no-check] [--cookie]
//!         [--dnssec]
//! ```
//!
//! `--cookie` adds a DNS COOKIE option (RFC 7873, a client cookie) to every query, so
//! that the server makes a server cookie for every answer. `--dnssec` sets the DO bit
//! (RFC 3225): a signed zone's answers carry their RRSIGs.
//!
//! The query file has one query per line: `TYPE SUBNET EXPECTED` (`A 1.2.3.0/24
//! 192.0.2.1,192.0.2.2`), the name given by `--name` (default `www.example.cn`). It prints
//! one line of `key=value` fields: qps, answered, lost, wrong, latency (average, 99th
//! percentile and worst, µs), the generator's CPU %, the server's CPU % (its processes summed) and µs per
//! answer when `--server-pid` is given, and `limit=` (generator, server, or rate).

mod mmsg;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mmsg::{BATCH, Batch};

struct Args {
    server: SocketAddr,
    queries: String,
    name: String,
    seconds: f64,
    sockets: usize,
    inflight: usize,
    rate: Option<f64>,
    server_pids: Vec<u32>,
    check: bool,
    cookie: bool,
    dnssec: bool,
}

fn args() -> Args {
    let mut a = Args {
        server: "127.0.0.1:5353".parse().unwrap(),
        queries: String::new(),
        name: "www.example.cn".into(),
        seconds: 10.0,
        sockets: 16,
        inflight: 200,
        rate: None,
        server_pids: Vec::new(),
        check: true,
        cookie: false,
        dnssec: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--server" => a.server = value().parse().unwrap_or_else(|_| die("--server IP:PORT")),
            "--queries" => a.queries = value(),
            "--name" => a.name = value(),
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| die("--seconds N")),
            "--sockets" => a.sockets = value().parse().unwrap_or_else(|_| die("--sockets N")),
            "--inflight" => a.inflight = value().parse().unwrap_or_else(|_| die("--inflight N")),
            "--rate" => a.rate = Some(value().parse().unwrap_or_else(|_| die("--rate QPS"))),
            "--server-pid" => {
                a.server_pids =
                    value().split(',').map(|p| p.parse().unwrap_or_else(|_| die("--server-pid PID[,PID...]"))).collect()
            }
            "--no-check" => a.check = false,
            "--cookie" => a.cookie = true,
            "--dnssec" => a.dnssec = true,
            other => die(&format!("unknown argument {other}")),
        }
    }
    if a.queries.is_empty() {
        die("--queries FILE is required");
    }
    a
}

fn die(message: &str) -> ! {
    eprintln!("loadgen: {message}");
    std::process::exit(2)
}

/// One query of the file: its wire form (ID patched per send) and the sorted addresses
/// its answer must hold.
struct Query {
    wire: Vec<u8>,
    expected: Vec<IpAddr>,
}

fn read_queries(path: &str, name: &str, cookie: bool, dnssec: bool) -> Vec<Query> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields[0].starts_with('#') {
            continue;
        }
        let bad = || -> ! { die(&format!("{path}:{}: expected `TYPE SUBNET EXPECTED`", n + 1)) };
        let qtype: u16 = match fields[0] {
            "A" => 1,
            "AAAA" => 28,
            _ => bad(),
        };
        let (addr, prefix) = fields.get(1).and_then(|s| s.split_once('/')).unwrap_or_else(|| bad());
        let addr: IpAddr = addr.parse().unwrap_or_else(|_| bad());
        let prefix: u8 = prefix.parse().unwrap_or_else(|_| bad());
        let mut expected: Vec<IpAddr> =
            fields.get(2).map_or(Vec::new(), |s| s.split(',').filter_map(|a| a.parse().ok()).collect());
        expected.sort();
        out.push(Query { wire: query(name, qtype, addr, prefix, cookie, dnssec), expected });
    }
    if out.is_empty() {
        die(&format!("{path}: no queries"));
    }
    out
}

/// A query with RD clear, EDNS(0) 1232 and an ECS option (RFC 7871 §6), and a COOKIE
/// option with a client cookie (RFC 7873 §4) if `cookie`; the DO bit if `dnssec`.
fn query(name: &str, qtype: u16, addr: IpAddr, prefix: u8, cookie: bool, dnssec: bool) -> Vec<u8> {
    let mut q = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    let (family, octets): (u16, Vec<u8>) = match addr {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    let used = usize::from(prefix).div_ceil(8);
    let mut ecs = family.to_be_bytes().to_vec();
    ecs.extend_from_slice(&[prefix, 0]);
    ecs.extend_from_slice(&octets[..used]);
    q.push(0);
    q.extend_from_slice(&41u16.to_be_bytes());
    q.extend_from_slice(&1232u16.to_be_bytes());
    q.extend_from_slice(&(if dnssec { 0x8000u32 } else { 0 }).to_be_bytes());
    let mut options = 8u16.to_be_bytes().to_vec();
    options.extend_from_slice(&(ecs.len() as u16).to_be_bytes());
    options.extend_from_slice(&ecs);
    if cookie {
        options.extend_from_slice(&[0, 10, 0, 8]);
        options.extend_from_slice(b"linedns!");
    }
    q.extend_from_slice(&(options.len() as u16).to_be_bytes());
    q.extend_from_slice(&options);
    q
}

/// The A/AAAA addresses of an answer's answer section, sorted, or `None` if it does not
/// parse.
fn answer_addresses(m: &[u8], out: &mut Vec<IpAddr>) -> Option<()> {
    out.clear();
    let count = |i: usize| u16::from_be_bytes([m[4 + 2 * i], m[5 + 2 * i]]);
    if m.len() < 12 {
        return None;
    }
    let (qd, an) = (count(0), count(1));
    let mut pos = 12;
    let skip_name = |mut p: usize| -> Option<usize> {
        loop {
            let b = *m.get(p)?;
            if b & 0xc0 == 0xc0 {
                return Some(p + 2);
            }
            if b == 0 {
                return Some(p + 1);
            }
            p += 1 + usize::from(b);
        }
    };
    for _ in 0..qd {
        pos = skip_name(pos)? + 4;
    }
    for _ in 0..an {
        pos = skip_name(pos)?;
        let f = m.get(pos..pos + 10)?;
        let (rtype, len) = (u16::from_be_bytes([f[0], f[1]]), usize::from(u16::from_be_bytes([f[8], f[9]])));
        let data = m.get(pos + 10..pos + 10 + len)?;
        match (rtype, len) {
            (1, 4) => out.push(IpAddr::from(<[u8; 4]>::try_from(data).ok()?)),
            (28, 16) => out.push(IpAddr::from(<[u8; 16]>::try_from(data).ok()?)),
            _ => {}
        }
        pos += 10 + len;
    }
    out.sort();
    Some(())
}

/// CPU time (user + system) of process `pid` in seconds, from /proc.
fn process_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// CPU time of this process in seconds.
fn own_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// What is in flight on one socket: by query ID, the send time and the query index.
struct Socket {
    socket: UdpSocket,
    batch: Box<Batch>,
    pending: Vec<Option<(Instant, u32)>>,
    next_id: u16,
    in_flight: usize,
}

fn main() {
    let a = args();
    let queries = read_queries(&a.queries, &a.name, a.cookie, a.dnssec);
    let per_socket = a.inflight.div_ceil(a.sockets).max(1);
    let bind: SocketAddr = if a.server.is_ipv4() { "127.0.0.1:0".parse().unwrap() } else { "[::1]:0".parse().unwrap() };
    let mut sockets: Vec<Socket> = (0..a.sockets)
        .map(|_| {
            let socket = UdpSocket::bind(bind).unwrap_or_else(|e| die(&format!("bind: {e}")));
            socket.set_nonblocking(true).unwrap();
            Socket { socket, batch: Batch::new(), pending: vec![None; 65536], next_id: 0, in_flight: 0 }
        })
        .collect();
    let timeout = Duration::from_secs(1);
    let (mut sent, mut answered, mut lost, mut wrong) = (0u64, 0u64, 0u64, 0u64);
    let mut latencies: Vec<u32> = Vec::with_capacity(1 << 22);
    let mut addresses = Vec::new();
    let mut next_query = 0usize;
    let server_cpu = |pids: &[u32]| -> Option<f64> {
        if pids.is_empty() { None } else { pids.iter().map(|&p| process_cpu(p)).sum() }
    };
    let server_cpu_start = server_cpu(&a.server_pids);
    let own_start = own_cpu();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.seconds);
    let mut last_sweep = start;
    let mut now = start;
    while now < end {
        for s in &mut sockets {
            // Answers first: they free room in flight.
            loop {
                let n = match s.batch.recv(s.socket.as_raw_fd()) {
                    Ok(n) => n,
                    Err(e) => die(&format!("recv: {e}")),
                };
                let received = Instant::now();
                for i in 0..n {
                    let m = &s.batch.bufs[i][..s.batch.lens[i]];
                    if m.len() < 12 {
                        continue;
                    }
                    let id = u16::from_be_bytes([m[0], m[1]]);
                    let Some((at, q)) = s.pending[usize::from(id)].take() else { continue };
                    s.in_flight -= 1;
                    answered += 1;
                    latencies.push(received.duration_since(at).as_micros().min(u128::from(u32::MAX)) as u32);
                    if a.check {
                        let ok = answer_addresses(m, &mut addresses).is_some()
                            && m[3] & 0x0f == 0
                            && addresses == queries[q as usize].expected;
                        if !ok {
                            wrong += 1;
                        }
                    }
                }
                if n < BATCH {
                    break;
                }
            }
            // Then as many new queries as the window (and the rate) allows.
            let allowed = match a.rate {
                Some(rate) => {
                    let due = (rate * now.duration_since(start).as_secs_f64()) as u64;
                    (due.saturating_sub(sent) as usize).min(per_socket.saturating_sub(s.in_flight))
                }
                None => per_socket.saturating_sub(s.in_flight),
            };
            let n = allowed.min(BATCH);
            if n == 0 {
                continue;
            }
            let sent_at = Instant::now();
            let mut ids = [0u16; BATCH];
            for (i, id_slot) in ids.iter_mut().enumerate().take(n) {
                let q = &queries[next_query];
                let mut id = s.next_id;
                while s.pending[usize::from(id)].is_some() {
                    id = id.wrapping_add(1);
                }
                s.next_id = id.wrapping_add(1);
                let buf = &mut s.batch.bufs[i];
                buf[..q.wire.len()].copy_from_slice(&q.wire);
                buf[..2].copy_from_slice(&id.to_be_bytes());
                s.batch.lens[i] = q.wire.len();
                s.pending[usize::from(id)] = Some((sent_at, next_query as u32));
                *id_slot = id;
                next_query = (next_query + 1) % queries.len();
            }
            let out = s.batch.send_to(s.socket.as_raw_fd(), n, a.server).unwrap_or_else(|e| die(&format!("send: {e}")));
            for &id in &ids[out..n] {
                s.pending[usize::from(id)] = None; // not sent: the kernel's buffer is full
            }
            s.in_flight += out;
            sent += out as u64;
        }
        now = Instant::now();
        // Queries unanswered for a second are lost: they free their room.
        if now.duration_since(last_sweep) > Duration::from_millis(250) {
            last_sweep = now;
            for s in &mut sockets {
                for slot in s.pending.iter_mut() {
                    if let Some((at, _)) = slot
                        && now.duration_since(*at) > timeout
                    {
                        *slot = None;
                        s.in_flight -= 1;
                        lost += 1;
                    }
                }
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let own = (own_cpu() - own_start) / elapsed * 100.0;
    let server = match (server_cpu_start, server_cpu(&a.server_pids)) {
        (Some(before), Some(after)) => Some((after - before) / elapsed * 100.0),
        _ => None,
    };
    latencies.sort_unstable();
    let avg = if latencies.is_empty() {
        0.0
    } else {
        latencies.iter().map(|&l| f64::from(l)).sum::<f64>() / latencies.len() as f64
    };
    let p99 = latencies.get(latencies.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0);
    let max = latencies.last().copied().unwrap_or(0);
    let qps = answered as f64 / elapsed;
    let limit = match (a.rate, server) {
        (Some(_), _) => "rate",
        (None, Some(s)) if s >= 90.0 && own < 90.0 => "server",
        (None, Some(s)) if own >= 90.0 && s < 90.0 => "generator",
        (None, Some(_)) => "both",
        (None, None) if own >= 90.0 => "generator",
        (None, None) => "unknown",
    };
    let server_text = server.map_or("server_cpu=? us_per_answer=?".to_string(), |s| {
        format!("server_cpu={s:.1} us_per_answer={:.3}", s / 100.0 * elapsed * 1e6 / answered.max(1) as f64)
    });
    println!(
        "qps={qps:.0} sent={sent} answered={answered} lost={lost} wrong={wrong} avg_us={avg:.1} p99_us={p99} max_us={max} gen_cpu={own:.1} {server_text} limit={limit}"
    );
    if a.check && wrong > 0 {
        std::process::exit(1);
    }
}
