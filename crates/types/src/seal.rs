//! Sealed fields: a field of a record encrypted for the organizations that may read it
//! (docs/PRIVACY.md). The SDK and the CLI seal before signing; nodes store and relay
//! the ciphertext and never hold a key that opens it.
//!
//! One sealed field, as it stands in a record's JSON in place of its value:
//!
//! ```json
//! {"wb:sealed": {"suite": "hpke-x25519-sha256-chacha20poly1305",
//!   "category": "financial",
//!   "wraps": [{"org": "sichuan-orchard", "kv": 1, "enc": "…", "ct": "…"}, …],
//!   "nonce": "…", "ct": "…", "commitment": "…"}}
//! ```
//!
//! The field's record id and JSON pointer are not members (they were, in format 1):
//! its record is the event it stands in (that event's `eventID`) and its pointer is
//! where it stands there, and the associated data binds both.
//!
//! * A fresh 256-bit data key per sealed field encrypts `JCS(value)` with
//!   ChaCha20-Poly1305 (`nonce`, `ct`; base64). The salt is 32 bytes derived from the
//!   data key (HKDF-SHA256, info `waybill/seal/salt`): as random as the key, known
//!   only to whoever opens the field, and not carried in the ciphertext (32 bytes less
//!   per field on the chain).
//! * `commitment` = SHA-256(salt ‖ JCS(value)) (RFC 8785 canonical JSON; hex): it can
//!   be published and proven without revealing the value, and the salt keeps a
//!   low-entropy value (a price, a yes/no) from being guessed by hashing candidates.
//! * Each wrap is the data key sealed to one organization's X25519 key of version `kv`
//!   with HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//!   ChaCha20Poly1305; `enc` is the encapsulated key).
//! * The associated data of the data ciphertext binds the chain id, the record id, the
//!   field's JSON pointer, its data category and the commitment; a wrap's binds those
//!   and its organization and key version. A ciphertext moved to another chain, record
//!   or field, or a wrap moved to another organization or version, does not open.
//!
//! An **erasable** field (personal data: names, phones, addresses) is sealed the same
//! way and then detached ([`Sealed::detach`]): the record carries only where it is,
//! for whom, the commitment and the SHA-256 of its private part,
//!
//! ```json
//! {"wb:sealed": {"suite": "…", "category": "platform_transactions",
//!   "recipients": [{"org": "…", "kv": 1}, …],
//!   "private": "…", "commitment": "…"}}
//! ```
//!
//! and the private part — `{"wraps": […], "nonce": "…", "ct": "…"}` ([`PrivatePart`];
//! `private` = SHA-256 of its RFC 8785 form) — goes only to the recipients' nodes, into
//! a store that can purge it. [`Detached::attach`] puts the two back together.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use hpke::{Deserializable as _, Kem as _, Serializable as _};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DataCategory, Hash, OrgId};

/// The member name that marks a sealed field in JSON.
pub const SEALED: &str = "wb:sealed";
/// The one cipher suite of format 1.
pub const SUITE: &str = "hpke-x25519-sha256-chacha20poly1305";

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type WrapAead = hpke::aead::ChaCha20Poly1305;

const DOMAIN: &[u8] = b"waybill/seal/v1";
const WRAP_INFO: &[u8] = b"waybill/seal/v1/wrap";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// An organization's public encryption key (X25519, 32 bytes; hex in JSON).
#[derive(Clone, Copy, PartialEq, Eq, Hash, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct SealPublicKey(pub [u8; 32]);

/// As serde writes it: 64 lowercase hex characters.
impl schemars::JsonSchema for SealPublicKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SealPublicKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "An organization's X25519 encryption key: 64 lowercase hex characters",
        })
    }
}

/// An organization's secret encryption key (X25519, 32 bytes). Held by the
/// organization's members, never by a node. Its `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealSecretKey(pub [u8; 32]);

impl fmt::Debug for SealPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealPublicKey({})", hex::encode(self.0))
    }
}

impl fmt::Debug for SealSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealSecretKey(…)")
    }
}

impl SealSecretKey {
    /// A new random key pair.
    pub fn generate<R: CryptoRng + RngCore>(rng: &mut R) -> (SealSecretKey, SealPublicKey) {
        let (sk, pk) = Kem::gen_keypair(rng);
        (
            SealSecretKey(sk.to_bytes().into()),
            SealPublicKey(pk.to_bytes().into()),
        )
    }

    /// The public key of this secret.
    pub fn public(&self) -> SealPublicKey {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.0)
            .expect("every 32-byte string is an X25519 secret");
        SealPublicKey(Kem::sk_to_pk(&sk).to_bytes().into())
    }
}

