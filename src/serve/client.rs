//! The one DNS client: every question linedns asks another server goes out here — the
//! SOA checks and zone transfers of a secondary zone, NOTIFY, the NS-set checker, DNS
//! health probes, the parent's DS during a key roll.
//!
//! What every exchange needs is done once:
//! - the socket is bound to the configured source address when it is of the server's
//!   family, else to the unspecified address of that family;
//! - an answer counts only if it comes from the server, with the request's ID, QR set,
//!   the request's opcode and, when it holds a question, the request's question (RFC 5452
//!   §9.1); any other datagram is ignored while the wait lasts;
//! - a signed request's answer must verify (RFC 8945 §5.4.1: one that does not "MUST be
//!   discarded": it is, and the wait goes on);
//! - one deadline covers the whole exchange; a truncated UDP answer is asked again over
//!   TCP within it (RFC 7766 §5);
//! - a zone transfer is a stream of TCP messages, each checked the same way and TSIG
//!   messages verified in sequence (RFC 8945 §5.3.1).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::rdata::RData;
use crate::wire::decode::HEADER_LEN;
use crate::wire::encode::{self, EcsEcho};
use crate::wire::tsig::{self, Key, ResponseVerifier, TsigError};
use crate::wire::update::Update;

/// RFC 1996 §3.7: the NOTIFY opcode.
const OPCODE_NOTIFY: u8 = 4;
/// RFC 1035 §3.2.2: TYPE SOA.
const TYPE_SOA: u16 = 6;
/// The EDNS UDP payload size linedns asks with (the DNS Flag Day 2020 value).
const EDNS_UDP_SIZE: u16 = 1232;

/// One request: the message, and what its answers are checked against.
#[derive(Clone, Debug)]
pub struct Request {
    message: Vec<u8>,
    /// End of the question in `message` (the question starts at the header's end).
    question_end: usize,
    /// The key it is signed with and its MAC, once signed.
    signed: Option<(Key, Vec<u8>)>,
}

impl Request {
    /// A query for `name` (a key, [`crate::name`]) of type `qtype`, class IN, with a
    /// fresh random ID and RD clear (we ask authoritative servers).
    pub fn query(name: &str, qtype: u16) -> Request {
        let mut message = Vec::with_capacity(64);
        encode::query(&mut message, super::random::message_id(), name, qtype);
        let question_end = message.len();
        Request { message, question_end, signed: None }
    }

    /// A NOTIFY for `zone` (RFC 1996 §3.7: opcode NOTIFY, AA set, the question `zone SOA IN`).
    pub fn notify(zone: &str) -> Request {
        let mut request = Request::query(zone, TYPE_SOA);
        request.message[2] = (OPCODE_NOTIFY << 3) | 0x04;
        request
    }

    /// An UPDATE (RFC 2136) with a fresh random ID: its answer echoes the zone section.
    pub fn update(update: Update) -> Request {
        let (message, question_end) = update.into_message(super::random::message_id());
        Request { message, question_end, signed: None }
    }

    /// Adds the client's SOA in the authority section: an IXFR request (RFC 1995 §3).
    /// Comes before [`Request::with_ecs`] and [`Request::signed`].
    pub fn with_client_soa(mut self, owner: &str, ttl: u32, soa: &RData) -> Request {
        debug_assert!(self.signed.is_none() && self.count(10) == 0, "authority before additional");
        encode::write_name(&mut self.message, owner);
        encode::write_rr_body(&mut self.message, TYPE_SOA, encode::CLASS_IN, ttl, |out| encode::write_rdata(out, soa));
        self.set_count(8, self.count(8) + 1);
        self
    }

    /// Adds an OPT record with the ECS option for `subnet` (RFC 7871 §6: FAMILY, the
    /// subnet's length and address). Comes before [`Request::signed`].
    pub fn with_ecs(mut self, subnet: IpNet) -> Request {
        debug_assert!(self.signed.is_none());
        let family = if subnet.addr().is_ipv4() { 1 } else { 2 };
        let echo = EcsEcho { family, source_prefix: subnet.prefix_len(), scope_prefix: 0, addr: subnet.network() };
        encode::write_opt(&mut self.message, EDNS_UDP_SIZE, 0, false, Some(echo));
        self.set_count(10, self.count(10) + 1);
        self
    }

    /// Signs the request with `key` now (RFC 8945 §4.3.3); its answers must then be signed
    /// with the same key over this request's MAC.
    pub fn signed(mut self, key: &Key) -> Request {
        let mac = tsig::sign_request(&mut self.message, key, super::clock::unix_now());
        self.signed = Some((key.clone(), mac));
        self
    }

    /// Signs the request if `key` is given.
    pub fn signed_if(self, key: Option<&Key>) -> Request {
        match key {
            Some(key) => self.signed(key),
            None => self,
        }
    }

