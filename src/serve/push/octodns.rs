//! A provider reached through octoDNS: linedns writes each zone's view as an octoDNS YAML
//! zone (`DIRECTORY/zones/ZONE.yaml`, the YamlProvider layout) and the configuration
//! (`DIRECTORY/config.yaml`) that sends the zones to the provider the rules name, so that
//! `octodns-sync --config-file DIRECTORY/config.yaml --doit` pushes them to any provider
//! octoDNS supports (Route 53, Cloudflare, NS1, Azure, Google, ...). The configuration
//! adds octoDNS's ownership processor: records octoDNS did not create there are left
//! alone, as linedns leaves what it does not manage.
//!
//! The files are JSON, which is YAML too. "The copy" this provider holds is the zone file
//! as last written: a push plans against it and rewrites it whole.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::PushProblem;
use crate::engine::push::{Rrset, Rrsets};
use crate::name::Name;
use crate::rdata::{Fqdn, RData, RecordType};
use crate::serve::state_file;
use crate::wire::encode;

/// The zone file of `zone` in `directory`.
fn zone_path(directory: &Path, zone: &Name) -> std::path::PathBuf {
    directory.join("zones").join(format!("{zone}.yaml"))
}

/// The RRsets of the zone file as last written (none before the first push).
pub fn read(directory: &Path, zone: &Name) -> Result<Rrsets, PushProblem> {
    let path = zone_path(directory, zone);
    let text = state_file::read_if_any(&path).map_err(|e| PushProblem::Read(e.to_string()))?;
    let Some(text) = text else { return Ok(Rrsets::new()) };
    let bad = |why: String| PushProblem::Read(format!("{}: {why}", path.display()));
    let names: BTreeMap<String, Vec<Value>> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let mut out = Rrsets::new();
    for (relative, records) in names {
        let owner = if relative.is_empty() { Ok(zone.clone()) } else { Name::in_origin(&relative, zone) };
        let owner = owner.map_err(|e| bad(e.to_string()))?;
        for record in records {
            let rtype: RecordType =
                record["type"].as_str().unwrap_or("").parse().map_err(|_| bad("a record of no type".into()))?;
            let ttl = record["ttl"].as_u64().and_then(|t| u32::try_from(t).ok()).unwrap_or(0);
            let values = match (record.get("values"), record.get("value")) {
                (Some(Value::Array(values)), _) => values.clone(),
                (_, Some(one)) => vec![one.clone()],
                _ => Vec::new(),
            };
            let mut data = Vec::new();
            for value in &values {
                let text = presentation(rtype, value).ok_or_else(|| bad(format!("{relative} {rtype}: {value}")))?;
                data.push(RData::parse_presentation(rtype, &text, zone).map_err(bad)?);
            }
            out.insert((owner.clone(), rtype), Rrset::new(ttl, data));
        }
    }
    Ok(out)
}

