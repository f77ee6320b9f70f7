//! What [`crate::Engine::answer`] is given with each DNS message: the request context.

use std::net::SocketAddr;

use super::prepared::PreparedAnswers;
use super::query::Transport;

/// One message to answer, and what the host knows of it: who sent it, how, on which
/// worker, the clock (read only when the answer needs the time: a TSIG, a signature, a
/// cookie or a rate limit), and the worker's prepared answers (UDP only).
///
/// ```
/// # use linedns::engine::request::Request;
/// # use linedns::engine::query::Transport;
/// let peer = "192.0.2.7:5300".parse().unwrap();
/// let request = Request::new(b"", peer, Transport::Udp).on_worker(1).with_clock(|| 1_800_000_000);
/// assert_eq!(request.worker, 1);
/// ```
pub struct Request<'q, C = fn() -> u64> {
    /// The message as received (without the TCP length prefix).
    pub packet: &'q [u8],
    /// Its source.
    pub peer: SocketAddr,
    /// How it came.
    pub transport: Transport,
    /// The worker answering (its own counter shard, see
    /// [`super::metrics::SHARDS`]: workers share no cache line); 0 for a host with one.
    pub worker: usize,
    /// Seconds since the Unix epoch, asked at most once. Without a clock a signed query
    /// is answered as if unsigned and nothing is signed.
    pub now: Option<C>,
    /// The worker's answers made before (a UDP worker's path, see
    /// [`super::prepared`]); ignored over TCP.
    pub prepared: Option<&'q mut PreparedAnswers>,
}

impl<'q> Request<'q> {
    /// `packet` from `peer` over `transport`, on worker 0, with no clock.
    pub fn new(packet: &'q [u8], peer: SocketAddr, transport: Transport) -> Self {
        Request { packet, peer, transport, worker: 0, now: None, prepared: None }
    }
}

impl<'q, C: FnOnce() -> u64> Request<'q, C> {
    /// On worker `worker`.
    pub fn on_worker(self, worker: usize) -> Self {
        Request { worker, ..self }
    }

    /// With the host's clock.
    pub fn with_clock<D: FnOnce() -> u64>(self, now: D) -> Request<'q, D> {
        let Request { packet, peer, transport, worker, prepared, .. } = self;
        Request { packet, peer, transport, worker, now: Some(now), prepared }
    }

    /// With the worker's prepared answers.
    pub fn with_prepared(self, prepared: &'q mut PreparedAnswers) -> Self {
        Request { prepared: Some(prepared), ..self }
    }
}
