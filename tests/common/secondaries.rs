//! Real secondaries from Debian's packages (NSD, Knot DNS, BIND 9) started by a test on a
//! free loopback port, configured to transfer example.com from a primary with TSIG and
//! to take its NOTIFY, and stopped by their PID when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use super::tools::tool;

/// A peer this test started (a secondary, a primary or a resolver), stopped by its PID
/// when dropped.
pub struct Secondary {
    child: Child,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    /// Its log file.
    pub log: PathBuf,
}

impl Secondary {
    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free for UDP and TCP (it may be taken again by the time it is used; the tests
/// that use it start at once).
pub fn free_port() -> u16 {
    // The peers serve UDP and TCP on the port: free for UDP is not enough (outgoing TCP
    // connections take ports from the same range).
    for _ in 0..100 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP in 100 tries");
}

/// NSD (`nsd`), Knot DNS (`knotd`) or BIND 9 (`named`) as a secondary of `primary` for
/// example.com, with the TSIG key `key` (name, base64 secret) for its transfers and for
/// the primary's NOTIFY, configured and run in `dir`, on a free loopback port.
pub fn start_secondary(kind: &str, dir: &Path, primary: SocketAddr, key: (&str, &str)) -> Secondary {
    start_secondary_on(kind, dir, primary, key, free_port())
}

/// [`start_secondary`] on `port`.
pub fn start_secondary_on(kind: &str, dir: &Path, primary: SocketAddr, key: (&str, &str), port: u16) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    let (d, ip, pport) = (dir.display(), primary.ip(), primary.port());
    let (name, secret) = key;
    let (program, args, conf) = match kind {
        "nsd" => (
            "nsd",
            vec!["-d".to_string(), "-c".to_string(), format!("{d}/nsd.conf")],
            format!(
                "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  pidfile: \"{d}/nsd.pid\"\n  zonesdir: \"{d}\"\n  rrl-ratelimit: 0\n  xfrd-reload-timeout: 0\n  verbosity: 2\nremote-control:\n  control-enable: no\nkey:\n  name: {name}\n  algorithm: hmac-sha256\n  secret: \"{secret}\"\nzone:\n  name: example.com\n  zonefile: \"{d}/example.com.zone\"\n  request-xfr: {ip}@{pport} {name}\n  allow-notify: {ip} {name}\n"
            ),
        ),
        "knotd" => (
            "knotd",
            vec!["-c".to_string(), format!("{d}/knot.conf")],
            knot_conf(
                dir,
                port,
                primary,
                key,
                "zone:\n  - domain: example.com\n    master: primary\n    acl: notify-from-primary\n",
            ),
        ),
        "named" => (
            "named",
            vec!["-g".to_string(), "-c".to_string(), format!("{d}/named.conf")],
            format!(
                "options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; notify no; }};\nkey \"{name}\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\ncontrols {{ }};\nzone \"example.com\" {{ type secondary; primaries port {pport} {{ {ip} key {name}; }}; file \"{d}/example.com.db\"; }};\n"
            ),
        ),
        other => panic!("no secondary {other:?} (nsd, knotd, named)"),
    };
    spawn(kind, program, &args, &conf, dir, port)
}

/// Knot DNS as a secondary of `primary` configured with the catalog zone `catalog` alone
/// (RFC 9432, `catalog-role: interpret`): every member it lists is transferred from the
/// same primary with the same key.
pub fn start_knot_with_catalog(dir: &Path, primary: SocketAddr, key: (&str, &str), catalog: &str) -> Secondary {
    start_knot_with_catalog_on(dir, primary, key, catalog, free_port())
}

/// [`start_knot_with_catalog`] on `port`.
pub fn start_knot_with_catalog_on(
    dir: &Path,
    primary: SocketAddr,
    key: (&str, &str),
    catalog: &str,
    port: u16,
) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    let zones = format!(
        "  - id: member\n    storage: \"{d}\"\n    master: primary\n    acl: notify-from-primary\nzone:\n  - domain: {catalog}\n    master: primary\n    acl: notify-from-primary\n    catalog-role: interpret\n    catalog-template: member\n",
        d = dir.display()
    );
    let conf = knot_conf(dir, port, primary, key, &zones);
    let args = vec!["-c".to_string(), format!("{}/knot.conf", dir.display())];
    spawn("knotd", "knotd", &args, &conf, dir, port)
}

