//! A provider reached by DNS UPDATE (RFC 2136, signed with TSIG per RFC 8945 as RFC 3007
//! asks): its copy read back by AXFR (RFC 5936), each change sent with prerequisites so
//! that an RRset edited at the provider meanwhile is not overwritten blindly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::PushProblem;
use crate::engine::push::{Plan, RrsetKey, Rrsets, group};
use crate::name::Name;
use crate::rdata::{RData, RecordType};
use crate::serve::client::{Client, Request, Transport};
use crate::wire::encode::CLASS_IN;
use crate::wire::tsig::Key;
use crate::wire::update::Update;

/// Each exchange's time (a connection, then each message of the read-back).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Changes per UPDATE message at most, and the message's size at most (RFC 2136 §3.8:
/// an update is applied whole or not at all; smaller messages keep a refused one small).
const BATCH_CHANGES: usize = 200;
const BATCH_OCTETS: usize = 48_000;

/// The provider's copy of `zone`: every RRset but the SOA, read by AXFR; where the
/// provider refuses us the AXFR (many take updates but give no transfers), the RRsets of
/// `names` (the managed ones) asked one by one.
pub async fn read(
    server: SocketAddr,
    zone: &Name,
    key: Option<&Key>,
    names: &BTreeSet<RrsetKey>,
) -> Result<Rrsets, PushProblem> {
    match read_transfer(server, zone, key).await {
        Err(Refused::Transfer) => read_each(server, key, names).await,
        Err(Refused::Other(problem)) => Err(problem),
        Ok(sets) => Ok(sets),
    }
}

/// Why the AXFR gave no copy.
enum Refused {
    /// The provider refused us the transfer (REFUSED): ask name by name.
    Transfer,
    /// Anything else.
    Other(PushProblem),
}

impl From<PushProblem> for Refused {
    fn from(problem: PushProblem) -> Refused {
        Refused::Other(problem)
    }
}

/// The RRsets of `names` at `server`, each asked (over UDP, TCP when truncated) and
/// taken from the answer section as the provider holds it.
async fn read_each(server: SocketAddr, key: Option<&Key>, names: &BTreeSet<RrsetKey>) -> Result<Rrsets, PushProblem> {
    let client = Client::new(TIMEOUT);
    let mut records = Vec::new();
    for (owner, rtype) in names {
        let request = Request::query(owner, u16::from(*rtype)).signed_if(key);
        let reply = client.ask(server, &request, Transport::Udp).await.map_err(|e| PushProblem::Read(e.to_string()))?;
        match reply.rcode() {
            0 | 3 => {}
            code => return Err(PushProblem::Read(format!("{owner} {rtype} was answered {}", rcode_name(code)))),
        }
        let answer = crate::wire::message::answer(&reply.message).map_err(|e| PushProblem::Read(e.to_string()))?;
        for record in
            answer.records.into_iter().filter(|r| r.owner == *owner && r.rtype == *rtype && r.class == CLASS_IN)
        {
            let data = RData::from_wire(record.rtype, &record.data).map_err(PushProblem::Read)?;
            records.push(((record.owner, record.rtype), record.ttl, data));
        }
    }
    Ok(group(records))
}

/// The provider's copy of `zone` by AXFR.
async fn read_transfer(server: SocketAddr, zone: &Name, key: Option<&Key>) -> Result<Rrsets, Refused> {
    let request = Request::query(zone, u16::from(RecordType::AXFR)).signed_if(key);
    let client = Client::new(TIMEOUT);
    let mut transfer = client.transfer(server, &request).await.map_err(|e| PushProblem::Read(e.to_string()))?;
    let mut records = Vec::new();
    let mut soas = 0;
    while soas < 2 {
        let message = transfer.next_message().await.map_err(|e| PushProblem::Read(e.to_string()))?;
        match message[3] & 0x0f {
            0 => {}
            5 => return Err(Refused::Transfer),
            9 => return Err(PushProblem::NotAuthoritative.into()),
            code => return Err(PushProblem::Read(format!("the AXFR was answered {}", rcode_name(code))).into()),
        }
        let answer = crate::wire::message::answer(&message).map_err(|e| PushProblem::Read(e.to_string()))?;
        for record in answer.records.into_iter().filter(|r| r.class == CLASS_IN) {
            if record.rtype == RecordType::SOA {
                soas += 1;
                continue;
            }
            if soas == 0 {
                return Err(PushProblem::Read("the AXFR does not start with the SOA".into()).into());
            }
            let data = RData::from_wire(record.rtype, &record.data).map_err(PushProblem::Read)?;
            records.push(((record.owner, record.rtype), record.ttl, data));
        }
    }
    transfer.finish().map_err(|e| PushProblem::Read(e.to_string()))?;
    Ok(group(records))
}

/// Sends `plan` to the provider: each RRset's change with its prerequisite (RFC 2136
/// §2.4: the RRset holds what was read, or does not exist), in messages of at most
/// 200 changes each. Returns the messages sent.
pub async fn apply(server: SocketAddr, zone: &Name, key: Option<&Key>, plan: &Plan) -> Result<usize, PushProblem> {
    let mut sent = 0;
    let mut update = Update::new(zone);
    let mut in_batch = 0;
    for change in &plan.changes {
        let (owner, rtype) = (&change.key.0, u16::from(change.key.1));
        match &change.old {
            Some(old) => {
                update.require_exactly(owner, &old.data);
                update.delete_rrset(owner, rtype);
            }
            None => update.require_absent(owner, rtype),
        }
        for data in change.new.iter().flat_map(|new| new.data.iter().map(move |d| (new.ttl, d))) {
            update.add(owner, data.0, data.1);
        }
        in_batch += 1;
        if in_batch == BATCH_CHANGES || update.len() > BATCH_OCTETS {
            send(server, key, std::mem::replace(&mut update, Update::new(zone))).await?;
            sent += 1;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        send(server, key, update).await?;
        sent += 1;
    }
    Ok(sent)
}

/// Sends one UPDATE over TCP and reads its RCODE (RFC 2136 §2.2).
async fn send(server: SocketAddr, key: Option<&Key>, update: Update) -> Result<(), PushProblem> {
    let request = Request::update(update).signed_if(key);
    let reply = Client::new(TIMEOUT)
        .ask(server, &request, Transport::Tcp)
        .await
        .map_err(|e| PushProblem::Update(e.to_string()))?;
    match reply.rcode() {
        0 => Ok(()),
        7 | 8 => Err(PushProblem::ChangedMeanwhile(rcode_name(reply.rcode()))),
        9 => Err(PushProblem::NotAuthoritative),
        5 => Err(PushProblem::Update(
            "the update was REFUSED (the key may not update this zone: its update-policy or ACL)".into(),
        )),
        code => Err(PushProblem::Update(format!("the update was answered {}", rcode_name(code)))),
    }
}

/// An RCODE's mnemonic, UPDATE's among them (RFC 2136 §2.2, RFC 6895 §2.3).
fn rcode_name(code: u8) -> String {
    match code {
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        _ => crate::serve::replication::notify::rcode_text(code),
    }
}
