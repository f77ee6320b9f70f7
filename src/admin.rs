//! The admin HTTP API and Prometheus metrics, on their own listener.
//!
//! A small HTTP/1.1 server: one request per connection (`Connection: close`), bounded
//! request size and time. It listens on loopback unless a token is configured, and
//! every mutating call (POST, DELETE) must carry `Authorization: Bearer TOKEN` when one
//! is.
//!
//! | call | what |
//! |---|---|
//! | `GET /metrics` | Prometheus text |
//! | `GET /nodes` | every node, its probe and state (JSON) |
//! | `GET /lines` | lines, parents and prefix counts (JSON) |
//! | `GET /explain?ip=&name=&type=` | the CLI's explanation, from the live snapshot and health |
//! | `POST /reload` | compile and swap; the report, or the errors (422) |
//! | `GET /overrides` | the operator overrides, with who, when and why |
//! | `POST /overrides` | force a node, pool or line `up`, `down` or `drained` |
//! | `DELETE /overrides/ID` | lift one |

use std::fmt::Write as _;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::engine::Engine;
use crate::health::LATENCY_BUCKETS;
use crate::health::checker::CheckerStats;
use crate::metrics::escape;
use crate::rdata::{RecordType, STATIC_TYPES, parse_type};
use crate::reload::{ReloadStats, reload_and_log};

/// Default admin listener.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9153";
/// Environment variable holding the admin token.
pub const TOKEN_ENV: &str = "LINEDNS_ADMIN_TOKEN";

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
const REQUEST_TIME: Duration = Duration::from_secs(5);

/// What the admin API reads and steers.
#[derive(Debug)]
pub struct Admin {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Checker counters.
    pub checker: Arc<CheckerStats>,
    /// Reload counters.
    pub reloads: Arc<ReloadStats>,
    /// Token for mutating calls (and for any non-loopback listener).
    pub token: Option<String>,
}

/// Refuses to expose the API beyond loopback without a token.
pub fn check_bind(addr: SocketAddr, token: Option<&str>) -> Result<(), String> {
    if addr.ip().is_loopback() || token.is_some_and(|t| !t.is_empty()) {
        Ok(())
    } else {
        Err(format!(
            "admin API: refusing to listen on {addr} without a token: set {TOKEN_ENV} (or admin.token_file), or listen on loopback"
        ))
    }
}

/// Serves the admin API on `listener` until `stop`.
pub async fn serve(listener: TcpListener, admin: Arc<Admin>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let admin = admin.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REQUEST_TIME, connection(stream, &admin)).await;
                });
            }
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    authorization: Option<String>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Response {
    fn json(status: u16, value: &impl Serialize) -> Response {
        let body = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        Response { status, content_type: "application/json", body: body + "\n" }
    }

    fn error(status: u16, message: impl Into<String>) -> Response {
        #[derive(Serialize)]
        struct Error {
            error: String,
        }
        Response::json(status, &Error { error: message.into() })
    }
}

async fn connection(mut stream: TcpStream, admin: &Admin) -> std::io::Result<()> {
    let response = match read_request(&mut stream).await {
        Ok(request) => route(admin, &request),
        Err(message) => Response::error(400, message),
    };
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Entity",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(response.body.as_bytes()).await?;
    stream.shutdown().await
}

