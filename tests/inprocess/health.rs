//! Health checks against real backends started by the test on loopback, and the failover
//! policy they drive: fall/rise, min_healthy along a 3-step chain, fail open with the
//! degraded TTL, hanging targets, and health kept across reloads.

use crate::common;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use linedns::compile::RulesSource;
use linedns::serve::health::checker::{CheckerStats, run as run_checker};
use linedns::{ClientInfo, CompileOptions, Engine, Query, RecordType, Served};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The health checker of an engine, running until [`Checker::stop`].
struct Checker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Checker {
    fn start(engine: &Arc<Engine>, stats: Arc<CheckerStats>) -> Checker {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run_checker(engine.clone(), stats, async {
            let _ = stopped.await;
        }));
        Checker { stop, task }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap();
    }
}

/// A TCP backend that accepts (and closes) connections until dropped.
struct TcpBackend {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TcpBackend {
    async fn start(addr: SocketAddr) -> TcpBackend {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                drop(conn);
            }
        });
        TcpBackend { addr, task }
    }

    fn stop(self) -> SocketAddr {
        self.task.abort();
        self.addr
    }
}

/// An HTTP backend answering 200 "ok" while `healthy`, else 503.
async fn http_backend(healthy: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let healthy = healthy.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let response = if healthy.load(Ordering::SeqCst) {
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                } else {
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
                };
                let _ = conn.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

/// A backend that accepts connections and never answers.
async fn hanging_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    addr
}

