//! The admin HTTP API and Prometheus metrics, on their own listener.
//!
//! HTTP/1.1 on hyper: one request per connection (`Connection: close`), bounded request
//! head, body, time and connection count. It listens on loopback unless a token is
//! configured, and every mutating call (POST, DELETE) must carry
//! `Authorization: Bearer TOKEN` when one is. Every request passes [`AdminGuard`] first
//! (its `Host` names this listener, it comes from no other web origin, a change is sent
//! as JSON): a refusal is a 403 with the reason. `HEAD` is answered for every `GET`.
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
//! | `GET /serials` | each zone's SOA serial per line (view) |
//! | `GET /check` | the last periodic consistency check (`check.interval_ms`) |

pub mod exposition;
pub mod guard;
pub mod status;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use self::guard::AdminGuard;
use super::control::{Control, ReloadCause};

use crate::engine::explain::parse_asked;

/// Environment variable holding the admin token.
pub const TOKEN_ENV: &str = "LINEDNS_ADMIN_TOKEN";

/// Largest request head (request line and headers) read; a larger one gets
/// 431 Request Header Fields Too Large (hyper's answer, RFC 6585 §5).
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body read.
const MAX_BODY: usize = 64 * 1024;
/// Time for a whole connection: read the request, answer it.
const REQUEST_TIME: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 64;

/// The admin token: [`TOKEN_ENV`], else the file the rules' `server.admin.token_file`
/// names.
pub fn token(settings: &crate::compile::host::HostSettings) -> Result<Option<String>, String> {
    if let Some(t) = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        return Ok(Some(t));
    }
    match &settings.admin_token_file {
        None => Ok(None),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
            Ok(_) => Err(format!("admin token file {} is empty", path.display())),
            Err(e) => Err(format!("cannot read the admin token file {}: {e}", path.display())),
        },
    }
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

/// What a listener answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The whole API and the status page, behind [`AdminGuard`] (and the token).
    Api,
    /// `GET /metrics` alone (`server.metrics.listen`): for scraping from other hosts;
    /// it reads nothing else and changes nothing, so it needs neither.
    MetricsOnly,
}

/// Serves the admin API (or only the metrics, per `access`) on `listener` until `stop`.
pub async fn serve(listener: TcpListener, control: Arc<Control>, access: Access, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let Ok(own) = listener.local_addr() else { return };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = tokio::select! {
            () = &mut stop => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else { continue };
        let control = control.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request| {
                let control = control.clone();
                async move {
                    Ok::<_, Infallible>(match access {
                        Access::Api => answer(&control, request, peer, own).await,
                        Access::MetricsOnly => {
                            http_response(metrics_only(&control, request.method(), request.uri().path()))
                        }
                    })
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(REQUEST_TIME, connection).await;
        });
    }
}

/// A request as the routes read it.
struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    authorization: Option<String>,
    body: Bytes,
}

/// A response before it is put on the wire.
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

/// Reads the request from `peer` (body at most [`MAX_BODY`]), routes it, and builds the
/// response. Every call that changes state is logged: from where, what, and the outcome.
async fn answer(
    control: &Control,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    own: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let guard = AdminGuard { listener: own, names: control.host().admin_hosts.clone() };
    let response = match guard.check(&method, request.headers()) {
        Err(refusal) => {
            tracing::warn!("admin API: {method} {path} from {peer} refused: {refusal}");
            control.admin_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Response::error(403, refusal.to_string())
        }
        Ok(()) => match read_request(request).await {
            Ok(request) => route(control, &request),
            Err(message) => Response::error(400, message),
        },
    };
    if matches!(method, Method::POST | Method::DELETE | Method::PUT | Method::PATCH) && response.status != 403 {
        let outcome = if response.status < 300 { "done".to_string() } else { response.body.trim().to_string() };
        tracing::info!("admin API: {method} {path} from {peer}: {} {outcome}", response.status);
    }
    http_response(response)
}

/// The metrics listener's answer: `GET` or `HEAD /metrics`, else 404 (or 405).
fn metrics_only(control: &Control, method: &Method, path: &str) -> Response {
    match (method, path) {
        (&Method::GET | &Method::HEAD, "/metrics") => metrics(control),
        (_, "/metrics") => Response::error(405, "method not allowed"),
        _ => Response::error(404, "this listener serves GET /metrics only (the API is on server.admin.listen)"),
    }
}

/// `GET /metrics`: the Prometheus text, on either listener.
fn metrics(control: &Control) -> Response {
    Response { status: 200, content_type: exposition::CONTENT_TYPE, body: exposition::render(control) }
}

/// `response` on the wire: its status, type, the page's CSP, and `Connection: close`.
fn http_response(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    out.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(response.content_type));
    // The status page runs its own inline script and reads this listener only.
    out.headers_mut().insert(
        hyper::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    out.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    out
}