async fn read_request(stream: &mut TcpStream) -> Result<Request, String> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err("request head too large".into());
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-request".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "request head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, target) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
    let mut authorization = None;
    let mut body_len = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        match name.trim().to_ascii_lowercase().as_str() {
            "authorization" => authorization = Some(value.trim().to_string()),
            "content-length" => body_len = value.trim().parse().map_err(|_| "bad Content-Length")?,
            _ => {}
        }
    }
    if body_len > MAX_BODY {
        return Err("request body too large".into());
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < body_len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-body".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(body_len);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target, Vec::new()),
    };
    Ok(Request { method, path, query, authorization, body })
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(admin: &Admin, request: &Request) -> Response {
    let mutating = matches!(request.method.as_str(), "POST" | "DELETE" | "PUT");
    if mutating && let Some(token) = admin.token.as_deref().filter(|t| !t.is_empty()) {
        let given = request.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return Response::error(401, "this call changes state: send Authorization: Bearer <token>");
        }
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/metrics") => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: render_metrics(admin),
        },
        ("GET", "/nodes") => Response::json(200, &nodes(admin)),
        ("GET", "/lines") => Response::json(200, &admin.engine.snapshot().summary().lines),
        ("GET", "/explain") => explain(admin, request),
        ("POST", "/reload") => match reload_and_log(&admin.engine, &admin.reloads, "admin API") {
            Ok(report) => Response::json(200, &report),
            Err(errors) => Response::json(422, &errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
        },
        ("GET", "/overrides") => Response::json(200, &admin.engine.overrides()),
        ("POST", "/overrides") => add_override(admin, &request.body),
        ("DELETE", path) if path.starts_with("/overrides/") => match path["/overrides/".len()..].parse::<u64>() {
            Ok(id) if admin.engine.remove_override(id) => {
                tracing::info!("override {id} removed");
                Response::json(200, &admin.engine.overrides())
            }
            Ok(id) => Response::error(404, format!("no override {id}")),
            Err(_) => Response::error(400, "DELETE /overrides/ID"),
        },
        (_, "/metrics" | "/nodes" | "/lines" | "/explain" | "/reload" | "/overrides") => {
            Response::error(405, "method not allowed")
        }
        _ => Response::error(404, format!("no such call: {} {}", request.method, request.path)),
    }
}

/// `POST /overrides` with `{"target": {"node": "192.0.2.1"} | {"line": "telecom"} |
/// {"pool": {"record": "www.example.com A", "line": "telecom"}}, "state": "up" | "down" |
/// "drained", "who": "...", "why": "..."}`.
fn add_override(admin: &Admin, body: &[u8]) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewOverride {
        target: crate::overrides::Target,
        state: crate::overrides::Forced,
        who: String,
        why: String,
    }
    let new: NewOverride = match serde_json::from_slice(body) {
        Ok(n) => n,
        Err(e) => return Response::error(400, format!("bad override: {e}")),
    };
    if new.who.trim().is_empty() || new.why.trim().is_empty() {
        return Response::error(400, "an override needs `who` and `why`");
    }
    match admin.engine.add_override(new.target, new.state, new.who, new.why) {
        Ok(o) => {
            tracing::warn!("override {}: {:?} forced {:?} by {} ({})", o.id, o.target, o.state, o.who, o.why);
            Response::json(200, &o)
        }
        Err(m) => Response::error(422, m),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Serialize)]
struct NodeView {
    address: IpAddr,
    probes: Vec<ProbeView>,
}

#[derive(Serialize)]
struct ProbeView {
    check: String,
    target: SocketAddr,
    up: bool,
    runs: u64,
    failures: u64,
    last_latency_ms: f64,
}

fn nodes(admin: &Admin) -> Vec<NodeView> {
    let snapshot = admin.engine.snapshot();
    let mut by_node: Vec<NodeView> =
        snapshot.nodes.iter().map(|n| NodeView { address: n.addr, probes: Vec::new() }).collect();
    for record in &snapshot.line_records {
        for pool in record.pools.iter() {
            for node in pool.nodes.iter() {
                let Some(p) = node.probe else { continue };
                let probe = &snapshot.probes[p as usize];
                let view = &mut by_node[node.node as usize];
                if view.probes.iter().any(|v| v.check == probe.key.check && v.target == probe.key.target) {
                    continue;
                }
                let (runs, failures, last_us) = probe.state.counters();
                view.probes.push(ProbeView {
                    check: probe.key.check.clone(),
                    target: probe.key.target,
                    up: probe.state.is_up(),
                    runs,
                    failures,
                    last_latency_ms: last_us as f64 / 1000.0,
                });
            }
        }
    }
    by_node
}