/// A Knot configuration: listening on `port`, the key, the primary as remote `primary`
/// with an ACL `notify-from-primary` for its NOTIFY, a default template, then `zones`
/// (more templates and the `zone:` section).
fn knot_conf(dir: &Path, port: u16, primary: SocketAddr, (name, secret): (&str, &str), zones: &str) -> String {
    let (d, ip, pport) = (dir.display(), primary.ip(), primary.port());
    let head = format!(
        "server:\n  rundir: \"{d}\"\n  listen: 127.0.0.1@{port}\nlog:\n  - target: stderr\n    any: info\ndatabase:\n  storage: \"{d}\"\nkey:\n  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\nremote:\n  - id: primary\n    address: {ip}@{pport}\n    key: {name}\nacl:\n  - id: notify-from-primary\n    address: {ip}\n    key: {name}\n    action: notify\ntemplate:\n  - id: default\n    storage: \"{d}\"\n"
    );
    format!("{head}{zones}")
}

/// Writes `conf` to the last of `args` and starts `program` with its stderr in
/// `dir/KIND.log`, answering on loopback `port` (secondaries, and the resolver of
/// `super::resolver`).
pub fn spawn(kind: &str, program: &str, args: &[String], conf: &str, dir: &Path, port: u16) -> Secondary {
    let file = args.last().expect("the config file is the last argument");
    std::fs::write(file, conf).unwrap();
    let log = dir.join(format!("{kind}.log"));
    let stderr = std::fs::File::create(&log).unwrap();
    let child = tool(program).args(args).stdout(Stdio::null()).stderr(stderr).spawn().expect("start the secondary");
    Secondary { child, addr: ([127, 0, 0, 1], port).into(), log }
}

/// BIND 9 (`named`) serving `origin` as a primary from the master file `file` of `dir`
/// (its working directory, so `$INCLUDE`s resolve there), on `port`. With `key` (name,
/// base64 secret) transfers need it, `notify` gets its NOTIFYs signed with it, changes
/// are kept as IXFR differences, and `rndc` reaches it on `rndc_port` with that key
/// (see [`rndc`]); without, anyone may transfer and nothing is notified.
pub fn start_bind_primary(
    dir: &Path,
    origin: &str,
    file: &str,
    port: u16,
    key: Option<(&str, &str)>,
    notify: Option<SocketAddr>,
    rndc_port: u16,
) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.display();
    let options = format!(
        "options {{ directory \"{d}\"; pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; minimal-responses yes; notify explicit; notify-delay 0; ixfr-from-differences yes; }};\n"
    );
    let conf = match key {
        Some((name, secret)) => {
            let key_text = format!("key \"{name}\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n");
            std::fs::write(dir.join("rndc.key"), &key_text).unwrap();
            let also = notify
                .map(|n| format!("also-notify {{ {} port {} key \"{name}\"; }};", n.ip(), n.port()))
                .unwrap_or_default();
            format!(
                "{options}{key_text}controls {{ inet 127.0.0.1 port {rndc_port} allow {{ 127.0.0.1; }} keys {{ \"{name}\"; }}; }};\nzone \"{origin}\" {{ type primary; file \"{file}\"; allow-transfer {{ key \"{name}\"; }}; {also} }};\n"
            )
        }
        None => format!(
            "{options}controls {{ }};\nzone \"{origin}\" {{ type primary; file \"{file}\"; allow-transfer {{ any; }}; }};\n"
        ),
    };
    let args = vec!["-g".to_string(), "-c".to_string(), format!("{d}/named.conf")];
    spawn("named", "named", &args, &conf, dir, port)
}

/// Runs `rndc ARGS` against the BIND of [`start_bind_primary`] in `dir` (its key file) on
/// `rndc_port`, and returns its output; panics if it fails.
pub fn rndc(dir: &Path, rndc_port: u16, args: &[&str]) -> String {
    let key = dir.join("rndc.key");
    let out = tool("rndc")
        .args(["-k", &key.display().to_string(), "-s", "127.0.0.1", "-p", &rndc_port.to_string()])
        .args(args)
        .output()
        .expect("run rndc");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "rndc {args:?} failed: {text}");
    text
}

