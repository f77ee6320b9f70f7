//! The rules' `keys:`: TSIG keys by name. A key's secret appears in no error message.

use std::collections::BTreeMap;

use super::Compiler;
use crate::config::{At, KeyDef};
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
            let Some(algorithm) = Algorithm::from_name(&def.value.algorithm) else {
                let message = format!("unknown algorithm {:?} (hmac-sha256, hmac-sha512)", def.value.algorithm);
                self.fail(place, rule, message);
                continue;
            };
            match data_encoding::BASE64.decode(def.value.secret.trim().as_bytes()) {
                Ok(secret) if !secret.is_empty() => keys.push(Key::new(&name, algorithm, &secret)),
                _ => self.fail(place, rule, "the secret is not base64 (as tsig-keygen or keymgr -t print it)"),
            }
        }
        keys
    }
}
