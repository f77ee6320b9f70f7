//! DNS cookies (RFC 7873) with the interoperable server cookie of RFC 9018, so that all
//! servers of an anycast fleet sharing one secret accept each other's cookies.
//!
//! A client that sends a COOKIE option gets its client cookie back with a fresh server
//! cookie in every answer (RFC 7873 §5.2.3–5.2.5). A client that returns a server cookie
//! this server (or another with the same secret) made within the last hour, for its
//! address and client cookie, has proven it receives answers at that address: it cannot
//! be forging its source, so rate limiting lets it through (see [`super::rrl`]).
//!
//! Secret rollover (RFC 9018 §5): the new secret makes cookies at once, and the previous
//! one is still accepted for a configured overlap.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

use crate::wire::decode::Cookie;

/// A 128-bit server secret (RFC 9018 §4.4: SipHash-2-4's key).
pub type Secret = [u8; 16];

/// RFC 9018 §4.2: the version of the server cookie we make.
const VERSION: u8 = 1;

/// RFC 9018 §4.3: "The DNS server SHOULD allow cookies within a 1-hour period in the
/// past and a 5-minute period into the future".
const ACCEPTED_AGE: u32 = 3600;
/// See [`ACCEPTED_AGE`].
const ACCEPTED_AHEAD: u32 = 300;

/// Length of the COOKIE option data of an answer: the client cookie and our 16-octet
/// server cookie.
pub const ANSWER_COOKIE_LEN: usize = 24;

/// The secrets cookies are made and checked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secrets {
    /// Makes every new server cookie, and checks them.
    pub current: Secret,
    /// The secret before the last rollover and the time (seconds since the Unix epoch)
    /// up to which cookies made with it are still accepted.
    pub previous: Option<(Secret, u64)>,
}

/// What a query's cookie proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieCheck {
    /// A client cookie alone (a client that has not learnt our server cookie yet).
    ClientOnly,
    /// A server cookie we made for this client within the accepted time.
    Valid,
    /// A server cookie we did not make, made for another client, or too old.
    Invalid,
}

/// RFC 9018 §4.4: the server cookie for `client` at `client_ip` at `timestamp` (seconds
/// since the Unix epoch, kept modulo 2^32): Version | Reserved | Timestamp | Hash, the
/// hash being SipHash-2-4 under `secret` of Client Cookie | Version | Reserved |
/// Timestamp | Client-IP.
pub fn server_cookie(secret: &Secret, client: &[u8; 8], client_ip: IpAddr, timestamp: u32) -> [u8; 16] {
    let mut cookie = [0u8; 16];
    cookie[0] = VERSION;
    cookie[4..8].copy_from_slice(&timestamp.to_be_bytes());
    let mut hasher = SipHasher24::new_with_key(secret);
    hasher.write(client);
    hasher.write(&cookie[..8]);
    match client_ip {
        IpAddr::V4(a) => hasher.write(&a.octets()),
        IpAddr::V6(a) => hasher.write(&a.octets()),
    }
    cookie[8..].copy_from_slice(&hasher.finish().to_le_bytes());
    cookie
}

impl Secrets {
    /// What `cookie` from `client_ip` proves at `now`.
    pub fn check(&self, cookie: &Cookie, client_ip: IpAddr, now: u64) -> CookieCheck {
        let Some(server) = cookie.server() else { return CookieCheck::ClientOnly };
        if server.len() != 16 || server[0] != VERSION {
            return CookieCheck::Invalid;
        }
        let timestamp = u32::from_be_bytes(server[4..8].try_into().expect("4 octets"));
        // Serial arithmetic (RFC 1982): the timestamp wraps in 2106.
        let age = (now as u32).wrapping_sub(timestamp);
        if age > ACCEPTED_AGE && timestamp.wrapping_sub(now as u32) > ACCEPTED_AHEAD {
            return CookieCheck::Invalid;
        }
        let made_with = |secret: &Secret| server_cookie(secret, &cookie.client, client_ip, timestamp)[..] == *server;
        let previous = self.previous.is_some_and(|(secret, until)| now <= until && made_with(&secret));
        if made_with(&self.current) || previous { CookieCheck::Valid } else { CookieCheck::Invalid }
    }

    /// The COOKIE option data for the answer to `cookie` from `client_ip` at `now`: its
    /// client cookie and a fresh server cookie (RFC 7873 §5.2.3–5.2.5).
    pub fn answer(&self, cookie: &Cookie, client_ip: IpAddr, now: u64) -> [u8; ANSWER_COOKIE_LEN] {
        let mut data = [0u8; ANSWER_COOKIE_LEN];
        data[..8].copy_from_slice(&cookie.client);
        data[8..].copy_from_slice(&server_cookie(&self.current, &cookie.client, client_ip, now as u32));
        data
    }

