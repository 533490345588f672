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

use serde::Serialize;
use waybill_types::hash::Hash;
use waybill_types::merkle;

use crate::exec::Writes;
use crate::{keys, StateRead, StateReadError, WriteSet};

/// The RFC 6962 root over the open-tier records in `writes` for block `height` (the
/// empty root if it publishes none).
pub fn open_root(writes: &WriteSet, height: u64) -> Hash {
    let prefix = keys::open_at(height);
    let leaves: Vec<merkle::Digest32> = writes
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(_, v)| v.as_ref().map(|b| merkle::leaf_hash(b)))
        .collect();
    Hash(merkle::root_from_leaf_hashes(&leaves))
}

/// Appends open-tier records within one transaction's writes. The next free index of
/// the block is kept in `META open_next` as (height, index).
pub(crate) struct Publisher {
    height: u64,
    next: u32,
}

impl Publisher {
    /// Start publishing in block `height`.
    pub(crate) fn new<S: StateRead + ?Sized>(
        state: &S,
        height: u64,
    ) -> Result<Publisher, StateReadError> {
        let k = keys::meta("open_next");
        let next = match state.get(&k)? {
            Some(b) => {
                let (h, n): (u64, u32) = crate::decode_record(&k, &b)?;
                if h == height {
                    n
                } else {
                    0
                }
            }
            None => 0,
        };
        Ok(Publisher { height, next })
    }

    /// Publish `record`, naming `ids` (canonical identifiers); returns its index.
    pub(crate) fn publish<T: Serialize>(
        &mut self,
        writes: &mut Writes,
        record: &T,
        ids: &[String],
    ) -> u32 {
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        let index = self.next;
        self.next += 1;
        writes.push((keys::open(self.height, index), bytes));
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            if seen.insert(id.as_str()) {
                let k = [
                    keys::open_of(id).as_slice(),
                    &self.height.to_be_bytes(),
                    &index.to_be_bytes(),
                ]
                .concat();
                writes.push((k, Vec::new()));
            }
        }
        index
    }

    /// Record the next free index (call once, after the last `publish`).
    pub(crate) fn finish(self, writes: &mut Writes) {
        if self.next > 0 {
            writes.push((
                keys::meta("open_next"),
                crate::encode_record(&(self.height, self.next)),
            ));
        }
    }
}

/// An identifier named by an event, with its role.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// Categories whose events consumers see: production, transport, customs and quality
/// outcomes. Platform transactions (orders) and financial data stay in the consortium.
pub fn is_public(category: waybill_types::DataCategory) -> bool {
    use waybill_types::DataCategory::*;
    matches!(category, Production | Transport | CustomsQuality)
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenRecord<'a> {
    /// A product's master data.
    Product {
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
        /// Claims backed by valid qualifications.
        claims: &'a [String],
        /// Owner organization id.
        owner: &'a str,
        /// Registering transaction.
        source: String,
    },
    /// A location's master data.
    Location {
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