    /// The message ID.
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.message[0], self.message[1]])
    }

    /// The message as it is sent.
    pub fn bytes(&self) -> &[u8] {
        &self.message
    }

    fn opcode(&self) -> u8 {
        (self.message[2] >> 3) & 0x0f
    }

    fn count(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.message[at], self.message[at + 1]])
    }

    fn set_count(&mut self, at: usize, value: u16) {
        self.message[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// Why `reply` is not an answer to this request, or `None` if it is one (RFC 5452
    /// §9.1: same ID, and the same question when it holds one; QR set and our opcode).
    fn mismatch(&self, reply: &[u8]) -> Option<&'static str> {
        if reply.len() < HEADER_LEN {
            return Some("a message shorter than a DNS header");
        }
        if reply[..2] != self.message[..2] {
            return Some("an answer with another ID");
        }
        if reply[2] & 0x80 == 0 || (reply[2] >> 3) & 0x0f != self.opcode() {
            return Some("not an answer to our opcode");
        }
        let qdcount = u16::from_be_bytes([reply[4], reply[5]]);
        let ours = &self.message[HEADER_LEN..self.question_end];
        match qdcount {
            0 => None,
            1 if reply.get(HEADER_LEN..HEADER_LEN + ours.len()).is_some_and(|q| q.eq_ignore_ascii_case(ours)) => None,
            _ => Some("an answer to another question"),
        }
    }
}

/// How a request goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP, and TCP again if the answer is truncated.
    Udp,
    /// UDP only: a truncated answer is taken as it is (a health probe reads its RCODE).
    UdpOnly,
    /// TCP only.
    Tcp,
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The message.
    pub message: Vec<u8>,
    /// From the request sent to the answer read (over TCP: from the connect).
    pub elapsed: Duration,
    /// Whether it came over TCP.
    pub over_tcp: bool,
}

impl Reply {
    /// The RCODE (header bits only; no extended RCODE).
    pub fn rcode(&self) -> u8 {
        self.message[3] & 0x0f
    }
}

/// Why there is no answer.
#[derive(Debug)]
pub enum ClientError {
    /// No socket or connection could be made.
    Socket(io::Error),
    /// The server's host said no one listens (ICMP port unreachable, TCP reset).
    Unreachable(io::Error),
    /// No answer before the deadline; `discarded` says why the last message that came
    /// was not taken, if one came.
    Timeout {
        /// The time allowed.
        within: Duration,
        /// Why the last datagram received was not an answer.
        discarded: Option<String>,
    },
    /// A TCP answer that is not one (over TCP there is no waiting for another).
    Mismatch(&'static str),
    /// A TCP answer whose TSIG does not verify.
    Tsig(TsigError),
    /// The TCP connection ended before a whole message.
    Closed(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Socket(e) => write!(f, "no socket: {e}"),
            ClientError::Unreachable(e) => write!(f, "unreachable: {e}"),
            ClientError::Timeout { within, discarded: None } => write!(f, "no answer within {}", seconds(*within)),
            ClientError::Timeout { within, discarded: Some(why) } => {
                write!(f, "no answer within {} ({why} was discarded)", seconds(*within))
            }
            ClientError::Mismatch(why) => write!(f, "{why}"),
            ClientError::Tsig(e) => write!(f, "the answer's TSIG does not verify ({e})"),
            ClientError::Closed(e) => write!(f, "the connection ended early: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A duration as an operator reads it (`2 s`, `1.5 s`, `250 ms`).
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Where and how long to ask.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    /// The whole exchange's time (a transfer: the connect, then each message).
    pub timeout: Duration,
    /// The source address to send from, used for servers of its family.
    pub source: Option<IpAddr>,
}

impl Client {
    /// A client with this timeout, sending from any address.
    pub fn new(timeout: Duration) -> Client {
        Client { timeout, source: None }
    }

    /// Sends `request` to `server` and returns the first answer to it.
    pub async fn ask(&self, server: SocketAddr, request: &Request, transport: Transport) -> Result<Reply, ClientError> {
        let deadline = Instant::now() + self.timeout;
        if transport != Transport::Tcp {
            let reply = self.udp(server, request, deadline).await?;
            // RFC 7766 §5: a truncated answer is asked again over TCP.
            if transport == Transport::UdpOnly || reply.message[2] & 0x02 == 0 {
                return Ok(reply);
            }
        }
        let started = Instant::now();
        let mut stream = self.connect(server, deadline).await?;
        send_framed(&mut stream, request.bytes(), deadline, self.timeout).await?;
        let message = read_framed(&mut stream, deadline, self.timeout).await?;
        if let Some(why) = request.mismatch(&message) {
            return Err(ClientError::Mismatch(why));
        }
        if let Some((key, mac)) = &request.signed {
            tsig::verify_response(&message, key, mac, super::clock::unix_now()).map_err(ClientError::Tsig)?;
        }
        Ok(Reply { message, elapsed: started.elapsed(), over_tcp: true })
    }

    /// Opens a zone transfer: `request` (an AXFR or IXFR query) sent over TCP; the
    /// answer's messages are read with [`Transfer::next_message`].
    pub async fn transfer<'r>(&self, server: SocketAddr, request: &'r Request) -> Result<Transfer<'r>, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let mut stream = self.connect(server, deadline).await?;
        send_framed(&mut stream, request.bytes(), deadline, self.timeout).await?;
        let verifier = request.signed.as_ref().map(|(key, mac)| ResponseVerifier::new(key, mac));
        Ok(Transfer { stream, request, verifier, idle: self.timeout })
    }

    /// The local address to send to `server` from.
    fn local_for(&self, server: SocketAddr) -> SocketAddr {
        let any: IpAddr = if server.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
        SocketAddr::new(self.source.filter(|s| s.is_ipv4() == server.is_ipv4()).unwrap_or(any), 0)
    }

    async fn udp(&self, server: SocketAddr, request: &Request, deadline: Instant) -> Result<Reply, ClientError> {
        let socket = UdpSocket::bind(self.local_for(server)).await.map_err(ClientError::Socket)?;
        // Connected: the kernel passes on only the server's datagrams.
        socket.connect(server).await.map_err(ClientError::Socket)?;
        let started = Instant::now();
        socket.send(request.bytes()).await.map_err(ClientError::Unreachable)?;
        let mut buf = vec![0u8; usize::from(u16::MAX)];
        let mut discarded = None;
        loop {
            let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(ClientError::Unreachable(e)),
                Err(_) => return Err(ClientError::Timeout { within: self.timeout, discarded }),
            };
            let reply = &buf[..n];
            if let Some(why) = request.mismatch(reply) {
                discarded = Some(why.to_string());
                continue;
            }
            if let Some((key, mac)) = &request.signed
                && let Err(e) = tsig::verify_response(reply, key, mac, super::clock::unix_now())
            {
                discarded = Some(format!("an answer whose TSIG does not verify ({e})"));
                continue;
            }
            buf.truncate(n);
            return Ok(Reply { message: buf, elapsed: started.elapsed(), over_tcp: false });
        }
    }

