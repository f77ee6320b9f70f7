//! DNSSEC signing keys: ECDSA P-256 with SHA-256 (algorithm 13, RFC 6605) and Ed25519
//! (algorithm 15, RFC 8080), held as `ring` key pairs (`ring` is already the crate of
//! TSIG's HMACs; both algorithms are RFC 8624 §3.1's MUST/RECOMMENDED for signing).

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::wire::dnssec::{self, FLAG_SEP, FLAG_ZONE};

/// A signing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 13: ECDSA on curve P-256 with SHA-256 (RFC 6605): the default.
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// Every algorithm linedns signs with.
    pub const ALL: [Algorithm; 2] = [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519];

    /// The IANA number (RFC 4034 Appendix A.1).
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The algorithm with IANA number `number`, if linedns signs with it.
    pub fn from_number(number: u8) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.number() == number)
    }

    /// The mnemonic BIND's key files use (`ECDSAP256SHA256`, `ED25519`).
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// The name the rules and `linedns keygen` use (`ecdsa-p256`, `ed25519`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The algorithm named `text` (its name, mnemonic or number, any case).
    pub fn parse(text: &str) -> Result<Algorithm, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| {
                text.eq_ignore_ascii_case(a.name())
                    || text.eq_ignore_ascii_case(a.mnemonic())
                    || text == a.number().to_string()
            })
            .ok_or_else(|| format!("unknown DNSSEC algorithm {text:?} (ecdsa-p256 = 13, the default; ed25519 = 15)"))
    }

    /// Octets of the public key in a DNSKEY (RFC 6605 §4: x and y, 32 each; RFC 8080 §3).
    fn public_len(self) -> usize {
        match self {
            Algorithm::EcdsaP256Sha256 => 64,
            Algorithm::Ed25519 => 32,
        }
    }
}

/// What a key signs (RFC 6781 §3.1): the DNSKEY set only, the rest of the zone, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Key-signing key: the DNSKEY, CDS and CDNSKEY sets (SEP flag set).
    Ksk,
    /// Zone-signing key: every other set.
    Zsk,
    /// Combined signing key: everything (SEP flag set).
    Csk,
}

impl Role {
    /// The DNSKEY flags of a key of this role: Zone Key, and SEP for KSK and CSK.
    pub fn flags(self) -> u16 {
        match self {
            Role::Zsk => FLAG_ZONE,
            Role::Ksk | Role::Csk => FLAG_ZONE | FLAG_SEP,
        }
    }

    /// `ksk`, `zsk`, `csk`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ksk => "ksk",
            Role::Zsk => "zsk",
            Role::Csk => "csk",
        }
    }

    /// Whether it signs the DNSKEY, CDS and CDNSKEY sets.
    pub fn signs_keys(self) -> bool {
        self != Role::Zsk
    }

    /// Whether it signs the zone's other sets.
    pub fn signs_zone(self) -> bool {
        self != Role::Ksk
    }
}

/// The key pair itself.
enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// One DNSSEC key of a zone, ready to sign.
pub struct SigningKey {
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its role.
    pub role: Role,
    /// Its DNSKEY RDATA.
    pub dnskey: Box<[u8]>,
    /// Its key tag (RFC 4034 Appendix B).
    pub tag: u16,
    pair: Pair,
    random: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {} tag {})", self.role.name(), self.algorithm.mnemonic(), self.tag)
    }
}

