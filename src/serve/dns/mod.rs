//! DNS service: the UDP workers (`udp`, batched, one thread per socket), the TCP
//! connections (`tcp`, RFC 7766), and the hand-over of both to a successor at shutdown
//! (`handover`).

pub mod handover;
pub(super) mod tcp;
pub(super) mod udp;
