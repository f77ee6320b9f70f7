//! Answers made once and sent again: for a (name, type, line, EDNS flags) asked before
//! under the same rules and health, the record sections already encoded are copied
//! behind the query's own header and question (its ID, flags and the letter case of its
//! name), and only the OPT record (the query's ECS option with this client's scope) is
//! written anew.
//!
//! A [`PreparedAnswers`] belongs to one thread (a UDP worker), so it takes no lock. It
//! holds answers only while the engine's reload generation, its override changes and the
//! process's probe flips are those it saw when it made them; any change empties it.
//! Answers that rotate among `n` nodes are kept per `entropy % n` (the only way they
//! vary); answers from a weighted draw, answers with an SOA (their serials are per view
//! and change) and TSIG-signed answers are never kept. DNSSEC-signed answers are kept
//! within the hour they were made (see [`Epoch::signed_hour`]).
//!
//! Before/after figures are in `benches/README.md` (`handle_packet/ecs` and
//! `handle_packet/ecs-prepared`).

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHasher};

use super::answer::{Rcode, Route, Varies};
use super::packet::{self, Outcome, Reuse};
use super::query::Transport;
use super::snapshot::Snapshot;
use crate::geo::table::LineId;
use crate::wire::decode;
use crate::wire::encode;

/// Keys kept at most; the table is emptied when it is full (names asked are few: a
/// table this size holds every name, type and line of a typical zone set).
const MAX_KEYS: usize = 4096;

/// Nodes of a rotating pool whose rotations are kept at most (larger ones are made per
/// query).
const MAX_ROTATIONS: u16 = 64;

/// What the answers of a [`PreparedAnswers`] were made under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Epoch {
    /// The engine's reload generation.
    pub generation: u64,
    /// The engine's count of override changes.
    pub overrides: u64,
    /// Probe flips in the process ([`super::health::flips`]).
    pub flips: u64,
    /// For a snapshot with signed zones, the hour ([`SIGNED_ANSWER_LIFE`]): a signed
    /// answer is sent again within the hour it was made, far inside its signatures'
    /// freshness (which the signature cache keeps at least `refresh` long).
    pub signed_hour: u64,
}

/// Seconds a signed answer is kept for (the hours of [`Epoch::signed_hour`]).
pub const SIGNED_ANSWER_LIFE: u64 = 3600;

/// One thread's answers made once (see the module documentation).
#[derive(Debug, Default)]
pub struct PreparedAnswers {
    epoch: Epoch,
    answers: FxHashMap<u64, Prepared>,
    /// Answers sent from the table since it was made.
    hits: u64,
}

/// The answer to one (name, type, line, EDNS flags).
#[derive(Debug)]
struct Prepared {
    key: Key,
    answers: u16,
    authority: u16,
    authoritative: bool,
    rcode: Rcode,
    route: Option<Route>,
    /// The answer's RRL account name ([`Outcome::name_hash`]).
    name_hash: u64,
    /// The record sections of each rotation (`entropy % rotations`), made on first need.
    sections: Box<[Option<Box<[u8]>>]>,
}

/// What an answer is kept under: the lowercased name and what else it depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    name: Box<[u8]>,
    qtype: u16,
    line: LineId,
    /// Bit 0: the query had an OPT record; bit 1: its DO bit.
    edns: u8,
}

/// A query [`PreparedAnswers::answer`] could not answer from the table but whose answer
/// it may keep: pass it to [`PreparedAnswers::keep`] with the answer made.
#[derive(Debug)]
pub struct Miss {
    key: Key,
    hash: u64,
    entropy: u64,
    epoch: Epoch,
}

impl PreparedAnswers {
    /// An empty table.
    pub fn new() -> Self {
        PreparedAnswers::default()
    }

