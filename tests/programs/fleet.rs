//! A fleet: three linedns instances at three sites share their probe results through
//! NATS with JetStream (`nats-server` from Debian, started by the test) and decide each
//! node's health together; a failed backend leaves every instance's answers within
//! interval x fall + 2 s; the store stopped, every instance keeps answering from the last
//! fleet state and its own probes, and rejoins once the store is back. With each instance
//! in its own network namespace, a path cut between one of them and a backend changes no
//! answer (a quorum of 2 sites of 3 still sees the node).

use crate::common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::backend::Backend;
use common::netns::Fabric;
use common::secondaries::{free_port, start_nats, start_nats_with};
use common::server::{RunningServer, answers, dig};
use common::tools::require;

/// The rules of instance `name` at `site`: `www` A from two nodes, each probed (TCP,
/// every 200 ms, down after 2 failures) at its own backend.
fn rules(dir: &Path, name: &str, site: &str, store: SocketAddr, backends: [SocketAddr; 2]) -> String {
    let text = format!(
        r#"version: 1
server:
  serial_coalesce_ms: 1000
fleet:
  instance: {name}
  site: {site}
  store: {{ kind: nats, servers: ["nats://{store}"] }}
  health: {{ quorum: 2 }}
  result_expiry_ms: 3000
health_checks:
  tcp: {{ kind: tcp, interval_ms: 200, timeout_ms: 300, fall: 2, rise: 1 }}
zones:
  - origin: example.com.
    soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}
    ns: [ns1]
    records:
      - {{ name: ns1, type: A, values: 192.0.2.53 }}
    line_records:
      - name: www
        type: A
        health_check: tcp
        pools:
          default:
            - {{ address: 192.0.2.1, probe: "{}" }}
            - {{ address: 192.0.2.2, probe: "{}" }}
"#,
        backends[0], backends[1]
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A value of the instance's `/metrics`.
fn metric(server: &RunningServer, name: &str) -> Option<f64> {
    let (_, body) = common::admin::call(server.admin, "GET", "/metrics", None, None);
    body.lines().find(|l| l.starts_with(name) && !l.starts_with('#'))?.rsplit(' ').next()?.parse().ok()
}

/// Waits (at most `limit`) until `done` holds; how long it took.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn three_instances_decide_together_and_keep_serving_without_the_store() {
    require(&["kdig", "nats-server", "kill", "curl", "chromium"]);
    let dir = common::server::test_dir("fleet");
    let store_port = free_port();
    let store_addr: SocketAddr = ([127, 0, 0, 1], store_port).into();
    let nats = start_nats(&dir.join("nats"), store_addr);
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let first = Backend::start_on(loopback);
    let second = Backend::start_on(loopback);
    let backends = [first.addr, second.addr];
    let instances: Vec<RunningServer> = [("bj1", "beijing"), ("sh1", "shanghai"), ("gz1", "guangzhou")]
        .iter()
        .map(|(name, site)| RunningServer::start(&rules(&dir, name, site, store_addr, backends), &["127.0.0.1:0"]))
        .collect();
    let www = |s: &RunningServer| answers(&dig(s.addrs[0], &["www.example.com", "A", "+norec"]));
    // Each holds the other two instances' results for both probes.
    for s in &instances {
        let joined = within(Duration::from_secs(10), || {
            metric(s, "linedns_fleet_store_up") == Some(1.0) && metric(s, "linedns_fleet_results_held") >= Some(4.0)
        });
        assert!(joined.is_some(), "instance did not join the fleet:\n{}", s.log());
        assert_eq!(www(s), ["192.0.2.1", "192.0.2.2"]);
    }
    // The status page shows each site's view of each node beside the decision.
    let sites = || {
        let (_, status) = common::admin::call(instances[0].admin, "GET", "/status", None, None);
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        let probe = &status["records"][0]["pools"][0]["nodes"][0]["probe"];
        let sites: Vec<(String, bool)> = probe["sites"]
            .as_array()
            .map(|all| all.iter().map(|r| (r["site"].as_str().unwrap_or("").to_string(), r["up"] == true)).collect())
            .unwrap_or_default();
        sites
    };
    let all_up = ["beijing", "guangzhou", "shanghai"].map(|site| (site.to_string(), true));
    let shown = within(Duration::from_secs(3), || sites() == all_up);
    assert!(shown.is_some(), "each site's result on the status: {:?}", sites());
    let shot = std::env::temp_dir().join(format!("linedns-fleet-status-{}.png", std::process::id()));
    let dom = common::browser::render(&format!("http://{}/", instances[0].admin), &shot, 1280, 900);
    assert!(dom.contains("sites: beijing up, guangzhou up, shanghai up"), "{dom}");
    let _ = std::fs::remove_file(&shot);

    // An override made at one instance is in every instance's answers within 1 s, listed
    // everywhere with who, why and where; it survives an instance's restart, and ends
    // everywhere when removed at another instance.
    let mut instances = instances;
    let down = r#"{"target":{"node":"192.0.2.1"},"state":"drained","who":"ops","why":"maintenance"}"#;
    let (code, body) = common::admin::call(instances[0].admin, "POST", "/overrides", None, Some(down));
    assert_eq!(code, 200, "{body}");
    let made = Instant::now();
    for s in &instances {
        let drained = within(Duration::from_secs(1).saturating_sub(made.elapsed()), || www(s) == ["192.0.2.2"]);
        assert!(drained.is_some(), "the override is not in force within 1 s:\n{}", s.log());
    }
    eprintln!("the override was in every instance's answers {} ms after it was made", made.elapsed().as_millis());
    let (_, listed) = common::admin::call(instances[2].admin, "GET", "/overrides", None, None);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let o = &listed[0];
    assert_eq!(
        (o["who"].as_str(), o["why"].as_str(), o["where"].as_str()),
        (Some("ops"), Some("maintenance"), Some("bj1")),
        "{listed:#}"
    );
    let id = o["id"].as_u64().unwrap();
    let restarted = instances.pop().unwrap();
    restarted.stop();
    let gz1 = RunningServer::start(&rules(&dir, "gz1", "guangzhou", store_addr, backends), &["127.0.0.1:0"]);
    let kept = within(Duration::from_secs(5), || www(&gz1) == ["192.0.2.2"]);
    assert!(kept.is_some(), "a restarted instance does not have the fleet's override:\n{}", gz1.log());
    instances.push(gz1);
    let (code, body) = common::admin::call(instances[1].admin, "DELETE", &format!("/overrides/{id}"), None, None);
    assert_eq!(code, 200, "{body}");
    let removed = Instant::now();
    for s in &instances {
        let back =
            within(Duration::from_secs(1).saturating_sub(removed.elapsed()), || www(s) == ["192.0.2.1", "192.0.2.2"]);
        assert!(back.is_some(), "the override removed at sh1 still holds:\n{}", s.log());
    }

    // Equal serials everywhere after the override, its removal and the restart.
    let serial = |s: &RunningServer| common::server::soa_serial(&dig(s.addrs[0], &["example.com", "SOA", "+norec"]));
    let agreed = |instances: &[RunningServer]| {
        let serials: Vec<Option<u32>> = instances.iter().map(serial).collect();
        serials[0].is_some() && serials.iter().all(|s| *s == serials[0])
    };
    let before = serial(&instances[0]).unwrap();
    assert!(
        within(Duration::from_secs(4), || agreed(&instances)).is_some(),
        "serials differ: {:?}",
        instances.iter().map(serial).collect::<Vec<_>>()
    );
    // A reload with new content, one instance after the other: the same serial again.
    for (s, name) in instances.iter().zip(["bj1", "sh1", "gz1"]) {
        let path = dir.join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let text =
            text.replace("    records:\n", "    records:\n      - { name: new, type: TXT, values: \"a reload\" }\n");
        std::fs::write(&path, text).unwrap();
        let (code, body) = common::admin::call(s.admin, "POST", "/reload", None, Some("{}"));
        assert_eq!(code, 200, "{body}");
        // More than a second apart: serials that follow the clock alone would differ.
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(
        within(Duration::from_secs(4), || agreed(&instances)).is_some(),
        "serials differ after the reloads: {:?}",
        instances.iter().map(serial).collect::<Vec<_>>()
    );
    let after = serial(&instances[0]).unwrap();
    assert!(after > before, "a new serial for new content: {before} then {after}");
    // `linedns check` over the fleet: consistent; then one instance with other rules.
    let check = |primary: &RunningServer| {
        let servers: String = instances
            .iter()
            .zip(["bj1", "sh1", "gz1"])
            .map(|(s, name)| format!("    - {{ name: {name}, address: \"{}\", role: geo }}\n", s.addrs[0]))
            .chain([format!("    - {{ name: ns1.example.com, address: \"{}\", role: geo }}\n", primary.addrs[0])])
            .collect();
        let path = dir.join("check.yaml");
        let rules = std::fs::read_to_string(dir.join("bj1.yaml")).unwrap().replace("fleet:", "unused:");
        let rules =
            rules.split("unused:").next().unwrap().to_string() + &rules[rules.find("health_checks:").unwrap()..];
        std::fs::write(&path, format!("{rules}check:\n  timeout_ms: 1000\n  servers:\n{servers}")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_linedns"))
            .args(["check", "-c", path.to_str().unwrap(), "--json", "--primary", &primary.addrs[0].to_string()])
            .output()
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        report
    };
    let report = check(&instances[0]);
    assert_eq!(report["problems"], 0, "{report:#}");
    let path = dir.join("sh1.yaml");
    let text = std::fs::read_to_string(&path).unwrap().replace("\"a reload\"", "\"other rules\"");
    std::fs::write(&path, text.replace("- { address: 192.0.2.2", "- { address: 192.0.2.3")).unwrap();
    let (code, body) = common::admin::call(instances[1].admin, "POST", "/reload", None, Some("{}"));
    assert_eq!(code, 200, "{body}");
    let report = check(&instances[0]);
    let problems: Vec<&serde_json::Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["ok"] == false).collect();
    assert!(!problems.is_empty() && problems.iter().all(|f| f["server"] == "sh1"), "{report:#}");
    // Back to the fleet's rules.
    let text = std::fs::read_to_string(&path).unwrap().replace("\"other rules\"", "\"a reload\"");
    std::fs::write(&path, text.replace("- { address: 192.0.2.3", "- { address: 192.0.2.2")).unwrap();
    let (code, body) = common::admin::call(instances[1].admin, "POST", "/reload", None, Some("{}"));
    assert_eq!(code, 200, "{body}");
    assert!(
        within(Duration::from_secs(4), || agreed(&instances)).is_some(),
        "serials differ once the rules agree again"
    );

    // A backend stops: every instance drops its node within interval x fall + 2 s.
    drop(first);
    let stopped = Instant::now();
    for s in &instances {
        let limit = Duration::from_millis(200 * 2 + 2000).saturating_sub(stopped.elapsed());
        let gone = within(limit, || www(s) == ["192.0.2.2"]);
        assert!(gone.is_some(), "the node is still answered {:?} after it stopped:\n{}", stopped.elapsed(), s.log());
    }
    eprintln!("every instance dropped the node {} ms after its backend stopped", stopped.elapsed().as_millis());
    assert!(within(Duration::from_secs(4), || agreed(&instances)).is_some(), "serials differ after a flip");
    assert!(instances.iter().all(|s| metric(s, "linedns_fleet_decision_changes_total") >= Some(1.0)));

    // The store stops for 30 s under load: no query is lost, every instance says so and
    // still follows its own probes (the second backend stops too, 10 s in: every node
    // down, the record fails open as it would alone), and the fleet is back within a few
    // seconds of the store's return.
    drop(nats);
    let down = Instant::now();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let (mut asked, mut lost, mut second) = (0u32, 0u32, Some(second));
    while down.elapsed() < Duration::from_secs(30) && asked < 300_000 {
        for s in &instances {
            asked += 1;
            if ask_www(&socket, s.addrs[0], asked as u16).is_none() {
                lost += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
        if down.elapsed() > Duration::from_secs(10) {
            drop(second.take());
        }
    }
    assert_eq!(lost, 0, "queries lost while the store was down ({asked} asked)");
    let shot = std::env::temp_dir().join(format!("linedns-fleet-down-{}.png", std::process::id()));
    let dom = common::browser::render(&format!("http://{}/", instances[0].admin), &shot, 1280, 900);
    assert!(
        dom.contains("data-fleet-store=\"down\"") && dom.contains("Fleet store unreachable: bj1 (beijing)"),
        "{dom}"
    );
    let _ = std::fs::remove_file(&shot);
    for s in &instances {
        assert_eq!(metric(s, "linedns_fleet_store_up"), Some(0.0), "the store's loss is not shown:\n{}", s.log());
        assert!(s.log().contains("fleet: store unreachable"), "{}", s.log());
        assert_eq!(www(s), ["192.0.2.1", "192.0.2.2"], "own probes not followed without the store:\n{}", s.log());
    }
    eprintln!("{asked} queries while the store was down 30 s, {lost} lost");
    let nats = start_nats(&dir.join("nats"), store_addr);
    let back = Instant::now();
    for s in &instances {
        let joined = within(Duration::from_secs(8), || {
            metric(s, "linedns_fleet_store_up") == Some(1.0) && metric(s, "linedns_fleet_results_held") >= Some(4.0)
        });
        assert!(joined.is_some(), "the instance did not rejoin the store:\n{}", s.log());
    }
    eprintln!("the fleet was back {} ms after the store", back.elapsed().as_millis());
    for s in instances {
        let log = s.stop();
        assert!(log.contains("fleet: store") && log.contains("reached"), "{log}");
    }
    drop(nats);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `www.example.com A` asked of `server` over UDP: the addresses answered, sorted (`None`:
/// no answer within a second).
fn ask_www(socket: &UdpSocket, server: SocketAddr, id: u16) -> Option<Vec<String>> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    let mut query = Message::query();
    query.metadata.id = id;
    query.add_query(Query::query(Name::from_ascii("www.example.com.").unwrap(), RecordType::A));
    socket.send_to(&query.to_vec().unwrap(), server).ok()?;
    let mut buf = [0u8; 1500];
    loop {
        let (len, from) = socket.recv_from(&mut buf).ok()?;
        let Ok(answer) = Message::from_vec(&buf[..len]) else { continue };
        if from != server || answer.metadata.id != id {
            continue; // a late answer to an earlier question
        }
        let mut addresses: Vec<String> = answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.to_string()),
                _ => None,
            })
            .collect();
        addresses.sort();
        return Some(addresses);
    }
}

#[test]
fn a_path_cut_at_one_site_changes_no_answer_with_a_quorum_of_two() {
    require(&["ip", "nats-server", "kill"]);
    let dir = common::server::test_dir("fleet-netns");
    let mut fabric = Fabric::new("fleet");
    let store: SocketAddr = (fabric.host(), free_port()).into();
    let nats = start_nats(&dir.join("nats"), store);
    let first = Backend::start_on(fabric.service(0).into());
    let second = Backend::start_on(fabric.service(1).into());
    let backends = [first.addr, second.addr];
    let mut instances = Vec::new();
    for (i, name, site) in [(1, "bj1", "beijing"), (2, "sh1", "shanghai"), (3, "gz1", "guangzhou")] {
        let (ns, addr) = fabric.instance(i);
        let rules = rules(&dir, name, site, store, backends);
        let server = RunningServer::start_in_netns(&ns, &rules, &[&format!("{addr}:0")]);
        instances.push((ns, server));
    }
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let both = vec!["192.0.2.1".to_string(), "192.0.2.2".to_string()];
    for (_, s) in &instances {
        let joined = within(Duration::from_secs(10), || s.log().contains("reached; following"));
        assert!(joined.is_some(), "instance did not reach the store:\n{}", s.log());
        assert_eq!(ask_www(&socket, s.addrs[0], 1), Some(both.clone()), "{}", s.log());
    }
    // Every instance has published and heard the others (results go out within a tick).
    std::thread::sleep(Duration::from_secs(1));

    // The path from bj1 to the first backend is cut: bj1's own probes see it down, the
    // other two sites up; with a quorum of 2 it stays in every instance's answers.
    fabric.cut(&instances[0].0, fabric.service(0));
    let own_down =
        within(Duration::from_secs(5), || instances[0].1.log().contains(&format!("node {} DOWN (tcp", backends[0])));
    assert!(own_down.is_some(), "bj1's probes do not see the cut:\n{}", instances[0].1.log());
    let mut differ = 0;
    let mut lost = 0;
    let started = Instant::now();
    for n in 0..10_000u32 {
        let (_, s) = &instances[(n % 3) as usize];
        match ask_www(&socket, s.addrs[0], n as u16) {
            Some(got) if got == both => {}
            Some(got) => {
                differ += 1;
                if differ < 5 {
                    eprintln!("query {n} to {}: {got:?}", s.addrs[0]);
                }
            }
            None => lost += 1,
        }
        assert!(started.elapsed() < Duration::from_secs(60), "10,000 queries take too long");
    }
    assert_eq!((differ, lost), (0, 0), "answers that differ, and lost, of 10,000:\n{}", instances[0].1.log());
    assert!(!instances[0].1.log().contains("DOWN by the fleet"), "{}", instances[0].1.log());

    // The backend itself stops: every instance drops it within interval x fall + 2 s.
    drop(first);
    let stopped = Instant::now();
    for (_, s) in &instances {
        let limit = Duration::from_millis(200 * 2 + 2000).saturating_sub(stopped.elapsed());
        let gone = within(limit, || ask_www(&socket, s.addrs[0], 7) == Some(vec!["192.0.2.2".to_string()]));
        assert!(gone.is_some(), "still answered {:?} after the backend stopped:\n{}", stopped.elapsed(), s.log());
    }
    eprintln!(
        "10,000 queries in {:?}; every instance dropped the stopped backend within {} ms",
        started.elapsed(),
        stopped.elapsed().as_millis()
    );
    for (_, s) in instances {
        s.stop();
    }
    drop(second);
    drop(nats);
    drop(fabric);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connections the backends got during `period`, the instances running.
fn probe_load(backends: &[&Backend], period: Duration) -> u64 {
    let before: u64 = backends.iter().map(|b| b.accepted()).sum();
    std::thread::sleep(period);
    backends.iter().map(|b| b.accepted()).sum::<u64>() - before
}

#[test]
fn probing_each_node_from_two_sites_of_three_cuts_the_probe_load() {
    require(&["kdig", "nats-server", "kill"]);
    let dir = common::server::test_dir("fleet-load");
    let store: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let nats = start_nats(&dir.join("nats"), store);
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let (mut first, second) = (Backend::start_on(loopback), Backend::start_on(loopback));
    let backends = [first.addr, second.addr];
    let sites = [("bj1", "beijing"), ("sh1", "shanghai"), ("gz1", "guangzhou")];
    let www = |s: &RunningServer| answers(&dig(s.addrs[0], &["www.example.com", "A", "+norec"]));
    let mut load = Vec::new();
    for probe_sites in ["", "  probe_sites: 2\n"] {
        let instances: Vec<RunningServer> = sites
            .iter()
            .map(|(name, site)| {
                let path = rules(&dir, name, site, store, backends);
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(
                    &path,
                    text.replace("  health: { quorum: 2 }\n", &format!("  health: {{ quorum: 2 }}\n{probe_sites}")),
                )
                .unwrap();
                RunningServer::start(&path, &["127.0.0.1:0"])
            })
            .collect();
        for s in &instances {
            let joined = within(Duration::from_secs(10), || metric(s, "linedns_fleet_results_held") >= Some(2.0));
            assert!(joined.is_some(), "instance did not join the fleet:\n{}", s.log());
        }
        std::thread::sleep(Duration::from_secs(1)); // the sites' shares settle
        load.push(probe_load(&[&first, &second], Duration::from_secs(3)));
        for s in &instances {
            assert_eq!(www(s), ["192.0.2.1", "192.0.2.2"], "{}", s.log());
        }
        let mut instances = instances;
        if !probe_sites.is_empty() {
            // A site goes away: the others take its nodes up (within the result expiry),
            // and a backend that stops then leaves their answers.
            instances.remove(0).stop();
            first.stop();
            let stopped = Instant::now();
            for s in &instances {
                let gone = within(Duration::from_millis(3000 + 400 + 2000), || www(s) == ["192.0.2.2"]);
                assert!(gone.is_some(), "still answered {:?} after it stopped:\n{}", stopped.elapsed(), s.log());
            }
        }
        for s in instances {
            s.stop();
        }
    }
    let share = load[1] as f64 / load[0] as f64;
    eprintln!(
        "probe connections to the two backends in 3 s: {} from every site, {} from 2 sites of 3 ({share:.2})",
        load[0], load[1]
    );
    assert!(load[0] > 0 && share <= 0.70, "with 2 sites of 3 probing, {share:.2} of the connections");
    drop(nats);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_store_is_reached_over_tls_with_a_password_and_a_wrong_one_is_named() {
    require(&["kdig", "nats-server", "kill", "curl"]);
    let dir = common::server::test_dir("fleet-tls");
    // The store's certificate (for 127.0.0.1), which the instances trust as their CA.
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("store.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.join("store.key"), key.signing_key.serialize_pem()).unwrap();
    let conf = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\nauthorization {{\n  user: linedns\n  password: \"s3cret-store\"\n}}\n",
        dir.join("store.pem").display(),
        dir.join("store.key").display()
    );
    let store: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let nats = start_nats_with(&dir.join("nats"), store, &conf);
    let backend = Backend::start();
    let start = |name: &str, password: &str| {
        let path = rules(&dir, name, name, store, [backend.addr, backend.addr]);
        std::fs::write(dir.join(format!("{name}.password")), format!("{password}\n")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap().replace(
            &format!("store: {{ kind: nats, servers: [\"nats://{store}\"] }}"),
            &format!(
                "store: {{ kind: nats, servers: [\"tls://{store}\"], user: linedns, password_file: {name}.password, ca_file: store.pem }}"
            ),
        );
        std::fs::write(&path, text).unwrap();
        RunningServer::start(&path, &["127.0.0.1:0"])
    };
    let good = start("good", "s3cret-store");
    let joined = within(Duration::from_secs(10), || metric(&good, "linedns_fleet_store_up") == Some(1.0));
    assert!(joined.is_some(), "the instance did not reach the store over TLS:\n{}", good.log());
    let bad = start("bad", "wrong");
    let named = within(Duration::from_secs(10), || bad.log().contains("fleet: cannot connect to tls://"));
    assert!(named.is_some(), "a wrong password is not named:\n{}", bad.log());
    assert_eq!(metric(&bad, "linedns_fleet_store_up"), Some(0.0));
    assert!(!bad.log().contains("wrong"), "the password is not shown:\n{}", bad.log());
    assert!(!good.log().contains("s3cret-store"), "the password is not shown:\n{}", good.log());
    // It answers all the same.
    assert_eq!(answers(&dig(bad.addrs[0], &["www.example.com", "A", "+norec"])), ["192.0.2.1", "192.0.2.2"]);
    good.stop();
    bad.stop();
    drop(nats);
    let _ = std::fs::remove_dir_all(&dir);
}
