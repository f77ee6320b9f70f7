//! Message IDs for the queries serve sends itself (NOTIFY, the checker).

/// A message ID nobody can guess (RFC 5452 §9.2 asks it of queries; answers are matched
/// by it), from the system's random source.
pub fn message_id() -> u16 {
    let mut id = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id);
    u16::from_be_bytes(id)
}
