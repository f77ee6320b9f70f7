//! TSIG (RFC 8945): the transaction signature on a message, checked on a request and
//! written on each response message, with the MAC chaining of §5.3.1 for a transfer's
//! sequence of messages. The MAC is `ring::hmac` (already in the tree through rustls);
//! the record is read and written here, on the message's bytes.

use std::fmt;

use ring::hmac;

use super::decode::HEADER_LEN;
pub use super::decode::TYPE_TSIG;
use super::encode::write_name;

/// RFC 8945 §4.2: CLASS ANY.
const CLASS_ANY: u16 = 255;
/// RFC 8945 §5.2.3: the fudge we sign with (seconds); BIND and Knot use the same.
pub const FUDGE: u16 = 300;

/// RFC 8945 §5.2 and RFC 2845: TSIG error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsigError {
    /// 16: the MAC does not verify.
    BadSig,
    /// 17: the key is unknown, or not for that algorithm.
    BadKey,
    /// 18: the time signed is outside the fudge.
    BadTime,
}

impl std::fmt::Display for TsigError {
    /// The RFC 8945 name and what it means, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TsigError::BadSig => "BADSIG (the MAC does not verify)",
            TsigError::BadKey => "BADKEY (the key is unknown, or not for that algorithm)",
            TsigError::BadTime => "BADTIME (the time signed is outside the fudge)",
        })
    }
}

impl TsigError {
    /// The code in the TSIG record's Error field.
    pub fn code(self) -> u16 {
        match self {
            TsigError::BadSig => 16,
            TsigError::BadKey => 17,
            TsigError::BadTime => 18,
        }
    }
}

/// The MAC algorithms we sign and verify with (RFC 8945 §6: HMAC-SHA256 is mandatory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `hmac-sha256`.
    HmacSha256,
    /// `hmac-sha512`.
    HmacSha512,
}

impl Algorithm {
    /// The algorithm's name as TSIG writes it (without the trailing dot).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm with this name, in any letter case, with or without the dot.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        [Algorithm::HmacSha256, Algorithm::HmacSha512].into_iter().find(|a| a.name() == name)
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }
}

/// A shared TSIG key. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Key {
    /// The key's name (normalized: lowercase, no trailing dot).
    pub name: Box<str>,
    /// Its algorithm.
    pub algorithm: Algorithm,
    key: hmac::Key,
}

impl Key {
    /// A key named `name` with the secret `secret` (the decoded bytes).
    pub fn new(name: &str, algorithm: Algorithm, secret: &[u8]) -> Key {
        Key { name: name.into(), algorithm, key: hmac::Key::new(algorithm.ring(), secret) }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key {{ name: {:?}, algorithm: {}, secret: <hidden> }}", self.name, self.algorithm.name())
    }
}

/// A TSIG record read from a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tsig<'p> {
    /// Offset of the record in the message (it is the last one).
    pub start: usize,
    /// The key's name (lowercase, no trailing dot).
    pub key_name: String,
    /// The algorithm's name (lowercase, no trailing dot).
    pub algorithm: String,
    /// Seconds since the Unix epoch when it was signed (48 bits).
    pub time_signed: u64,
    /// Seconds of clock difference allowed.
    pub fudge: u16,
    /// The MAC.
    pub mac: &'p [u8],
    /// The message ID it was signed with.
    pub original_id: u16,
    /// The TSIG error field.
    pub error: u16,
}

/// Reads the TSIG record at `start` (the last record of `packet`): `None` if malformed.
pub fn read(packet: &[u8], start: usize) -> Option<Tsig<'_>> {
    let (key_name, pos) = read_name(packet, start)?;
    let fixed = packet.get(pos..pos + 10)?;
    if u16::from_be_bytes([fixed[0], fixed[1]]) != TYPE_TSIG {
        return None;
    }
    let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata = packet.get(pos + 10..pos + 10 + rdlength)?;
    // RFC 8945 §4.2: the algorithm name is not compressed.
    let (algorithm, at) = read_name(rdata, 0)?;
    let time = rdata.get(at..at + 8)?;
    let time_signed = u64::from_be_bytes([0, 0, time[0], time[1], time[2], time[3], time[4], time[5]]);
    let fudge = u16::from_be_bytes([time[6], time[7]]);
    let mac_len = usize::from(u16::from_be_bytes([*rdata.get(at + 8)?, *rdata.get(at + 9)?]));
    let mac = rdata.get(at + 10..at + 10 + mac_len)?;
    let rest = rdata.get(at + 10 + mac_len..at + 16 + mac_len)?;
    let original_id = u16::from_be_bytes([rest[0], rest[1]]);
    let error = u16::from_be_bytes([rest[2], rest[3]]);
    let other_len = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
    if rdata.len() != at + 16 + mac_len + other_len || pos + 10 + rdlength != packet.len() {
        return None;
    }
    Some(Tsig { start, key_name, algorithm, time_signed, fudge, mac, original_id, error })
}

