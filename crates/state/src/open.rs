//! The open tier (DESIGN "two chains of different openness"): screened,
//! consumer-relevant facts that a block publishes under its header's `open_root`, so
//! that a consumer can check a product's history against the validators' signatures
//! without any consortium data.
//!
//! A record is compact JSON (fields in a fixed order, so its bytes are deterministic);
//! its leaf is `SHA-256(0x00 ‖ bytes)` (RFC 6962). Records are written to state at
//! `OPEN ‖ height ‖ index` in the block that publishes them and indexed by every
//! identifier they name; the root of a block's records is computed from its write set,
//! so `verify` re-derives it.

use std::collections::BTreeMap;

use serde::Serialize;
use waybill_types::hash::Hash;
use waybill_types::merkle;

use crate::exec::Writes;
use crate::exec::{StateRead, StateReadError, WriteSet};
use crate::keys;

/// The RFC 6962 root over the open-tier records in `writes` for block `height` (the
/// empty root if it publishes none).
pub fn open_root(writes: &WriteSet, height: u64) -> Hash {
    block_root(writes, &keys::open_at(height))
}

/// The RFC 6962 root over the values written under `prefix` (one block's leaves), in
/// key order.
pub(crate) fn block_root(writes: &WriteSet, prefix: &[u8]) -> Hash {
    let leaves: Vec<merkle::Digest32> = writes
        .range(prefix.to_vec()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .filter_map(|(_, v)| v.as_ref().map(|b| merkle::leaf_hash(b)))
        .collect();
    Hash(merkle::root_from_leaf_hashes(&leaves))
}

/// Where a subject's latest open-tier record is: block, index, leaf hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The block that published it.
    pub height: u64,
    /// Its index among the block's records.
    pub index: u32,
    /// Its leaf hash, `SHA-256(0x00 ‖ record bytes)`.
    pub leaf: merkle::Digest32,
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        [
            &self.height.to_be_bytes()[..],
            &self.index.to_be_bytes()[..],
            &self.leaf[..],
        ]
        .concat()
    }

    fn decode(key: &[u8], b: &[u8]) -> Result<Head, StateReadError> {
        let corrupt = || StateReadError::Corrupt {
            key: key.to_vec(),
            reason: format!("a subject head is 44 bytes, this one {}", b.len()),
        };
        if b.len() != 44 {
            return Err(corrupt());
        }
        Ok(Head {
            height: u64::from_be_bytes(b[0..8].try_into().map_err(|_| corrupt())?),
            index: u32::from_be_bytes(b[8..12].try_into().map_err(|_| corrupt())?),
            leaf: b[12..44].try_into().map_err(|_| corrupt())?,
        })
    }

    /// The value the heads tree keeps for the subject
    /// ([`waybill_types::smt::head_value`]).
    pub fn value(&self) -> merkle::Digest32 {
        waybill_types::smt::head_value(self.height, self.index, &self.leaf)
    }
}

/// The head of `subject`: where its latest open-tier record is, if it has any.
pub fn load_head<S: StateRead + ?Sized>(
    state: &S,
    subject: &str,
) -> Result<Option<Head>, StateReadError> {
    let k = keys::head(subject);
    state.get(&k)?.map(|b| Head::decode(&k, &b)).transpose()
}

/// A record as published: its fields, then `prev` — for every subject it names, the
/// position `[height, index]` of that subject's previous record (`null` for its
/// first). So each subject's records form a chain back from its head.
#[derive(Serialize, schemars::JsonSchema)]
struct Linked<'r, T: Serialize> {
    #[serde(flatten)]
    record: &'r T,
    prev: &'r BTreeMap<String, Option<[u64; 2]>>,
}

/// Appends open-tier records within one transaction's writes. The next free index of
/// the block is kept in `META open_next` as (height, index); each record names its
/// subjects, links to each one's previous record and becomes its head.
pub(crate) struct Publisher<'s, S: StateRead + ?Sized> {
    state: &'s S,
    height: u64,
    next: u32,
    /// Heads moved by this transaction's earlier records.
    heads: BTreeMap<String, Head>,
}