async fn read_request(request: hyper::Request<Incoming>) -> Result<Request, String> {
    let (parts, body) = request.into_parts();
    let authorization = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err("request body too large".into()),
        Err(e) => return Err(format!("reading the body: {e}")),
    };
    Ok(Request { method: parts.method, path: parts.uri.path().to_string(), query, authorization, body })
}

fn route(admin: &Control, request: &Request) -> Response {
    let mutating = matches!(request.method, Method::POST | Method::DELETE | Method::PUT);
    if mutating && let Some(token) = admin.token.as_deref().filter(|t| !t.is_empty()) {
        let given = request.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return Response::error(401, "this call changes state: send Authorization: Bearer <token>");
        }
    }
    // HEAD is GET without the body (hyper leaves it out).
    let method = if request.method == Method::HEAD { "GET" } else { request.method.as_str() };
    match (method, request.path.as_str()) {
        ("GET", "/metrics") => metrics(admin),
        ("GET", "/") => Response { status: 200, content_type: "text/html; charset=utf-8", body: status::PAGE.into() },
        ("GET", "/status") => Response::json(200, &status::status(admin)),
        ("GET", "/nodes") => Response::json(200, &nodes(admin)),
        ("GET", "/lines") => Response::json(200, &admin.engine.snapshot().summary().lines),
        ("GET", "/explain") => explain(admin, request),
        ("POST", "/reload") => match admin.reload(ReloadCause::AdminApi) {
            Ok(report) => Response::json(200, &report),
            Err(errors) => Response::json(422, &errors.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
        },
        ("GET", "/overrides") => Response::json(200, &admin.engine.list_overrides()),
        ("GET", "/serials") => Response::json(200, &status::view_serials(&admin.engine)),
        ("GET", "/check") => match admin.last_check.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(last) => Response::json(200, last),
            None => Response::error(404, "no consistency check has run (the rules' check.interval_ms sets one)"),
        },
        ("POST", "/overrides") => add_override(admin, &request.body),
        ("DELETE", path) if path.starts_with("/overrides/") => match path["/overrides/".len()..].parse::<u64>() {
            Ok(id) if admin.engine.remove_override(id) => {
                tracing::info!("override {id} removed");
                keep_overrides(admin);
                Response::json(200, &admin.engine.list_overrides())
            }
            Ok(id) => Response::error(404, format!("no override {id}")),
            Err(_) => Response::error(400, "DELETE /overrides/ID"),
        },
        (
            _,
            "/" | "/status" | "/metrics" | "/nodes" | "/lines" | "/explain" | "/reload" | "/overrides" | "/serials"
            | "/check",
        ) => Response::error(405, "method not allowed"),
        _ => Response::error(404, format!("no such call: {} {}", request.method, request.path)),
    }
}

/// `POST /overrides` with `{"target": {"node": "192.0.2.1"} | {"line": "telecom"} |
/// {"pool": {"record": "www.example.com A", "line": "telecom"}}, "state": "up" | "down" |
/// "drained", "who": "...", "why": "..."}`.
fn add_override(admin: &Control, body: &[u8]) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewOverride {
        target: crate::engine::overrides::Target,
        state: crate::engine::health::Forced,
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
    match admin.engine.add_override(new.target, new.state, new.who, new.why, super::clock::unix_now()) {
        Ok(o) => {
            tracing::warn!("override {}: {} forced {} by {} ({})", o.id, o.target, o.state, o.who, o.why);
            keep_overrides(admin);
            Response::json(200, &o)
        }
        Err(unknown) => Response::error(422, unknown.to_string()),
    }
}

/// Writes the overrides to the state directory; a failure is logged (the override is in
/// force, but would not survive a restart).
fn keep_overrides(admin: &Control) {
    if let Err(e) = super::override_store::save(&admin.engine, admin.host().state_dir.as_deref()) {
        tracing::error!("overrides not kept across restarts: {e}");
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Serialize)]
struct NodeView {
    address: String,
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

fn nodes(admin: &Control) -> Vec<NodeView> {
    let snapshot = admin.engine.snapshot();
    let mut by_node: Vec<NodeView> =
        snapshot.nodes.iter().map(|n| NodeView { address: n.key.to_string(), probes: Vec::new() }).collect();
    for record in &snapshot.line_records {
        for pool in record.pools.iter() {
            for node in pool.nodes.iter() {
                let Some(p) = node.probe else { continue };
                let probe = &snapshot.probes[p.index()];
                let view = &mut by_node[node.node.index()];
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

fn explain(admin: &Control, request: &Request) -> Response {
    let get = |k: &str| request.query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let Some(client) = get("ip") else { return Response::error(400, "explain needs ip=ADDRESS or ip=ADDRESS/LEN") };
    let (addr, ecs, query) = match parse_asked(client, get("name"), get("type")) {
        Ok(asked) => asked,
        Err(m) => return Response::error(400, m),
    };
    let snapshot = admin.engine.snapshot();
    Response::json(
        200,
        &crate::engine::explain::explain(
            &snapshot,
            addr,
            ecs,
            query.as_ref().map(|(n, t)| (n.as_str(), *t)),
            &snapshot.live_health(),
        ),
    )
}