fn hex32<E: serde::de::Error>(s: &str, what: &str) -> Result<[u8; 32], E> {
    let bytes = hex::decode(s).map_err(|e| E::custom(format!("{what} is not hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| E::custom(format!("{what} has {} bytes, not 32", b.len())))
}

impl Serialize for SealPublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for SealPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex32(&s, "an encryption public key").map(SealPublicKey)
    }
}

impl Serialize for SealSecretKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for SealSecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex32(&s, "an encryption secret key").map(SealSecretKey)
    }
}

/// An organization a field is sealed for: its id, the version of its key and the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The organization.
    pub org: OrgId,
    /// The version of its key on chain.
    pub kv: u32,
    /// The key.
    pub key: SealPublicKey,
}

/// A secret that opens the wraps made for one organization and key version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSecret {
    /// The organization.
    pub org: OrgId,
    /// The key version the secret belongs to.
    pub kv: u32,
    /// The secret.
    pub secret: SealSecretKey,
}

/// The data key of one field wrapped for one organization.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Wrap {
    /// The organization.
    pub org: OrgId,
    /// The version of its key the wrap was made for.
    pub kv: u32,
    /// HPKE's encapsulated key, base64 (32 bytes).
    pub enc: String,
    /// The wrapped data key, base64 (32 bytes and a 16-byte tag).
    pub ct: String,
}

/// A sealed field (the object under [`SEALED`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// [`SUITE`].
    pub suite: String,
    /// The id of the record the field belongs to (client-chosen; an EPCIS event's
    /// `eventID`). Not in the JSON: where the field stands says it, and the
    /// associated data binds it.
    #[serde(skip)]
    pub record: String,
    /// The field's JSON pointer (RFC 6901) inside its record. Not in the JSON, like
    /// `record`.
    #[serde(skip)]
    pub field: String,
    /// The field's data category.
    pub category: DataCategory,
    /// The data key, wrapped for each recipient organization.
    pub wraps: Vec<Wrap>,
    /// The data ciphertext's nonce, base64 (12 bytes).
    pub nonce: String,
    /// `salt ‖ JCS(value)` encrypted under the data key, base64.
    pub ct: String,
    /// SHA-256(salt ‖ JCS(value)).
    pub commitment: Hash,
}

/// A recipient of a detached field: an organization and the version of its key.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    /// The organization.
    pub org: OrgId,
    /// Its key version.
    pub kv: u32,
}

/// An erasable sealed field as it stands in its record (the object under [`SEALED`]):
/// its ciphertext and wraps ([`PrivatePart`]) are kept off the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detached {
    /// [`SUITE`].
    pub suite: String,
    /// The record id (not in the JSON: where the field stands says it).
    #[serde(skip)]
    pub record: String,
    /// The field's JSON pointer inside its record (not in the JSON either).
    #[serde(skip)]
    pub field: String,
    /// The field's data category.
    pub category: DataCategory,
    /// The organizations (and key versions) its private part holds wraps for.
    pub recipients: Vec<KeyRef>,
    /// SHA-256 of the private part's canonical JSON (RFC 8785).
    pub private: Hash,
    /// SHA-256(salt ‖ JCS(value)).
    pub commitment: Hash,
}

/// The off-chain part of a detached field: what [`Sealed`] has beyond [`Detached`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivatePart {
    /// The data key, wrapped for each recipient organization.
    pub wraps: Vec<Wrap>,
    /// The data ciphertext's nonce, base64 (12 bytes).
    pub nonce: String,
    /// `salt ‖ JCS(value)` encrypted under the data key, base64.
    pub ct: String,
}

impl PrivatePart {
    /// SHA-256 of its canonical JSON (RFC 8785): what a [`Detached`] names.
    pub fn hash(&self) -> Hash {
        let v = serde_json::to_value(self).expect("a private part is strings and numbers");
        crate::sha256(crate::jcs::to_string(&v).as_bytes())
    }
}

/// A sealed field as found in a record: whole, or detached (erasable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealedField {
    /// Ciphertext and wraps in the record.
    Inline(Sealed),
    /// Ciphertext and wraps kept off the chain.
    Detached(Detached),
}

