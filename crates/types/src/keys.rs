//! Ed25519 keys and signatures, with domain separation for every signed kind.

use ed25519_dalek::Signer as _;

/// Domain prefixes: a signature made for one purpose never verifies for another.
pub mod domain {
    /// Transactions.
    pub const TX: &[u8] = b"waybill/tx/v1\0";
    /// Consensus votes.
    pub const VOTE: &[u8] = b"waybill/vote/v1\0";
    /// Consensus proposals.
    pub const PROPOSAL: &[u8] = b"waybill/proposal/v1\0";
    /// Proposal parts streamed between validators.
    pub const PROPOSAL_PART: &[u8] = b"waybill/proposal-part/v1\0";
    /// Vote extensions (unused; kept so the domain is reserved).
    pub const EXTENSION: &[u8] = b"waybill/extension/v1\0";
    /// Authenticated API reads: `METHOD\npath?query\ntimestamp_ms`.
    pub const READ: &[u8] = b"waybill/read/v1\0";
}

/// The message a member signs to authenticate an API read.
pub fn read_message(method: &str, path_and_query: &str, ts_ms: u64) -> Vec<u8> {
    format!("{method}\n{path_and_query}\n{ts_ms}").into_bytes()
}

/// The `Authorization` header value for an API read by `key` at `ts_ms`.
pub fn read_authorization(
    key: &SecretKey,
    method: &str,
    path_and_query: &str,
    ts_ms: u64,
) -> String {
    let sig = key.sign(domain::READ, &read_message(method, path_and_query, ts_ms));
    format!(
        "Waybill key={}, ts={ts_ms}, sig={}",
        key.public().to_hex(),
        hex::encode(sig.0)
    )
}

/// An Ed25519 public key (32 bytes). Members, organization admins and validators are
/// all named by their public key. JSON form: lowercase hex.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature (64 bytes). JSON form: lowercase hex.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct Signature(pub [u8; 64]);

/// An Ed25519 secret key. Never serialized by `Debug`.
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

/// A key or signature that could not be parsed or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The hex text was malformed or had the wrong length.
    #[error("`{input}` is not a valid {what}: expected {hex_chars} hex characters")]
    BadHex {
        /// What was being parsed.
        what: &'static str,
        /// The rejected text, truncated.
        input: String,
        /// The expected number of hex characters.
        hex_chars: usize,
    },
    /// The bytes are not a point on the curve.
    #[error("public key {key} is not a valid Ed25519 point")]
    InvalidPoint {
        /// The key, hex.
        key: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify for public key {key}")]
    BadSignature {
        /// The key, hex.
        key: String,
    },
}

fn parse_hex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], KeyError> {
    let err = || KeyError::BadHex {
        what,
        input: s.chars().take(80).collect(),
        hex_chars: N * 2,
    };
    let v = hex::decode(s.trim()).map_err(|_| err())?;
    v.try_into().map_err(|_| err())
}

impl PublicKey {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parse 64 hex characters.
    pub fn from_hex(s: &str) -> Result<PublicKey, KeyError> {
        Ok(PublicKey(parse_hex::<32>(s, "public key")?))
    }
    /// The dalek verifying key, if the bytes are a valid point. Decompressing a point
    /// costs a field square root; the keys of recent signers are kept decompressed
    /// ([`KEY_CACHE_MAX`] of them), since the same members sign again and again.
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
        let cache = KEY_CACHE.get_or_init(Default::default);
        if let Some(vk) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&self.0) {
            return Ok(*vk);
        }
        // Decompress without the lock held (other threads verify meanwhile); two
        // threads missing on one key both decompress it, which is harmless.
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .map_err(|_| KeyError::InvalidPoint { key: self.to_hex() })?;
        let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.len() >= KEY_CACHE_MAX {
            c.clear();
        }
        c.insert(self.0, vk);
        Ok(vk)
    }
    /// Verify `signature` over `domain ‖ message` (strict: rejects malleable forms).
    pub fn verify(
        &self,
        domain: &[u8],
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), KeyError> {
        let vk = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        let mut buf = Vec::with_capacity(domain.len() + message.len());
        buf.extend_from_slice(domain);
        buf.extend_from_slice(message);
        vk.verify_strict(&buf, &sig)
            .map_err(|_| KeyError::BadSignature { key: self.to_hex() })
    }
    /// A short form for logs: the first 8 hex characters.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl Signature {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parse 128 hex characters.
    pub fn from_hex(s: &str) -> Result<Signature, KeyError> {
        Ok(Signature(parse_hex::<64>(s, "signature")?))
    }
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }
    /// A key from its 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
    /// A deterministic key derived from a label: for tests and benchmarks only.
    pub fn from_label(label: &str) -> SecretKey {
        SecretKey::from_seed(crate::hash::sha256(label.as_bytes()).0)
    }
    /// The 32-byte seed.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    /// Parse the 64-hex-character seed.
    pub fn from_hex(s: &str) -> Result<SecretKey, KeyError> {
        Ok(SecretKey::from_seed(parse_hex::<32>(s, "secret key")?))
    }
    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }
    /// Sign `domain ‖ message`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> Signature {
        let mut buf = Vec::with_capacity(domain.len() + message.len());
        buf.extend_from_slice(domain);
        buf.extend_from_slice(message);
        Signature(self.0.sign(&buf).to_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(public={})", self.public().to_hex())
    }
}

