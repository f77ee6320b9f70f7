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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    select_from(&bytes, selector)
}

/// [`select`] on a database already read into `bytes`.
pub fn select_from(bytes: &[u8], selector: &Selector) -> Result<Vec<SelectedNet>, String> {
    let reader = Reader::from_source(bytes).map_err(|e| format!("not a valid MaxMind DB: {e}"))?;
    // verify() stops at an empty description map, which real databases omit
    // (chnroutes2's has none), before it checks the search tree or the data. For such a
    // database the walk below does those checks itself: every node, every record decoded.
    check_tree(bytes, reader.metadata())?;
    let full_walk = match reader.verify() {
        Ok(()) => false,
        Err(e) if reader.metadata().description.is_empty() && e.to_string().contains("description") => true,
        Err(e) => return Err(format!("corrupt MaxMind DB (verify failed): {e}")),
    };
    let ip_version = reader.metadata().ip_version;
    if ip_version == 4 && selector.family != Family::V4 {
        return Err("the database is IPv4-only (ip_version 4): IPv6 networks cannot be looked up in it; \
             add `family: v4` to take only its IPv4 networks"
            .into());
    }
    let mut out = Vec::new();
    let options =
        if full_walk { WithinOptions::default().include_networks_without_data() } else { WithinOptions::default() };
    // A tree of N nodes has at most 2N leaves; more steps mean a cycle (as verify() bounds it).
    let max_steps = (reader.metadata().node_count as usize).saturating_mul(3);
    let networks = reader.networks(options).map_err(|e| format!("cannot walk the database: {e}"))?;
    for (step, item) in networks.enumerate() {
        if step > max_steps {
            return Err(format!("corrupt MaxMind DB: the search tree has a cycle (over {max_steps} steps)"));
        }
        let item = item.map_err(|e| format!("corrupt MaxMind DB while walking it: {e}"))?;
        if !item.has_data() {
            continue;
        }
        let network = item.network().map_err(|e| format!("corrupt network in MaxMind DB: {e}"))?;
        let Some(net) = to_ipnet(network.ip(), network.prefix()) else { continue };
        let wanted = match (net, selector.family) {
            (_, Family::Both) => true,
            (IpNet::V4(_), f) => f == Family::V4,
            (IpNet::V6(_), f) => f == Family::V6,
        };
        if !wanted && !full_walk {
            continue;
        }
        let Some(record) = item.decode::<Record<'_>>().map_err(|e| format!("undecodable record at {net}: {e}"))? else {
            continue;
        };
        if !wanted {
            continue;
        }
        if let Some(why) = matches(&record, selector) {
            out.push((net, why));
        }
    }
    Ok(out)
}

/// Checks the search tree node by node, as `verify()` would after the description it
/// stopped at, and stricter: walking from the root never visits unreachable nodes.
///
/// MaxMind DB spec: a record is a node index (`< node_count`), "no data"
/// (`== node_count`), or a data pointer (`node_count + 16 + offset`, the offset inside the
/// data section); the tree is followed by 16 zero bytes. Writers lay children out after
/// their parent, so a record pointing at its own node or an earlier one is a cycle,
/// whether or not a lookup reaches it today — except the IPv4 aliases of an IPv6
/// database (`::ffff:0:0/96`, `2002::/16`), which point back at the IPv4 subtree's root.
fn check_tree(bytes: &[u8], meta: &maxminddb::Metadata) -> Result<(), String> {
    let nodes = meta.node_count as usize;
    let node_bytes = usize::from(meta.record_size) / 4;
    let tree_bytes = nodes.saturating_mul(node_bytes);
    match bytes.get(tree_bytes..tree_bytes.saturating_add(16)) {
        Some(sep) if sep.iter().all(|&b| b == 0) => {}
        Some(_) => {
            return Err(format!(
                "corrupt MaxMind DB: no data section separator after the search tree (offset {tree_bytes})"
            ));
        }
        None => return Err("corrupt MaxMind DB: the search tree runs past the end of the file".into()),
    }
    const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
    let data_end = bytes.windows(METADATA_MARKER.len()).rposition(|w| w == METADATA_MARKER).unwrap_or(bytes.len());
    let data_len = data_end.saturating_sub(tree_bytes + 16);
    let be = |b: &[u8]| b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
    let records: Vec<(usize, usize)> = bytes[..tree_bytes]
        .chunks_exact(node_bytes)
        .map(|node| match meta.record_size {
            24 => (be(&node[0..3]), be(&node[3..6])),
            28 => (
                (usize::from(node[3] & 0xf0) << 20) | be(&node[0..3]),
                (usize::from(node[3] & 0x0f) << 24) | be(&node[4..7]),
            ),
            _ => (be(&node[0..4]), be(&node[4..8])),
        })
        .collect();
    // The IPv4 subtree of an IPv6 database: 96 left turns from the root.
    let mut ipv4_root = None;
    if meta.ip_version == 6 {
        let mut node = 0;
        for _ in 0..96 {
            match records.get(node) {
                Some(&(left, _)) if left < nodes && left > node => node = left,
                _ => break,
            }
        }
        ipv4_root = Some(node);
    }
    for (index, &(left, right)) in records.iter().enumerate() {
        for record in [left, right] {
            let ok = match record {
                r if r < nodes => r > index || Some(r) == ipv4_root && r != 0,
                r if r == nodes => true,
                r => r >= nodes + 16 && r - nodes - 16 < data_len,
            };
            if !ok {
                return Err(format!(
                    "corrupt MaxMind DB: search tree node {index} has the invalid record {record} (node count {nodes})"
                ));
            }
        }
    }
    Ok(())
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
