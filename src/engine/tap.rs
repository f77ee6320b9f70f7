//! The query tap: a hook the host sets to see answered queries (serve's dnstap writer
//! is one). The engine asks the tap whether it wants each query ([`Tap::sample`], on the
//! query path: one branch when no tap is set) and shows it the ones it wants, with the
//! query, the answer and the client's line ([`Tap::record`]); what the tap does with
//! them is its own business, off the engine.

use std::net::SocketAddr;

use super::query::Transport;

/// One answered query, as a [`Tap`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct Tapped<'a> {
    /// The query as received.
    pub query: &'a [u8],
    /// The answer as sent.
    pub response: &'a [u8],
    /// Who asked.
    pub peer: SocketAddr,
    /// How the query came.
    pub transport: Transport,
    /// The client's line, when the answer depended on it.
    pub line: Option<&'a str>,
    /// The line whose pool answered (another one after a fallback).
    pub served_line: Option<&'a str>,
}

/// A host's hook on answered queries (see [`crate::engine::builder::EngineBuilder::tap`]).
pub trait Tap: Send + Sync + std::fmt::Debug {
    /// Whether to show this query: called for every answered query, so it must be cheap.
    fn sample(&self) -> bool;

    /// Takes an answered query that [`Tap::sample`] chose; must not block.
    fn record(&self, tapped: Tapped<'_>);
}
