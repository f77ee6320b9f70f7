//! dnstap's messages (dnstap.proto, <https://dnstap.info>): the `Dnstap` envelope with
//! an identity, a version and an extra field, around one `Message` of type AUTH_QUERY or
//! AUTH_RESPONSE (an authoritative server's). The structs carry the fields of
//! dnstap.proto that linedns fills, with their numbers, for prost to encode.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message as _;

use crate::engine::query::Transport;

/// `Dnstap`, the envelope of every frame.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dnstap {
    /// The server's identity (its host name by default).
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity: Option<Vec<u8>>,
    /// The software's version.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub version: Option<Vec<u8>>,
    /// Free-form: linedns puts the client's line and the ECS scope here.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub extra: Option<Vec<u8>>,
    /// The message.
    #[prost(message, optional, tag = "14")]
    pub message: Option<Message>,
    /// Always MESSAGE (1).
    #[prost(int32, required, tag = "15")]
    pub r#type: i32,
}

/// `Message`: one DNS message seen.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// AUTH_QUERY (1) or AUTH_RESPONSE (2).
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    /// INET (1) or INET6 (2).
    #[prost(int32, optional, tag = "2")]
    pub socket_family: Option<i32>,
    /// UDP (1) or TCP (2).
    #[prost(int32, optional, tag = "3")]
    pub socket_protocol: Option<i32>,
    /// The client's address.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    /// The client's port.
    #[prost(uint32, optional, tag = "6")]
    pub query_port: Option<u32>,
    /// When the query came, seconds.
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    /// And nanoseconds.
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    /// The query, as received.
    #[prost(bytes = "vec", optional, tag = "10")]
    pub query_message: Option<Vec<u8>>,
    /// When the answer went, seconds.
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    /// And nanoseconds.
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    /// The answer, as sent.
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
}

/// `Dnstap.Type.MESSAGE`.
const TYPE_MESSAGE: i32 = 1;
/// `Message.Type.AUTH_QUERY`.
pub const AUTH_QUERY: i32 = 1;
/// `Message.Type.AUTH_RESPONSE`.
pub const AUTH_RESPONSE: i32 = 2;

/// What every frame of this server carries.
#[derive(Clone, Debug)]
pub struct Origin {
    /// `Dnstap.identity`.
    pub identity: Vec<u8>,
    /// `Dnstap.version`.
    pub version: Vec<u8>,
}

/// One query seen: what the frames of it are made from.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When it was answered.
    pub at: SystemTime,
    /// Who asked.
    pub peer: SocketAddr,
    /// How.
    pub transport: Transport,
    /// The query (empty when queries are not logged).
    pub query: Vec<u8>,
    /// The answer (empty when answers are not logged).
    pub response: Vec<u8>,
    /// `Dnstap.extra`: the line and the ECS scope, as text.
    pub extra: Option<Vec<u8>>,
}

/// Appends the encoded `Dnstap` of `seen` as a message of `kind` (AUTH_QUERY or
/// AUTH_RESPONSE) to `out`.
pub fn encode(origin: &Origin, seen: &Seen, kind: i32, out: &mut Vec<u8>) {
    let time = seen.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, nanos) = (Some(time.as_secs()), Some(time.subsec_nanos()));
    let (family, address) = match seen.peer.ip() {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    let response = kind == AUTH_RESPONSE;
    let message = Message {
        r#type: kind,
        socket_family: Some(family),
        socket_protocol: Some(match seen.transport {
            Transport::Udp => 1,
            Transport::Tcp => 2,
        }),
        query_address: Some(address),
        query_port: Some(u32::from(seen.peer.port())),
        query_time_sec: secs,
        query_time_nsec: nanos,
        query_message: (!response).then(|| seen.query.clone()),
        response_time_sec: response.then_some(secs).flatten(),
        response_time_nsec: response.then_some(nanos).flatten(),
        response_message: response.then(|| seen.response.clone()),
    };
    let envelope = Dnstap {
        identity: Some(origin.identity.clone()),
        version: Some(origin.version.clone()),
        extra: seen.extra.clone(),
        message: Some(message),
        r#type: TYPE_MESSAGE,
    };
    // Encoding into a Vec cannot run out of room.
    let _ = envelope.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_frame_decodes_with_its_fields() {
        let origin = Origin { identity: b"ns1".to_vec(), version: b"linedns 0".to_vec() };
        let seen = Seen {
            at: UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5),
            peer: "[2001:db8::1]:5300".parse().unwrap(),
            transport: Transport::Tcp,
            query: vec![1, 2],
            response: vec![3, 4, 5],
            extra: Some(b"line=telecom".to_vec()),
        };
        let mut out = Vec::new();
        encode(&origin, &seen, AUTH_RESPONSE, &mut out);
        let back = Dnstap::decode(&out[..]).unwrap();
        assert_eq!(back.r#type, 1);
        assert_eq!(back.extra.as_deref(), Some(&b"line=telecom"[..]));
        let m = back.message.unwrap();
        assert_eq!((m.r#type, m.socket_family, m.socket_protocol), (AUTH_RESPONSE, Some(2), Some(2)));
        assert_eq!(m.query_port, Some(5300));
        assert_eq!((m.response_time_sec, m.response_time_nsec), (Some(1_700_000_000), Some(5)));
        assert_eq!(m.response_message.as_deref(), Some(&[3u8, 4, 5][..]));
        assert_eq!(m.query_message, None, "a response frame carries the answer only");
    }
}
