//! MaxMind-format databases, flattened into prefixes at compile time.
//!
//! This is the only module that touches the `maxminddb` crate (its API changes often).
//! Databases are read whole, checked with `verify()` (a corrupt search tree can still
//! answer lookups, so opening alone proves nothing), and walked once: queries never look
//! anything up in an MMDB.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;

/// Which address families to take from a database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 and IPv6 (the default); an error on an IPv4-only database.
    #[default]
    Both,
    /// IPv4 networks only.
    V4,
    /// IPv6 networks only.
    V6,
}

/// What a line takes from a database: networks whose record matches every given field.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// `country.iso_code` is one of these (e.g. `CN`).
    pub country: Vec<String>,
    /// Any `subdivisions[].iso_code` is one of these (`44`, or `CN-44` to name the country).
    pub subdivision: Vec<String>,
    /// `autonomous_system_number` is one of these.
    pub asn: Vec<u32>,
    /// Which families to take.
    pub family: Family,
}

/// A network taken from a database with the field value that selected it.
pub type SelectedNet = (IpNet, String);

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Country<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Country<'a>>>,
    #[serde(default)]
    autonomous_system_number: Option<u32>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

/// Opens and verifies a database, then returns every network matching `selector`, each
/// with a description of the matching fields (`autonomous_system_number=4134`).
///
/// Errors are plain messages; the caller adds the file and rule.
pub fn select(path: &Path, selector: &Selector) -> Result<Vec<SelectedNet>, String> {
    let reader = Reader::open_readfile(path).map_err(|e| format!("not a valid MaxMind DB: {e}"))?;
    reader.verify().map_err(|e| format!("corrupt MaxMind DB (verify failed): {e}"))?;
    let ip_version = reader.metadata().ip_version;
    if ip_version == 4 && selector.family != Family::V4 {
        return Err("the database is IPv4-only (ip_version 4): IPv6 networks cannot be looked up in it; \
             add `family: v4` to take only its IPv4 networks"
            .into());
    }
    let mut out = Vec::new();
    let networks = reader.networks(WithinOptions::default()).map_err(|e| format!("cannot walk the database: {e}"))?;
    for item in networks {
        let item = item.map_err(|e| format!("corrupt MaxMind DB while walking it: {e}"))?;
        let network = item.network().map_err(|e| format!("corrupt network in MaxMind DB: {e}"))?;
        let Some(net) = to_ipnet(network.ip(), network.prefix()) else { continue };
        let wanted = match (net, selector.family) {
            (_, Family::Both) => true,
            (IpNet::V4(_), f) => f == Family::V4,
            (IpNet::V6(_), f) => f == Family::V6,
        };
        if !wanted {
            continue;
        }
        let Some(record) = item.decode::<Record<'_>>().map_err(|e| format!("undecodable record at {net}: {e}"))? else {
            continue;
        };
        if let Some(why) = matches(&record, selector) {
            out.push((net, why));
        }
    }
    Ok(out)
}

/// An IPv6 network of an IPv6 database that is really the IPv4 tree (`::a.b.c.d/96+n`)
/// becomes the IPv4 network; other networks pass through.
fn to_ipnet(ip: IpAddr, prefix: u8) -> Option<IpNet> {
    match ip {
        IpAddr::V6(v6) if prefix >= 96 && u128::from(v6) >> 32 == 0 => {
            let v4 = std::net::Ipv4Addr::from(u128::from(v6) as u32);
            IpNet::new(v4.into(), prefix - 96).ok()
        }
        _ => IpNet::new(ip, prefix).ok().map(|n| n.trunc()),
    }
}

/// Whether the record matches every field the selector sets; if so, what matched.
fn matches(record: &Record<'_>, sel: &Selector) -> Option<String> {
    let mut why = Vec::new();
    let country = record.country.as_ref().and_then(|c| c.iso_code);
    if !sel.country.is_empty() {
        let c = country.filter(|c| sel.country.iter().any(|want| want.eq_ignore_ascii_case(c)))?;
        why.push(format!("country.iso_code={c}"));
    }
    if !sel.subdivision.is_empty() {
        let subs = record.subdivisions.as_deref().unwrap_or(&[]);
        let hit = subs.iter().filter_map(|s| s.iso_code).find(|code| {
            sel.subdivision.iter().any(|want| match want.split_once('-') {
                Some((cc, sub)) => {
                    country.is_some_and(|c| c.eq_ignore_ascii_case(cc)) && sub.eq_ignore_ascii_case(code)
                }
                None => want.eq_ignore_ascii_case(code),
            })
        })?;
        why.push(format!("subdivisions.iso_code={hit}"));
    }
    if !sel.asn.is_empty() {
        let asn = record.autonomous_system_number.filter(|a| sel.asn.contains(a))?;
        why.push(format!("autonomous_system_number={asn}"));
    }
    Some(why.join(","))
}