impl<'s, S: StateRead + ?Sized> Publisher<'s, S> {
    /// Start publishing in block `height`, reading through `state`.
    pub(crate) fn new(state: &'s S, height: u64) -> Result<Self, StateReadError> {
        let k = keys::meta("open_next");
        let next = match state.get(&k)? {
            Some(b) => {
                let (h, n): (u64, u32) = crate::exec::decode_record(&k, &b)?;
                if h == height {
                    n
                } else {
                    0
                }
            }
            None => 0,
        };
        Ok(Publisher {
            state,
            height,
            next,
            heads: BTreeMap::new(),
        })
    }

    /// Publish `record` about `subjects` (canonical identifiers; repeats ignored);
    /// returns its index.
    pub(crate) fn publish<T: Serialize>(
        &mut self,
        writes: &mut Writes,
        record: &T,
        subjects: &[String],
    ) -> Result<u32, StateReadError> {
        let mut prev: BTreeMap<String, Option<[u64; 2]>> = BTreeMap::new();
        for id in subjects {
            if prev.contains_key(id) {
                continue;
            }
            let head = match self.heads.get(id) {
                Some(h) => Some(*h),
                None => load_head(self.state, id)?,
            };
            prev.insert(id.clone(), head.map(|h| [h.height, u64::from(h.index)]));
        }
        let bytes = serde_json::to_vec(&Linked {
            record,
            prev: &prev,
        })
        .expect("open-tier records are plain structs of strings, numbers and lists");
        let index = self.next;
        self.next = self
            .next
            .checked_add(1)
            .expect("a block publishes fewer than 2^32 records (bounded by its bytes)");
        let head = Head {
            height: self.height,
            index,
            leaf: merkle::leaf_hash(&bytes),
        };
        writes.push((keys::open(self.height, index), bytes));
        for id in prev.keys() {
            // A derived index row (crate::index): the block adds record `index` to
            // the identifier's row.
            writes.push((keys::open_of(id), index.to_be_bytes().to_vec()));
            writes.push((keys::head(id), head.encode()));
            self.heads.insert(id.clone(), head);
        }
        Ok(index)
    }

    /// Record the next free index (call once, after the last `publish`).
    pub(crate) fn finish(self, writes: &mut Writes) {
        if self.next > 0 {
            writes.push((
                keys::meta("open_next"),
                crate::exec::encode_record(&(self.height, self.next)),
            ));
        }
    }
}

/// The heads tree over a state and a block's writes on top of it: reads through the
/// writes, writes into them.
struct HeadsTree<'a, S: StateRead + ?Sized> {
    base: &'a S,
    writes: &'a mut WriteSet,
}

impl<S: StateRead + ?Sized> waybill_types::smt::NodeStore for HeadsTree<'_, S> {
    type Error = StateReadError;
    fn get(
        &self,
        depth: usize,
        path: &merkle::Digest32,
    ) -> Result<Option<waybill_types::smt::Node>, StateReadError> {
        read_node(self.base, Some(self.writes), depth, path)
    }
    fn put(
        &mut self,
        depth: usize,
        path: &merkle::Digest32,
        node: Option<waybill_types::smt::Node>,
    ) {
        self.writes
            .insert(keys::smt_node(depth, path), node.map(|n| n.encode()));
    }
}

fn read_node<S: StateRead + ?Sized>(
    base: &S,
    writes: Option<&WriteSet>,
    depth: usize,
    path: &merkle::Digest32,
) -> Result<Option<waybill_types::smt::Node>, StateReadError> {
    let k = keys::smt_node(depth, path);
    let bytes = match writes.and_then(|w| w.get(&k)) {
        Some(v) => v.clone(),
        None => base.get(&k)?,
    };
    bytes
        .map(|b| {
            waybill_types::smt::Node::decode(&b).ok_or_else(|| StateReadError::Corrupt {
                key: k.clone(),
                reason: format!(
                    "a heads-tree node is 65 bytes tagged 0 or 1, this one {} bytes",
                    b.len()
                ),
            })
        })
        .transpose()
}

/// Fold the heads this block moved into the heads tree (called once, when the block's
/// transactions are done): every `HEAD` write becomes an update of its subject's entry.
pub(crate) fn update_heads_tree<S: StateRead + ?Sized>(
    base: &S,
    writes: &mut WriteSet,
) -> Result<(), StateReadError> {
    let mut updates = Vec::new();
    for (k, v) in writes.range(vec![keys::HEAD]..vec![keys::HEAD + 1]) {
        let Some(v) = v else {
            unreachable!("heads are never deleted");
        };
        let subject = std::str::from_utf8(&k[1..]).map_err(|_| StateReadError::Corrupt {
            key: k.clone(),
            reason: "a subject id is not UTF-8".into(),
        })?;
        let head = Head::decode(k, v)?;
        updates.push((waybill_types::smt::subject_key(subject), head.value()));
    }
    if updates.is_empty() {
        return Ok(());
    }
    updates.sort_unstable();
    let mut tree = HeadsTree { base, writes };
    waybill_types::smt::update(&mut tree, &updates)?;
    Ok(())
}