impl SealedField {
    /// The sealed field `v` holds, if it is one (`None` if `v` is not an object whose
    /// only member is [`SEALED`]), standing in record `record` at `field`; detached
    /// when it names a `private` part.
    pub fn from_json(
        v: &Value,
        record: &str,
        field: &str,
    ) -> Option<Result<SealedField, SealError>> {
        let inner = sealed_member(v)?;
        Some(inner.and_then(|inner| {
            if inner.get("private").is_some() {
                let mut d: Detached = from_member(inner)?;
                (d.record, d.field) = (record.to_owned(), field.to_owned());
                d.check_form().map(|()| SealedField::Detached(d))
            } else {
                let mut s: Sealed = from_member(inner)?;
                (s.record, s.field) = (record.to_owned(), field.to_owned());
                s.check_form().map(|()| SealedField::Inline(s))
            }
        }))
    }

    /// The whole sealed field; a detached one is [`SealError::NotAttached`].
    pub fn whole(self) -> Result<Sealed, SealError> {
        match self {
            SealedField::Inline(s) => Ok(s),
            SealedField::Detached(d) => Err(SealError::NotAttached {
                record: d.record,
                field: d.field,
            }),
        }
    }

    /// Its record id.
    pub fn record(&self) -> &str {
        match self {
            SealedField::Inline(s) => &s.record,
            SealedField::Detached(d) => &d.record,
        }
    }

    /// Its JSON pointer.
    pub fn field(&self) -> &str {
        match self {
            SealedField::Inline(s) => &s.field,
            SealedField::Detached(d) => &d.field,
        }
    }

    /// Its data category.
    pub fn category(&self) -> DataCategory {
        match self {
            SealedField::Inline(s) => s.category,
            SealedField::Detached(d) => d.category,
        }
    }

    /// Its commitment.
    pub fn commitment(&self) -> &Hash {
        match self {
            SealedField::Inline(s) => &s.commitment,
            SealedField::Detached(d) => &d.commitment,
        }
    }

    /// The organizations and key versions it is sealed for.
    pub fn recipients(&self) -> Vec<KeyRef> {
        match self {
            SealedField::Inline(s) => s
                .wraps
                .iter()
                .map(|w| KeyRef {
                    org: w.org.clone(),
                    kv: w.kv,
                })
                .collect(),
            SealedField::Detached(d) => d.recipients.clone(),
        }
    }

    /// This field as JSON: `{"wb:sealed": {...}}`.
    pub fn to_json(&self) -> Value {
        match self {
            SealedField::Inline(s) => s.to_json(),
            SealedField::Detached(d) => d.to_json(),
        }
    }
}

impl Detached {
    /// Check the form: suite, record id and pointer, at least one recipient and one
    /// per organization.
    pub fn check_form(&self) -> Result<(), SealError> {
        check_place(&self.suite, &self.record, &self.field)?;
        check_recipients(self.recipients.iter().map(|r| &r.org))
    }

    /// The whole sealed field, from this and its private part: the part must be the one
    /// named (its hash) and hold wraps for exactly the recipients named.
    pub fn attach(&self, part: &PrivatePart) -> Result<Sealed, SealError> {
        if part.hash() != self.private {
            return Err(SealError::Malformed(format!(
                "the private part of record {} field {} is not the one its record names (SHA-256 {}, named {})",
                self.record,
                self.field,
                part.hash(),
                self.private
            )));
        }
        let mut named: Vec<(&OrgId, u32)> =
            self.recipients.iter().map(|r| (&r.org, r.kv)).collect();
        let mut wrapped: Vec<(&OrgId, u32)> = part.wraps.iter().map(|w| (&w.org, w.kv)).collect();
        named.sort();
        wrapped.sort();
        if named != wrapped {
            return Err(SealError::Recipients(format!(
                "the private part of record {} field {} wraps for other organizations than its record names",
                self.record, self.field
            )));
        }
        let sealed = Sealed {
            suite: self.suite.clone(),
            record: self.record.clone(),
            field: self.field.clone(),
            category: self.category,
            wraps: part.wraps.clone(),
            nonce: part.nonce.clone(),
            ct: part.ct.clone(),
            commitment: self.commitment,
        };
        sealed.check_form()?;
        Ok(sealed)
    }

    /// This field as JSON: `{"wb:sealed": {...}}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ SEALED: self })
    }

    /// Why it does not open with `keys` as it stands: not for them, or its private
    /// part is not attached.
    fn unattached(&self, keys: &[OrgSecret]) -> SealError {
        if self
            .recipients
            .iter()
            .any(|r| keys.iter().any(|k| k.org == r.org && k.kv == r.kv))
        {
            SealError::NotAttached {
                record: self.record.clone(),
                field: self.field.clone(),
            }
        } else {
            SealError::NotARecipient {
                sealed_for: self
                    .recipients
                    .iter()
                    .map(|r| format!("{} v{}", r.org, r.kv))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        }
    }
}

