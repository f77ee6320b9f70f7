//! What an answer needs before it faces the open Internet, once it is made: its DNS
//! cookie (see [`super::cookies`]), and over UDP the rate limit of its account (see
//! [`super::rrl`]), which may drop it or cut it to a truncated answer.
//!
//! Both need the time, which the engine does not read: they are on once the host gives
//! the engine its clock ([`crate::engine::builder::EngineBuilder::clock`]; `serve` does), and an engine
//! without one answers as if neither were configured.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::answer::Rcode;
use super::cookies::{CookieCheck, Secret, Secrets};
use super::outcome::Outcome;
use super::query::Transport;
use super::rrl::{self, RateLimiter, Verdict};
use super::settings::AnswerSettings;
use crate::wire::decode::OPTION_COOKIE;
use crate::wire::encode;

/// The cookie secrets, the RRL table and the clock they run on.
#[derive(Debug)]
pub struct Defences {
    clock: Option<fn() -> u64>,
    secrets: ArcSwap<Secrets>,
    rrl: RateLimiter,
    /// Answers RRL dropped.
    pub dropped: AtomicU64,
    /// Answers RRL sent truncated (or BADCOOKIE).
    pub slipped: AtomicU64,
}

impl Defences {
    /// For a server starting with `settings` (the RRL table's size is taken now) on the
    /// host's `clock` (seconds since the Unix epoch; without one, no cookies and no rate
    /// limiting). The secrets are those `settings` configure, a previous secret they name
    /// accepted for the overlap from now; without one configured, a random one.
    pub fn new(settings: &AnswerSettings, clock: Option<fn() -> u64>) -> Defences {
        let secrets = match (settings.cookies.secrets, clock) {
            (Some((current, previous)), Some(clock)) => {
                let until = clock().saturating_add(settings.cookies.overlap.as_secs());
                Secrets { current, previous: previous.map(|p| (p, until)) }
            }
            (Some((current, _)), None) => Secrets { current, previous: None },
            (None, _) => Secrets { current: random_secret(), previous: None },
        };
        Defences {
            clock,
            secrets: ArcSwap::from_pointee(secrets),
            rrl: RateLimiter::new(settings.rrl.table_size),
            dropped: AtomicU64::new(0),
            slipped: AtomicU64::new(0),
        }
    }

    /// Takes the cookie secrets of newly swapped-in `settings` (a rollover keeps the old
    /// secret for the overlap).
    pub fn reloaded(&self, settings: &AnswerSettings) {
        let Some(clock) = self.clock else { return };
        let rolled = self.secrets.load().roll(settings.cookies.secrets, clock(), settings.cookies.overlap.as_secs());
        self.secrets.store(rolled.into());
    }

    /// Applies cookies and the rate limit to the answer `out` to a query from `source`
    /// over `transport` (described by `outcome`, updated if the answer changes). Returns
    /// `false` when the answer is dropped.
    pub fn finish(
        &self,
        settings: &AnswerSettings,
        outcome: &mut Outcome,
        source: IpAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(clock) = self.clock else { return true };
        let cookie = outcome.cookie.filter(|_| settings.cookies.enabled);
        let rrl = &settings.rrl;
        if cookie.is_none() && (transport == Transport::Tcp || rrl.rate == 0) {
            return true;
        }
        let now = clock();
        let secrets = cookie.map(|_| self.secrets.load());
        if transport == Transport::Udp && rrl.rate > 0 {
            let kind = rrl::Kind::of(outcome.rcode);
            let account = rrl::account_of(source, rrl.ipv4_prefix, rrl.ipv6_prefix, kind, outcome.name_hash);
            let verdict = match self.rrl.account(account, now, rrl.rate, rrl.slip) {
                Verdict::Send => Verdict::Send,
                // Only limited answers look further: a client that proves with a cookie
                // that its source is real, or one allowed by the operator, gets them all.
                limited => {
                    let proven = cookie
                        .zip(secrets.as_ref())
                        .is_some_and(|(c, s)| s.check(&c, source, now) == CookieCheck::Valid);
                    if proven || rrl.allows(source) { Verdict::Send } else { limited }
                }
            };
            match verdict {
                Verdict::Send => {}
                Verdict::Drop => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                Verdict::Slip => {
                    self.slipped.fetch_add(1, Ordering::Relaxed);
                    slip(outcome, cookie.is_some(), out);
                }
            }
        }
        if let (Some(cookie), Some(secrets), Some(opt_at)) = (cookie, secrets, outcome.opt_at) {
            encode::append_option(out, opt_at, OPTION_COOKIE, &secrets.answer(&cookie, source, now));
        }
        true
    }
}

/// A limited answer that still goes out: no records (header, question, OPT), so that
/// it amplifies nothing. A client that sent a cookie gets BADCOOKIE with a fresh server cookie (RFC 7873
/// §5.2.3–5.2.4: the server may answer BADCOOKIE to a client without a valid server
/// cookie; its next query carries one, which exempts it); any other gets TC=1 and retries
/// over TCP (RFC 2181 §9).
fn slip(outcome: &mut Outcome, has_cookie: bool, out: &mut Vec<u8>) {
    encode::keep_only_opt(out, outcome.question_end, outcome.opt_at);
    outcome.opt_at = outcome.opt_at.map(|_| outcome.question_end);
    match outcome.opt_at {
        Some(opt_at) if has_cookie => {
            encode::set_rcode(out, opt_at, Rcode::BadCookie.code());
            outcome.rcode = Rcode::BadCookie;
        }
        _ => encode::set_truncated(out),
    }
    (outcome.route, outcome.reuse) = (None, None);
}

/// A secret from the system's random source, for a server configured without one.
fn random_secret() -> Secret {
    let mut secret = [0u8; 16];
    // SystemRandom fails only where the OS has no random source, where nothing would run.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret);
    secret
}