    /// Answers sent from the table so far.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Writes the answer to `packet` from `peer` (over UDP) into `out` if the table
    /// holds it; else returns what [`PreparedAnswers::keep`] needs to keep the answer
    /// made the long way (`None` when that answer cannot be kept).
    pub fn answer(
        &mut self,
        snapshot: &Snapshot,
        epoch: Epoch,
        packet: &[u8],
        peer: IpAddr,
        out: &mut Vec<u8>,
    ) -> Result<Outcome, Option<Miss>> {
        if self.epoch != epoch {
            self.answers.clear();
            self.epoch = epoch;
        }
        let mut name_buf = crate::name::KeyBuf::new();
        let Ok((query, _)) = decode::decode(packet, &mut name_buf) else { return Err(None) };
        if !packet::may_reuse_for(&query) {
            return Err(None);
        }
        let ecs = query.edns.and_then(|e| e.ecs);
        let client = packet::client_info(&query, ecs, peer);
        let hit = snapshot.classifier.classify(client.addr, client.significant_bits());
        // `decode` lowercased it (and wrote it without the root's dot).
        let name = name_buf.as_bytes();
        let edns = query.edns.map_or(0, |e| 1 | (u8::from(e.dnssec_ok) << 1));
        let (qtype, line) = (query.qtype, hit.line);
        let hash = {
            let mut h = FxHasher::default();
            (name, qtype, line, edns).hash(&mut h);
            h.finish()
        };
        let found = self.answers.get(&hash).filter(|p| {
            let key = &p.key;
            *key.name == *name && key.qtype == qtype && key.line == line && key.edns == edns
        });
        let miss =
            || Some(Miss { key: Key { name: name.into(), qtype, line, edns }, hash, entropy: client.entropy, epoch });
        let Some(prepared) = found else { return Err(miss()) };
        let rotation = (client.entropy % prepared.sections.len() as u64) as usize;
        let Some(sections) = &prepared.sections[rotation] else { return Err(miss()) };
        encode::start(out, query.header, Some(query.question), prepared.authoritative, prepared.rcode.code());
        let question_end = out.len();
        out.extend_from_slice(sections);
        let mut additional = 0;
        let opt_at = query.edns.map(|_| out.len());
        if let Some(e) = query.edns {
            let scope = if prepared.route.is_some() { hit.scope } else { 0 };
            let echo = ecs.map(|ecs| packet::ecs_echo(ecs, scope));
            encode::write_opt(out, snapshot.settings.udp_payload_max, 0, e.dnssec_ok, echo);
            additional = 1;
        }
        encode::set_counts(out, prepared.answers, prepared.authority, additional);
        if out.len() > packet::size_limit(snapshot, &query, Transport::Udp) {
            // Truncation is the long way's to do.
            return Err(None);
        }
        self.hits += 1;
        Ok(Outcome {
            qtype: query.qtype,
            rcode: prepared.rcode,
            route: prepared.route,
            ecs: ecs.is_some(),
            tsig_start: None,
            reuse: None,
            question_end,
            opt_at,
            cookie: query.edns.and_then(|e| e.cookie),
            name_hash: prepared.name_hash,
        })
    }

    /// Keeps the answer `out` that the long way made for the query of `miss`, if it
    /// says it may be kept (`outcome.reuse`).
    pub fn keep(&mut self, miss: Miss, outcome: &Outcome, out: &[u8]) {
        let Some(Reuse { sections_start, sections_end, answers, authority, authoritative, varies }) = outcome.reuse
        else {
            return;
        };
        let rotations = match varies {
            Varies::Not => 1,
            Varies::Rotation(n) if n <= MAX_ROTATIONS => n,
            Varies::Rotation(_) | Varies::Draw => return,
        };
        if miss.epoch != self.epoch {
            return;
        }
        let Some(sections) = out.get(sections_start..sections_end) else { return };
        let current = self.answers.get(&miss.hash);
        let fits = current.is_some_and(|p| p.key == miss.key && p.sections.len() == usize::from(rotations));
        if !fits {
            if self.answers.len() >= MAX_KEYS {
                self.answers.clear();
            }
            let prepared = Prepared {
                key: miss.key,
                answers,
                authority,
                authoritative,
                rcode: outcome.rcode,
                route: outcome.route,
                name_hash: outcome.name_hash,
                sections: vec![None; usize::from(rotations)].into(),
            };
            self.answers.insert(miss.hash, prepared);
        }
        let prepared = self.answers.get_mut(&miss.hash).expect("inserted above");
        let rotation = (miss.entropy % u64::from(rotations)) as usize;
        prepared.sections[rotation] = Some(sections.into());
    }
}