/// The heads-tree root after a block: `writes` over `base` (the state before it).
pub fn heads_root<S: StateRead + ?Sized>(
    base: &S,
    writes: &WriteSet,
) -> Result<Hash, StateReadError> {
    Ok(Hash(
        read_node(base, Some(writes), 0, &waybill_types::smt::EMPTY)?
            .map_or(waybill_types::smt::EMPTY, |n| n.hash()),
    ))
}

/// The heads-tree root written by a block, if the block moved any head (otherwise the
/// root is the previous block's). For checks that have the write set but not the state.
pub fn heads_root_written(writes: &WriteSet) -> Option<Hash> {
    writes
        .get(&keys::smt_node(0, &waybill_types::smt::EMPTY))
        .map(|v| {
            Hash(
                v.as_deref()
                    .and_then(waybill_types::smt::Node::decode)
                    .map_or(waybill_types::smt::EMPTY, |n| n.hash()),
            )
        })
}

/// The proof of `subject`'s entry (or absence) in the heads tree of `state`.
pub fn prove_head<S: StateRead + ?Sized>(
    state: &S,
    subject: &str,
) -> Result<waybill_types::smt::Proof, StateReadError> {
    struct View<'a, S: StateRead + ?Sized>(&'a S);
    impl<S: StateRead + ?Sized> waybill_types::smt::NodeStore for View<'_, S> {
        type Error = StateReadError;
        fn get(
            &self,
            depth: usize,
            path: &merkle::Digest32,
        ) -> Result<Option<waybill_types::smt::Node>, StateReadError> {
            read_node(self.0, None, depth, path)
        }
        fn put(&mut self, _: usize, _: &merkle::Digest32, _: Option<waybill_types::smt::Node>) {
            unreachable!("a proof only reads");
        }
    }
    waybill_types::smt::prove(&View(state), &waybill_types::smt::subject_key(subject))
}

/// An identifier named by an event, with its role.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RoleId<'a> {
    /// How it appears in the event.
    pub role: waybill_epcis::model::IdRole,
    /// Canonical identifier.
    pub id: &'a str,
}

/// Sensor data screened from an event for the open tier.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensorData {
    /// Readings: `{"time", "type", "value", "uom"}` (numbers as sent).
    pub readings: Vec<serde_json::Value>,
    /// An allowed range the capturer declared (an extension whose local name is
    /// `allowedTemperature`), as sent.
    pub allowed_range: Option<serde_json::Value>,
}

/// What the open tier publishes of an event of a category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenForm {
    /// The screened event (`OpenRecord::Event`): steps, places, parties, readings.
    Event,
    /// Its outcome only (`OpenRecord::Inspection`): that it happened, when, where, by
    /// whom and how it ended. The report stays on the consortium tier.
    Outcome,
}

/// The open tier of each category under version 1 of the screening rules
/// ([`waybill_types::screening::v1`]; the rules in force are state,
/// [`crate::screening`]): production and transport events are published, screened;
/// customs and quality events as their outcome (the authority matrix keeps their
/// reports to customs, inspectors and regulators); platform transactions (orders) and
/// financial data are not published at all. The same table is in
/// docs/TRACEABILITY.md (`access::matrix_markdown`'s last row) and docs/PROOFS.md.
pub fn open_form(category: waybill_types::DataCategory) -> Option<OpenForm> {
    use waybill_types::screening::{rule_for, v1, Publish};
    match rule_for(&v1(), category, None).map(|r| r.publish) {
        Some(Publish::Event) => Some(OpenForm::Event),
        Some(Publish::Outcome) => Some(OpenForm::Outcome),
        Some(Publish::Nothing) | None => None,
    }
}