/// The suite, record id and pointer of a sealed field are well formed.
fn check_place(suite: &str, record: &str, field: &str) -> Result<(), SealError> {
    if suite != SUITE {
        return Err(SealError::Malformed(format!(
            "unknown suite `{suite}` (this version seals with `{SUITE}`)"
        )));
    }
    if record.is_empty()
        || field.is_empty()
        || !field.starts_with('/')
        || record.contains('\0')
        || field.contains('\0')
    {
        return Err(SealError::Malformed(
            "a sealed field stands in a record with an id (an EPCIS event's eventID) and at a JSON pointer starting with `/`, neither holding NUL".into(),
        ));
    }
    Ok(())
}

/// At least one recipient organization, each once.
fn check_recipients<'a>(orgs: impl Iterator<Item = &'a OrgId>) -> Result<(), SealError> {
    let mut seen: Vec<&OrgId> = Vec::new();
    for org in orgs {
        if seen.contains(&org) {
            return Err(SealError::Recipients(format!(
                "{org} has two wraps; a field is sealed once per organization"
            )));
        }
        seen.push(org);
    }
    if seen.is_empty() {
        return Err(SealError::Recipients(
            "a field must be sealed for at least one organization".into(),
        ));
    }
    Ok(())
}

/// Where a field is sealed: the chain, the record and the field.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// The chain id (from genesis).
    pub chain_id: &'a str,
    /// The record id.
    pub record: &'a str,
    /// The field's JSON pointer inside the record.
    pub field: &'a str,
    /// The field's data category.
    pub category: DataCategory,
}

/// A sealed field opened.
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    /// The value.
    pub value: Value,
    /// The salt of its commitment.
    pub salt: [u8; 32],
}

/// Why a field could not be sealed or opened.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The sealed object is not well formed.
    #[error("malformed sealed field: {0}")]
    Malformed(String),
    /// No wrap for any of the given organization keys.
    #[error("the field is not sealed for any key given (sealed for {sealed_for})")]
    NotARecipient {
        /// The wraps' organizations and versions, e.g. `acme v1, customs v2`.
        sealed_for: String,
    },
    /// A wrap for the key exists but does not open with it: a wrong secret, or a
    /// field (or wrap) that was changed or moved — a wrap is bound to the chain, the
    /// record and the place where the field was sealed.
    #[error("the wrap for {org} v{kv} does not open with the key given: a wrong secret, or the field was changed or moved from the record and place it was sealed at")]
    WrapDoesNotOpen {
        /// The organization.
        org: OrgId,
        /// The key version.
        kv: u32,
    },
    /// The data ciphertext does not open: it was changed, or moved to another chain,
    /// record or field.
    #[error("the sealed data does not open for chain {chain_id}, record {record}, field {field}: changed or moved")]
    DataDoesNotOpen {
        /// The chain id it was opened for.
        chain_id: String,
        /// Its record.
        record: String,
        /// Its field.
        field: String,
    },
    /// The plaintext does not match the commitment.
    #[error("the opened value does not match its commitment")]
    CommitmentMismatch,
    /// The field was sealed for no organization, or twice for one.
    #[error("{0}")]
    Recipients(String),
    /// An erasable field whose private part is not at hand (or was erased).
    #[error("record {record} field {field} is erasable: its ciphertext is kept by the recipients' nodes, not in the record (ask a node for it with GET /v1/sealed; erased data is gone)")]
    NotAttached {
        /// Its record id.
        record: String,
        /// Its pointer.
        field: String,
    },
}

/// The salt of a field's commitment, derived from its data key: HKDF-SHA256 (RFC
/// 5869) with no salt, the data key as input keying material and info
/// `waybill/seal/salt`, 32 bytes.
fn salt_of(data_key: &[u8; KEY_LEN]) -> [u8; SALT_LEN] {
    let mut salt = [0u8; SALT_LEN];
    hkdf::Hkdf::<sha2::Sha256>::new(None, data_key)
        .expand(b"waybill/seal/salt", &mut salt)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    salt
}

/// SHA-256(salt ‖ JCS(value)).
pub fn commitment(salt: &[u8; 32], value: &Value) -> Hash {
    let mut bytes = salt.to_vec();
    bytes.extend_from_slice(crate::jcs::to_string(value).as_bytes());
    crate::sha256(&bytes)
}

/// The leaf, in a block's commitment tree (the header's `commit_root`), of one
/// sealed field: record id, field pointer (each as a 4-byte big-endian length and
/// UTF-8 bytes) and the 32-byte commitment.
pub fn commitment_leaf(record: &str, field: &str, commitment: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + record.len() + field.len() + 32);
    push_part(&mut out, record.as_bytes());
    push_part(&mut out, field.as_bytes());
    out.extend_from_slice(&commitment.0);
    out
}

