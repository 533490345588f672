//! The layout of state keys. Each key starts with a one-byte table tag, so a table is
//! a key range and listing a table is a range scan.

use waybill_types::gs1::Gtin;
use waybill_types::{OrgId, PublicKey};

/// Organization records: `ORG ‖ org id`.
pub const ORG: u8 = 0x01;
/// Member records: `MEMBER ‖ public key`.
pub const MEMBER: u8 = 0x02;
/// Last sequence number used by a signer: `SEQ ‖ public key` → u64 (little endian).
pub const SEQ: u8 = 0x03;
/// Product records: `PRODUCT ‖ GTIN-14`.
pub const PRODUCT: u8 = 0x04;
/// Lot records: `LOT ‖ GTIN-14 ‖ lot`.
pub const LOT: u8 = 0x05;
/// Membership index: `ORG_MEMBER ‖ org id ‖ 0x00 ‖ public key` → empty.
pub const ORG_MEMBER: u8 = 0x06;
/// Chain-wide records: `META ‖ name`.
pub const META: u8 = 0x07;
/// Governance proposals: `GOV_PROPOSAL ‖ id (u64 big endian)`.
pub const GOV_PROPOSAL: u8 = 0x08;
/// Validator sets: `VALIDATOR_SET ‖ effective height (u64 big endian)`.
pub const VALIDATOR_SET: u8 = 0x09;

/// Key of an organization.
pub fn org(id: &OrgId) -> Vec<u8> {
    [&[ORG][..], id.as_str().as_bytes()].concat()
}
/// Key of a member.
pub fn member(key: &PublicKey) -> Vec<u8> {
    [&[MEMBER][..], &key.0[..]].concat()
}
/// Key of a signer's last sequence number.
pub fn seq(key: &PublicKey) -> Vec<u8> {
    [&[SEQ][..], &key.0[..]].concat()
}
/// Key of a product.
pub fn product(gtin: &Gtin) -> Vec<u8> {
    [&[PRODUCT][..], gtin.as_str().as_bytes()].concat()
}
/// Prefix of all lots of a product.
pub fn lots_of(gtin: &Gtin) -> Vec<u8> {
    [&[LOT][..], gtin.as_str().as_bytes()].concat()
}
/// Key of a lot.
pub fn lot(gtin: &Gtin, lot: &str) -> Vec<u8> {
    [lots_of(gtin).as_slice(), lot.as_bytes()].concat()
}
/// Prefix of an organization's membership index.
pub fn org_members(id: &OrgId) -> Vec<u8> {
    [&[ORG_MEMBER][..], id.as_str().as_bytes(), &[0]].concat()
}
/// Membership index entry.
pub fn org_member(id: &OrgId, key: &PublicKey) -> Vec<u8> {
    [org_members(id).as_slice(), &key.0[..]].concat()
}
/// The genesis hash, stored at genesis.
pub fn genesis_hash() -> Vec<u8> {
    [&[META][..], b"genesis_hash"].concat()
}