    async fn connect(&self, server: SocketAddr, deadline: Instant) -> Result<TcpStream, ClientError> {
        let socket = if server.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
        let socket = socket.map_err(ClientError::Socket)?;
        socket.bind(self.local_for(server)).map_err(ClientError::Socket)?;
        match tokio::time::timeout_at(deadline, socket.connect(server)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(ClientError::Unreachable(e)),
            Ok(Err(e)) => Err(ClientError::Socket(e)),
            Err(_) => Err(ClientError::Timeout { within: self.timeout, discarded: None }),
        }
    }
}

/// The answer to a zone transfer request, message by message.
#[derive(Debug)]
pub struct Transfer<'r> {
    stream: TcpStream,
    request: &'r Request,
    verifier: Option<ResponseVerifier<'r>>,
    idle: Duration,
}

impl Transfer<'_> {
    /// The next message, checked (ID, opcode, question when it holds one, TSIG in
    /// sequence); each must come within the client's timeout of asking for it.
    pub async fn next_message(&mut self) -> Result<Vec<u8>, ClientError> {
        let message = read_framed(&mut self.stream, Instant::now() + self.idle, self.idle).await?;
        if let Some(why) = self.request.mismatch(&message) {
            return Err(ClientError::Mismatch(why));
        }
        if let Some(verifier) = self.verifier.as_mut() {
            verifier.verify(&message, super::clock::unix_now()).map_err(ClientError::Tsig)?;
        }
        Ok(message)
    }

    /// Whether the transfer ended as a signed one must (RFC 8945 §5.3.1: its last message
    /// signed); always true for an unsigned request.
    pub fn finish(&self) -> Result<(), ClientError> {
        self.verifier.as_ref().map_or(Ok(()), |v| v.finish().map_err(ClientError::Tsig))
    }
}

/// Writes `message` with its RFC 1035 §4.2.2 length prefix.
async fn send_framed(
    stream: &mut TcpStream,
    message: &[u8],
    deadline: Instant,
    within: Duration,
) -> Result<(), ClientError> {
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
    framed.extend_from_slice(message);
    match tokio::time::timeout_at(deadline, stream.write_all(&framed)).await {
        Ok(result) => result.map_err(ClientError::Closed),
        Err(_) => Err(ClientError::Timeout { within, discarded: None }),
    }
}