impl SigningKey {
    /// The key of `algorithm` and `role` whose private key is `private` (the ECDSA
    /// scalar, 32 octets; the Ed25519 seed, 32 octets: what BIND's `.private` files hold
    /// as `PrivateKey`) and whose DNSKEY public key is `public` (RFC 6605 §4, RFC 8080
    /// §3). An error says why they do not make a key pair.
    pub fn from_parts(algorithm: Algorithm, role: Role, private: &[u8], public: &[u8]) -> Result<SigningKey, String> {
        if public.len() != algorithm.public_len() {
            return Err(format!(
                "the public key is {} octets; a {} key's is {}",
                public.len(),
                algorithm.mnemonic(),
                algorithm.public_len()
            ));
        }
        let random = SystemRandom::new();
        let pair = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let uncompressed = [&[4u8][..], public].concat();
                EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    private,
                    &uncompressed,
                    &random,
                )
                .map(Pair::Ecdsa)
                .map_err(|e| format!("the private key does not match the public key ({e})"))?
            }
            Algorithm::Ed25519 => Ed25519KeyPair::from_seed_and_public_key(private, public)
                .map(Pair::Ed25519)
                .map_err(|e| format!("the private key does not match the public key ({e})"))?,
        };
        let dnskey: Box<[u8]> = dnssec::dnskey_rdata(role.flags(), algorithm.number(), public).into();
        Ok(SigningKey { algorithm, role, tag: dnssec::key_tag(&dnskey), dnskey, pair, random })
    }

    /// A new key of `algorithm` and `role`, and its private key (as [`SigningKey::from_parts`]
    /// takes it).
    pub fn generate(algorithm: Algorithm, role: Role) -> Result<(SigningKey, Vec<u8>), String> {
        let random = SystemRandom::new();
        let failed = |e: ring::error::Unspecified| format!("cannot make a key: {e}");
        let document = match algorithm {
            Algorithm::EcdsaP256Sha256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random),
            Algorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&random),
        };
        let document = document.map_err(failed)?;
        let (private, public) = pkcs8_parts(algorithm, document.as_ref()).ok_or("cannot read the key made")?;
        let key = SigningKey::from_parts(algorithm, role, &private, &public)?;
        Ok((key, private))
    }

    /// The key of `algorithm` and `role` in the PKCS#8 document `der` (RFC 5208, RFC 5958:
    /// what Knot DNS keeps in its `.pem` files), which must hold the public key too.
    pub fn from_pkcs8(algorithm: Algorithm, role: Role, der: &[u8]) -> Result<(SigningKey, Vec<u8>), String> {
        let (private, public) = pkcs8_parts(algorithm, der)
            .ok_or_else(|| format!("not a PKCS#8 {} private key with its public key", algorithm.mnemonic()))?;
        Ok((SigningKey::from_parts(algorithm, role, &private, &public)?, private))
    }

    /// The public key as a DNSKEY holds it.
    pub fn public_key(&self) -> &[u8] {
        &self.dnskey[4..]
    }

    /// The DNSKEY flags.
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes([self.dnskey[0], self.dnskey[1]])
    }

    /// Signs `data` (RFC 6605 §4: r and s, 32 octets each; RFC 8080 §4: 64 octets).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(pair) => pair.sign(&self.random, data).map(|s| s.as_ref().to_vec()).unwrap_or_default(),
            Pair::Ed25519(pair) => pair.sign(data).as_ref().to_vec(),
        }
    }

    /// Whether `signature` over `data` verifies with this key's public key.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        let (algorithm, public): (&dyn ring::signature::VerificationAlgorithm, Vec<u8>) = match self.algorithm {
            Algorithm::EcdsaP256Sha256 => {
                (&ring::signature::ECDSA_P256_SHA256_FIXED, [&[4u8][..], self.public_key()].concat())
            }
            Algorithm::Ed25519 => (&ring::signature::ED25519, self.public_key().to_vec()),
        };
        ring::signature::UnparsedPublicKey::new(algorithm, public).verify(data, signature).is_ok()
    }
}

/// The private key and the DNSKEY public key of a PKCS#8 document of `algorithm`, found
/// by their DER headers: for P-256, RFC 5915's ECPrivateKey `version 1, privateKey OCTET
/// STRING (32)` and `[1] publicKey BIT STRING (0x04 x y)`; for Ed25519, RFC 8410's
/// `CurvePrivateKey OCTET STRING (32)` and RFC 5958's `[1] publicKey`.
fn pkcs8_parts(algorithm: Algorithm, der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let after = |mark: &[u8], len: usize| {
        let at = der.windows(mark.len()).position(|w| w == mark)? + mark.len();
        der.get(at..at + len).map(<[u8]>::to_vec)
    };
    match algorithm {
        Algorithm::EcdsaP256Sha256 => {
            // The scalar as 32 octets, or as 33 with a leading zero (GnuTLS, so Knot DNS).
            let private = after(&[0x02, 0x01, 0x01, 0x04, 0x20], 32)
                .or_else(|| after(&[0x02, 0x01, 0x01, 0x04, 0x21, 0x00], 32))?;
            Some((private, after(&[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04], 64)?))
        }
        Algorithm::Ed25519 => {
            let seed = after(&[0x04, 0x22, 0x04, 0x20], 32)?;
            // The public key is implicitly tagged (ring) or explicitly (some encoders),
            // or absent (RFC 8410 version 1): then derived from the seed.
            let public = match after(&[0x81, 0x21, 0x00], 32).or_else(|| after(&[0xa1, 0x23, 0x03, 0x21, 0x00], 32)) {
                Some(public) => public,
                None => Ed25519KeyPair::from_seed_unchecked(&seed).ok()?.public_key().as_ref().to_vec(),
            };
            Some((seed, public))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_rebuild_from_their_parts() {
        for algorithm in Algorithm::ALL {
            let (key, private) = SigningKey::generate(algorithm, Role::Csk).unwrap();
            let signature = key.sign(b"data");
            assert_eq!(signature.len(), 64);
            assert!(key.verify(b"data", &signature));
            assert!(!key.verify(b"date", &signature));
            let again = SigningKey::from_parts(algorithm, Role::Csk, &private, key.public_key()).unwrap();
            assert_eq!(again.tag, key.tag);
            assert_eq!(key.flags(), 257);
            let (other, _) = SigningKey::generate(algorithm, Role::Zsk).unwrap();
            assert!(SigningKey::from_parts(algorithm, Role::Zsk, &private, other.public_key()).is_err());
        }
    }
}