/// The parts of a commitment leaf ([`commitment_leaf`]): record id, field pointer,
/// commitment; `None` if `leaf` is not one.
pub fn decode_commitment_leaf(leaf: &[u8]) -> Option<(String, String, Hash)> {
    fn part(b: &[u8]) -> Option<(String, &[u8])> {
        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        let text = std::str::from_utf8(b.get(4..4usize.checked_add(len)?)?).ok()?;
        Some((text.to_owned(), &b[4 + len..]))
    }
    let (record, rest) = part(leaf)?;
    let (field, rest) = part(rest)?;
    let commitment: [u8; 32] = rest.try_into().ok()?;
    Some((record, field, Hash(commitment)))
}

fn push_part(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(&(part.len() as u32).to_be_bytes());
    out.extend_from_slice(part);
}

/// The associated data of the data ciphertext.
fn binding(place: &Place<'_>, commitment: &Hash) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    for part in [
        place.chain_id.as_bytes(),
        place.record.as_bytes(),
        place.field.as_bytes(),
        place.category.name().as_bytes(),
        &commitment.0,
    ] {
        push_part(&mut out, part);
    }
    out
}

/// The associated data of a wrap: the binding, the organization and the key version.
fn wrap_aad(binding: &[u8], org: &OrgId, kv: u32) -> Vec<u8> {
    let mut out = binding.to_vec();
    push_part(&mut out, org.as_str().as_bytes());
    out.extend_from_slice(&kv.to_be_bytes());
    out
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str, what: &str, len: Option<usize>) -> Result<Vec<u8>, SealError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| SealError::Malformed(format!("{what} is not base64: {e}")))?;
    match len {
        Some(n) if bytes.len() != n => Err(SealError::Malformed(format!(
            "{what} has {} bytes, not {n}",
            bytes.len()
        ))),
        _ => Ok(bytes),
    }
}

fn wrap_key<R: CryptoRng + RngCore>(
    binding: &[u8],
    data_key: &[u8; KEY_LEN],
    to: &Recipient,
    rng: &mut R,
) -> Result<Wrap, SealError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&to.key.0)
        .map_err(|e| SealError::Recipients(format!("the key of {} is not X25519: {e}", to.org)))?;
    let (enc, ct) = hpke::single_shot_seal::<WrapAead, Kdf, Kem, _>(
        &hpke::OpModeS::Base,
        &pk,
        WRAP_INFO,
        data_key,
        &wrap_aad(binding, &to.org, to.kv),
        rng,
    )
    .map_err(|e| SealError::Recipients(format!("sealing for {} failed: {e}", to.org)))?;
    Ok(Wrap {
        org: to.org.clone(),
        kv: to.kv,
        enc: b64(&enc.to_bytes()),
        ct: b64(&ct),
    })
}

/// Seal `value` at `place` for `recipients` (at least one; one key per organization).
pub fn seal<R: CryptoRng + RngCore>(
    place: &Place<'_>,
    value: &Value,
    recipients: &[Recipient],
    rng: &mut R,
) -> Result<Sealed, SealError> {
    if recipients.is_empty() {
        return Err(SealError::Recipients(
            "a field must be sealed for at least one organization".into(),
        ));
    }
    for (i, r) in recipients.iter().enumerate() {
        if recipients[..i].iter().any(|o| o.org == r.org) {
            return Err(SealError::Recipients(format!(
                "{} is named twice among the recipients",
                r.org
            )));
        }
    }
    if let Some(n) = inexact_number(value) {
        return Err(SealError::Malformed(format!(
            "the value holds the integer {n}, beyond 2^53: canonical JSON (RFC 8785) cannot carry it exactly; send it as a string"
        )));
    }
    let mut data_key = [0u8; KEY_LEN];
    rng.fill_bytes(&mut data_key);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let salt = salt_of(&data_key);
    let commitment = commitment(&salt, value);
    let binding = binding(place, &commitment);
    let plaintext = crate::jcs::to_string(value).into_bytes();
    let cipher = chacha20poly1305::ChaCha20Poly1305::new((&data_key).into());
    let ct = cipher
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: &plaintext,
                aad: &binding,
            },
        )
        .map_err(|_| SealError::Malformed("the value is too large to seal".into()))?;
    let wraps = recipients
        .iter()
        .map(|r| wrap_key(&binding, &data_key, r, rng))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Sealed {
        suite: SUITE.into(),
        record: place.record.into(),
        field: place.field.into(),
        category: place.category,
        wraps,
        nonce: b64(&nonce),
        ct: b64(&ct),
        commitment,
    })
}