    /// The secrets after a reload at `now` to `configured` (the secret file's current and
    /// previous secrets; `None` keeps the current one, as when none is configured). A
    /// file that names a previous secret decides which one that is, accepted for
    /// `overlap` from when it was first seen; one that does not, but changes the current
    /// secret, retires the current one, accepted for `overlap` more seconds (one previous
    /// secret is kept: a second rollover within the overlap ends the first one's).
    pub fn roll(&self, configured: Option<(Secret, Option<Secret>)>, now: u64, overlap: u64) -> Secrets {
        let Some((current, named_previous)) = configured else { return *self };
        let until = now.saturating_add(overlap);
        let previous = match named_previous {
            Some(p) => Some(match self.previous {
                Some((q, seen_until)) if q == p => (p, seen_until),
                _ => (p, until),
            }),
            None if current != self.current => Some((self.current, until)),
            None => self.previous,
        };
        Secrets { current, previous }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex<const N: usize>(text: &str) -> [u8; N] {
        let bytes = data_encoding::HEXLOWER.decode(text.as_bytes()).unwrap();
        bytes.try_into().unwrap()
    }

    #[test]
    fn server_cookies_are_those_of_rfc_9018_appendix_a() {
        let secret: Secret = hex("e5e973e5a6b2a43f48e7dc849e37bfcf");
        let cases = [
            ("2464c4abcf10c957", "198.51.100.100", 1559731985, "010000005cf79f111f8130c3eee29480"),
            ("2464c4abcf10c957", "198.51.100.100", 1559734385, "010000005cf7a871d4a564a1442aca77"),
            ("fc93fc62807ddb86", "203.0.113.203", 1559734700, "010000005cf7a9acf73a7810aca2381e"),
        ];
        for (client, ip, at, want) in cases {
            let got = server_cookie(&secret, &hex(client), ip.parse().unwrap(), at);
            assert_eq!(got, hex::<16>(want), "{client} {ip} {at}");
        }
    }

    fn cookie(client: [u8; 8], server: &[u8]) -> Cookie {
        let mut c = Cookie { client, server: [0; 32], server_len: server.len() as u8 };
        c.server[..server.len()].copy_from_slice(server);
        c
    }

    #[test]
    fn a_cookie_is_valid_for_its_client_for_an_hour_and_under_the_previous_secret_for_the_overlap() {
        let (a, b): (Secret, Secret) = ([1; 16], [2; 16]);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let secrets = Secrets { current: a, previous: None };
        let client = [7u8; 8];
        assert_eq!(secrets.check(&cookie(client, &[]), ip, 1000), CookieCheck::ClientOnly);
        let answer = secrets.answer(&cookie(client, &[]), ip, 1000);
        let back = cookie(client, &answer[8..]);
        assert_eq!(secrets.check(&back, ip, 1000), CookieCheck::Valid);
        assert_eq!(secrets.check(&back, ip, 1000 + 3600), CookieCheck::Valid);
        assert_eq!(secrets.check(&back, ip, 1000 + 3601), CookieCheck::Invalid);
        assert_eq!(secrets.check(&back, ip, 1000 - 300), CookieCheck::Valid);
        assert_eq!(secrets.check(&back, ip, 1000 - 301), CookieCheck::Invalid);
        assert_eq!(secrets.check(&back, "192.0.2.2".parse().unwrap(), 1000), CookieCheck::Invalid);
        assert_eq!(secrets.check(&cookie([8; 8], &answer[8..]), ip, 1000), CookieCheck::Invalid);
        assert_eq!(secrets.check(&cookie(client, &[0; 8]), ip, 1000), CookieCheck::Invalid);
        // Rolled to b at 1100 with an overlap of 60 s: a's cookie holds until 1160.
        let rolled = secrets.roll(Some((b, None)), 1100, 60);
        assert_eq!(rolled.previous, Some((a, 1160)));
        assert_eq!(rolled.check(&back, ip, 1160), CookieCheck::Valid);
        assert_eq!(rolled.check(&back, ip, 1161), CookieCheck::Invalid);
        // A reload that changes nothing keeps the overlap's end.
        assert_eq!(rolled.roll(Some((b, None)), 1150, 60), rolled);
        assert_eq!(rolled.roll(Some((b, Some(a))), 1150, 60), rolled);
        // No secret configured: the current one stays.
        assert_eq!(rolled.roll(None, 1150, 60), rolled);
    }
}