/// A name as its key ([`crate::name`]), following compression pointers (bounded), and
/// the offset after it in `packet`.
fn read_name(packet: &[u8], start: usize) -> Option<(String, usize)> {
    let (mut pos, mut end, mut hops) = (start, None, 0);
    let mut name = String::new();
    loop {
        let b = *packet.get(pos)?;
        match b & 0xc0 {
            0x00 if b == 0 => return Some((name, end.unwrap_or(pos + 1))),
            0x00 => {
                let label = packet.get(pos + 1..pos + 1 + usize::from(b))?;
                crate::name::push_label(&mut name, label);
                pos += 1 + usize::from(b);
            }
            0xc0 => {
                hops += 1;
                if hops > 16 {
                    return None;
                }
                end.get_or_insert(pos + 2);
                pos = usize::from(u16::from_be_bytes([b & 0x3f, *packet.get(pos + 1)?]));
            }
            _ => return None,
        }
    }
}

/// RFC 8945 §4.3.3: the TSIG variables after the message in the digest.
fn variables(out: &mut Vec<u8>, key: &Key, time: u64, fudge: u16, error: u16, other: &[u8]) {
    write_name(out, &key.name);
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    write_name(out, key.algorithm.name());
    out.extend_from_slice(&time.to_be_bytes()[2..]);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
}

/// Checks the TSIG of a request against `keys` at time `now` (seconds since the Unix
/// epoch): the key it names and its MAC (RFC 8945 §5.2), then the time (§5.2.3).
pub fn verify<'k>(packet: &[u8], tsig: &Tsig<'_>, keys: &'k [Key], now: u64) -> Result<&'k Key, TsigError> {
    let key = keys
        .iter()
        .find(|k| *k.name == *tsig.key_name && k.algorithm.name() == tsig.algorithm)
        .ok_or(TsigError::BadKey)?;
    // The message as signed: without the TSIG record, ARCOUNT one less, the original ID.
    let mut signed = packet[..tsig.start].to_vec();
    signed[..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([signed[10], signed[11]]).wrapping_sub(1);
    signed[10..12].copy_from_slice(&arcount.to_be_bytes());
    variables(&mut signed, key, tsig.time_signed, tsig.fudge, tsig.error, &[]);
    // Only an untruncated MAC is accepted (RFC 8945 §5.2.2.1 lets a server refuse
    // truncation).
    hmac::verify(&key.key, &signed, tsig.mac).map_err(|_| TsigError::BadSig)?;
    if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
        return Err(TsigError::BadTime);
    }
    Ok(key)
}

/// Signs a request (RFC 8945 §4.3.3: the message and the TSIG variables) at `time`:
/// what a client or a NOTIFY sender does. Returns the MAC, which the answer's covers.
pub fn sign_request(message: &mut Vec<u8>, key: &Key, time: u64) -> Vec<u8> {
    let mut digest = message.clone();
    variables(&mut digest, key, time, FUDGE, 0, &[]);
    let mac = hmac::sign(&key.key, &digest);
    let id = u16::from_be_bytes([message[0], message[1]]);
    append(message, key, time, mac.as_ref(), id, 0, &[]);
    mac.as_ref().to_vec()
}

/// Checks the TSIG of the (single-message) answer `packet` to a request we signed with
/// `key` and whose MAC was `request_mac` (RFC 8945 §5.4.1: the answer's MAC covers the
/// request's MAC, the answer and the TSIG variables), at `now`. An answer with no TSIG
/// is an error too (§5.4.1: it "MUST be discarded").
pub fn verify_response(packet: &[u8], key: &Key, request_mac: &[u8], now: u64) -> Result<(), TsigError> {
    let mut verifier = ResponseVerifier::new(key, request_mac);
    verifier.verify(packet, now)?;
    verifier.finish()
}