/// An integer in `v` that a double does not hold exactly (beyond ±2^53), if any.
fn inexact_number(v: &Value) -> Option<String> {
    const EXACT: u64 = 1 << 53;
    match v {
        Value::Number(n) => {
            let beyond = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() > EXACT,
                (None, Some(u)) => u > EXACT,
                _ => false,
            };
            beyond.then(|| n.to_string())
        }
        Value::Array(items) => items.iter().find_map(inexact_number),
        Value::Object(members) => members.values().find_map(inexact_number),
        _ => None,
    }
}

impl Sealed {
    /// Where the field says it was sealed (under `chain_id`).
    pub fn place<'a>(&'a self, chain_id: &'a str) -> Place<'a> {
        Place {
            chain_id,
            record: &self.record,
            field: &self.field,
            category: self.category,
        }
    }

    /// Check the form: the suite, base64 lengths, at least one wrap and one wrap per
    /// organization. Says nothing about whether anything opens.
    pub fn check_form(&self) -> Result<(), SealError> {
        check_place(&self.suite, &self.record, &self.field)?;
        unb64(&self.nonce, "the nonce", Some(NONCE_LEN))?;
        let ct = unb64(&self.ct, "the ciphertext", None)?;
        if ct.len() < TAG_LEN + 1 {
            return Err(SealError::Malformed(format!(
                "the ciphertext has {} bytes, fewer than a value and a tag",
                ct.len()
            )));
        }
        check_recipients(self.wraps.iter().map(|w| &w.org))?;
        for w in &self.wraps {
            unb64(&w.enc, "a wrap's encapsulated key", Some(32))?;
            unb64(&w.ct, "a wrap's ciphertext", Some(KEY_LEN + TAG_LEN))?;
        }
        Ok(())
    }

    /// Split into its detached form and private part (an erasable field: the record
    /// keeps the first, the recipients' nodes the second).
    pub fn detach(self) -> (Detached, PrivatePart) {
        let part = PrivatePart {
            wraps: self.wraps,
            nonce: self.nonce,
            ct: self.ct,
        };
        let mut recipients: Vec<KeyRef> = part
            .wraps
            .iter()
            .map(|w| KeyRef {
                org: w.org.clone(),
                kv: w.kv,
            })
            .collect();
        recipients.sort();
        let detached = Detached {
            suite: self.suite,
            record: self.record,
            field: self.field,
            category: self.category,
            recipients,
            private: part.hash(),
            commitment: self.commitment,
        };
        (detached, part)
    }

