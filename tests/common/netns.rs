//! Network namespaces a test makes (and removes when dropped): a hub namespace holding a
//! bridge, and one namespace per instance joined to it by a veth pair; the test's own
//! namespace joins the bridge too, so it reaches every instance and they reach the
//! services it starts. Needs root (the test tier runs as root in CI) and `ip` (iproute2).

use std::net::Ipv4Addr;
use std::process::Command;

use super::tools::tool;

/// The namespaces of one test.
pub struct Fabric {
    /// Prefix of every namespace and interface name (unique per test process).
    tag: String,
    /// The /24 the fabric numbers from: `10.N.0.0/24`.
    net: u8,
    /// Instance namespaces made so far.
    instances: Vec<String>,
}

/// Runs `ip ARGS`, failing the test with its error.
fn ip(args: &[&str]) {
    let out = tool("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Runs `ip netns exec NS ip ARGS`.
fn ip_in(ns: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns, "ip"];
    all.extend_from_slice(args);
    ip(&all);
}

impl Fabric {
    /// The hub and the test's own port on it: the test's namespace gets `10.N.0.254`
    /// ([`Fabric::host`]) and two addresses for services ([`Fabric::service`]).
    pub fn new(name: &str) -> Fabric {
        let pid = std::process::id();
        let tag = format!("l{}{}", &name[..name.len().min(3)], pid % 100_000);
        let net = 20 + (pid % 200) as u8;
        let fabric = Fabric { tag, net, instances: Vec::new() };
        let hub = fabric.hub();
        let _ = Command::new("ip").args(["netns", "del", &hub]).output();
        ip(&["netns", "add", &hub]);
        ip_in(&hub, &["link", "add", "br0", "type", "bridge"]);
        ip_in(&hub, &["link", "set", "br0", "up"]);
        let (outer, inner) = (format!("{}h", fabric.tag), format!("{}hb", fabric.tag));
        let _ = Command::new("ip").args(["link", "del", &outer]).output();
        ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner]);
        ip(&["link", "set", &inner, "netns", &hub]);
        ip_in(&hub, &["link", "set", &inner, "master", "br0", "up"]);
        for addr in [fabric.host(), fabric.service(0), fabric.service(1)] {
            ip(&["addr", "add", &format!("{addr}/24"), "dev", &outer]);
        }
        ip(&["link", "set", &outer, "up"]);
        fabric
    }

    fn hub(&self) -> String {
        format!("{}hub", self.tag)
    }

    /// The test's address on the fabric (where the store listens).
    pub fn host(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net, 0, 254)
    }

    /// The test's other addresses, `k` 0 or 1 (where backends listen: a path to one
    /// can be cut alone).
    pub fn service(&self, k: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net, 0, 253 - k)
    }

    /// Makes instance namespace number `i` (1..=200), at `10.N.0.i`; returns its name.
    pub fn instance(&mut self, i: u8) -> (String, Ipv4Addr) {
        let ns = format!("{}i{i}", self.tag);
        let addr = Ipv4Addr::new(10, self.net, 0, i);
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        ip(&["netns", "add", &ns]);
        let (outer, inner) = (format!("{}v{i}", self.tag), format!("{}b{i}", self.tag));
        ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner]);
        ip(&["link", "set", &inner, "netns", &self.hub()]);
        ip_in(&self.hub(), &["link", "set", &inner, "master", "br0", "up"]);
        ip(&["link", "set", &outer, "netns", &ns]);
        ip_in(&ns, &["addr", "add", &format!("{addr}/24"), "dev", &outer]);
        ip_in(&ns, &["link", "set", &outer, "up"]);
        ip_in(&ns, &["link", "set", "lo", "up"]);
        self.instances.push(ns.clone());
        (ns, addr)
    }

    /// Cuts the path from namespace `ns` to `to` (a blackhole route there).
    pub fn cut(&self, ns: &str, to: Ipv4Addr) {
        ip_in(ns, &["route", "add", "blackhole", &format!("{to}/32")]);
    }
}

impl Drop for Fabric {
    fn drop(&mut self) {
        for ns in self.instances.iter().chain(std::iter::once(&self.hub())) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = Command::new("ip").args(["link", "del", &format!("{}h", self.tag)]).output();
    }
}
