//! The layout of state keys. Each key starts with a one-byte table tag, so a table is
//! a key range and listing a table is a range scan.

use waybill_gs1::Gtin;
use waybill_types::{OrgId, PublicKey};

/// Organization records: `ORG ‖ org id`.
pub const ORG: u8 = 0x01;
/// Member records: `MEMBER ‖ public key`.
pub const MEMBER: u8 = 0x02;
/// Replay ids of transactions not yet expired:
/// `REPLAY ‖ expires_at_ms (u64 BE) ‖ replay id (32)` → empty. Keyed by expiry first,
/// so the expired ones are a prefix range, removed at the start of each block.
pub const REPLAY: u8 = 0x03;
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
/// Key of a transaction's replay id.
pub fn replay(expires_at_ms: u64, replay_id: &waybill_types::Hash) -> Vec<u8> {
    [
        &[REPLAY][..],
        &expires_at_ms.to_be_bytes()[..],
        &replay_id.0[..],
    ]
    .concat()
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

/// Locations: `LOCATION ‖ GLN-13`.
pub const LOCATION: u8 = 0x0A;
/// Location delegations: `LOCATION_DELEGATE ‖ GLN-13 ‖ org id` → empty.
pub const LOCATION_DELEGATE: u8 = 0x0B;
/// Qualifications: `QUALIFICATION ‖ org id ‖ 0x00 ‖ number`.
pub const QUALIFICATION: u8 = 0x0C;
/// Qualification requirements per product category: `REQUIREMENT ‖ category`.
pub const REQUIREMENT: u8 = 0x0D;
/// Read grants: `READ_GRANT ‖ owner org ‖ 0x00 ‖ grantee org ‖ 0x00 ‖ category`.
pub const READ_GRANT: u8 = 0x0E;
/// EPCIS events in capture order: `EVENT ‖ seq (u64 big endian)`.
pub const EVENT: u8 = 0x10;
/// Event Hash ID → seq: `EVENT_HASH ‖ digest (32) [‖ b'E' for error declarations]`.
pub const EVENT_HASH: u8 = 0x11;
/// eventID → seqs of the events with it: `EVENT_ID ‖ eventID` → Vec<u64>.
pub const EVENT_ID: u8 = 0x12;
/// Identifier → events (a derived index, not state): `EPC_EVENT ‖ canonical id ‖ 0x00 ‖
/// height` → the block's events naming it, each `seq (u64 BE) ‖ role byte`.
pub const EPC_EVENT: u8 = 0x13;
/// Captures: `CAPTURE ‖ tx id`.
pub const CAPTURE: u8 = 0x14;
/// Audit trail (a derived index, not state): `AUDIT ‖ subject kind ‖ subject ‖ 0x00 ‖
/// height` → the indexes of the block's transactions on the subject's trail.
pub const AUDIT: u8 = 0x15;

/// Key of a location.
pub fn location(gln: &waybill_gs1::Gln) -> Vec<u8> {
    [&[LOCATION][..], gln.as_str().as_bytes()].concat()
}
/// Key of a location delegation.
pub fn location_delegate(gln: &waybill_gs1::Gln, org: &OrgId) -> Vec<u8> {
    [
        &[LOCATION_DELEGATE][..],
        gln.as_str().as_bytes(),
        org.as_str().as_bytes(),
    ]
    .concat()
}
/// Prefix of an organization's qualifications.
pub fn qualifications_of(org: &OrgId) -> Vec<u8> {
    [&[QUALIFICATION][..], org.as_str().as_bytes(), &[0]].concat()
}
/// Key of a qualification.
pub fn qualification(org: &OrgId, number: &str) -> Vec<u8> {
    [qualifications_of(org).as_slice(), number.as_bytes()].concat()
}
/// Qualification numbers of a kind: `QUAL_KIND ‖ org id ‖ 0x00 ‖ kind` → numbers.
pub const QUAL_KIND: u8 = 0x16;
/// Key of an organization's qualification numbers of one kind.
pub fn qualification_kind(org: &OrgId, kind: &str) -> Vec<u8> {
    [
        &[QUAL_KIND][..],
        org.as_str().as_bytes(),
        &[0],
        kind.as_bytes(),
    ]
    .concat()
}
/// Key of a product category's requirement.
pub fn requirement(category: &str) -> Vec<u8> {
    [&[REQUIREMENT][..], category.as_bytes()].concat()
}
/// Key of a read grant.
pub fn read_grant(
    owner: &OrgId,
    grantee: &OrgId,
    category: waybill_types::DataCategory,
) -> Vec<u8> {
    [
        &[READ_GRANT][..],
        owner.as_str().as_bytes(),
        &[0],
        grantee.as_str().as_bytes(),
        &[0, category as u8],
    ]
    .concat()
}
/// Key of an event.
pub fn event(seq: u64) -> Vec<u8> {
    [&[EVENT][..], &seq.to_be_bytes()[..]].concat()
}
/// Key of an Event Hash ID.
pub fn event_hash(digest: &[u8; 32], error_declaration: bool) -> Vec<u8> {
    let mut k = [&[EVENT_HASH][..], &digest[..]].concat();
    if error_declaration {
        k.push(b'E');
    }
    k
}
/// Key of the list of events with an eventID.
pub fn event_id(event_id: &str) -> Vec<u8> {
    [&[EVENT_ID][..], event_id.as_bytes()].concat()
}
/// Prefix of the events naming an identifier.
pub fn events_of(canonical_id: &str) -> Vec<u8> {
    [&[EPC_EVENT][..], canonical_id.as_bytes(), &[0]].concat()
}
/// Key of a capture.
pub fn capture(tx_id: &waybill_types::TxId) -> Vec<u8> {
    [&[CAPTURE][..], &tx_id.0[..]].concat()
}
/// Prefix of an audit subject's entries. Kinds: b'm' member, b'o' org, b'p' product.
pub fn audit_of(kind: u8, subject: &[u8]) -> Vec<u8> {
    [&[AUDIT, kind][..], subject, &[0]].concat()
}
/// Chain-wide counters and lists: `META ‖ name`.
pub fn meta(name: &str) -> Vec<u8> {
    [&[META][..], name.as_bytes()].concat()
}

/// Open-tier records: `OPEN ‖ height (u64 BE) ‖ index (u32 BE)` → record bytes. The
/// header's `open_root` is the RFC 6962 root over a block's records in key order.
pub const OPEN: u8 = 0x17;
/// Identifier → open-tier records (a derived index, not state):
/// `OPEN_BY_ID ‖ canonical id ‖ 0x00 ‖ height` → the indexes of the block's records
/// naming it.
pub const OPEN_BY_ID: u8 = 0x18;

/// Prefix of one block's open-tier records.
pub fn open_at(height: u64) -> Vec<u8> {
    [&[OPEN][..], &height.to_be_bytes()[..]].concat()
}
/// Key of an open-tier record.
pub fn open(height: u64, index: u32) -> Vec<u8> {
    [open_at(height).as_slice(), &index.to_be_bytes()[..]].concat()
}
/// Prefix of the open-tier records naming an identifier.
pub fn open_of(canonical_id: &str) -> Vec<u8> {
    [&[OPEN_BY_ID][..], canonical_id.as_bytes(), &[0]].concat()
}

/// Subject heads: `HEAD ‖ subject id` → the subject's latest open-tier record,
/// `height (u64 BE) ‖ index (u32 BE) ‖ leaf hash (32)`.
pub const HEAD: u8 = 0x19;
/// Nodes of the sparse Merkle tree over subject heads (`waybill_types::smt`):
/// `SMT ‖ depth (u16 BE) ‖ path (32)` → node (65 bytes). Its root is the header's
/// `heads_root`.
pub const SMT: u8 = 0x1A;
/// An organization's encryption keys (sealed fields): `SEAL_KEY ‖ org ‖ 0x00 ‖
/// version (u32 BE)` → the key record; `SEAL_KEY ‖ org ‖ 0x00` alone → the current
/// version (u32 BE). Organization ids never hold 0x00, so one organization's rows
/// never run into another's.
pub const SEAL_KEY: u8 = 0x1B;

/// Key of an organization's current encryption key version.
pub fn seal_key_current(org: &OrgId) -> Vec<u8> {
    let mut k = vec![SEAL_KEY];
    k.extend_from_slice(org.as_str().as_bytes());
    k.push(0);
    k
}

/// Key of one version of an organization's encryption key.
pub fn seal_key(org: &OrgId, version: u32) -> Vec<u8> {
    let mut k = seal_key_current(org);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Parties (`crate::parties`): `PARTY ‖ canonical identifier` → the organizations
/// that are parties to it (sorted). Canonical identifiers never hold 0x00.
pub const PARTY: u8 = 0x1C;

/// Key of an identifier's parties.
pub fn parties(subject: &str) -> Vec<u8> {
    [&[PARTY][..], subject.as_bytes()].concat()
}

/// What a container holds now (`crate::parties`): `CONTENTS ‖ parent identifier` →
/// its children (sorted), as aggregation events by its parties added and removed them.
pub const CONTENTS: u8 = 0x1F;

/// Key of a container's contents.
pub fn contents(parent: &str) -> Vec<u8> {
    [&[CONTENTS][..], parent.as_bytes()].concat()
}

/// Wraps added to a sealed field after capture (`crate::trace::wraps`):
/// `SEAL_WRAP ‖ record ‖ 0x00 ‖ field ‖ 0x00 ‖ org` → the added wrap.
pub const SEAL_WRAP: u8 = 0x1D;
/// Complaints of wraps that do not open:
/// `SEAL_COMPLAINT ‖ record ‖ 0x00 ‖ field ‖ 0x00 ‖ org` → the complaint.
pub const SEAL_COMPLAINT: u8 = 0x1E;

fn sealed_field_key(table: u8, record: &str, field: &str, org: Option<&OrgId>) -> Vec<u8> {
    let mut k = vec![table];
    k.extend_from_slice(record.as_bytes());
    k.push(0);
    k.extend_from_slice(field.as_bytes());
    k.push(0);
    if let Some(o) = org {
        k.extend_from_slice(o.as_str().as_bytes());
    }
    k
}

/// Key of a wrap added for `org` (with `None`: the prefix of the field's added
/// wraps). Record ids and pointers hold no NUL (the payloads refuse it).
pub fn seal_wrap(record: &str, field: &str, org: Option<&OrgId>) -> Vec<u8> {
    sealed_field_key(SEAL_WRAP, record, field, org)
}

/// Key of `org`'s complaint about its wrap (with `None`: the field's prefix).
pub fn seal_complaint(record: &str, field: &str, org: Option<&OrgId>) -> Vec<u8> {
    sealed_field_key(SEAL_COMPLAINT, record, field, org)
}

/// Key of a subject's head.
pub fn head(subject: &str) -> Vec<u8> {
    [&[HEAD][..], subject.as_bytes()].concat()
}
/// Key of a sparse-Merkle-tree node.
pub fn smt_node(depth: usize, path: &[u8; 32]) -> Vec<u8> {
    let depth = u16::try_from(depth).expect("a tree position is at most 256 deep");
    [&[SMT][..], &depth.to_be_bytes()[..], &path[..]].concat()
}

/// Whether `key` belongs to a derived index (`crate::index`: the audit trail, the
/// open-tier identifier index, the identifier → events index) rather than to the
/// hashed state.
pub fn is_derived(key: &[u8]) -> bool {
    matches!(
        key.first(),
        Some(&AUDIT) | Some(&OPEN_BY_ID) | Some(&EPC_EVENT)
    )
}

/// The derived index row of `prefix` (a subject's [`audit_of`] or [`open_of`]) for
/// block `height`: `prefix ‖ height (u64 BE)`.
pub fn index_row(prefix: &[u8], height: u64) -> Vec<u8> {
    [prefix, &height.to_be_bytes()[..]].concat()
}

/// The commitment tree of sealed fields (`crate::commitments`):
/// `COMMIT ‖ height (u64 BE) ‖ index (u32 BE)` → the leaf. The header's `commit_root`
/// is the RFC 6962 root over a block's leaves in key order.
pub const COMMIT: u8 = 0x20;
/// Where a sealed field's commitment is: `COMMIT_OF ‖ record ‖ 0x00 ‖ field` →
/// (height, index).
pub const COMMIT_OF: u8 = 0x21;

/// Prefix of one block's commitment leaves.
pub fn commit_at(height: u64) -> Vec<u8> {
    [&[COMMIT][..], &height.to_be_bytes()[..]].concat()
}
/// Key of a commitment leaf.
pub fn commit(height: u64, index: u32) -> Vec<u8> {
    [commit_at(height).as_slice(), &index.to_be_bytes()[..]].concat()
}
/// Key of a sealed field's commitment position.
pub fn commit_of(record: &str, field: &str) -> Vec<u8> {
    sealed_field_key(COMMIT_OF, record, field, None)
}

/// An erasable sealed field's erasure: `SEAL_ERASED ‖ record ‖ 0x00 ‖ field ‖ 0x00` →
/// `trace::erasure::Erasure`.
pub const SEAL_ERASED: u8 = 0x22;
/// A node's purge of an erased field: `SEAL_PURGED ‖ record ‖ 0x00 ‖ field ‖ 0x00 ‖
/// validator key (32 bytes)` → `trace::erasure::Purge`.
pub const SEAL_PURGED: u8 = 0x23;

/// Key of a field's erasure.
pub fn seal_erased(record: &str, field: &str) -> Vec<u8> {
    sealed_field_key(SEAL_ERASED, record, field, None)
}
/// Key of a node's purge of a field (with `None`: the prefix of the field's purges).
pub fn seal_purged(record: &str, field: &str, validator: Option<&PublicKey>) -> Vec<u8> {
    let mut k = sealed_field_key(SEAL_PURGED, record, field, None);
    if let Some(v) = validator {
        k.extend_from_slice(&v.0);
    }
    k
}

/// An account row (`crate::money::Account`): `ACCOUNT ‖ owner ‖ currency (3) ‖ name`,
/// where the owner is `0x00 ‖ len (1) ‖ organization id` or `0x01 ‖ public key (32)`,
/// so one owner's accounts share a prefix ([`accounts_of_org`]).
pub const ACCOUNT: u8 = 0x24;
/// A transfer row (`crate::money::TransferRecord`): `TRANSFER ‖ signer (32) ‖ client
/// id`; client ids are scoped per signer.
pub const TRANSFER: u8 = 0x25;
/// A pending transfer's deadline: `PENDING_EXPIRY ‖ expires_at_ms (u64 BE) ‖ signer
/// (32) ‖ client id` → empty; in deadline order, removed when the block at or after
/// the deadline has looked at it.
pub const PENDING_EXPIRY: u8 = 0x26;
/// A currency's sums over every account row: `MONEY_TOTALS ‖ code (3)`.
pub const MONEY_TOTALS: u8 = 0x27;

/// The key prefix of an organization's accounts.
pub fn accounts_of_org(org: &OrgId) -> Vec<u8> {
    let o = org.as_str().as_bytes();
    let len = u8::try_from(o.len()).expect("an organization id is at most 40 bytes");
    [&[ACCOUNT, 0x00, len][..], o].concat()
}
/// Key of an account row.
pub fn account(id: &waybill_types::money::AccountId) -> Vec<u8> {
    use waybill_types::money::AccountOwner;
    let mut k = match &id.owner {
        AccountOwner::Org(o) => accounts_of_org(o),
        AccountOwner::Key(pk) => [&[ACCOUNT, 0x01][..], &pk.0].concat(),
    };
    k.extend_from_slice(id.currency.code().as_bytes());
    k.extend_from_slice(id.name.as_bytes());
    k
}
/// Key of a transfer row.
pub fn transfer(signer: &PublicKey, id: &str) -> Vec<u8> {
    [&[TRANSFER][..], &signer.0, id.as_bytes()].concat()
}
/// Key of a pending transfer's deadline.
pub fn pending_expiry(
    expires_at_ms: u64,
    r: &waybill_types::payload::money::TransferRef,
) -> Vec<u8> {
    [
        &[PENDING_EXPIRY][..],
        &expires_at_ms.to_be_bytes(),
        &r.signer.0,
        r.id.as_bytes(),
    ]
    .concat()
}
/// Key of a currency's totals row.
pub fn money_totals(currency: &waybill_types::money::Currency) -> Vec<u8> {
    [&[MONEY_TOTALS][..], currency.code().as_bytes()].concat()
}
/// A payment provider's exchange rate (`crate::fx::FxRate`): `FX_RATE ‖ len (1) ‖
/// provider organization ‖ rate id`.
pub const FX_RATE: u8 = 0x28;

/// Key of an exchange rate.
pub fn fx_rate(provider: &OrgId, id: &str) -> Vec<u8> {
    let o = provider.as_str().as_bytes();
    let len = u8::try_from(o.len()).expect("an organization id is at most 40 bytes");
    [&[FX_RATE, len][..], o, id.as_bytes()].concat()
}
/// A payment provider's reference, booked once: `PROVIDER_REF ‖ len (1) ‖ provider
/// organization ‖ reference` → the transfer (`TransferRef`) that booked it.
pub const PROVIDER_REF: u8 = 0x29;

/// The key prefix of a provider's references.
pub fn provider_references(provider: &OrgId) -> Vec<u8> {
    let o = provider.as_str().as_bytes();
    let len = u8::try_from(o.len()).expect("an organization id is at most 40 bytes");
    [&[PROVIDER_REF, len][..], o].concat()
}
/// Key of a provider's reference.
pub fn provider_reference(provider: &OrgId, reference: &str) -> Vec<u8> {
    [
        provider_references(provider).as_slice(),
        reference.as_bytes(),
    ]
    .concat()
}
/// A lot's status (`crate::lot_status::LotStatusRecord`): `LOT_STATUS ‖ GTIN (14) ‖ lot`;
/// absent: released.
pub const LOT_STATUS: u8 = 0x2A;

/// Key of a lot's status.
pub fn lot_status(gtin: &Gtin, lot: &str) -> Vec<u8> {
    [&[LOT_STATUS][..], gtin.as_str().as_bytes(), lot.as_bytes()].concat()
}

/// An organization id with its length in front (`len (1) ‖ id`), so one
/// organization's rows are a prefix no other organization's id extends.
fn org_part(org: &OrgId) -> Vec<u8> {
    let o = org.as_str().as_bytes();
    let len = u8::try_from(o.len()).expect("an organization id is at most 40 bytes");
    [&[len][..], o].concat()
}

/// A listing (`crate::orders::Listing`): `LISTING ‖ GTIN (14) ‖ seller (len ‖ id) ‖
/// platform id (empty for direct trade)`.
pub const LISTING: u8 = 0x2B;
/// An order (`crate::orders::Order`): `ORDER ‖ buyer key (32) ‖ order id`.
pub const ORDER: u8 = 0x2C;
/// The orders an organization is a party to (seller, platform, carrier, the buyer's
/// organization): `ORDER_OF ‖ org (len ‖ id) ‖ buyer key (32) ‖ order id` → empty.
pub const ORDER_OF: u8 = 0x2D;
/// An order's next deadline: `ORDER_DEADLINE ‖ at_ms (u64 BE) ‖ buyer key (32) ‖ order
/// id` → empty; in deadline order, acted on at the start of the first block at or
/// after it.
pub const ORDER_DEADLINE: u8 = 0x2E;
/// Stock of a product at a location (`crate::inventory::Stock`): `STOCK ‖ GLN (13) ‖
/// GTIN (14)`.
pub const STOCK: u8 = 0x2F;
/// How many orders used a coupon: `COUPON_USES ‖ seller (len ‖ id) ‖ platform (len ‖
/// id, len 0 for none) ‖ code` → u32.
pub const COUPON_USES: u8 = 0x30;
/// An alert for an organization (`crate::inventory::Alert`): `ALERT ‖ org (len ‖ id) ‖
/// height (u64 BE) ‖ kind (1) ‖ subject`.
pub const ALERT: u8 = 0x31;

/// The key prefix of a product's listings.
pub fn listings_of(gtin: &Gtin) -> Vec<u8> {
    [&[LISTING][..], gtin.as_str().as_bytes()].concat()
}
/// Key of a listing.
pub fn listing(gtin: &Gtin, seller: &OrgId, platform: Option<&OrgId>) -> Vec<u8> {
    [
        listings_of(gtin).as_slice(),
        &org_part(seller),
        platform.map_or(&b""[..], |p| p.as_str().as_bytes()),
    ]
    .concat()
}
/// Key of an order.
pub fn order(buyer: &PublicKey, id: &str) -> Vec<u8> {
    [&[ORDER][..], &buyer.0, id.as_bytes()].concat()
}
/// The key prefix of an organization's orders.
pub fn orders_of(org: &OrgId) -> Vec<u8> {
    [&[ORDER_OF][..], &org_part(org)].concat()
}
/// Key of an organization's order index entry.
pub fn order_of(org: &OrgId, buyer: &PublicKey, id: &str) -> Vec<u8> {
    [orders_of(org).as_slice(), &buyer.0, id.as_bytes()].concat()
}
/// Key of an order's deadline.
pub fn order_deadline(at_ms: u64, buyer: &PublicKey, id: &str) -> Vec<u8> {
    [
        &[ORDER_DEADLINE][..],
        &at_ms.to_be_bytes(),
        &buyer.0,
        id.as_bytes(),
    ]
    .concat()
}
/// The key prefix of a location's stock rows.
pub fn stock_at(gln: &waybill_gs1::Gln) -> Vec<u8> {
    [&[STOCK][..], gln.as_str().as_bytes()].concat()
}
/// Key of the stock of a product at a location.
pub fn stock(gln: &waybill_gs1::Gln, gtin: &Gtin) -> Vec<u8> {
    [stock_at(gln).as_slice(), gtin.as_str().as_bytes()].concat()
}
/// Key of a coupon's use count.
pub fn coupon_uses(seller: &OrgId, platform: Option<&OrgId>, code: &str) -> Vec<u8> {
    let platform = platform.map_or(vec![0], org_part);
    [
        &[COUPON_USES][..],
        &org_part(seller),
        &platform,
        code.as_bytes(),
    ]
    .concat()
}
/// The key prefix of an organization's alerts.
pub fn alerts_of(org: &OrgId) -> Vec<u8> {
    [&[ALERT][..], &org_part(org)].concat()
}
/// Key of an alert.
pub fn alert(org: &OrgId, height: u64, kind: u8, subject: &[u8]) -> Vec<u8> {
    [
        alerts_of(org).as_slice(),
        &height.to_be_bytes(),
        &[kind],
        subject,
    ]
    .concat()
}
/// A review (`crate::reviews::Review`): `REVIEW ‖ review key (32) ‖ GTIN (14)`.
pub const REVIEW: u8 = 0x32;
/// A product's review count and rating sum: `PRODUCT_REVIEWS ‖ GTIN (14)` → (u64, u64).
pub const PRODUCT_REVIEWS: u8 = 0x33;

/// Key of a review.
pub fn review(review_key: &PublicKey, gtin: &Gtin) -> Vec<u8> {
    [&[REVIEW][..], &review_key.0, gtin.as_str().as_bytes()].concat()
}
/// Key of a product's review totals.
pub fn product_reviews(gtin: &Gtin) -> Vec<u8> {
    [&[PRODUCT_REVIEWS][..], gtin.as_str().as_bytes()].concat()
}
/// A product's trade unit in a unit of measure
/// (`crate::stock_events::TradeUnit`): `TRADE_UNIT ‖ GTIN (14) ‖ uom`.
pub const TRADE_UNIT: u8 = 0x34;

/// Key of a product's trade unit in `uom`.
pub fn trade_unit(gtin: &Gtin, uom: &str) -> Vec<u8> {
    [&[TRADE_UNIT][..], gtin.as_str().as_bytes(), uom.as_bytes()].concat()
}
/// A location keeps stock (`crate::inventory`): `STOCK_KEPT ‖ GLN (13)` → the height
/// stock was first recorded there.
pub const STOCK_KEPT: u8 = 0x35;

/// Key of a location's stock-keeping mark.
pub fn stock_kept(gln: &waybill_gs1::Gln) -> Vec<u8> {
    [&[STOCK_KEPT][..], gln.as_str().as_bytes()].concat()
}
