//! Response rate limiting: how many answers of one kind one source prefix gets per
//! second, over UDP (where a source address can be forged, so that a flood of small
//! queries would send a victim a flood of larger answers).
//!
//! The model is BIND's and Knot's RRL (our own code): answers are counted per *account*,
//! the source prefix (IPv4 /24 and IPv6 /56 by default) with the kind of answer and, for
//! positive answers, the name asked; an account over its rate per second gets its
//! answers dropped, except every `slip`-th, which goes out truncated (TC=1, no records)
//! so that a real client behind the prefix retries over TCP, where it cannot be forged.
//! NXDOMAIN answers and errors are counted per prefix and kind alone, so that a flood of
//! random names shares one account.
//!
//! The table is fixed in size (chosen at start): one 64-bit word per account slot,
//! updated with one compare-and-swap, no allocation and no lock. Accounts that hash to
//! the same slot share it, which can only limit them sooner, never let one through more.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::answer::Rcode;

/// Slots in a table of the default size (8 bytes each: 512 KB).
pub const DEFAULT_SLOTS: usize = 1 << 16;

/// What to do with an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: send it.
    Send,
    /// Over the rate: send it truncated (TC=1, or BADCOOKIE to a client with a cookie).
    Slip,
    /// Over the rate: send nothing.
    Drop,
}

/// The kinds of answer counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// NOERROR, with records or without (NODATA): counted per name.
    Positive,
    /// NXDOMAIN: counted per prefix.
    NxDomain,
    /// Any other RCODE: counted per prefix.
    Error,
}

impl Kind {
    /// The kind of an answer with `rcode`.
    pub fn of(rcode: Rcode) -> Kind {
        match rcode {
            Rcode::NoError => Kind::Positive,
            Rcode::NxDomain => Kind::NxDomain,
            _ => Kind::Error,
        }
    }
}

/// The rate limiter's table of accounts.
#[derive(Debug)]
pub struct RateLimiter {
    /// Per slot: the second it last counted in (upper 32 bits) and the answers it
    /// counted in that second (lower 32).
    slots: Box<[AtomicU64]>,
}

impl RateLimiter {
    /// A table of `slots` accounts (rounded up to a power of two, at least 1,024).
    pub fn new(slots: usize) -> RateLimiter {
        let slots = slots.max(1024).next_power_of_two();
        RateLimiter { slots: (0..slots).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Counts one answer for `account` in second `now` and says what to do with it, for
    /// a limit of `rate` answers a second and a slip of every `slip`-th limited answer
    /// (0: none slips; 1: all do).
    pub fn account(&self, account: u64, now: u64, rate: u32, slip: u32) -> Verdict {
        // The account's top bits pick the slot (it is a multiplicative hash).
        let bits = self.slots.len().trailing_zeros();
        let slot = &self.slots[(account >> (64 - bits)) as usize];
        let second = now as u32;
        let mut old = slot.load(Ordering::Relaxed);
        let count = loop {
            let count = if (old >> 32) as u32 == second { (old as u32).saturating_add(1) } else { 1 };
            let new = u64::from(second) << 32 | u64::from(count);
            match slot.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break count,
                Err(seen) => old = seen,
            }
        };
        if count <= rate {
            Verdict::Send
        } else if slip > 0 && (count - rate).is_multiple_of(slip) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The account of an answer of `kind` to `source` (cut to its `/v4_prefix` or
/// `/v6_prefix`), for a question whose lowercased name hashes to `name`.
pub fn account_of(source: IpAddr, v4_prefix: u8, v6_prefix: u8, kind: Kind, name: u64) -> u64 {
    let (family, prefix) = match source {
        IpAddr::V4(a) => {
            (4u64, u128::from(u32::from(a) & u32::MAX.checked_shl(32 - u32::from(v4_prefix)).unwrap_or(0)))
        }
        IpAddr::V6(a) => (6u64, u128::from(a) & u128::MAX.checked_shl(128 - u32::from(v6_prefix)).unwrap_or(0)),
    };
    let named = if kind == Kind::Positive { name } else { 0 };
    // A multiplicative mix of all four (the table reads the top bits).
    let mut h = family.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ kind as u64;
    for word in [prefix as u64, (prefix >> 64) as u64, named] {
        h = (h.rotate_left(23) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_gets_its_rate_each_second_and_every_slipth_over_it_slips() {
        let table = RateLimiter::new(1024);
        let verdicts: Vec<Verdict> = (0..10).map(|_| table.account(42, 100, 4, 3)).collect();
        use Verdict::*;
        assert_eq!(verdicts, [Send, Send, Send, Send, Drop, Drop, Slip, Drop, Drop, Slip]);
        // A new second starts a new count.
        assert_eq!(table.account(42, 101, 4, 3), Send);
        // slip 0: nothing slips; slip 1: everything over the rate does.
        assert!((0..20).map(|_| table.account(7, 5, 1, 0)).skip(1).all(|v| v == Drop));
        assert!((0..20).map(|_| table.account(8 << 60, 5, 1, 1)).skip(1).all(|v| v == Slip));
    }

    #[test]
    fn prefixes_share_an_account_and_other_prefixes_do_not() {
        let a = |ip: &str, kind, name| account_of(ip.parse().unwrap(), 24, 56, kind, name);
        assert_eq!(a("192.0.2.1", Kind::Positive, 1), a("192.0.2.200", Kind::Positive, 1));
        assert_ne!(a("192.0.2.1", Kind::Positive, 1), a("192.0.3.1", Kind::Positive, 1));
        assert_ne!(a("192.0.2.1", Kind::Positive, 1), a("192.0.2.1", Kind::Positive, 2));
        assert_ne!(a("192.0.2.1", Kind::Positive, 1), a("192.0.2.1", Kind::NxDomain, 1));
        // NXDOMAIN answers share one account per prefix, whatever the name.
        assert_eq!(a("192.0.2.1", Kind::NxDomain, 1), a("192.0.2.9", Kind::NxDomain, 2));
        assert_eq!(a("2001:db8:0:ff::1", Kind::Error, 0), a("2001:db8:0:1::2", Kind::Error, 0));
        assert_ne!(a("2001:db8:0:100::1", Kind::Error, 0), a("2001:db8:0:1::2", Kind::Error, 0));
    }
}
