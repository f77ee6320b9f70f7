//! linedns embedded in another Rust DNS server: a hickory-server request handler that
//! hands the zones linedns owns to [`Engine::answer`] (bytes in, bytes out: line
//! classification, ECS scope, health) and every other name to hickory's own `Catalog`.
//!
//! Run it (`cargo run --example hickory_embed`) and ask it:
//!
//! ```text
//! kdig @127.0.0.1 -p 5300 www.example.com +subnet=198.51.100.64/26   # linedns: a line's pool
//! kdig @127.0.0.1 -p 5300 www.other.test                             # hickory's catalog
//! ```
//!
//! `cargo test` runs its test: both halves answered over UDP and TCP on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::Message;
use hickory_server::proto::rr::rdata::{A, SOA};
use hickory_server::proto::rr::{Name, RData, Record, RecordSet, RrKey};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use linedns::{CompileOptions, Engine, Transport};

/// Answers linedns's zones from the engine and the rest from hickory's catalog.
struct Split {
    engine: Arc<Engine>,
    catalog: Catalog,
}

impl Split {
    /// Whether the question's name is in a zone linedns serves.
    fn owned_by_linedns(&self, request: &Request) -> bool {
        let Ok(info) = request.request_info() else { return false };
        let name = info.query.name().to_string();
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.engine.snapshot().find_zone(&name).is_some()
    }
}

#[async_trait::async_trait]
impl RequestHandler for Split {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        if !self.owned_by_linedns(request) {
            return self.catalog.handle_request::<R, T>(request, response).await;
        }
        let transport = match request.protocol() {
            Protocol::Udp => Transport::Udp,
            _ => Transport::Tcp,
        };
        // The query's own bytes in, linedns's answer out, exactly what `linedns serve` sends.
        let mut out = Vec::with_capacity(512);
        let answered =
            self.engine.answer(linedns::Request::new(request.as_slice(), request.src(), transport), &mut out);
        let message = match answered.then(|| Message::from_vec(&out)) {
            Some(Ok(message)) => message,
            _ => return servfail(request, response).await,
        };
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &message.edns {
            builder.edns(edns);
        }
        let reply = builder.build(
            message.metadata,
            message.answers.iter(),
            message.authorities.iter(),
            std::iter::empty(),
            message.additionals.iter(),
        );
        match response.send_response(reply).await {
            Ok(info) => info,
            Err(e) => {
                eprintln!("sending linedns's answer failed: {e}");
                servfail(request, response).await
            }
        }
    }
}

/// SERVFAIL for a request the engine could not answer.
async fn servfail<R: ResponseHandler>(request: &Request, mut response: R) -> ResponseInfo {
    let reply = MessageResponseBuilder::from_message_request(request)
        .error_msg(&request.metadata, hickory_server::proto::op::ResponseCode::ServFail);
    match response.send_response(reply).await {
        Ok(info) => info,
        Err(_) => {
            use hickory_server::proto::op::{Header, MessageType, Metadata};
            let metadata = Metadata::new(request.metadata.id, MessageType::Response, request.metadata.op_code);
            ResponseInfo::from(Header { metadata, counts: Default::default() })
        }
    }
}

/// hickory's own zone: `other.test` with an SOA and `www.other.test A 203.0.113.9`.
fn other_zone() -> Catalog {
    let origin = Name::from_str("other.test.").unwrap();
    let soa = SOA::new(
        Name::from_str("ns.other.test.").unwrap(),
        Name::from_str("hostmaster.other.test.").unwrap(),
        1,
        3600,
        600,
        86400,
        60,
    );
    let mut records = BTreeMap::new();
    for record in [
        Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)),
        Record::from_rdata(Name::from_str("www.other.test.").unwrap(), 300, RData::A(A::new(203, 0, 113, 9))),
    ] {
        let key = RrKey::new(record.name.clone().into(), record.record_type());
        records
            .entry(key)
            .or_insert_with(|| RecordSet::new(record.name.clone(), record.record_type(), 0))
            .insert(record, 0);
    }
    let zone = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .expect("a valid zone");
    let mut catalog = Catalog::new();
    catalog.upsert(origin.into(), vec![Arc::new(zone)]);
    catalog
}