/// The PowerDNS Authoritative Server (`pdns_server`, SQLite backend) serving example.com
/// from `zone` (`name TTL TYPE content` lines for `pdnsutil add-record`, after the SOA and
/// NS it makes) on a free loopback port, its HTTP API on `api_port` with `api_key`. With
/// `update_key` (name, base64 secret), it takes DNS UPDATEs (RFC 2136) and AXFRs signed
/// with that key too.
pub fn start_powerdns(
    dir: &Path,
    records: &[(&str, &str, &str)],
    api_port: u16,
    api_key: &str,
    update_key: Option<(&str, &str)>,
) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    let (d, port) = (dir.display(), free_port());
    let schema = std::fs::read_to_string("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
        .expect("the SQLite schema of pdns-backend-sqlite3");
    let db = dir.join("pdns.db");
    let _ = std::fs::remove_file(&db);
    let mut sqlite = tool("sqlite3").arg(&db).stdin(Stdio::piped()).spawn().expect("run sqlite3");
    std::io::Write::write_all(&mut sqlite.stdin.take().unwrap(), schema.as_bytes()).unwrap();
    assert!(sqlite.wait().unwrap().success(), "sqlite3 made no database");
    let conf = format!(
        "launch=gsqlite3\ngsqlite3-database={d}/pdns.db\nlocal-address=127.0.0.1\nlocal-port={port}\napi=yes\n\
         api-key={api_key}\nwebserver=yes\nwebserver-address=127.0.0.1\nwebserver-port={api_port}\n\
         webserver-allow-from=127.0.0.0/8\nsocket-dir={d}\nguardian=no\ndaemon=no\ndisable-syslog=yes\n\
         write-pid=no\nallow-axfr-ips=127.0.0.0/8\n{}",
        if update_key.is_some() { "dnsupdate=yes\nallow-dnsupdate-from=127.0.0.0/8\n" } else { "" }
    );
    std::fs::write(dir.join("pdns.conf"), &conf).unwrap();
    let pdnsutil = |args: &[&str]| {
        let out = tool("pdnsutil").arg(format!("--config-dir={d}")).args(args).output().expect("run pdnsutil");
        assert!(out.status.success(), "pdnsutil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    pdnsutil(&["create-zone", "example.com", "ns1.example.com"]);
    for (name, rtype, content) in records {
        pdnsutil(&["add-record", "example.com", name, rtype, "300", content]);
    }
    if let Some((name, secret)) = update_key {
        pdnsutil(&["import-tsig-key", name, "hmac-sha256", secret]);
        pdnsutil(&["set-meta", "example.com", "TSIG-ALLOW-DNSUPDATE", name]);
        pdnsutil(&["set-meta", "example.com", "TSIG-ALLOW-AXFR", name]);
    }
    let log = dir.join("pdns.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let child = tool("pdns_server")
        .args([format!("--config-dir={d}")])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start pdns_server");
    Secondary { child, addr: ([127, 0, 0, 1], port).into(), log }
}

/// NATS with JetStream (`nats-server` from Debian), the store of a fleet, listening on
/// `addr`, its streams kept in `dir/jetstream` (a restart on the same `dir` finds them).
/// Waits (at most 10 s) until it takes connections.
pub fn start_nats(dir: &Path, addr: SocketAddr) -> Secondary {
    start_nats_with(dir, addr, "")
}

/// [`start_nats`] with `extra` configuration (a `tls` block, an `authorization` block).
pub fn start_nats_with(dir: &Path, addr: SocketAddr, extra: &str) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    let conf =
        format!("listen: {addr}\njetstream {{\n  store_dir: \"{}\"\n}}\n{extra}", dir.join("jetstream").display());
    let args = vec!["-c".to_string(), dir.join("nats.conf").display().to_string()];
    let mut nats = spawn("nats-server", "nats-server", &args, &conf, dir, addr.port());
    nats.addr = addr;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(nats.addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "nats-server did not start:\n{}", nats.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nats
}