/// Checks the TSIG records of the answers to one request we signed, message by message
/// (RFC 8945 §5.3.1: a zone transfer's later messages are signed over the previous MAC,
/// the messages since, and the timers; up to 99 in a row may go unsigned).
#[derive(Debug)]
pub struct ResponseVerifier<'k> {
    key: &'k Key,
    /// The request's MAC, then the last verified message's.
    prior_mac: Vec<u8>,
    first: bool,
    /// Unsigned messages since the last signed one.
    pending: Vec<u8>,
    unsigned: usize,
}

impl<'k> ResponseVerifier<'k> {
    /// A verifier of the answers to a request signed with `key` whose MAC was `request_mac`.
    pub fn new(key: &'k Key, request_mac: &[u8]) -> Self {
        ResponseVerifier { key, prior_mac: request_mac.to_vec(), first: true, pending: Vec::new(), unsigned: 0 }
    }

    /// Checks the next message at `now`. The first must be signed; later ones may not be
    /// (then they are covered by the next signed one, which [`ResponseVerifier::finish`]
    /// requires).
    pub fn verify(&mut self, packet: &[u8], now: u64) -> Result<(), TsigError> {
        let start = crate::wire::decode::last_record(packet).filter(|&(_, rtype)| rtype == TYPE_TSIG).map(|(s, _)| s);
        let Some(start) = start else {
            if self.first || self.unsigned >= 99 {
                return Err(TsigError::BadSig);
            }
            self.pending.extend_from_slice(packet);
            self.unsigned += 1;
            return Ok(());
        };
        let tsig = read(packet, start).ok_or(TsigError::BadSig)?;
        if *tsig.key_name != *self.key.name || tsig.algorithm != self.key.algorithm.name() {
            return Err(TsigError::BadKey);
        }
        if tsig.error != 0 {
            return Err(match tsig.error {
                17 => TsigError::BadKey,
                18 => TsigError::BadTime,
                _ => TsigError::BadSig,
            });
        }
        let mut signed = Vec::with_capacity(self.pending.len() + packet.len() + self.prior_mac.len() + 64);
        signed.extend_from_slice(&(self.prior_mac.len() as u16).to_be_bytes());
        signed.extend_from_slice(&self.prior_mac);
        signed.extend_from_slice(&self.pending);
        let message_at = signed.len();
        signed.extend_from_slice(&packet[..start]);
        signed[message_at..message_at + 2].copy_from_slice(&tsig.original_id.to_be_bytes());
        let arcount = u16::from_be_bytes([signed[message_at + 10], signed[message_at + 11]]).wrapping_sub(1);
        signed[message_at + 10..message_at + 12].copy_from_slice(&arcount.to_be_bytes());
        if self.first {
            variables(&mut signed, self.key, tsig.time_signed, tsig.fudge, tsig.error, &[]);
        } else {
            signed.extend_from_slice(&tsig.time_signed.to_be_bytes()[2..]);
            signed.extend_from_slice(&tsig.fudge.to_be_bytes());
        }
        hmac::verify(&self.key.key, &signed, tsig.mac).map_err(|_| TsigError::BadSig)?;
        if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
            return Err(TsigError::BadTime);
        }
        (self.prior_mac, self.first, self.unsigned) = (tsig.mac.to_vec(), false, 0);
        self.pending.clear();
        Ok(())
    }

    /// Whether the answer ended signed (RFC 8945 §5.3.1: the last message must be).
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.first || self.unsigned > 0 { Err(TsigError::BadSig) } else { Ok(()) }
    }
}

/// Signs the responses to one request, message by message (RFC 8945 §5.3, §5.3.1).
#[derive(Debug)]
pub struct Signer<'k> {
    key: &'k Key,
    /// The request's MAC, then each message's.
    prior_mac: Vec<u8>,
    first: bool,
    time: u64,
    original_id: u16,
}

