//! A provider reached through the PowerDNS Authoritative Server's HTTP API: the zone read
//! by `GET /api/v1/servers/ID/zones/ZONE.`, the plan applied by one `PATCH` of the same
//! path whose RRsets are `REPLACE`d (creates and updates) or `DELETE`d. The API key goes
//! in `X-API-Key` and nowhere else.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

use super::PushProblem;
use crate::compile::host::Secret;
use crate::engine::push::{Plan, Rrset, Rrsets};
use crate::name::Name;
use crate::rdata::{Fqdn, RData, RecordType};

/// Each request's time, from the connection to the whole answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read (a zone of 100,000 RRsets is some 15 MB of JSON).
const BODY_LIMIT: usize = 64 << 20;

/// Where and as whom the API is asked.
#[derive(Clone, Copy, Debug)]
pub struct Api<'a> {
    /// Its address.
    pub addr: SocketAddr,
    /// The `Host` to name.
    pub host: &'a str,
    /// The server id of the paths.
    pub server_id: &'a str,
    /// The API key.
    pub key: &'a Secret,
}

/// A zone as the API gives it.
#[derive(Deserialize)]
struct Zone {
    rrsets: Vec<RrsetJson>,
}

/// An RRset as the API reads and writes it.
#[derive(Deserialize, Serialize)]
struct RrsetJson {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changetype: Option<String>,
    #[serde(default)]
    records: Vec<RecordJson>,
}

/// One record of an RRset.
#[derive(Deserialize, Serialize)]
struct RecordJson {
    content: String,
    #[serde(default)]
    disabled: bool,
}

/// The provider's copy of `zone`: every RRset, each record's content read as zone-file
/// presentation (disabled records left out).
pub async fn read(api: Api<'_>, zone: &Name) -> Result<Rrsets, PushProblem> {
    let (status, body) = request(api, hyper::Method::GET, &zone_path(api, zone), None).await?;
    match status {
        200 => {}
        404 | 422 => return Err(PushProblem::NotAuthoritative),
        _ => return Err(PushProblem::Read(answer_error(status, &body))),
    }
    let read: Zone = serde_json::from_slice(&body).map_err(|e| PushProblem::Read(format!("the zone's JSON: {e}")))?;
    let mut out = BTreeMap::new();
    for set in read.rrsets {
        let Ok(owner) = Name::parse(&set.name) else { continue };
        let Ok(rtype) = set.rtype.parse::<RecordType>() else { continue };
        let mut data = Vec::new();
        for record in set.records.iter().filter(|r| !r.disabled) {
            let parsed = RData::parse_presentation(rtype, &record.content, zone);
            data.push(parsed.map_err(|e| PushProblem::Read(format!("{} {rtype}: {e}", set.name)))?);
        }
        if !data.is_empty() {
            out.insert((owner, rtype), Rrset::new(set.ttl.unwrap_or(0), data));
        }
    }
    Ok(out)
}

/// Applies `plan` in one PATCH: an RRset created or updated is replaced whole, a deleted
/// one deleted. Returns the requests sent (1).
pub async fn apply(api: Api<'_>, zone: &Name, plan: &Plan) -> Result<usize, PushProblem> {
    let rrsets: Vec<RrsetJson> = plan
        .changes
        .iter()
        .map(|change| {
            let name = Fqdn(&change.key.0).to_string();
            let rtype = change.key.1.to_string();
            match &change.new {
                Some(new) => RrsetJson {
                    name,
                    rtype,
                    ttl: Some(new.ttl),
                    changetype: Some("REPLACE".into()),
                    records: new.data.iter().map(|d| RecordJson { content: d.to_string(), disabled: false }).collect(),
                },
                None => RrsetJson { name, rtype, ttl: None, changetype: Some("DELETE".into()), records: Vec::new() },
            }
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "rrsets": rrsets })).expect("serializable");
    let (status, answer) = request(api, hyper::Method::PATCH, &zone_path(api, zone), Some(body)).await?;
    match status {
        200 | 204 => Ok(1),
        404 => Err(PushProblem::NotAuthoritative),
        _ => Err(PushProblem::Update(answer_error(status, &answer))),
    }
}

/// `/api/v1/servers/ID/zones/ZONE.`
fn zone_path(api: Api<'_>, zone: &Name) -> String {
    format!("/api/v1/servers/{}/zones/{}", api.server_id, Fqdn(zone))
}

/// The API's answer to a failed request, in words: its status and its `error` field.
fn answer_error(status: u16, body: &[u8]) -> String {
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string());
    match status {
        401 | 403 => format!("the API refused the key (HTTP {status}: {said})"),
        _ => format!("the API answered HTTP {status}: {said}"),
    }
}

/// One HTTP/1.1 request to the API, within [`TIMEOUT`]: its status and body.
async fn request(
    api: Api<'_>,
    method: hyper::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Vec<u8>), PushProblem> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(api.addr).await.map_err(|e| format!("connect: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("HTTP: {e}"))?;
        let connection = tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("bad request: {e}"))?;
        let headers = request.headers_mut();
        headers.insert(HOST, HeaderValue::from_str(api.host).map_err(|_| "a bad Host".to_string())?);
        headers.insert("x-api-key", HeaderValue::from_str(&api.key.0).map_err(|_| "an API key that is not text")?);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), BODY_LIMIT);
        let body = body.collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
        connection.abort();
        Ok::<_, String>((status, body.to_vec()))
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(why)) => Err(PushProblem::Read(format!("the API at {}: {why}", api.addr))),
        Err(_) => Err(PushProblem::Read(format!("the API at {} gave no answer within {TIMEOUT:?}", api.addr))),
    }
}