/// Reads one length-prefixed message.
async fn read_framed(stream: &mut TcpStream, deadline: Instant, within: Duration) -> Result<Vec<u8>, ClientError> {
    let read = async {
        let len = stream.read_u16().await?;
        let mut message = vec![0u8; usize::from(len)];
        stream.read_exact(&mut message).await?;
        Ok::<_, io::Error>(message)
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(result) => result.map_err(ClientError::Closed),
        Err(_) => Err(ClientError::Timeout { within, discarded: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_must_match_id_opcode_and_question() {
        let request = Request::query("example.org", TYPE_SOA);
        let mut reply = request.bytes().to_vec();
        assert_eq!(request.mismatch(&reply), Some("not an answer to our opcode"), "QR clear");
        reply[2] |= 0x80;
        assert_eq!(request.mismatch(&reply), None);
        // RFC 4343: the question may come back in other letter case (0x20 randomization).
        reply[13] = b'E';
        assert_eq!(request.mismatch(&reply), None);
        reply[14] = b'y';
        assert_eq!(request.mismatch(&reply), Some("an answer to another question"));
        reply[0] ^= 1;
        assert_eq!(request.mismatch(&reply), Some("an answer with another ID"));
        let notify = Request::notify("example.org");
        let mut answer = notify.bytes().to_vec();
        answer[2] |= 0x80;
        assert_eq!(notify.mismatch(&answer), None);
        assert_eq!(request.mismatch(&answer[..11]), Some("a message shorter than a DNS header"));
    }

    #[test]
    fn the_source_is_used_for_its_family_only() {
        let client = Client { timeout: Duration::from_secs(1), source: Some(Ipv4Addr::new(192, 0, 2, 1).into()) };
        assert_eq!(client.local_for("198.51.100.1:53".parse().unwrap()), "192.0.2.1:0".parse().unwrap());
        assert_eq!(client.local_for("[2001:db8::1]:53".parse().unwrap()), "[::]:0".parse().unwrap());
    }

    /// Receives one query on `udp` and sends back what `replies` makes of it, in order.
    fn answer_once(udp: &std::net::UdpSocket, replies: impl FnOnce(Vec<u8>) -> Vec<Vec<u8>>) {
        let mut buf = [0u8; 512];
        let (n, from) = udp.recv_from(&mut buf).unwrap();
        for reply in replies(buf[..n].to_vec()) {
            udp.send_to(&reply, from).unwrap();
        }
    }

    /// `query` made an answer: the header flag bits `flags` (QR, and TC) set.
    fn answered(mut query: Vec<u8>, flags: u8) -> Vec<u8> {
        query[2] |= flags;
        query
    }

    /// `message` with another ID.
    fn other_id(mut message: Vec<u8>) -> Vec<u8> {
        message[0] ^= 0xff;
        message
    }

    #[tokio::test]
    async fn a_truncated_answer_is_asked_again_over_tcp_and_others_are_ignored() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = udp.local_addr().unwrap();
        let tcp = std::net::TcpListener::bind(server).unwrap();
        let answering = std::thread::spawn(move || {
            // First a stray datagram with another ID, then the truncated answer.
            answer_once(&udp, |query| {
                let reply = answered(query, 0x82);
                vec![other_id(reply.clone()), reply]
            });
            let (mut conn, _) = tcp.accept().unwrap();
            use std::io::{Read, Write};
            let mut len = [0u8; 2];
            conn.read_exact(&mut len).unwrap();
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            conn.read_exact(&mut query).unwrap();
            query[2] |= 0x80;
            conn.write_all(&(query.len() as u16).to_be_bytes()).unwrap();
            conn.write_all(&query).unwrap();
        });
        let reply = Client::new(Duration::from_secs(5))
            .ask(server, &Request::query("example.org", TYPE_SOA), Transport::Udp)
            .await
            .unwrap();
        assert!(reply.over_tcp && reply.message[2] & 0x02 == 0);
        answering.join().unwrap();
    }

    #[tokio::test]
    async fn silence_is_a_timeout_that_says_what_was_discarded() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = udp.local_addr().unwrap();
        let answering = std::thread::spawn(move || answer_once(&udp, |query| vec![other_id(answered(query, 0x80))]));
        let error = Client::new(Duration::from_millis(300))
            .ask(server, &Request::query("example.org", TYPE_SOA), Transport::Udp)
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "no answer within 300 ms (an answer with another ID was discarded)");
        answering.join().unwrap();
    }

    #[tokio::test]
    async fn udp_only_takes_a_truncated_answer_as_it_is() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = udp.local_addr().unwrap();
        let answering = std::thread::spawn(move || answer_once(&udp, |query| vec![answered(query, 0x82)]));
        let reply = Client::new(Duration::from_secs(5))
            .ask(server, &Request::query("example.org", TYPE_SOA), Transport::UdpOnly)
            .await
            .unwrap();
        assert!(!reply.over_tcp && reply.message[2] & 0x02 != 0, "TC kept, no TCP asked");
        answering.join().unwrap();
    }
}