/// Binds UDP and TCP on `addr` and serves both halves until the process ends.
async fn serve(engine: Arc<Engine>, addr: SocketAddr) -> std::io::Result<(SocketAddr, hickory_server::Server<Split>)> {
    let (udp, tcp) = bind_both(addr).await?;
    let addr = udp.local_addr()?;
    let mut server = hickory_server::Server::new(Split { engine, catalog: other_zone() });
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 65_535);
    Ok((addr, server))
}

/// A UDP socket and a TCP listener on one port: `addr`'s, or with port 0 one free for
/// both (the port the UDP socket gets may be some TCP connection's: another is tried).
async fn bind_both(addr: SocketAddr) -> std::io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let mut tries = 0;
    loop {
        let udp = tokio::net::UdpSocket::bind(addr).await?;
        match tokio::net::TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 && tries < 20 && e.kind() == std::io::ErrorKind::AddrInUse => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let rules = std::env::args().nth(1).unwrap_or_else(|| "rules/default.yaml".into());
    let engine = Engine::from_rules(Path::new(&rules), CompileOptions::default()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let (addr, mut server) = serve(Arc::new(engine), "127.0.0.1:5300".parse().unwrap()).await?;
    eprintln!("serving linedns's zones and other.test on {addr} (udp+tcp); Ctrl-C stops");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        done = server.block_until_done() => { let _ = done; }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::proto::op::{Edns, Query, ResponseCode};
    use hickory_server::proto::rr::RecordType;
    use hickory_server::proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn query(name: &str, subnet: Option<&str>) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 99;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        if let Some(subnet) = subnet {
            let (addr, len) = subnet.split_once('/').unwrap();
            let mut edns = Edns::new();
            edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
                addr.parse().unwrap(),
                len.parse().unwrap(),
                0,
            )));
            m.set_edns(edns);
        }
        m.to_vec().unwrap()
    }

    async fn udp(server: SocketAddr, packet: &[u8]) -> Message {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.send_to(packet, server).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(3), socket.recv(&mut buf)).await.expect("an answer").unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    }

    async fn tcp(server: SocketAddr, packet: &[u8]) -> Message {
        let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
        stream.write_all(&(packet.len() as u16).to_be_bytes()).await.unwrap();
        stream.write_all(packet).await.unwrap();
        let len = tokio::time::timeout(Duration::from_secs(3), stream.read_u16()).await.expect("an answer").unwrap();
        let mut msg = vec![0u8; len.into()];
        stream.read_exact(&mut msg).await.unwrap();
        Message::from_vec(&msg).unwrap()
    }

    fn addresses(m: &Message) -> Vec<String> {
        let mut out: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        out.sort();
        out
    }

    fn scope(m: &Message) -> Option<u8> {
        m.edns.as_ref()?.options().as_ref().iter().find_map(|(_, o)| match o {
            EdnsOption::Subnet(s) => Some(s.scope_prefix()),
            _ => None,
        })
    }

    #[tokio::test]
    async fn linedns_zones_and_hickory_zones_side_by_side() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = Engine::from_rules(&root.join("rules/default.yaml"), CompileOptions::default()).unwrap();
        let (addr, mut server) = serve(Arc::new(engine), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        // linedns's zone: the CERNET line's pool, with the ECS scope of its block.
        for answer in [
            udp(addr, &query("www.example.com.", Some("198.51.100.64/26"))).await,
            tcp(addr, &query("www.example.com.", Some("198.51.100.64/26"))).await,
        ] {
            assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
            assert!(answer.metadata.authoritative);
            assert_eq!(addresses(&answer), ["192.0.2.51", "192.0.2.52"]);
            assert_eq!(scope(&answer), Some(26));
        }
        // Another line's client gets another pool: overseas, the default line.
        assert_eq!(
            addresses(&udp(addr, &query("www.example.com.", Some("8.8.8.0/24"))).await),
            ["192.0.2.101", "192.0.2.102", "192.0.2.103"]
        );
        // hickory's zone, from its catalog.
        for answer in
            [udp(addr, &query("www.other.test.", None)).await, tcp(addr, &query("www.other.test.", None)).await]
        {
            assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
            assert_eq!(addresses(&answer), ["203.0.113.9"]);
        }
        // A name neither serves.
        assert_eq!(udp(addr, &query("www.example.org.", None)).await.metadata.response_code, ResponseCode::Refused);
        server.shutdown_gracefully().await.unwrap();
    }
}