/// The readings of an event's `sensorElementList` (time, type, value, unit) and a
/// declared allowed temperature range; nothing else of the event's sensor metadata.
pub fn screen_sensor_data(event: &serde_json::Map<String, serde_json::Value>) -> SensorData {
    use serde_json::{json, Value};
    let mut out = SensorData::default();
    if let Some(Value::Array(elements)) = event.get("sensorElementList") {
        for el in elements {
            let meta_time = el.pointer("/sensorMetadata/time").cloned();
            for r in el
                .get("sensorReport")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(value) = r.get("value").filter(|v| v.is_number()) else {
                    continue;
                };
                out.readings.push(json!({
                    "time": r.get("time").cloned().or_else(|| meta_time.clone()).unwrap_or(Value::Null),
                    "type": r.get("type").cloned().unwrap_or(Value::Null),
                    "value": value,
                    "uom": r.get("uom").cloned().unwrap_or(Value::Null),
                }));
            }
        }
    }
    out.allowed_range = event
        .iter()
        .find(|(k, v)| k.rsplit(':').next() == Some("allowedTemperature") && v.is_object())
        .map(|(_, v)| v.clone());
    out
}

/// A published fact. JSON: `{"kind": "...", ...}`; `source` names the consortium
/// record (transaction id or Event Hash ID) it was screened from.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenRecord<'a> {
    /// A product's master data.
    Product {
        /// Its identifier, `https://id.gs1.org/01/{gtin}`.
        id: &'a str,
        /// GTIN.
        gtin: &'a str,
        /// Name.
        name: &'a str,
        /// Brand.
        brand: &'a str,
        /// Category.
        category: &'a str,
        /// Country of origin.
        origin_country: &'a str,
        /// Owner organization id.
        owner: &'a str,
        /// Owner organization name.
        owner_name: &'a str,
        /// Registering transaction.
        source: String,
    },
    /// A lot's master data.
    Lot {
        /// Its identifier, `https://id.gs1.org/01/{gtin}/10/{lot}`.
        id: &'a str,
        /// GTIN.
        gtin: &'a str,
        /// Lot number.
        lot: &'a str,
        /// Origin GLN.
        origin_gln: Option<&'a str>,
        /// Harvest or production date.
        produced_on: &'a str,
        /// Quantity.
        quantity: u64,
        /// Unit.
        unit: &'a str,
        /// Inputs (fertilizers, pesticides, materials).
        inputs: &'a [waybill_types::LotInput],
        /// Raw-material lots.
        raw_materials: &'a [waybill_types::LotRef],
        /// Their identifiers (the lot's history leads back to theirs).
        raw_material_ids: &'a [String],
        /// Claims backed by valid qualifications.
        claims: &'a [String],
        /// Owner organization id.
        owner: &'a str,
        /// Registering transaction.
        source: String,
    },
    /// A location's master data.
    Location {
        /// Its identifier, `https://id.gs1.org/414/{gln}`.
        id: &'a str,
        /// GLN.
        gln: &'a str,
        /// Name.
        name: &'a str,
        /// Kind.
        location_kind: &'a str,
        /// Address.
        address: &'a str,
        /// Country.
        country: &'a str,
        /// Latitude.
        latitude: Option<&'a str>,
        /// Longitude.
        longitude: Option<&'a str>,
        /// Owner organization id.
        owner: &'a str,
        /// Registering transaction.
        source: String,
    },
    /// A screened EPCIS event.
    Event {
        /// Its EPCIS Event Hash ID (links to the consortium record).
        hash_id: String,
        /// Event type.
        event_type: &'a str,
        /// Action.
        action: Option<&'a str>,
        /// eventTime as written.
        event_time: &'a str,
        /// Business step.
        biz_step: Option<&'a str>,
        /// Disposition.
        disposition: Option<&'a str>,
        /// readPoint (canonical).
        read_point: Option<&'a str>,
        /// bizLocation (canonical).
        biz_location: Option<&'a str>,
        /// Identifiers and roles.
        ids: Vec<RoleId<'a>>,
        /// The capturing organization.
        org: &'a str,
        /// Its name.
        org_name: &'a str,
        /// Sensor readings.
        readings: &'a [serde_json::Value],
        /// Declared allowed range.
        allowed_range: Option<&'a serde_json::Value>,
        /// The consortium record (Event Hash ID).
        source: String,
    },
    /// A customs or quality inspection, screened to its outcome: that it happened,
    /// when, where, by which authority, and how it ended (the disposition). The
    /// report itself — readings, extensions, certification details, business
    /// transactions — stays on the consortium tier.
    Inspection {
        /// Its EPCIS Event Hash ID (links to the consortium record).
        hash_id: String,
        /// Event type.
        event_type: &'a str,
        /// eventTime as written.
        event_time: &'a str,
        /// Business step, e.g. `inspecting`, `clearing` (customs).
        biz_step: Option<&'a str>,
        /// The outcome, as a CBV disposition, e.g. `conformant`, `non_conformant`,
        /// `in_progress`, `needs_replacement`.
        outcome: Option<&'a str>,
        /// bizLocation (canonical).
        biz_location: Option<&'a str>,
        /// Identifiers and roles.
        ids: Vec<RoleId<'a>>,
        /// The authority (capturing organization).
        org: &'a str,
        /// Its name.
        org_name: &'a str,
        /// The consortium record (Event Hash ID).
        source: String,
    },
    /// An error declaration: the events it corrects are no longer part of the history.
    Correction {
        /// The declaration's Event Hash ID.
        hash_id: String,
        /// Event Hash IDs of the corrected events.
        corrects: &'a [String],
        /// The declaring (and capturing) organization.
        declared_by: &'a str,
        /// The consortium record.
        source: String,
    },
    /// A validator set that a governance decision puts in force.
    ValidatorSet {
        /// First height it finalizes.
        effective_height: u64,
        /// Its validators (sorted by key) with their voting power.
        validators: &'a [waybill_types::block::ValidatorInfo],
        /// The governance proposal that decided it.
        proposal: u64,
        /// The approving transaction.
        source: String,
    },
    /// A sale of a lot, published when the order is delivered: who sold it, on which
    /// platform, how many, on which day — nothing about the buyer.
    Sale {
        /// The lot's identifier.
        lot_id: &'a str,
        /// GTIN.
        gtin: &'a str,
        /// Trade units.
        quantity: u32,
        /// The seller organization id.
        seller: &'a str,
        /// Its name.
        seller_name: &'a str,
        /// The platform, if any.
        platform: Option<&'a str>,
        /// Its name.
        platform_name: Option<&'a str>,
        /// The day delivered (UTC, from block time).
        delivered_on: &'a str,
        /// The delivering transaction.
        source: String,
    },
    /// A verified purchase's review: the state machine checked that the review key is
    /// the one the delivered order holds; the buyer is not named.
    Review {
        /// The review key (hex): the review's id.
        review_key: &'a str,
        /// GTIN.
        gtin: &'a str,
        /// The lot bought, if known.
        lot: Option<&'a str>,
        /// 1 to 5.
        rating: u8,
        /// Title.
        title: &'a str,
        /// Text.
        text: &'a str,
        /// Always true: only a delivered order's buyer can review.
        verified_purchase: bool,
        /// Sold by (organization name).
        seller_name: &'a str,
        /// On (platform name), if any.
        platform_name: Option<&'a str>,
        /// The day delivered.
        delivered_on: &'a str,
        /// The product's reviews after this one (hidden ones count).
        product_reviews: u64,
        /// The sum of their ratings (average = sum / reviews).
        product_rating_sum: u64,
        /// The reviewing transaction.
        source: String,
    },
    /// The seller's answer to a review.
    ReviewAnswer {
        /// The review answered.
        review_key: &'a str,
        /// GTIN.
        gtin: &'a str,
        /// The answer.
        text: &'a str,
        /// The seller's name.
        by: &'a str,
        /// The answering transaction.
        source: String,
    },
    /// A platform hid a review's text on its pages; the review still counts.
    ReviewHidden {
        /// The review hidden.
        review_key: &'a str,
        /// GTIN.
        gtin: &'a str,
        /// Why.
        reason: &'a str,
        /// The platform's name.
        by: &'a str,
        /// The hiding transaction.
        source: String,
    },
    /// A qualification as verified (or its revocation).
    Qualification {
        /// The organization qualified.
        org: &'a str,
        /// Kind.
        qualification_kind: &'a str,
        /// Issuing body.
        issuer: &'a str,
        /// Number.
        number: &'a str,
        /// Scope.
        scope: &'a str,
        /// First valid day.
        valid_from: &'a str,
        /// Last valid day.
        valid_to: &'a str,
        /// The verifying organization.
        verified_by: &'a str,
        /// Revoked (with the reason), if this record publishes a revocation.
        revoked: Option<&'a str>,
        /// Recording transaction.
        source: String,
    },
}