fn write_rules(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("linedns-health-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// Addresses and TTLs answered for `www.example.com A` to a client in `subnet`.
fn answer(engine: &Engine, subnet: &str) -> (Vec<String>, u32, Served, u8) {
    let snapshot = engine.snapshot();
    let (addr, len) = subnet.split_once('/').unwrap();
    let client = ClientInfo::from_ecs(addr.parse::<IpAddr>().unwrap(), len.parse().unwrap());
    let a = snapshot.resolve(&Query::new("www.example.com", RecordType::A), &client, &snapshot.live_health());
    let mut addrs: Vec<String> = a.answers.iter().map(|r| r.data.to_string()).collect();
    addrs.sort();
    let ttl = a.answers.first().map_or(0, |r| r.ttl);
    let route = a.route.unwrap();
    (addrs, ttl, route.how, route.fallback_depth)
}

/// Polls `cond` every 20 ms for at most `limit`.
async fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn head(checks: &str) -> String {
    format!(
        "version: 1\nserver:\n  watch: false\nhealth_checks:\n{checks}\nlines:\n  - name: domestic\n    sources: [{{ cidr: [10.0.0.0/8] }}]\n  - name: telecom\n    parent: domestic\n    sources: [{{ cidr: [10.1.0.0/16] }}]\n  - name: gd-telecom\n    parent: telecom\n    sources: [{{ cidr: [10.1.1.0/24] }}]\nzones:\n  - origin: example.com\n    soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}\n    ns: [ns1]\n    line_records:\n      - name: www\n        type: A\n        ttl: 60\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_node_leaves_after_fall_and_returns_after_rise() {
    let a = TcpBackend::start("127.0.0.1:0".parse().unwrap()).await;
    let b = TcpBackend::start("127.0.0.1:0".parse().unwrap()).await;
    let rules = format!(
        "{}        health_check: tcp\n        pools:\n          default:\n            - {{ address: 192.0.2.1, probe: \"{}\" }}\n            - {{ address: 192.0.2.2, probe: \"{}\" }}\n",
        head("  tcp: { kind: tcp, interval_ms: 100, timeout_ms: 100, jitter_ms: 10, fall: 3, rise: 2 }"),
        a.addr,
        b.addr
    );
    let engine = Arc::new(Engine::from_rules(&write_rules("fallrise", &rules), CompileOptions::default()).unwrap());
    let checker = Checker::start(&engine, Arc::new(CheckerStats::default()));
    eventually(Duration::from_secs(3), "first probes ran", || {
        engine.snapshot().probes.iter().all(|p| p.state.counters().0 >= 2)
    })
    .await;
    assert_eq!(answer(&engine, "8.8.8.0/24").0, ["192.0.2.1", "192.0.2.2"]);

    // Stop A: connections are refused; after `fall` (3) failures it leaves the answers.
    let a_addr = a.stop();
    let down_at = Instant::now();
    eventually(Duration::from_secs(3), "A marked down", || answer(&engine, "8.8.8.0/24").0 == ["192.0.2.2"]).await;
    let probe_a = engine.snapshot().probes.iter().find(|p| p.key.target == a_addr).unwrap().state.clone();
    let (runs, failed, _) = probe_a.counters();
    assert!(failed >= 3, "down only after 3 failures: {runs} runs, {failed} failed");
    assert!(down_at.elapsed() >= Duration::from_millis(150), "not before the 3rd failure");
    let (_, ttl, how, _) = answer(&engine, "8.8.8.0/24");
    assert_eq!((ttl, how), (30, Served::Pool), "a pool with a down node: degraded TTL (half)");

    // Start A again on the same port: back after `rise` (2) successes.
    let a = TcpBackend::start(a_addr).await;
    eventually(Duration::from_secs(3), "A back up", || answer(&engine, "8.8.8.0/24").0.len() == 2).await;
    assert_eq!(answer(&engine, "8.8.8.0/24").1, 60, "all healthy: the record's TTL");
    checker.stop().await;
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_healthy_falls_back_along_a_three_step_chain_then_fails_open() {
    let flags: Vec<Arc<AtomicBool>> = (0..6).map(|_| Arc::new(AtomicBool::new(true))).collect();
    let mut addrs = Vec::new();
    for f in &flags {
        addrs.push(http_backend(f.clone()).await);
    }
    let pool = |i: usize, j: usize| {
        format!(
            "[{{ address: 192.0.2.{}, probe: \"{}\" }}, {{ address: 192.0.2.{}, probe: \"{}\" }}]",
            i + 1,
            addrs[i],
            j + 1,
            addrs[j]
        )
    };
    // Every probe stays on loopback: default's two nodes probe ports nothing listens on.
    let closed = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let default_pool = format!(
        "[{{ address: 192.0.2.100, probe: \"{}\" }}, {{ address: 192.0.2.101, probe: \"{}\" }}]",
        closed(),
        closed()
    );
    let rules = format!(
        "{}        health_check: web\n        min_healthy: 2\n        degraded_ttl: 7\n        pools:\n          gd-telecom: {}\n          telecom: {}\n          domestic: {}\n          default: {default_pool}\n        fallback:\n          gd-telecom: [telecom, domestic]\n",
        head(
            "  web: { kind: http, path: /health, expect_status: [200], body_contains: ok, interval_ms: 100, timeout_ms: 200, fall: 1, rise: 1 }"
        ),
        pool(0, 1),
        pool(2, 3),
        pool(4, 5),
    );
    let engine = Arc::new(Engine::from_rules(&write_rules("chain", &rules), CompileOptions::default()).unwrap());
    let checker = Checker::start(&engine, Arc::new(CheckerStats::default()));
    let gd = "10.1.1.0/24";
    assert_eq!(answer(&engine, gd), (vec!["192.0.2.1".into(), "192.0.2.2".into()], 60, Served::Pool, 0));
    // One gd-telecom node down: below min_healthy 2, so telecom answers (1 step).
    flags[0].store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(3), "gd-telecom pool unusable", || answer(&engine, gd).3 == 1).await;
    assert_eq!(answer(&engine, gd), (vec!["192.0.2.3".into(), "192.0.2.4".into()], 7, Served::Pool, 1));
    // And one telecom node: domestic answers (2 steps: the third line of the chain).
    flags[3].store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(3), "telecom pool unusable", || answer(&engine, gd).3 == 2).await;
    assert_eq!(answer(&engine, gd), (vec!["192.0.2.5".into(), "192.0.2.6".into()], 7, Served::Pool, 2));
    // A domestic node too; default (the chain's end) is down as well: the record fails
    // open with the first pool of the chain whole, at the degraded TTL.
    flags[4].store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(3), "every pool unusable", || answer(&engine, gd).2 == Served::FailOpen).await;
    assert_eq!(answer(&engine, gd), (vec!["192.0.2.1".into(), "192.0.2.2".into()], 7, Served::FailOpen, 0));
    // Health returns: back to gd-telecom at the full TTL.
    for f in &flags {
        f.store(true, Ordering::SeqCst);
    }
    eventually(Duration::from_secs(3), "recovered", || answer(&engine, gd).3 == 0 && answer(&engine, gd).1 == 60).await;
    checker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_fails_by_its_timeout_and_delays_no_other_probe() {
    let hang = hanging_backend().await;
    let good = TcpBackend::start("127.0.0.1:0".parse().unwrap()).await;
    let rules = format!(
        "{}        health_check: web\n        pools:\n          default:\n            - {{ address: 192.0.2.1, probe: \"{hang}\" }}\n            - {{ address: 192.0.2.2, probe: \"{}\" }}\n",
        head("  web: { kind: http, interval_ms: 100, timeout_ms: 1500, jitter_ms: 0, fall: 1, rise: 1 }"),
        good.addr
    );
    let engine = Arc::new(Engine::from_rules(&write_rules("hang", &rules), CompileOptions::default()).unwrap());
    let checker = Checker::start(&engine, Arc::new(CheckerStats::default()));
    let probes =
        |target: SocketAddr| engine.snapshot().probes.iter().find(|p| p.key.target == target).unwrap().state.clone();
    let (hung, fine) = (probes(hang), probes(good.addr));
    // The good target is a TCP listener that closes at once: "not an HTTP response", a
    // failure, but a fast one; it keeps its 100 ms cadence while the other hangs.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(hung.counters().0, 0, "the hanging probe has not finished yet");
    assert!(fine.counters().0 >= 6, "the other probe ran {} times in 1 s", fine.counters().0);
    // The hanging probe fails at its timeout, not later.
    eventually(Duration::from_millis(1200), "hanging probe timed out", || hung.counters().0 >= 1).await;
    assert_eq!(hung.counters().1, 1, "the hang counts as a failure");
    assert!(!hung.is_up());
    checker.stop().await;
    good.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_check_against_a_real_dns_server_and_initial_down() {
    // linedns itself, on port 0, is the DNS target: example.com SOA → NOERROR.
    let target = linedns::serve::Server::from_rules(
        &common::repo_path("tests/rules/server.yaml"),
        CompileOptions::default(),
        None,
    )
    .unwrap();
    let listeners = linedns::serve::bind(&["127.0.0.1:0".parse().unwrap()], 1).unwrap();
    let dns = listeners.local_addrs().unwrap().1[0];
    let (stop_dns, dns_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(target.run(listeners, async {
        let _ = dns_stopped.await;
    }));
    let rules = format!(
        "{}        health_check: dns\n        pools:\n          default:\n            - {{ address: 192.0.2.1, probe: \"{dns}\" }}\n      - name: other\n        type: A\n        health_check: refused\n        pools:\n          default:\n            - {{ address: 192.0.2.9, probe: \"{dns}\" }}\n",
        head(
            "  dns: { kind: dns, query: example.com, qtype: SOA, interval_ms: 100, timeout_ms: 100, fall: 1, rise: 2, initial: down }\n  refused: { kind: dns, query: example.org, interval_ms: 100, timeout_ms: 100, fall: 1, rise: 1 }"
        ),
    );
    let engine = Arc::new(Engine::from_rules(&write_rules("dns", &rules), CompileOptions::default()).unwrap());
    let probe = |check: &str| engine.snapshot().probes.iter().find(|p| p.key.check == check).unwrap().state.clone();
    assert!(!probe("dns").is_up(), "initial: down holds before the first result");
    let checker = Checker::start(&engine, Arc::new(CheckerStats::default()));
    eventually(Duration::from_secs(3), "NOERROR probes raise it", || probe("dns").is_up()).await;
    eventually(Duration::from_secs(3), "REFUSED marks the other down", || !probe("refused").is_up()).await;
    checker.stop().await;
    stop_dns.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_the_health_of_unchanged_nodes_and_stops_removed_probes() {
    let a = TcpBackend::start("127.0.0.1:0".parse().unwrap()).await;
    let b = TcpBackend::start("127.0.0.1:0".parse().unwrap()).await;
    let checks = "  tcp: { kind: tcp, interval_ms: 100, timeout_ms: 100, fall: 1, rise: 3 }";
    let with_b = format!(
        "{}        health_check: tcp\n        pools:\n          default:\n            - {{ address: 192.0.2.1, probe: \"{}\" }}\n            - {{ address: 192.0.2.2, probe: \"{}\" }}\n",
        head(checks),
        a.addr,
        b.addr
    );
    let path = write_rules("reload", &with_b);
    let engine = Arc::new(Engine::from_rules(&path, CompileOptions::default()).unwrap());
    let source = RulesSource { path: path.clone(), options: CompileOptions::default() };
    let reload = || source.load().map(|compiled| engine.swap(compiled.snapshot));
    let stats = Arc::new(CheckerStats::default());
    let checker = Checker::start(&engine, stats.clone());
    a.stop();
    eventually(Duration::from_secs(3), "A down", || answer(&engine, "8.8.8.0/24").0 == ["192.0.2.2"]).await;
    // Reload the same rules: A's probe state is kept (down), not reset to up.
    let report = reload().unwrap();
    assert_eq!((report.probes_kept, report.probes_added.len()), (2, 0));
    assert_eq!(answer(&engine, "8.8.8.0/24").0, ["192.0.2.2"], "A stays down across the reload");
    // Remove B from the rules: its probe stops; A's state still holds.
    let without_b = with_b.lines().filter(|l| !l.contains("192.0.2.2")).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(&path, without_b).unwrap();
    let report = reload().unwrap();
    assert_eq!(report.probes_removed, [format!("tcp {}", b.addr)]);
    eventually(Duration::from_secs(2), "B's probe stopped", || stats.running.load(Ordering::Relaxed) == 1).await;
    assert_eq!(answer(&engine, "8.8.8.0/24").2, Served::FailOpen, "only A remains, and it is down");
    // A broken file: the reload fails and the running snapshot stays.
    std::fs::write(&path, "version: 1\nlines: [oops\n").unwrap();
    let generation = engine.generation();
    assert!(reload().is_err());
    assert_eq!(engine.generation(), generation);
    assert_eq!(answer(&engine, "8.8.8.0/24").2, Served::FailOpen);
    checker.stop().await;
    b.stop();
}

/// An HTTPS backend with a self-signed certificate for `backend.test` and 127.0.0.1;
/// answers 200 "ok". Returns its address and the certificate (PEM) to trust.
async fn https_backend() -> (SocketAddr, String) {
    let key = rcgen::generate_simple_self_signed(vec!["backend.test".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert_der = key.cert.der().clone();
    let key_der = rustls_pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(conn).await else { return };
                let mut buf = [0u8; 1024];
                let _ = tls.read(&mut buf).await;
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, key.cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_check_verifies_the_certificate() {
    let (addr, pem) = https_backend().await;
    let ca = std::env::temp_dir().join(format!("linedns-health-{}-ca.pem", std::process::id()));
    std::fs::write(&ca, pem).unwrap();
    // Trusted CA and the right name: up. The Mozilla roots (no ca_file) do not know this
    // self-signed certificate, and a wrong name fails verification: both down.
    let checks = format!(
        "  good: {{ kind: https, ca_file: \"{ca}\", server_name: backend.test, body_contains: ok, interval_ms: 100, timeout_ms: 500, fall: 1, rise: 1, initial: down }}\n  by-ip: {{ kind: https, ca_file: \"{ca}\", interval_ms: 100, timeout_ms: 500, fall: 1, rise: 1, initial: down }}\n  untrusted: {{ kind: https, server_name: backend.test, interval_ms: 100, timeout_ms: 500, fall: 1, rise: 1 }}\n  wrong-name: {{ kind: https, ca_file: \"{ca}\", server_name: other.test, interval_ms: 100, timeout_ms: 500, fall: 1, rise: 1 }}",
        ca = ca.display()
    );
    let record = |name: &str, check: &str| {
        format!(
            "      - name: {name}\n        type: A\n        health_check: {check}\n        pools:\n          default: [{{ address: 192.0.2.1, probe: \"{addr}\" }}]\n"
        )
    };
    let rules = format!(
        "{}        pools:\n          default: [192.0.2.100]\n{}{}{}{}",
        head(&checks),
        record("good", "good"),
        record("byip", "by-ip"),
        record("untrusted", "untrusted"),
        record("wrongname", "wrong-name")
    );
    let engine = Arc::new(Engine::from_rules(&write_rules("https", &rules), CompileOptions::default()).unwrap());
    let checker = Checker::start(&engine, Arc::new(CheckerStats::default()));
    let state = |check: &str| engine.snapshot().probes.iter().find(|p| p.key.check == check).unwrap().state.clone();
    eventually(Duration::from_secs(5), "verified HTTPS probe goes up", || state("good").is_up()).await;
    eventually(Duration::from_secs(5), "IP-address verification goes up", || state("by-ip").is_up()).await;
    eventually(Duration::from_secs(5), "untrusted certificate goes down", || !state("untrusted").is_up()).await;
    eventually(Duration::from_secs(5), "wrong name goes down", || !state("wrong-name").is_up()).await;
    checker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_down_policies_and_a_node_forced_up() {
    // Every probe targets a closed loopback port: all nodes go down after one failure.
    let closed = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let node = |addr: &str| format!("{{ address: {addr}, probe: \"{}\" }}", closed());
    let record = |name: &str, policy: &str| {
        format!(
            "      - name: {name}\n        type: A\n        health_check: tcp\n        degraded_ttl: 5\n        when_all_down: {policy}\n        pools:\n          default: [{}, {}]\n",
            node("192.0.2.1"),
            node("192.0.2.2")
        )
    };
    let rules = format!(
        "{}        pools:\n          default: [192.0.2.100]\n{}{}",
        head("  tcp: { kind: tcp, interval_ms: 100, timeout_ms: 100, fall: 1, rise: 1 }"),
        record("sf", "servfail"),
        record("lr", "{ last_resort: [192.0.2.250] }")
    );
    let engine = Arc::new(Engine::from_rules(&write_rules("policies", &rules), CompileOptions::default()).unwrap());
    let checker = Checker::start(&engine, Arc::new(CheckerStats::default()));
    eventually(Duration::from_secs(3), "all nodes down", || engine.snapshot().probes.iter().all(|p| !p.state.is_up()))
        .await;
    let ask = |name: &str| {
        let snapshot = engine.snapshot();
        let client = ClientInfo::from_source("8.8.8.8".parse().unwrap());
        let a = snapshot.resolve(&Query::new(name, RecordType::A), &client, &snapshot.live_health());
        let addrs: Vec<String> = a.answers.iter().map(|r| r.data.to_string()).collect();
        (a.rcode, addrs, a.answers.first().map(|r| r.ttl), a.route.map(|r| r.how))
    };
    assert_eq!(ask("sf.example.com"), (linedns::Rcode::ServFail, vec![], None, Some(Served::ServFail)));
    assert_eq!(
        ask("lr.example.com"),
        (linedns::Rcode::NoError, vec!["192.0.2.250".to_string()], Some(5), Some(Served::LastResort))
    );
    // An operator forces one node up over its failing probe: it is answered again.
    let forced = engine
        .add_override(
            linedns::engine::overrides::Target::Node("192.0.2.1".parse().unwrap()),
            linedns::engine::overrides::Forced::Up,
            "ops".into(),
            "probe is wrong".into(),
            1_764_547_200,
        )
        .unwrap();
    assert_eq!(ask("sf.example.com").1, ["192.0.2.1"]);
    assert!(engine.remove_override(forced.id));
    assert_eq!(ask("sf.example.com").0, linedns::Rcode::ServFail);
    checker.stop().await;
}