/// Writes the view `wanted` of `zone`, and the configuration for `zones` going to
/// `target` (octoDNS provider settings, JSON). Returns the files written (2).
pub fn write(
    directory: &Path,
    target: &str,
    zones: &[Name],
    zone: &Name,
    wanted: &Rrsets,
) -> Result<usize, PushProblem> {
    let failed = |e: state_file::StateFileError| PushProblem::Update(e.to_string());
    state_file::create_dir(&directory.join("zones")).map_err(failed)?;
    let mut names: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((owner, rtype), set) in wanted {
        let values: Vec<Value> = set.data.iter().filter_map(|d| value(*rtype, d)).collect();
        if values.len() != set.data.len() {
            return Err(PushProblem::Update(format!("octoDNS takes no {rtype} records ({owner})")));
        }
        let relative = owner.strip_suffix(zone.as_key()).map_or("", |r| r.trim_end_matches('.'));
        let mut record = json!({ "type": rtype.to_string(), "ttl": set.ttl });
        // A CNAME has one value, and octoDNS takes it as `value`.
        match (*rtype, &values[..]) {
            (RecordType::CNAME, [one]) => record["value"] = one.clone(),
            _ => record["values"] = Value::Array(values),
        }
        names.entry(relative.to_string()).or_default().push(record);
    }
    let text = serde_json::to_string_pretty(&names).expect("serializable");
    state_file::write_atomic(&zone_path(directory, zone), &text).map_err(failed)?;
    let target: Value = serde_json::from_str(target).map_err(|e| PushProblem::Rules(format!("target: {e}")))?;
    let config = json!({
        "providers": {
            "linedns": {
                "class": "octodns.provider.yaml.YamlProvider",
                "directory": directory.join("zones"),
                "enforce_order": false,
                "escaped_semicolons": true,
                "supports_root_ns": false,
            },
            "target": target,
        },
        "processors": { "ownership": { "class": "octodns.processor.ownership.OwnershipProcessor" } },
        "zones": zones
            .iter()
            .map(|z| (Fqdn(z).to_string(), json!({ "sources": ["linedns"], "targets": ["target"], "processors": ["ownership"] })))
            .collect::<serde_json::Map<String, Value>>(),
    });
    let text = serde_json::to_string_pretty(&config).expect("serializable");
    state_file::write_atomic(&directory.join("config.yaml"), &text).map_err(failed)?;
    Ok(2)
}

/// A record's value as octoDNS writes it: text for addresses and names, a mapping for
/// MX, SRV and CAA, the text (`;` escaped) of a TXT; `None` for a type octoDNS lacks.
fn value(rtype: RecordType, data: &RData) -> Option<Value> {
    let mut wire = Vec::new();
    encode::write_rdata(&mut wire, data);
    let u16_at = |at: usize| Some(u16::from_be_bytes(wire.get(at..at + 2)?.try_into().ok()?));
    let name_at = |at: usize| Name::from_wire(wire.get(at..)?).map(|(n, _)| Fqdn(&n).to_string());
    Some(match rtype {
        RecordType::A | RecordType::AAAA => Value::String(data.to_string()),
        RecordType::CNAME | RecordType::NS | RecordType::PTR => Value::String(name_at(0)?),
        RecordType::MX => json!({ "preference": u16_at(0)?, "exchange": name_at(2)? }),
        RecordType::SRV => {
            json!({ "priority": u16_at(0)?, "weight": u16_at(2)?, "port": u16_at(4)?, "target": name_at(6)? })
        }
        RecordType::CAA => {
            let tag_len = usize::from(*wire.get(1)?);
            let tag = String::from_utf8_lossy(wire.get(2..2 + tag_len)?).into_owned();
            let value = String::from_utf8_lossy(wire.get(2 + tag_len..)?).into_owned();
            json!({ "flags": wire[0], "tag": tag, "value": value })
        }
        RecordType::TXT => {
            let mut text = Vec::new();
            let mut at = 0;
            while at < wire.len() {
                let len = usize::from(wire[at]);
                text.extend_from_slice(wire.get(at + 1..at + 1 + len)?);
                at += 1 + len;
            }
            Value::String(String::from_utf8_lossy(&text).replace(';', "\\;"))
        }
        _ => return None,
    })
}

/// The zone-file presentation of a value [`value`] wrote.
fn presentation(rtype: RecordType, value: &Value) -> Option<String> {
    let field = |key: &str| value.get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
    Some(match rtype {
        RecordType::MX => format!("{} {}", field("preference")?, field("exchange")?),
        RecordType::SRV => {
            format!("{} {} {} {}", field("priority")?, field("weight")?, field("port")?, field("target")?)
        }
        RecordType::CAA => format!("{} {} {}", field("flags")?, field("tag")?, quoted(&field("value")?)),
        RecordType::TXT => {
            let text = value.as_str()?.replace("\\;", ";");
            // 255-octet strings, as the wire holds them.
            text.as_bytes().chunks(255).map(|c| quoted(&String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
        }
        _ => value.as_str()?.to_string(),
    })
}

/// `text` as a quoted zone-file string.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
