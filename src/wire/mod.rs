//! The DNS wire format of queries and responses (RFC 1035 §4, RFC 6891, RFC 7871).
//!
//! Hand-written for the query path: no allocation, the question echoed as received. Tests
//! and the fuzz target check every response with hickory-proto's parser. What other servers
//! send is read in [`message`] with `domain`, the one outside DNS library linedns uses.

pub mod decode;
pub mod dnssec;
pub mod encode;
pub mod message;
pub mod tsig;
pub mod update;