impl<'k> Signer<'k> {
    /// A signer answering a request whose TSIG carried `request_mac`, at time `now`.
    pub fn new(key: &'k Key, request_mac: &[u8], original_id: u16, now: u64) -> Self {
        Signer { key, prior_mac: request_mac.to_vec(), first: true, time: now, original_id }
    }

    /// Appends a TSIG record to the response `message` (and counts it in ARCOUNT). The
    /// first message's MAC covers the request's MAC, the message and the TSIG variables;
    /// each later one's the previous MAC, the message and the timers.
    pub fn sign(&mut self, message: &mut Vec<u8>, error: Option<TsigError>, other: &[u8]) {
        let mut digest = Vec::with_capacity(message.len() + 128);
        digest.extend_from_slice(&(self.prior_mac.len() as u16).to_be_bytes());
        digest.extend_from_slice(&self.prior_mac);
        digest.extend_from_slice(message);
        let error = error.map_or(0, TsigError::code);
        if self.first {
            variables(&mut digest, self.key, self.time, FUDGE, error, other);
        } else {
            digest.extend_from_slice(&self.time.to_be_bytes()[2..]);
            digest.extend_from_slice(&FUDGE.to_be_bytes());
        }
        let mac = hmac::sign(&self.key.key, &digest);
        self.first = false;
        self.prior_mac = mac.as_ref().to_vec();
        let mac = self.prior_mac.clone();
        append(message, self.key, self.time, &mac, self.original_id, error, other);
    }
}

/// Appends the TSIG record of a NOTAUTH answer to a request whose TSIG failed with
/// `error` (RFC 8945 §5.2): BADKEY and BADSIG with no MAC (§5.2.1, §5.2.2); BADTIME
/// signed with the key, our time in Other Data (§5.2.3).
pub fn append_failure(message: &mut Vec<u8>, request: &Tsig<'_>, error: TsigError, keys: &[Key], now: u64) {
    match (error, keys.iter().find(|k| *k.name == *request.key_name)) {
        (TsigError::BadTime, Some(key)) => {
            Signer::new(key, request.mac, request.original_id, now).sign(message, Some(error), &now.to_be_bytes()[2..])
        }
        _ => append_unsigned(message, request, error, now),
    }
}

/// Appends a TSIG record with no MAC: the answer to a request whose key is unknown or
/// whose MAC does not verify (RFC 8945 §5.2.1, §5.2.2).
pub fn append_unsigned(message: &mut Vec<u8>, tsig: &Tsig<'_>, error: TsigError, now: u64) {
    append_raw(message, &tsig.key_name, &tsig.algorithm, now, &[], tsig.original_id, error.code(), &[]);
}

fn append(message: &mut Vec<u8>, key: &Key, time: u64, mac: &[u8], original_id: u16, error: u16, other: &[u8]) {
    append_raw(message, &key.name, key.algorithm.name(), time, mac, original_id, error, other);
}

