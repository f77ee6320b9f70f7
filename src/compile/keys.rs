//! The rules' `keys:`: TSIG keys by name, written inline or read from a BIND-style key
//! file. A key's secret appears in no error message.

use std::collections::BTreeMap;

use super::Compiler;
use crate::config::{At, KeyDef, bind_key};
use crate::error::Place;
use crate::name;
use crate::wire::tsig::{Algorithm, Key};

impl Compiler<'_> {
    /// Compiles every key; a bad one is an error naming the key, never its secret.
    pub(super) fn keys(&mut self, defs: &BTreeMap<String, At<KeyDef>>) -> Vec<Key> {
        let mut keys = Vec::new();
        for (written, def) in defs {
            let place = self.place(def);
            let rule = format!("key {written:?}");
            let name = match name::normalize(written) {
                Ok(n) => n,
                Err(m) => {
                    self.fail(place, rule, m);
                    continue;
                }
            };
            let d = &def.value;
            let (algorithm, secret) = match (&d.file, &d.algorithm, &d.secret) {
                (Some(file), None, None) => {
                    let path = self.file.parent().map(|dir| dir.join(file)).unwrap_or_else(|| file.into());
                    self.inputs.push((path.clone(), super::stamp(&path)));
                    let read =
                        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()));
                    match read.and_then(|text| bind_key::parse(&text, &path)) {
                        Ok(found) => {
                            match found.into_iter().find(|k| name::normalize(&k.name).ok() == Some(name.clone())) {
                                Some(k) => (k.algorithm, k.secret),
                                None => {
                                    let message = format!("{} holds no key named {written:?}", path.display());
                                    self.fail(place, rule, message);
                                    continue;
                                }
                            }
                        }
                        Err(m) => {
                            self.fail(place, rule, m);
                            continue;
                        }
                    }
                }
                (None, Some(algorithm), Some(secret)) => (algorithm.clone(), secret.clone()),
                _ => {
                    self.fail(place, rule, "a key needs `algorithm` and `secret`, or a `file` (and not both)");
                    continue;
                }
            };
            let Some(algorithm) = Algorithm::from_name(&algorithm) else {
                let message = format!("unknown algorithm {algorithm:?} (hmac-sha256, hmac-sha512)");
                self.fail(place, rule, message);
                continue;
            };
            match data_encoding::BASE64.decode(secret.trim().as_bytes()) {
                Ok(secret) if !secret.is_empty() => keys.push(Key::new(&name, algorithm, &secret)),
                _ => self.fail(place, rule, "the secret is not base64 (as tsig-keygen or keymgr -t print it)"),
            }
        }
        keys
    }

    /// The index in `keys` of the key named `written` (a rule's `key:`); an unknown name
    /// is an error at `place` listing the keys there are.
    pub(super) fn key_index(&mut self, written: &str, keys: &[Key], place: Place, rule: &str) -> Option<u32> {
        let found = name::normalize(written).ok().and_then(|n| keys.iter().position(|k| *k.name == *n));
        if found.is_none() {
            let known: Vec<&str> = keys.iter().map(|k| &*k.name).collect();
            self.fail(place, rule, format!("unknown key {written:?} (keys: {})", known.join(", ")));
        }
        found.map(|i| i as u32)
    }
}
