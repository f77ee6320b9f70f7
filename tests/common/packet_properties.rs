//! What must hold for any bytes given to `Engine::answer` (and to the UDP
//! workers' prefetch hint, `decode::ecs_hint`, and their prepared answers). Shared by the fuzz
//! target (`fuzz/fuzz_targets/packet.rs`) and the corpus replay in `cargo test`
//! (`tests/inprocess/fuzz_corpus.rs`), so both check the same properties.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use linedns::{Engine, PreparedAnswers, Request, Transport};

/// Largest UDP response the rules used by the fuzz target allow.
const UDP_MAX: usize = 1232;

/// The clock the fuzz target and the replay give the engine: it turns DNS cookies on
/// (`EngineBuilder::clock`), with the same server cookie on every path.
pub const FIXED_CLOCK: fn() -> u64 = || 1_764_547_200;

/// Feeds `packet` to `engine` over UDP and TCP and checks every response:
/// it parses (hickory-proto), is a response, echoes the ID and the question byte for
/// byte, keeps the UDP size limit, and carries an ECS scope within the family's bits;
/// and the UDP workers' path (`Request::with_prepared`, once making and keeping
/// the answer, once from what it kept) sends the same bytes as the long way.
/// Panics (a fuzz finding) when a property fails.
pub fn check(engine: &Engine, packet: &[u8]) {
    // The UDP workers' prefetch hint reads every datagram before the engine does: it
    // must take any bytes too, and agree with the engine's reading when it finds ECS.
    if let Some((addr, source)) = linedns::wire::decode::ecs_hint(packet) {
        engine.snapshot().classifier.prefetch_batch(&[(addr, source)]);
    }
    let peer = "192.0.2.1:53000".parse().unwrap();
    let mut prepared = PreparedAnswers::new();
    for round in ["made", "kept"] {
        let (mut long, mut short) = (Vec::new(), Vec::new());
        // The same clock on both paths: a signed query is checked and signed alike.
        let request = || Request::new(packet, peer, Transport::Udp).on_worker(1).with_clock(|| 0);
        let answered = engine.answer(request(), &mut long);
        assert_eq!(engine.answer(request().with_prepared(&mut prepared), &mut short), answered);
        assert_eq!(short, long, "the prepared path ({round}) sends what the long way sends");
    }
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut out = Vec::new();
        let answered = engine.answer(Request::new(packet, peer, transport), &mut out);
        let is_query = packet.len() >= 12 && packet[2] & 0x80 == 0;
        assert_eq!(answered, is_query, "queries are answered, responses and fragments dropped");
        if !answered {
            continue;
        }
        assert!(out.len() >= 12, "a response has a header");
        assert_eq!(out[..2], packet[..2], "ID echoed");
        assert!(out[2] & 0x80 != 0, "QR set");
        if transport == Transport::Udp {
            assert!(out.len() <= UDP_MAX, "UDP response of {} octets", out.len());
        }
        let response = Message::from_vec(&out).unwrap_or_else(|e| panic!("response does not parse: {e}: {out:02x?}"));
        if response.queries.len() == 1 {
            let end = question_end(&out).expect("response question");
            assert_eq!(out[12..end], packet[12..end], "question echoed byte for byte");
        } else {
            assert!(response.queries.is_empty());
        }
        if let Some(edns) = &response.edns
            && let Some(EdnsOption::Subnet(subnet)) = edns.option(EdnsCode::Subnet)
        {
            let bits = if subnet.addr().is_ipv4() { 32 } else { 128 };
            assert!(subnet.scope_prefix() <= bits, "scope /{} in a family of {bits} bits", subnet.scope_prefix());
            assert!(subnet.source_prefix() <= bits);
        }
    }
}

/// End of the (uncompressed) question that starts at offset 12.
fn question_end(message: &[u8]) -> Option<usize> {
    let mut pos = 12;
    loop {
        let len = usize::from(*message.get(pos)?);
        pos += 1;
        if len == 0 {
            return Some(pos + 4).filter(|&end| end <= message.len());
        }
        pos += len;
    }
}