fn explain(admin: &Admin, request: &Request) -> Response {
    let get = |k: &str| request.query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let Some(client) = get("ip") else { return Response::error(400, "explain needs ip=ADDRESS or ip=ADDRESS/LEN") };
    let (addr, ecs) = match client.split_once('/') {
        None => match client.parse::<IpAddr>() {
            Ok(a) => (a, None),
            Err(_) => return Response::error(400, format!("bad ip {client:?}")),
        },
        Some(_) => match crate::geo::lists::parse_cidr(client) {
            Ok(net) => (net.addr(), Some(net.prefix_len())),
            Err(m) => return Response::error(400, m),
        },
    };
    let mut types = STATIC_TYPES.to_vec();
    types.extend([RecordType::SOA, RecordType::ANY]);
    let query = match get("name") {
        Some(name) => match parse_type(get("type").unwrap_or("A"), &types) {
            Ok(t) => Some((name, t)),
            Err(m) => return Response::error(400, m),
        },
        None => None,
    };
    let snapshot = admin.engine.snapshot();
    Response::json(200, &crate::explain::explain(&snapshot, addr, ecs, query, &snapshot.live_health()))
}

/// Everything `/metrics` shows, in the Prometheus text format (version 0.0.4).
pub fn render_metrics(admin: &Admin) -> String {
    let mut out = String::with_capacity(16 * 1024);
    admin.engine.metrics.render(&mut out);
    let snapshot = admin.engine.snapshot();
    let labels = |p: &crate::health::Probe| format!("target=\"{}\",check=\"{}\"", p.key.target, escape(&p.key.check));
    let per_probe =
        |out: &mut String, name: &str, kind: &str, help: &str, value: &dyn Fn(&crate::health::Probe) -> String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for p in &snapshot.probes {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(p), value(p));
            }
        };
    per_probe(
        &mut out,
        "linedns_node_up",
        "gauge",
        "Whether a probed node is answered (1) or not (0), per probe.",
        &|p| u8::from(p.state.is_up()).to_string(),
    );
    per_probe(&mut out, "linedns_probe_failures_total", "counter", "Failed probes, per probe.", &|p| {
        p.state.counters().1.to_string()
    });
    let _ = writeln!(out, "# HELP linedns_probe_duration_seconds Time a probe took, per probe.");
    let _ = writeln!(out, "# TYPE linedns_probe_duration_seconds histogram");
    for p in &snapshot.probes {
        let labels = labels(p);
        let (cumulative, total, sum) = p.state.latency_histogram();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&cumulative) {
            let _ = writeln!(out, "linedns_probe_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "linedns_probe_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "linedns_probe_duration_seconds_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "linedns_probe_duration_seconds_count{{{labels}}} {total}");
    }
    let c = &admin.checker;
    let _ = writeln!(out, "# HELP linedns_probe_tasks Probe tasks running.");
    let _ = writeln!(out, "# TYPE linedns_probe_tasks gauge");
    let _ = writeln!(out, "linedns_probe_tasks {}", c.running.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP linedns_probe_task_restarts_total Probe tasks restarted, by cause.");
    let _ = writeln!(out, "# TYPE linedns_probe_task_restarts_total counter");
    let _ =
        writeln!(out, "linedns_probe_task_restarts_total{{cause=\"ended\"}} {}", c.restarts.load(Ordering::Relaxed));
    let _ =
        writeln!(out, "linedns_probe_task_restarts_total{{cause=\"stalled\"}} {}", c.stalls.load(Ordering::Relaxed));
    let r = &admin.reloads;
    let _ = writeln!(out, "# HELP linedns_reloads_total Reloads, by result (a failure keeps the running snapshot).");
    let _ = writeln!(out, "# TYPE linedns_reloads_total counter");
    let _ = writeln!(out, "linedns_reloads_total{{result=\"success\"}} {}", r.successes.load(Ordering::Relaxed));
    let _ = writeln!(out, "linedns_reloads_total{{result=\"failure\"}} {}", r.failures.load(Ordering::Relaxed));
    let _ = writeln!(
        out,
        "# HELP linedns_snapshot_generation Generation of the live snapshot (1 at start, +1 per reload)."
    );
    let _ = writeln!(out, "# TYPE linedns_snapshot_generation gauge");
    let _ = writeln!(out, "linedns_snapshot_generation {}", admin.engine.generation());
    let _ = writeln!(out, "# HELP linedns_build_info Build information.");
    let _ = writeln!(out, "# TYPE linedns_build_info gauge");
    let _ = writeln!(out, "linedns_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    out
}