    fn sealed_for(&self) -> String {
        self.wraps
            .iter()
            .map(|w| format!("{} v{}", w.org, w.kv))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The data key, from the first wrap one of `keys` opens.
    fn data_key(&self, binding: &[u8], keys: &[OrgSecret]) -> Result<[u8; KEY_LEN], SealError> {
        let Some((wrap, key)) = self.wraps.iter().find_map(|w| {
            keys.iter()
                .find(|k| k.org == w.org && k.kv == w.kv)
                .map(|k| (w, k))
        }) else {
            return Err(SealError::NotARecipient {
                sealed_for: self.sealed_for(),
            });
        };
        let fail = || SealError::WrapDoesNotOpen {
            org: wrap.org.clone(),
            kv: wrap.kv,
        };
        let enc = unb64(&wrap.enc, "a wrap's encapsulated key", Some(32))?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc).map_err(|_| fail())?;
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&key.secret.0).map_err(|_| fail())?;
        let ct = unb64(&wrap.ct, "a wrap's ciphertext", Some(KEY_LEN + TAG_LEN))?;
        let key = hpke::single_shot_open::<WrapAead, Kdf, Kem>(
            &hpke::OpModeR::Base,
            &sk,
            &enc,
            WRAP_INFO,
            &ct,
            &wrap_aad(binding, &wrap.org, wrap.kv),
        )
        .map_err(|_| fail())?;
        key.try_into().map_err(|_| fail())
    }

    /// Open the field with any of `keys` (an organization's secrets, current and old).
    pub fn open(&self, chain_id: &str, keys: &[OrgSecret]) -> Result<Opened, SealError> {
        self.open_with_key(chain_id, keys).map(|(opened, _)| opened)
    }

    /// [`Sealed::open`], with the data key it unwrapped.
    fn open_with_key(
        &self,
        chain_id: &str,
        keys: &[OrgSecret],
    ) -> Result<(Opened, [u8; KEY_LEN]), SealError> {
        self.check_form()?;
        let binding = binding(&self.place(chain_id), &self.commitment);
        let data_key = self.data_key(&binding, keys)?;
        let nonce = unb64(&self.nonce, "the nonce", Some(NONCE_LEN))?;
        let ct = unb64(&self.ct, "the ciphertext", None)?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new((&data_key).into());
        let plaintext = cipher
            .decrypt(
                nonce.as_slice().into(),
                Payload {
                    msg: &ct,
                    aad: &binding,
                },
            )
            .map_err(|_| SealError::DataDoesNotOpen {
                chain_id: chain_id.into(),
                record: self.record.clone(),
                field: self.field.clone(),
            })?;
        let salt = salt_of(&data_key);
        let mut committed = salt.to_vec();
        committed.extend_from_slice(&plaintext);
        if crate::sha256(&committed) != self.commitment {
            return Err(SealError::CommitmentMismatch);
        }
        let json = plaintext.as_slice();
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| SealError::Malformed(format!("the opened value is not JSON: {e}")))?;
        if crate::jcs::to_string(&value).as_bytes() != json {
            return Err(SealError::Malformed(
                "the opened value is not in canonical (RFC 8785) form".into(),
            ));
        }
        let opened = Opened { value, salt };
        Ok((opened, data_key))
    }

    /// A wrap of this field's data key for `to`, made by a holder of `keys` (a
    /// recipient adding a newcomer, e.g. the carrier assigned after an order).
    pub fn rewrap<R: CryptoRng + RngCore>(
        &self,
        chain_id: &str,
        keys: &[OrgSecret],
        to: &Recipient,
        rng: &mut R,
    ) -> Result<Wrap, SealError> {
        // Open it whole first (one unwrap): a wrap is only added for data that opens.
        let (_, data_key) = self.open_with_key(chain_id, keys)?;
        let binding = binding(&self.place(chain_id), &self.commitment);
        wrap_key(&binding, &data_key, to, rng)
    }

    /// This field as JSON: `{"wb:sealed": {...}}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({ SEALED: self })
    }

    /// The whole sealed field `v` holds, if it is one (`None` if `v` is not an object
    /// whose only member is [`SEALED`]), standing in record `record` at `field`; a
    /// detached one is [`SealError::NotAttached`].
    pub fn from_json(v: &Value, record: &str, field: &str) -> Option<Result<Sealed, SealError>> {
        SealedField::from_json(v, record, field).map(|f| f.and_then(SealedField::whole))
    }
}

/// The object under [`SEALED`] if `v` is a sealed field (`None` if `v` is not an
/// object with that member; an error if it has others beside it).
fn sealed_member(v: &Value) -> Option<Result<&Value, SealError>> {
    let obj = v.as_object()?;
    let inner = obj.get(SEALED)?;
    if obj.len() != 1 {
        return Some(Err(SealError::Malformed(format!(
            "an object with `{SEALED}` has no other member"
        ))));
    }
    Some(Ok(inner))
}

/// A sealed field's object read into `T`. Its record id and pointer are not members
/// (format 2): where it stands says them. A field in format 1 (with `record` and
/// `field` members) is refused saying so.
fn from_member<T: serde::de::DeserializeOwned>(inner: &Value) -> Result<T, SealError> {
    if inner.get("record").is_some() || inner.get("field").is_some() {
        return Err(SealError::Malformed(
            "`record` and `field` are not members of a sealed field (format 1 had them): its record is the event it stands in and its pointer where it stands there; seal it again with this version".into(),
        ));
    }
    T::deserialize(inner).map_err(|e| SealError::Malformed(e.to_string()))
}

/// Check that `value` and `salt` are what `commitment` commits to.
pub fn matches_commitment(commitment_: &Hash, value: &Value, salt: &[u8; 32]) -> bool {
    commitment(salt, value) == *commitment_
}

/// Replace the value at `pointer` inside `record` (RFC 6901) with it sealed.
pub fn seal_at<R: CryptoRng + RngCore>(
    record: &mut Value,
    place: &Place<'_>,
    recipients: &[Recipient],
    rng: &mut R,
) -> Result<(), SealError> {
    let slot = record.pointer_mut(place.field).ok_or_else(|| {
        SealError::Malformed(format!("the record has no field at `{}`", place.field))
    })?;
    if sealed_member(slot).is_some() {
        return Err(SealError::Malformed(format!(
            "the field at `{}` is already sealed",
            place.field
        )));
    }
    let sealed = seal(place, slot, recipients, rng)?;
    *slot = sealed.to_json();
    Ok(())
}

