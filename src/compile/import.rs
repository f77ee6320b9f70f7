//! `linedns import ZONEFILE`: the rules (YAML) that serve the same zone as a master file,
//! for operators who want everything in one file. Every value is written so that the
//! rules read it back to the same RDATA (a type with no presentation form the `domain`
//! crate reads back exactly is written in RFC 3597 form).

use std::fmt::Write as _;
use std::path::Path;

use super::zone_file::{self, FileRecord};
use crate::error::{CompileErrors, ConfigError, Place};
use crate::rdata::{Fqdn, RData, RecordType};

/// The rules text serving the zone in the master file `path`. `origin` is the zone's
/// name; without it, the owner of the file's SOA record (the file must then name it,
/// with `$ORIGIN` or an absolute owner).
pub fn rules_of_zone_file(path: &Path, origin: Option<&str>) -> Result<String, CompileErrors> {
    let origin = match origin {
        Some(o) => crate::name::normalize(o).map_err(|m| one_error(Place::file(path), m))?,
        None => soa_owner(path)?,
    };
    let data = zone_file::read(path, &origin).map_err(CompileErrors)?;
    let (soa, soa_ttl) = data
        .records
        .iter()
        .find_map(|r| matches!(r.data, RData::Soa { .. }).then_some((&r.data, r.ttl)))
        .ok_or_else(|| one_error(Place::file(path), format!("no SOA record for {}", Fqdn(&origin))))?;
    let RData::Soa { mname, rname, serial, refresh, retry, expire, minimum } = soa else { unreachable!("an SOA") };
    let apex_ns: Vec<&FileRecord> =
        data.records.iter().filter(|r| r.owner == origin && r.data.rtype() == RecordType::NS).collect();
    let ns_ttl = apex_ns.first().map_or(soa_ttl, |r| r.ttl);
    let mut out = String::new();
    let _ = writeln!(out, "# Rules serving the zone {} as {} does", Fqdn(&origin), path.display());
    let _ = writeln!(out, "# (written by `linedns import`; line records go under `line_records:`).");
    let _ = writeln!(out, "version: 1\nzones:\n  - origin: {}", quoted(&Fqdn(&origin).to_string()));
    let _ = writeln!(out, "    ttl: {ns_ttl}");
    let _ = writeln!(
        out,
        "    soa: {{ mname: {}, rname: {}, serial: {serial}, refresh: {refresh}, retry: {retry}, expire: {expire}, minimum: {minimum}, ttl: {soa_ttl} }}",
        quoted(&Fqdn(mname).to_string()),
        quoted(&Fqdn(rname).to_string()),
    );
    let ns: Vec<String> = apex_ns
        .iter()
        .filter_map(|r| match &r.data {
            RData::Ns(n) => Some(quoted(&Fqdn(n).to_string())),
            _ => None,
        })
        .collect();
    let _ = writeln!(out, "    ns: [{}]", ns.join(", "));
    let _ = writeln!(out, "    records:");
    // One entry per (owner, type), in file order, with the set's first TTL (RFC 2181 §5.2).
    let mut sets: Vec<(String, RecordType, u32, Vec<String>)> = Vec::new();
    for record in &data.records {
        let rtype = record.data.rtype();
        if rtype == RecordType::SOA || (rtype == RecordType::NS && record.owner == origin) {
            continue;
        }
        let value = record.data.to_string();
        match sets.iter_mut().find(|(o, t, _, _)| **o == *record.owner && *t == rtype) {
            Some((_, _, _, values)) if values.contains(&value) => {}
            Some((_, _, _, values)) => values.push(value),
            None => sets.push((record.owner.to_string(), rtype, record.ttl, vec![value])),
        }
    }
    for (owner, rtype, ttl, values) in sets {
        let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
        let _ = writeln!(
            out,
            "      - {{ name: {}, type: {}, ttl: {ttl}, values: [{}] }}",
            quoted(&Fqdn(&owner).to_string()),
            quoted(&rtype.to_string()),
            values.join(", ")
        );
    }
    Ok(out)
}

/// The owner of the first SOA record of the file read with the root as origin.
fn soa_owner(path: &Path) -> Result<String, CompileErrors> {
    let data = zone_file::read(path, "").map_err(CompileErrors)?;
    match data.records.iter().find(|r| r.data.rtype() == RecordType::SOA) {
        Some(r) if !r.owner.is_empty() => Ok(r.owner.to_string()),
        _ => Err(one_error(
            Place::file(path),
            "the file does not name its zone ($ORIGIN or an absolute SOA owner): give --origin",
        )),
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn one_error(place: Place, message: impl Into<String>) -> CompileErrors {
    CompileErrors(vec![ConfigError::new(place, message)])
}