#[allow(clippy::too_many_arguments)]
fn append_raw(
    message: &mut Vec<u8>,
    key_name: &str,
    algorithm: &str,
    time: u64,
    mac: &[u8],
    original_id: u16,
    error: u16,
    other: &[u8],
) {
    write_name(message, key_name);
    message.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    message.extend_from_slice(&CLASS_ANY.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    let mut rdata = Vec::with_capacity(64 + mac.len());
    write_name(&mut rdata, algorithm);
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(mac);
    rdata.extend_from_slice(&original_id.to_be_bytes());
    rdata.extend_from_slice(&error.to_be_bytes());
    rdata.extend_from_slice(&(other.len() as u16).to_be_bytes());
    rdata.extend_from_slice(other);
    message.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    message.extend_from_slice(&rdata);
    let arcount = u16::from_be_bytes([message[10], message[11]]) + 1;
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
    debug_assert!(message.len() > HEADER_LEN);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the decoder finds the TSIG of a request.
    fn last_record_start(packet: &[u8]) -> Option<usize> {
        let mut name_buf = crate::name::KeyBuf::new();
        super::super::decode::decode(packet, &mut name_buf).ok()?.0.tsig_start
    }

    /// A query for `example.com AXFR` with ID 0x4242.
    fn query() -> Vec<u8> {
        let mut q = vec![0x42, 0x42, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        write_name(&mut q, "example.com");
        q.extend_from_slice(&[0, 252, 0, 1]);
        q
    }

    #[test]
    fn a_signed_request_verifies_and_every_fault_is_named() {
        let key = Key::new("xfr-key", Algorithm::HmacSha256, b"0123456789abcdef0123456789abcdef");
        let keys = [key.clone()];
        let mut signed = query();
        sign_request(&mut signed, &key, 1_000_000);
        let start = last_record_start(&signed).expect("the TSIG is the last record");
        let tsig = read(&signed, start).unwrap();
        assert_eq!((tsig.key_name.as_str(), tsig.algorithm.as_str()), ("xfr-key", "hmac-sha256"));
        assert!(verify(&signed, &tsig, &keys, 1_000_100).is_ok_and(|k| std::ptr::eq(k, &keys[0])));
        // Outside the fudge (300 s), either way: BADTIME, only once the MAC is good.
        assert_eq!(verify(&signed, &tsig, &keys, 1_000_301).err(), Some(TsigError::BadTime));
        assert_eq!(verify(&signed, &tsig, &keys, 999_699).err(), Some(TsigError::BadTime));
        // A changed message: BADSIG. Another secret: BADSIG. Another name: BADKEY.
        let mut tampered = signed.clone();
        tampered[HEADER_LEN + 1] ^= 0x20;
        assert_eq!(
            verify(&tampered, &read(&tampered, start).unwrap(), &keys, 1_000_000).err(),
            Some(TsigError::BadSig)
        );
        let other = [Key::new("xfr-key", Algorithm::HmacSha256, b"another secret")];
        assert_eq!(verify(&signed, &tsig, &other, 1_000_000).err(), Some(TsigError::BadSig));
        let renamed = [Key::new("other-key", Algorithm::HmacSha256, b"0123456789abcdef0123456789abcdef")];
        assert_eq!(verify(&signed, &tsig, &renamed, 1_000_000).err(), Some(TsigError::BadKey));
        let sha512 = [Key::new("xfr-key", Algorithm::HmacSha512, b"0123456789abcdef0123456789abcdef")];
        assert_eq!(
            verify(&signed, &tsig, &sha512, 1_000_000).err(),
            Some(TsigError::BadKey),
            "the algorithm must match"
        );
    }

    #[test]
    fn a_signed_stream_verifies_message_by_message_and_must_end_signed() {
        let key = Key::new("xfr", Algorithm::HmacSha256, b"a shared secret of some length");
        let request_mac = vec![7u8; 32];
        let now = 1_764_547_200;
        let message = || {
            let mut m = Vec::new();
            crate::wire::encode::query(&mut m, 1, "example.org", 252);
            m[2] |= 0x80;
            m
        };
        let mut signer = Signer::new(&key, &request_mac, 1, now);
        let (mut first, mut second) = (message(), message());
        signer.sign(&mut first, None, &[]);
        signer.sign(&mut second, None, &[]);
        let mut verifier = ResponseVerifier::new(&key, &request_mac);
        verifier.verify(&first, now).unwrap();
        verifier.verify(&second, now).unwrap();
        verifier.finish().unwrap();
        // RFC 8945 §5.3.1: a message may go unsigned, but the answer must end signed.
        verifier.verify(&message(), now).unwrap();
        assert_eq!(verifier.finish(), Err(TsigError::BadSig));
        // The second message's MAC covers the first's: alone, it does not verify.
        assert!(ResponseVerifier::new(&key, &request_mac).verify(&second, now).is_err());
        let mut tampered = first.clone();
        tampered[5] ^= 1;
        assert!(ResponseVerifier::new(&key, &request_mac).verify(&tampered, now).is_err());
        assert_eq!(ResponseVerifier::new(&key, &request_mac).verify(&message(), now), Err(TsigError::BadSig));
    }

    #[test]
    fn a_truncated_or_misplaced_record_is_not_read() {
        let key = Key::new("k", Algorithm::HmacSha512, b"secret");
        let mut signed = query();
        sign_request(&mut signed, &key, 5);
        let start = last_record_start(&signed).unwrap();
        assert!(read(&signed, start).is_some());
        assert!(read(&signed[..signed.len() - 1], start).is_none());
        assert!(read(&query(), HEADER_LEN).is_none());
        assert!(format!("{key:?}").contains("<hidden>"), "the secret is never shown");
    }
}
