//! `fleet:`: this instance's name and site, the store the fleet shares (credentials read
//! from their files now, which a reload then watches) and the health policy; into the
//! host settings.

use std::path::PathBuf;
use std::time::Duration;

use super::Compiler;
use super::host::{FleetSettings, StoreAuth, StoreSettings};
use crate::config::{At, FleetDef, FleetHealthDef, defaults};
use crate::engine::fleet::Policy;

impl Compiler<'_> {
    /// Compiles `fleet:`; `None` after any error (each reported).
    pub(super) fn fleet(&mut self, def: &At<FleetDef>) -> Option<FleetSettings> {
        let errors_before = self.errors.len();
        let d = &def.value;
        let rule = "fleet";
        for (field, at) in [("instance", &d.instance), ("site", &d.site)] {
            let ok = !at.value.is_empty()
                && at.value.len() <= 64
                && at.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                let place = self.place(at);
                let message = format!("{field} {:?}: 1 to 64 letters, digits, `-` or `_`", at.value);
                self.fail(place, rule, message);
            }
        }
        let policy = match &d.health {
            None => Policy::Majority,
            Some(at) => self.fleet_policy(at)?,
        };
        let expiry_ms = d.result_expiry_ms.unwrap_or(defaults::FLEET_RESULT_EXPIRY.as_millis() as u64);
        if expiry_ms < 1000 {
            let place = self.place(def);
            self.fail(place, rule, format!("result_expiry_ms {expiry_ms} is below 1000"));
        }
        if let (Policy::Quorum(k), Some(m)) = (policy, d.probe_sites)
            && k > m
        {
            let place = self.place(def);
            self.fail(
                place,
                rule,
                format!("health quorum {k} is more than probe_sites {m}: no node could ever be seen up by {k} sites"),
            );
        }
        if d.probe_sites == Some(0) {
            let place = self.place(def);
            self.fail(place, rule, "probe_sites 0: each node needs at least one site probing it");
        }
        let store = self.fleet_store(&d.store)?;
        (self.errors.len() == errors_before).then(|| FleetSettings {
            instance: d.instance.value.clone(),
            site: d.site.value.clone(),
            store,
            policy,
            probe_sites: d.probe_sites,
            result_expiry: Duration::from_millis(expiry_ms),
        })
    }

    /// `fleet.health`.
    fn fleet_policy(&mut self, at: &At<FleetHealthDef>) -> Option<Policy> {
        let place = self.place(at);
        let rule = "fleet health";
        match &at.value {
            FleetHealthDef::Named(name) if name == "majority" => Some(Policy::Majority),
            FleetHealthDef::Named(name) if name == "any" => Some(Policy::Any),
            FleetHealthDef::Named(other) => {
                self.fail(place, rule, format!("{other:?}: majority, any, {{ quorum: K }} or {{ share: S }}"));
                None
            }
            FleetHealthDef::Quorum { quorum } if *quorum >= 1 => Some(Policy::Quorum(*quorum)),
            FleetHealthDef::Quorum { quorum } => {
                self.fail(place, rule, format!("quorum {quorum}: at least 1 site"));
                None
            }
            FleetHealthDef::Share { share } if (0.0..=1.0).contains(share) && *share > 0.0 => {
                Some(Policy::Share((share * 1000.0).round() as u16))
            }
            FleetHealthDef::Share { share } => {
                self.fail(place, rule, format!("share {share}: a share above 0, at most 1"));
                None
            }
        }
    }

    /// `fleet.store`: the servers, the credential (from its file) and the TLS files.
    fn fleet_store(&mut self, at: &At<crate::config::FleetStoreDef>) -> Option<StoreSettings> {
        let place = self.place(at);
        let rule = "fleet store";
        let s = &at.value;
        if s.kind != "nats" {
            self.fail(
                place,
                rule,
                format!("kind {:?}: the store linedns takes is `nats` (NATS with JetStream)", s.kind),
            );
            return None;
        }
        if s.servers.is_empty() {
            self.fail(place.clone(), rule, "`servers` names no server (nats://HOST:PORT or tls://HOST:PORT)");
        }
        for server in &s.servers {
            if !(server.starts_with("nats://") || server.starts_with("tls://")) {
                self.fail(place.clone(), rule, format!("server {server:?}: nats://HOST:PORT or tls://HOST:PORT"));
            }
        }
        let auth = match (&s.user, &s.password_file, &s.token_file, &s.credentials_file) {
            (None, None, None, None) => StoreAuth::None,
            (Some(user), Some(file), None, None) => StoreAuth::UserPassword {
                user: user.clone(),
                password: self.secret_file("password_file", file, &place, rule)?,
            },
            (None, None, Some(file), None) => StoreAuth::Token(self.secret_file("token_file", file, &place, rule)?),
            (None, None, None, Some(file)) => {
                StoreAuth::Credentials(self.readable(file, "credentials_file", &place)?)
            }
            _ => {
                self.fail(
                    place,
                    rule,
                    "one credential: `user` with `password_file`, or `token_file`, or `credentials_file`",
                );
                return None;
            }
        };
        let ca_file = match &s.ca_file {
            Some(f) => Some(self.readable(f, "ca_file", &place)?),
            None => None,
        };
        let client_cert = match (&s.cert_file, &s.key_file) {
            (Some(cert), Some(key)) => {
                Some((self.readable(cert, "cert_file", &place)?, self.readable(key, "key_file", &place)?))
            }
            (None, None) => None,
            _ => {
                self.fail(place, rule, "`cert_file` and `key_file` go together");
                return None;
            }
        };
        let bucket_prefix = s.bucket_prefix.clone().unwrap_or_else(|| defaults::FLEET_BUCKET_PREFIX.to_string());
        if bucket_prefix.is_empty()
            || !bucket_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.fail(place, rule, format!("bucket_prefix {bucket_prefix:?}: letters, digits, `-` or `_`"));
            return None;
        }
        Some(StoreSettings { servers: s.servers.clone(), auth, ca_file, client_cert, bucket_prefix })
    }

    /// The file `written` (relative to the rules), which must be readable now.
    fn readable(&mut self, written: &str, field: &str, place: &crate::error::Place) -> Option<PathBuf> {
        let path = self.file.parent().unwrap_or(std::path::Path::new(".")).join(written);
        self.inputs.push((path.clone(), super::stamp(&path)));
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Some(path),
            Ok(_) => {
                self.fail(place.clone(), "fleet store", format!("{field} {} is not a file", path.display()));
                None
            }
            Err(e) => {
                self.fail(place.clone(), "fleet store", format!("cannot read {field} {}: {e}", path.display()));
                None
            }
        }
    }
}