/// How many decompressed verifying keys [`PublicKey::verifying_key`] keeps (about
/// 200 bytes each); when full it starts over. Only valid points are kept.
pub const KEY_CACHE_MAX: usize = 16_384;

type KeyCache = std::sync::Mutex<std::collections::HashMap<[u8; 32], ed25519_dalek::VerifyingKey>>;
static KEY_CACHE: std::sync::OnceLock<KeyCache> = std::sync::OnceLock::new();

/// Verify many signatures at once (Ed25519 batch verification, ≈2× faster per
/// signature than one by one). Each item is `(key, domain ‖ message, signature)`.
/// On failure, falls back to single verification to name the index that failed.
pub fn verify_batch(items: &[(PublicKey, Vec<u8>, Signature)]) -> Result<(), (usize, KeyError)> {
    if items.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(items.len());
    for (i, (k, _, _)) in items.iter().enumerate() {
        keys.push(k.verifying_key().map_err(|e| (i, e))?);
    }
    let msgs: Vec<&[u8]> = items.iter().map(|(_, m, _)| m.as_slice()).collect();
    let sigs: Vec<ed25519_dalek::Signature> = items
        .iter()
        .map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0))
        .collect();
    if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
        // Batch verification is not strict about small-order components; re-check
        // the cheap malleability condition the strict verifier enforces.
        for (i, (k, _, _)) in items.iter().enumerate() {
            if keys[i].is_weak() {
                return Err((i, KeyError::BadSignature { key: k.to_hex() }));
            }
        }
        return Ok(());
    }
    for (i, (k, m, s)) in items.iter().enumerate() {
        let sig = ed25519_dalek::Signature::from_bytes(&s.0);
        if keys[i].verify_strict(m, &sig).is_err() {
            return Err((i, KeyError::BadSignature { key: k.to_hex() }));
        }
    }
    // The batch failed but every single check passed: cannot happen for valid
    // signatures; treat as failure of the first item to stay safe.
    Err((
        0,
        KeyError::BadSignature {
            key: items[0].0.to_hex(),
        },
    ))
}

macro_rules! hex_serde {
    ($t:ty, $parse:path, $hex_len:literal, $what:literal) => {
        /// As serde writes it: lowercase hex.
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": concat!("^[0-9a-f]{", $hex_len, "}$"),
                    "description": $what,
                })
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($t), &self.to_hex()[..16])
            }
        }
        impl std::str::FromStr for $t {
            type Err = KeyError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $parse(s)
            }
        }
    };
}
hex_serde!(
    PublicKey,
    PublicKey::from_hex,
    64,
    "An Ed25519 public key: 64 lowercase hex characters"
);
hex_serde!(
    Signature,
    Signature::from_hex,
    128,
    "An Ed25519 signature: 128 lowercase hex characters"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_domain_separation() {
        let k = SecretKey::from_label("alice");
        let sig = k.sign(domain::TX, b"hello");
        assert!(k.public().verify(domain::TX, b"hello", &sig).is_ok());
        assert!(k.public().verify(domain::VOTE, b"hello", &sig).is_err());
        assert!(k.public().verify(domain::TX, b"hellO", &sig).is_err());
    }

    #[test]
    fn batch_names_the_bad_signature() {
        let keys: Vec<SecretKey> = (0..5)
            .map(|i| SecretKey::from_label(&format!("k{i}")))
            .collect();
        let mut items: Vec<(PublicKey, Vec<u8>, Signature)> = keys
            .iter()
            .map(|k| {
                let msg = [domain::TX, k.public().0.as_slice()].concat();
                let sig = k.sign(domain::TX, &k.public().0);
                (k.public(), msg, sig)
            })
            .collect();
        assert!(verify_batch(&items).is_ok());
        items[3].2 .0[0] ^= 1;
        assert_eq!(verify_batch(&items).map_err(|(i, _)| i), Err(3));
    }

    #[test]
    fn hex_round_trip() {
        let k = SecretKey::from_label("x").public();
        assert_eq!(PublicKey::from_hex(&k.to_hex()), Ok(k));
        assert!(PublicKey::from_hex("abcd").is_err());
    }
}