/// Every sealed field inside `record` (whole or detached), whose id is `record_id`,
/// with the JSON pointer (RFC 6901) where it stands relative to `record`, in document
/// order; a malformed one with why.
pub fn sealed_fields(
    record: &Value,
    record_id: &str,
) -> Vec<(String, Result<SealedField, SealError>)> {
    fn go(
        v: &Value,
        record_id: &str,
        at: &mut String,
        out: &mut Vec<(String, Result<SealedField, SealError>)>,
    ) {
        if let Some(found) = SealedField::from_json(v, record_id, at) {
            out.push((at.clone(), found));
            return;
        }
        let len = at.len();
        match v {
            Value::Object(members) => {
                for (name, member) in members {
                    at.push('/');
                    at.push_str(&escape_token(name));
                    go(member, record_id, at, out);
                    at.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push('/');
                    at.push_str(&i.to_string());
                    go(item, record_id, at, out);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(record, record_id, &mut String::new(), &mut out);
    out
}

/// Every sealed field anywhere in `doc` (a document, a list of events, one event),
/// with the JSON pointer where it stands in `doc`, in document order; a malformed one
/// with why. A field's record is the innermost enclosing object with an `eventID`
/// (as [`open_all`] reads it); a field in no such object is malformed.
pub fn sealed_fields_in(doc: &Value) -> Vec<(String, Result<SealedField, SealError>)> {
    fn go(
        v: &Value,
        path: &mut Vec<String>,
        record: Option<(usize, &str)>,
        out: &mut Vec<(String, Result<SealedField, SealError>)>,
    ) {
        if sealed_member(v).is_some() {
            out.push((pointer(path), field_at(v, path, record)));
            return;
        }
        match v {
            Value::Object(members) => {
                // A record: an EPCIS event (its eventID), or an order as the API shows
                // it (its `urn`, `urn:waybill:order:…`).
                let id = members.get("eventID").and_then(Value::as_str).or_else(|| {
                    members
                        .get("urn")
                        .and_then(Value::as_str)
                        .filter(|u| u.starts_with("urn:waybill:order:"))
                });
                let record = match id {
                    Some(id) => Some((path.len(), id)),
                    None => record,
                };
                for (name, member) in members {
                    path.push(name.clone());
                    go(member, path, record, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    go(item, path, record, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(doc, &mut Vec::new(), None, &mut out);
    out
}

/// The sealed field `v`, standing at `path` inside the record found at
/// `record` = (depth of the record's object in `path`, its id).
fn field_at(
    v: &Value,
    path: &[String],
    record: Option<(usize, &str)>,
) -> Result<SealedField, SealError> {
    match record {
        Some((depth, id)) => SealedField::from_json(v, id, &pointer(&path[depth..]))
            .unwrap_or_else(|| Err(SealError::Malformed("not a sealed field".into()))),
        None => Err(SealError::Malformed(
            "a sealed field in no object with an `eventID`: its record cannot be told".into(),
        )),
    }
}

/// What [`open_all`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Fields opened and replaced by their values.
    pub opened: usize,
    /// Fields left sealed because no key given is a recipient.
    pub not_for_us: usize,
    /// Fields that should have opened and did not, with why (left sealed).
    pub failed: Vec<(String, SealError)>,
}

/// Open, in place, every sealed field of `doc` that one of `keys` can open. A field's
/// record is the innermost enclosing object with an `eventID` (an EPCIS event) or an
/// order's `urn` (`urn:waybill:order:…`, an order as the API shows it), and its
/// pointer runs from there: a field moved elsewhere does not open, because the
/// associated data binds both. A sealed field in no such object is reported failed.
pub fn open_all(doc: &mut Value, chain_id: &str, keys: &[OrgSecret]) -> OpenReport {
    let mut report = OpenReport::default();
    for (at, found) in sealed_fields_in(doc) {
        let result = found.and_then(|f| match f {
            SealedField::Inline(s) => s.open(chain_id, keys),
            SealedField::Detached(d) => Err(d.unattached(keys)),
        });
        match result {
            Ok(opened) => {
                if let Some(slot) = doc.pointer_mut(&at) {
                    *slot = opened.value;
                }
                report.opened += 1;
            }
            Err(SealError::NotARecipient { .. }) => report.not_for_us += 1,
            Err(e) => report.failed.push((at, e)),
        }
    }
    report
}

fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

/// JSON pointer of `path`'s tokens.
fn pointer(path: &[String]) -> String {
    path.iter().fold(String::new(), |mut out, t| {
        out.push('/');
        out.push_str(&escape_token(t));
        out
    })
}

#[cfg(test)]
mod tests;
