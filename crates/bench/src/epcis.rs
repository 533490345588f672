//! `waybill bench --workload epcis`: EPCIS capture throughput and lineage trace latency.
//!
//! Each run starts a fresh one-validator node (Malachite, redb, the HTTP API) in a
//! temporary directory with four organizations — a farm, a packing plant, a carrier
//! and a distribution centre — their locations, products and lots (not timed). Then:
//!
//! 1. Capture: several members (packing plant, carrier and distribution-centre staff in
//!    turn) each post their EPCIS documents — ObjectEvents and AggregationEvents naming
//!    SGTINs and SSCCs, with bizStep, disposition, readPoint, a bizLocation registered
//!    to their organization, business transactions, sources and destinations, sensor
//!    readings in the carrier's — to `POST /epcis/capture`, in sequence order, with a
//!    few documents in flight per member. Events per second run from the first send to
//!    the last commit; a document's latency from its send to its block's commit. Every
//!    capture job is then read back: it must have succeeded with every event stored
//!    and none skipped as a duplicate. The baseline, in the same run, parses, validates
//!    (`validate_document`) and hashes (`ExactDocument`) the same documents on one
//!    thread, in process: what capture costs beyond checking the documents.
//! 2. Trace: one lot of oranges is commissioned, received at the plant and transformed
//!    into 200 serialised cartons, packed onto 10 pallets that are staged, shipped,
//!    carried (with temperature readings), received and broken down at a distribution
//!    centre, whose cartons are stored, picked, shipped and delivered one by one. The
//!    forward lineage of the lot names more than 1,000 events (asserted from the trace
//!    answer). `GET /v1/trace/{id}` with a signed read is timed forward from the lot
//!    and back from one carton: at the API (request sent to the answer's last byte,
//!    on a kept-alive connection) and through the SDK's `Client::get_as` (which also
//!    parses the JSON). The baseline is `lineage::walk` on a store snapshot in process;
//!    the rest of the answer is timed in its parts too (`lineage_answer`, serialising,
//!    parsing).
//!
//! The consortium, the documents' building blocks and the lot's way into cartons also
//! serve [`crate::consumer`] (the consumer page of one carton).

use waybill_types::payload::{
    CaptureEpcis, RegisterLocation, RegisterLot, RegisterMember, RegisterProduct,
};

use anyhow::{bail, ensure, Context as _};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use waybill_client::{Client, KeyFile};
use waybill_gs1::{with_check_digit, Gln, Gtin};
use waybill_state::trace::lineage::{self, Direction};
use waybill_state::trace::{self, EventRecord};
use waybill_types::LotRef;
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, OrgId, Payload, Role, SecretKey, SignedTx,
    TxId, TxStatus,
};

use crate::measure::{
    free_port, median_at, next_commit, percentile, repeat_runs, round1, scratch_dir, RUN_TIMEOUT,
};
use waybill_server::serve::{self, Listen};
use waybill_server::Home;

/// What `waybill bench --workload epcis` runs.
pub struct EpcisBenchOptions {
    /// Capturing members.
    pub n_members: usize,
    /// Documents each member captures.
    pub docs_per_member: usize,
    /// Events per document.
    pub doc_events: usize,
    /// Documents a member has sent but not yet seen committed, at most.
    pub in_flight: usize,
    /// Timed trace requests per direction per run.
    pub trace_reps: usize,
    /// Fields sealed in every captured event (0: none): each event gets an eventID
    /// and this many extension fields, sealed for its capturer's organization before
    /// signing (not timed), so the run measures what sealed fields cost the node.
    pub sealed_fields: usize,
    /// The same fields (and eventIDs) in plaintext, to measure what sealing them
    /// costs (0: none; not with `sealed_fields`).
    pub plain_fields: usize,
    /// The distribution centre keeps stock of the carton (counted before the run), so
    /// its receiving and shipping events move it: what stock moved by EPCIS costs.
    pub keep_stock: bool,
    pub runs: usize,
    pub json: bool,
}

/// Retries of a capture refused as busy.
const BUSY_RETRIES_MAX: usize = 500;
/// Longest the capture phase of one run may take.
/// Untimed trace requests before the timed ones.
const TRACE_WARMUP: usize = 5;
/// The forward lineage of the lot must name at least this many events.
const TRACE_EVENTS_MIN: usize = 1_000;

const FARM: &str = "6900001";
const PACKER: &str = "6900002";
pub(crate) const CARRIER: &str = "6900003";
const DC: &str = "6900004";
pub(crate) const CUSTOMS: &str = "6900005";
/// Bulk oranges (the farm's lot) and the 5 kg carton (the plant's serialised item).
const BULK_ITEM: &str = "000001";
const CARTON_ITEM: &str = "000002";
const TRACE_LOT: &str = "PJ2611T";
const TRACE_CARTONS: usize = 200;
const TRACE_PALLETS: usize = 10;
/// Cartons the distribution centre counts before a `keep_stock` run.
const DC_STOCK_START: u64 = 1_000_000_000;
/// 2026-11-03T00:00:00Z: throughput events start here, the traced lot a week later.
const T0_MS: i64 = 1_793_664_000_000;
pub(crate) const TRACE_T0_MS: i64 = T0_MS + 7 * 86_400_000;
pub(crate) const MIN: i64 = 60_000;

const CONTEXT_EXT: &str = "https://waybill.example/epcis/";

/// Who captures a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Farm,
    Packer,
    Carrier,
    Dc,
    /// Customs (only in the consumer workload's consortium).
    Customs,
}

impl Kind {
    const CAPTURERS: [Kind; 3] = [Kind::Packer, Kind::Carrier, Kind::Dc];

    pub(crate) fn org(self) -> &'static str {
        match self {
            Kind::Farm => "bench-farm",
            Kind::Packer => "bench-packer",
            Kind::Carrier => "bench-carrier",
            Kind::Dc => "bench-dc",
            Kind::Customs => "bench-customs",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Kind::Farm => FARM,
            Kind::Packer => PACKER,
            Kind::Carrier => CARRIER,
            Kind::Dc => DC,
            Kind::Customs => CUSTOMS,
        }
    }
    fn roles(self) -> Vec<Role> {
        match self {
            Kind::Farm => vec![Role::Producer],
            Kind::Packer => vec![Role::Processor, Role::Warehouse],
            Kind::Carrier => vec![Role::Carrier],
            Kind::Dc => vec![Role::Warehouse, Role::Processor],
            Kind::Customs => vec![Role::Customs],
        }
    }
    /// The organizations of the EPCIS workload.
    fn all() -> [Kind; 4] {
        [Kind::Farm, Kind::Packer, Kind::Carrier, Kind::Dc]
    }
}

// ---------- identifiers and times ----------

pub(crate) fn sgln(prefix: &str, loc: u32, ext: &str) -> String {
    format!("urn:epc:id:sgln:{prefix}.{loc:05}.{ext}")
}

pub(crate) fn site(kind: Kind, loc: u32) -> String {
    sgln(kind.prefix(), loc, "0")
}

fn gln(kind: Kind, loc: u32) -> anyhow::Result<Gln> {
    Ok(with_check_digit(&format!("{}{loc:05}", kind.prefix()))?.parse()?)
}

fn gtin(prefix: &str, item: &str) -> anyhow::Result<Gtin> {
    // Indicator digit (the item reference's first), prefix, the rest of the item reference.
    Ok(with_check_digit(&format!("{}{prefix}{}", &item[..1], &item[1..]))?.parse()?)
}

fn sgtin(serial: &str) -> String {
    format!("urn:epc:id:sgtin:{PACKER}.{CARTON_ITEM}.{serial}")
}

pub(crate) fn sscc(serial: u64) -> String {
    format!("urn:epc:id:sscc:{PACKER}.{serial:010}")
}

fn pgln(kind: Kind) -> String {
    format!("urn:epc:id:pgln:{}.00000", kind.prefix())
}

pub(crate) fn giai(kind: Kind, asset: &str) -> String {
    format!("urn:epc:id:giai:{}.{asset}", kind.prefix())
}

pub(crate) fn bt(kind: Kind, id: &str) -> String {
    let party = with_check_digit(&format!("{}00000", kind.prefix())).unwrap_or_default();
    format!("urn:epcglobal:cbv:bt:{party}:{id}")
}

/// RFC 3339 in China Standard Time.
fn at(ms: i64) -> String {
    let local = (ms + 8 * 3_600_000) as u64;
    let date = waybill_state::credentials::date_of_ms(local);
    let s = local / 1000 % 86_400;
    format!(
        "{date}T{:02}:{:02}:{:02}+08:00",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

pub(crate) fn document(created_ms: i64, events: Vec<Value>) -> String {
    json!({
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            { "wb": CONTEXT_EXT }
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": at(created_ms),
        "epcisBody": { "eventList": events }
    })
    .to_string()
}

/// An ObjectEvent: `[action, bizStep, disposition]`, its EPCs, `(readPoint,
/// bizLocation)`; `extra` fields are merged in.
pub(crate) fn object_event(
    t: i64,
    [action, biz_step, disposition]: [&str; 3],
    epcs: &[String],
    (read_point, biz_location): (&str, Option<&str>),
    extra: Value,
) -> Value {
    let mut e = json!({
        "type": "ObjectEvent",
        "eventTime": at(t),
        "eventTimeZoneOffset": "+08:00",
    });
    if !epcs.is_empty() {
        e["epcList"] = json!(epcs);
    }
    merge(
        &mut e,
        json!({
            "action": action,
            "bizStep": biz_step,
            "disposition": disposition,
            "readPoint": { "id": read_point },
        }),
    );
    if let Some(l) = biz_location {
        e["bizLocation"] = json!({ "id": l });
    }
    merge(&mut e, extra);
    e
}

/// An AggregationEvent: `[action, bizStep, disposition]`, parent, children,
/// `(readPoint, bizLocation)`.
fn aggregation_event(
    t: i64,
    [action, biz_step, disposition]: [&str; 3],
    parent: &str,
    children: &[String],
    (read_point, biz_location): (&str, &str),
) -> Value {
    json!({
        "type": "AggregationEvent",
        "eventTime": at(t),
        "eventTimeZoneOffset": "+08:00",
        "parentID": parent,
        "childEPCs": children,
        "action": action,
        "bizStep": biz_step,
        "disposition": disposition,
        "readPoint": { "id": read_point },
        "bizLocation": { "id": biz_location },
    })
}

pub(crate) fn merge(e: &mut Value, extra: Value) {
    if let (Value::Object(m), Value::Object(x)) = (e, extra) {
        m.extend(x);
    }
}

/// A reefer's temperature and humidity log: `n` readings `every` ms apart from `t`.
pub(crate) fn sensor_log(t: i64, (n, every): (usize, i64), device: &str, seed: u64) -> Value {
    let elements: Vec<Value> = (0..n)
        .map(|k| {
            let wiggle = ((seed + k as u64) % 7) as f64 / 10.0;
            json!({
                "sensorMetadata": { "time": at(t + k as i64 * every), "deviceID": device },
                "sensorReport": [
                    { "type": "Temperature", "value": round1(3.6 + wiggle), "uom": "CEL" },
                    { "type": "RelativeHumidity", "value": 86 + (seed + k as u64) % 5, "uom": "P1" }
                ]
            })
        })
        .collect();
    json!({ "sensorElementList": elements })
}

fn po_and_desadv(n: u64) -> Value {
    json!({ "bizTransactionList": [
        { "type": "po", "bizTransaction": bt(Kind::Dc, &format!("PO-{n:08}")) },
        { "type": "desadv", "bizTransaction": bt(Kind::Packer, &format!("DESADV-{n:08}")) }
    ]})
}

fn handover(from: Kind, to: Kind, from_site: &str, to_site: &str) -> Value {
    json!({
        "sourceList": [
            { "type": "possessing_party", "source": pgln(from) },
            { "type": "location", "source": from_site }
        ],
        "destinationList": [
            { "type": "possessing_party", "destination": pgln(to) },
            { "type": "location", "destination": to_site }
        ]
    })
}

// ---------- the capture workload ----------

/// Document `d` of capturing member `m` (of `kind`): `n` events in the pattern that
/// organization records, every identifier unique to (m, d, event).
fn capture_document(kind: Kind, m: usize, d: usize, n: usize) -> String {
    let t_doc = T0_MS + (m as i64) * 7 * MIN + (d * n) as i64 * 1000;
    let tag = |i: usize| format!("M{m}D{d}E{i}");
    // A pallet per five events.
    let pallet = |i: usize| sscc(((m * 10_000 + d) * 1_000 + i / 5) as u64 + 1_000_000_000);
    let cartons = |i: usize, k: usize| -> Vec<String> {
        (0..k).map(|c| sgtin(&format!("{}C{c}", tag(i)))).collect()
    };
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let t = t_doc + i as i64 * 1000;
            let seed = (m * 131 + d * 17 + i) as u64;
            match (kind, i % 5) {
                // Packing plant: three cases of four cartons commissioned, palletised, staged.
                (Kind::Packer, 0..=2) => object_event(t, ["ADD", "commissioning", "active"], &cartons(i, 4), (&sgln(PACKER, 1, &format!("{}", 10 + i % 3)), Some(&site(Kind::Packer, 1))), json!({ "ilmd": {
                        "cbvmda:lotNumber": format!("P{m}D{d}"),
                        "cbvmda:countryOfOrigin": "CN",
                        "cbvmda:bestBeforeDate": "2026-12-03",
                        "wb:grade": "Class I",
                        "wb:sizeRange": "75-80 mm"
                    }})),
                (Kind::Packer, 3) => {
                    let children: Vec<String> = (i - 3..i).flat_map(|j| cartons(j, 4)).collect();
                    aggregation_event(t, ["ADD", "packing", "container_closed"], &pallet(i), &children, (&sgln(PACKER, 1, "20"), &site(Kind::Packer, 1)))
                }
                (Kind::Packer, _) => {
                    let mut x = po_and_desadv(seed);
                    merge(
                        &mut x,
                        json!({ "wb:allowedTemperature": { "wb:min": 2, "wb:max": 8, "wb:uom": "CEL" } }),
                    );
                    object_event(t, ["OBSERVE", "staging_outbound", "in_progress"], &[pallet(i)], (&sgln(PACKER, 1, "30"), Some(&site(Kind::Packer, 1))), x)
                }
                // Carrier: departures, reefer logs and arrivals of pallets.
                (Kind::Carrier, 0) => {
                    let mut x = json!({ "bizTransactionList": [
                        { "type": "bol", "bizTransaction": bt(Kind::Carrier, &format!("BOL-{seed:08}")) }
                    ]});
                    merge(
                        &mut x,
                        json!({ "destinationList": [{ "type": "location", "destination": site(Kind::Carrier, 2) }] }),
                    );
                    object_event(t, ["OBSERVE", "departing", "in_transit"], &[pallet(i), pallet(i + 5)], (&giai(Kind::Carrier, &format!("TRK{:04}", m * 10 + d % 10)), Some(&site(Kind::Carrier, 1))), x)
                }
                (Kind::Carrier, 1 | 2) => object_event(t, ["OBSERVE", if i % 5 == 1 {
                        "transporting"
                    } else {
                        "sensor_reporting"
                    }, "in_transit"], &[pallet(i), pallet(i + 5)], (&giai(Kind::Carrier, &format!("TRK{:04}", m * 10 + d % 10)), None), sensor_log(t, (if i % 5 == 1 { 3 } else { 1 }, 60 * MIN), &giai(Kind::Carrier, "TL40117"), seed)),
                (Kind::Carrier, 3) => object_event(t, ["OBSERVE", "arriving", "in_transit"], &[pallet(i), pallet(i + 5)], (&sgln(CARRIER, 2, "1"), Some(&site(Kind::Carrier, 2))), json!({ "wb:note": "dock 4, seal intact" })),
                (Kind::Carrier, _) => object_event(t, ["OBSERVE", "unloading", "in_progress"], &[pallet(i), pallet(i + 5)], (&sgln(CARRIER, 2, "2"), Some(&site(Kind::Carrier, 2))), json!({})),
                // Distribution centre: receive, break down, store, pick, ship.
                (Kind::Dc, 0) => {
                    let mut x = handover(
                        Kind::Carrier,
                        Kind::Dc,
                        &site(Kind::Carrier, 2),
                        &site(Kind::Dc, 1),
                    );
                    merge(&mut x, po_and_desadv(seed));
                    merge(
                        &mut x,
                        json!({ "wb:arrivalPulpTemperature": { "wb:value": 4.1, "wb:uom": "CEL" } }),
                    );
                    object_event(t, ["OBSERVE", "receiving", "in_progress"], &[pallet(i)], (&sgln(DC, 1, "1"), Some(&site(Kind::Dc, 1))), x)
                }
                (Kind::Dc, 1) => aggregation_event(t, ["DELETE", "unpacking", "in_progress"], &pallet(i), &cartons(i, 12), (&sgln(DC, 1, "2"), &site(Kind::Dc, 1))),
                (Kind::Dc, 2) => object_event(t, ["OBSERVE", "storing", "sellable_not_accessible"], &cartons(i - 1, 12), (&sgln(DC, 1, &format!("{}", 100 + i % 40)), Some(&site(Kind::Dc, 1))), json!({})),
                (Kind::Dc, 3) => object_event(t, ["OBSERVE", "picking", "in_progress"], &cartons(i - 2, 2), (&sgln(DC, 1, "3"), Some(&site(Kind::Dc, 1))), json!({ "bizTransactionList": [
                        { "type": "po", "bizTransaction": bt(Kind::Dc, &format!("SO-{seed:08}")) }
                    ]})),
                (Kind::Dc, _) => {
                    let mut x = handover(
                        Kind::Dc,
                        Kind::Carrier,
                        &site(Kind::Dc, 1),
                        &site(Kind::Carrier, 1),
                    );
                    merge(&mut x, po_and_desadv(seed));
                    object_event(t, ["OBSERVE", "shipping", "in_transit"], &cartons(i - 3, 2), (&sgln(DC, 1, "4"), Some(&site(Kind::Dc, 1))), x)
                }
                (Kind::Farm | Kind::Customs, _) => unreachable!("only the plant, carrier and DC capture in the throughput phase"),
            }
        })
        .collect();
    document(t_doc + n as i64 * 1000, events)
}

// ---------- the traced lineage ----------

fn trace_lot_id() -> anyhow::Result<String> {
    Ok(format!(
        "https://id.gs1.org/01/{}/10/{TRACE_LOT}",
        gtin(FARM, BULK_ITEM)?
    ))
}

pub(crate) fn trace_carton(c: usize) -> String {
    sgtin(&format!("T{c:04}"))
}

fn trace_pallet(p: usize) -> String {
    sscc(9_000_000_000 + p as u64)
}

/// A lot's way into serialised cartons: commissioned (harvested) at the farm at `t`,
/// received at the plant five hours later, transformed into `cartons` 100 minutes after
/// that. The farm's event, then the plant's two.
pub(crate) fn lot_into_cartons(t: i64, cartons: &[String]) -> (Value, [Value; 2]) {
    let lot_class = format!("urn:epc:class:lgtin:{FARM}.{BULK_ITEM}.{TRACE_LOT}");
    let harvest = object_event(
        t,
        ["ADD", "commissioning", "active"],
        &[],
        (&sgln(FARM, 1, "3"), Some(&site(Kind::Farm, 1))),
        json!({
            "quantityList": [{ "epcClass": lot_class, "quantity": 1100, "uom": "KGM" }],
            "ilmd": {
                "cbvmda:lotNumber": TRACE_LOT,
                "cbvmda:countryOfOrigin": "CN",
                "cbvmda:harvestStartDate": "2026-11-10",
                "wb:variety": "Newhall navel orange",
                "wb:brix": 12.6
            },
            // Harvested for the plant: the farm hands the lot over (docs/PRIVACY.md).
            "destinationList": [{ "type": "possessing_party", "destination": pgln(Kind::Packer) }]
        }),
    );
    let mut x = handover(
        Kind::Farm,
        Kind::Packer,
        &site(Kind::Farm, 1),
        &site(Kind::Packer, 1),
    );
    merge(
        &mut x,
        json!({
            "quantityList": [{ "epcClass": lot_class, "quantity": 1100, "uom": "KGM" }],
            "wb:arrivalPulpTemperature": { "wb:value": 14.5, "wb:uom": "CEL" }
        }),
    );
    let received = object_event(
        t + 300 * MIN,
        ["OBSERVE", "receiving", "in_progress"],
        &[],
        (&sgln(PACKER, 1, "1"), Some(&site(Kind::Packer, 1))),
        x,
    );
    let transformed = json!({
        "type": "TransformationEvent",
        "eventTime": at(t + 400 * MIN),
        "eventTimeZoneOffset": "+08:00",
        "inputQuantityList": [{ "epcClass": lot_class, "quantity": 1100, "uom": "KGM" }],
        "outputEPCList": cartons,
        "transformationID": "urn:uuid:5f0c8d2e-1b7a-4c3e-9d2f-6a1e0b7c4d91",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": { "id": sgln(PACKER, 1, "2") },
        "bizLocation": { "id": site(Kind::Packer, 1) },
        "ilmd": {
            "cbvmda:lotNumber": TRACE_LOT,
            "cbvmda:countryOfOrigin": "CN",
            "cbvmda:bestBeforeDate": "2026-12-10",
            "wb:grade": "Class I",
            "wb:netWeightPerCarton": { "wb:value": 5, "wb:uom": "KGM" }
        },
        "wb:gradingLoss": { "wb:value": 100, "wb:uom": "KGM", "wb:reason": "undersize fruit to juice" }
    });
    (harvest, [received, transformed])
}

/// Pallet `p` leaving the plant: `cartons` packed onto it at `t`, staged half an hour
/// later, handed to the carrier an hour later (the plant's events).
pub(crate) fn pallet_out(p: usize, pallet: &str, cartons: &[String], t: i64) -> [Value; 3] {
    let pal = [pallet.to_string()];
    let mut x = po_and_desadv(p as u64);
    merge(
        &mut x,
        handover(
            Kind::Packer,
            Kind::Carrier,
            &site(Kind::Packer, 1),
            &site(Kind::Carrier, 1),
        ),
    );
    [
        aggregation_event(
            t,
            ["ADD", "packing", "container_closed"],
            pallet,
            cartons,
            (&sgln(PACKER, 1, "20"), &site(Kind::Packer, 1)),
        ),
        object_event(
            t + 30 * MIN,
            ["OBSERVE", "staging_outbound", "in_progress"],
            &pal,
            (&sgln(PACKER, 1, "30"), Some(&site(Kind::Packer, 1))),
            json!({}),
        ),
        object_event(
            t + 60 * MIN,
            ["OBSERVE", "shipping", "in_transit"],
            &pal,
            (&sgln(PACKER, 1, "5"), Some(&site(Kind::Packer, 1))),
            x,
        ),
    ]
}

/// Pallet `p` received at the distribution centre from the carrier at `t` and broken
/// down into `cartons` an hour later (the DC's events).
pub(crate) fn pallet_in(p: usize, pallet: &str, cartons: &[String], t: i64) -> [Value; 2] {
    let mut x = handover(
        Kind::Carrier,
        Kind::Dc,
        &site(Kind::Carrier, 2),
        &site(Kind::Dc, 1),
    );
    merge(&mut x, po_and_desadv(p as u64));
    [
        object_event(
            t,
            ["OBSERVE", "receiving", "in_progress"],
            &[pallet.to_string()],
            (&sgln(DC, 1, "1"), Some(&site(Kind::Dc, 1))),
            x,
        ),
        aggregation_event(
            t + 60 * MIN,
            ["DELETE", "unpacking", "in_progress"],
            pallet,
            cartons,
            (&sgln(DC, 1, "2"), &site(Kind::Dc, 1)),
        ),
    ]
}

/// Carton `c` on its way to a customer: stored at the DC at `t`, picked a day later for
/// an order, shipped, carried by van (two readings) and handed over. The DC's three
/// events, then the carrier's two.
pub(crate) fn carton_out(c: usize, t: i64) -> ([Value; 3], [Value; 2]) {
    let carton = [trace_carton(c)];
    let order = bt(Kind::Dc, &format!("SO-T{c:05}"));
    let order_ref = json!({ "bizTransactionList": [{ "type": "po", "bizTransaction": order }] });
    let mut shipped = handover(
        Kind::Dc,
        Kind::Carrier,
        &site(Kind::Dc, 1),
        &site(Kind::Carrier, 1),
    );
    merge(&mut shipped, order_ref.clone());
    let van = giai(Kind::Carrier, &format!("VAN{:03}", c % 12));
    let mut carried = sensor_log(
        t + 1_560 * MIN,
        (2, 60 * MIN),
        &giai(Kind::Carrier, "TL50020"),
        c as u64,
    );
    merge(&mut carried, order_ref.clone());
    let dc = [
        object_event(
            t,
            ["OBSERVE", "storing", "sellable_not_accessible"],
            &carton,
            (
                &sgln(DC, 1, &format!("{}", 100 + c % 40)),
                Some(&site(Kind::Dc, 1)),
            ),
            json!({}),
        ),
        object_event(
            t + 1_440 * MIN,
            ["OBSERVE", "picking", "in_progress"],
            &carton,
            (&sgln(DC, 1, "3"), Some(&site(Kind::Dc, 1))),
            order_ref,
        ),
        object_event(
            t + 1_500 * MIN,
            ["OBSERVE", "shipping", "in_transit"],
            &carton,
            (&sgln(DC, 1, "4"), Some(&site(Kind::Dc, 1))),
            shipped,
        ),
    ];
    let carrier = [
        object_event(
            t + 1_620 * MIN,
            ["OBSERVE", "transporting", "in_transit"],
            &carton,
            (&van, None),
            carried,
        ),
        object_event(
            t + 1_700 * MIN,
            ["OBSERVE", "arriving", "in_transit"],
            &carton,
            (&van, None),
            json!({
                "destinationList": [{ "type": "owning_party", "destination": format!("urn:epc:id:pgln:{DC}.{:05}", 10 + c % 90) }],
                "wb:note": "handed to the customer"
            }),
        ),
    ];
    (dc, carrier)
}

/// The documents that build the traced lineage, each with its capturer. Forward from
/// the lot: 3 lot events, 10 × 8 pallet events, 10 unpackings, 200 × 5 carton events.
fn trace_documents() -> Vec<(Kind, String)> {
    let t = TRACE_T0_MS;
    let per_pallet = TRACE_CARTONS / TRACE_PALLETS;
    let cartons_of = |p: usize| -> Vec<String> {
        (p * per_pallet..(p + 1) * per_pallet)
            .map(trace_carton)
            .collect()
    };
    let all_cartons: Vec<String> = (0..TRACE_CARTONS).map(trace_carton).collect();
    let (harvest, plant) = lot_into_cartons(t, &all_cartons);
    let mut packer = Vec::from(plant);
    let mut carrier = Vec::new();
    let mut dc = Vec::new();
    for p in 0..TRACE_PALLETS {
        let pal = trace_pallet(p);
        let tp = t + 450 * MIN + p as i64 * MIN;
        packer.extend(pallet_out(p, &pal, &cartons_of(p), tp));
        let truck = giai(Kind::Carrier, &format!("TRK{:04}", 100 + p / 2));
        carrier.push(object_event(
            tp + 90 * MIN,
            ["OBSERVE", "departing", "in_transit"],
            std::slice::from_ref(&pal),
            (&truck, Some(&site(Kind::Carrier, 1))),
            json!({ "bizTransactionList": [
                { "type": "bol", "bizTransaction": bt(Kind::Carrier, &format!("BOL-T{p:03}")) }
            ]}),
        ));
        for leg in 0..3 {
            carrier.push(object_event(
                tp + (150 + leg * 180) * MIN,
                [
                    "OBSERVE",
                    if leg == 1 {
                        "sensor_reporting"
                    } else {
                        "transporting"
                    },
                    "in_transit",
                ],
                std::slice::from_ref(&pal),
                (&truck, None),
                sensor_log(
                    tp + (90 + leg * 180) * MIN,
                    (3, 60 * MIN),
                    &giai(Kind::Carrier, "TL40117"),
                    p as u64,
                ),
            ));
        }
        carrier.push(object_event(
            tp + 720 * MIN,
            ["OBSERVE", "arriving", "in_transit"],
            std::slice::from_ref(&pal),
            (&sgln(CARRIER, 2, "1"), Some(&site(Kind::Carrier, 2))),
            json!({}),
        ));
        dc.extend(pallet_in(p, &pal, &cartons_of(p), tp + 900 * MIN));
    }
    for c in 0..TRACE_CARTONS {
        let (at_dc, by_carrier) = carton_out(c, t + 1_500 * MIN + c as i64 * MIN);
        dc.extend(at_dc);
        carrier.extend(by_carrier);
    }
    let end = t + 5_000 * MIN;
    vec![
        (Kind::Farm, document(t + 10 * MIN, vec![harvest])),
        (Kind::Packer, document(end, packer)),
        (Kind::Carrier, document(end, carrier)),
        (Kind::Dc, document(end, dc)),
    ]
}

// ---------- one run ----------

pub(crate) struct Setup {
    pub(crate) genesis: Genesis,
    validator: SecretKey,
    /// Admins' transactions (members, locations, products, lots), in sequence order.
    txs: Vec<SignedTx>,
    /// Capturing members and their kind.
    capturers: Vec<(SecretKey, Kind)>,
    /// One member per organization for the traced lineage; the packer's also reads it.
    pub(crate) tracers: HashMap<Kind, SecretKey>,
    /// Each organization's encryption key (version 1, registered by its admin).
    seal_keys: HashMap<Kind, waybill_types::seal::SealSecretKey>,
}

/// A consortium of `kinds` (each organization with a member for the traced lineage and
/// its registered sites; the carrier and customs have two), the farm's bulk product and
/// lot and the plant's carton product and lot, and `n_capturers` capturing members.
/// With `keep_stock`, the distribution centre counts [`DC_STOCK_START`] cartons at its
/// site.
pub(crate) fn setup(
    chain_id: &str,
    kinds: &[Kind],
    n_capturers: usize,
    keep_stock: bool,
) -> anyhow::Result<Setup> {
    let admins: HashMap<Kind, SecretKey> =
        kinds.iter().map(|k| (*k, SecretKey::generate())).collect();
    let validator = SecretKey::generate();
    let genesis = Genesis {
        chain_id: chain_id.into(),
        genesis_time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        organizations: kinds
            .iter()
            .map(|&k| {
                Ok(GenesisOrganization {
                    id: OrgId::new(k.org())?,
                    name: format!("Benchmark {}", k.org()),
                    admin: admins[&k].public(),
                    roles: k.roles(),
                    company_prefixes: vec![k.prefix().into()],
                })
            })
            .collect::<anyhow::Result<_>>()?,
        validators: vec![GenesisValidator {
            org: OrgId::new(Kind::Packer.org())?,
            public_key: validator.public(),
            voting_power: 1,
        }],
    };
    genesis.check()?;
    let chain_id = genesis.chain_id.clone();
    let capturers: Vec<(SecretKey, Kind)> = (0..n_capturers)
        .map(|i| {
            (
                SecretKey::generate(),
                Kind::CAPTURERS[i % Kind::CAPTURERS.len()],
            )
        })
        .collect();
    let tracers: HashMap<Kind, SecretKey> =
        kinds.iter().map(|k| (*k, SecretKey::generate())).collect();
    let seal_keys: HashMap<Kind, waybill_types::seal::SealSecretKey> = kinds
        .iter()
        .map(|k| {
            (
                *k,
                waybill_types::seal::SealSecretKey::generate(&mut rand_core::OsRng).0,
            )
        })
        .collect();
    let mut per_admin: HashMap<Kind, Vec<Payload>> = HashMap::new();
    let mut add = |k: Kind, p: Payload| per_admin.entry(k).or_default().push(p);
    for (i, (m, k)) in capturers.iter().enumerate() {
        add(
            *k,
            Payload::RegisterMember(RegisterMember {
                member: m.public(),
                name: format!("capture member {i}"),
                roles: k.roles(),
            }),
        );
    }
    for &k in kinds {
        add(
            k,
            Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey {
                version: 1,
                key: seal_keys[&k].public(),
            }),
        );
        add(
            k,
            Payload::RegisterMember(RegisterMember {
                member: tracers[&k].public(),
                name: format!("trace member of {}", k.org()),
                roles: k.roles(),
            }),
        );
        let n_sites = if matches!(k, Kind::Carrier | Kind::Customs) {
            2
        } else {
            1
        };
        for loc in 1..=n_sites {
            add(
                k,
                Payload::RegisterLocation(RegisterLocation {
                    gln: gln(k, loc)?,
                    name: format!("{} site {loc}", k.org()),
                    kind: match k {
                        Kind::Farm => "farm",
                        Kind::Packer => "plant",
                        Kind::Carrier => "cross-dock",
                        Kind::Dc => "warehouse",
                        Kind::Customs => "customs inspection site",
                    }
                    .into(),
                    address: format!("{loc} Benchmark Road, Chengdu"),
                    country: "CN".into(),
                    latitude: None,
                    longitude: None,
                }),
            );
        }
    }
    let bulk = gtin(FARM, BULK_ITEM)?;
    let carton = gtin(PACKER, CARTON_ITEM)?;
    add(
        Kind::Farm,
        Payload::RegisterProduct(RegisterProduct {
            gtin: bulk.clone(),
            name: "Navel oranges, bulk".into(),
            brand: "Bench".into(),
            category: "fresh fruit".into(),
            origin_country: "CN".into(),
        }),
    );
    add(
        Kind::Farm,
        Payload::RegisterLot(RegisterLot {
            gtin: bulk.clone(),
            lot: TRACE_LOT.into(),
            origin_gln: Some(gln(Kind::Farm, 1)?),
            produced_on: "2026-11-10".into(),
            quantity: 1100,
            unit: "kg".into(),
            inputs: vec![],
            raw_materials: vec![],
            claims: vec![],
        }),
    );
    add(
        Kind::Packer,
        Payload::RegisterProduct(RegisterProduct {
            gtin: carton.clone(),
            name: "Navel oranges, 5 kg carton".into(),
            brand: "Bench".into(),
            category: "fresh fruit".into(),
            origin_country: "CN".into(),
        }),
    );
    if keep_stock && kinds.contains(&Kind::Dc) {
        add(
            Kind::Dc,
            Payload::AdjustStock(waybill_types::payload::AdjustStock {
                location: gln(Kind::Dc, 1)?,
                gtin: carton.clone(),
                change: waybill_types::payload::commerce::StockChange::Count {
                    on_hand: DC_STOCK_START,
                },
            }),
        );
    }
    add(
        Kind::Packer,
        Payload::RegisterLot(RegisterLot {
            gtin: carton,
            lot: TRACE_LOT.into(),
            origin_gln: Some(gln(Kind::Packer, 1)?),
            produced_on: "2026-11-10".into(),
            quantity: TRACE_CARTONS as u64,
            unit: "carton".into(),
            inputs: vec![],
            raw_materials: vec![LotRef {
                gtin: bulk,
                lot: TRACE_LOT.into(),
            }],
            claims: vec![],
        }),
    );
    // Farm first: the plant's carton lot names the farm's lot as its raw material.
    let mut txs = Vec::new();
    for &k in kinds {
        for p in per_admin.remove(&k).unwrap_or_default() {
            txs.push(waybill_client::sign(&admins[&k], &chain_id, p));
        }
    }
    Ok(Setup {
        genesis,
        validator,
        txs,
        capturers,
        tracers,
        seal_keys,
    })
}

/// `document` with `n` fields in every event: each event gets a `urn:uuid` eventID
/// (the record id a seal binds) and fields `wb:sealed0`… holding a price-like object,
/// sealed for `kind`'s organization with `key` (ChaCha20-Poly1305 data key, HPKE
/// wrap) as `waybill capture --seal` would, or left in plaintext without one.
fn add_fields(
    document: &str,
    chain_id: &str,
    kind: Kind,
    key: Option<&waybill_types::seal::SealSecretKey>,
    n: usize,
    serial: &mut u64,
) -> anyhow::Result<String> {
    use waybill_types::seal::{seal_at, Place, Recipient};
    let mut doc: Value = serde_json::from_str(document)?;
    let to: Vec<Recipient> = key
        .map(|key| -> anyhow::Result<Recipient> {
            Ok(Recipient {
                org: OrgId::new(kind.org())?,
                kv: 1,
                key: key.public(),
            })
        })
        .transpose()?
        .into_iter()
        .collect();
    let events = doc["epcisBody"]["eventList"]
        .as_array_mut()
        .context("a document with an event list")?;
    for e in events {
        *serial += 1;
        let id = format!("urn:uuid:00000000-0000-4000-8000-{:012x}", *serial);
        e["eventID"] = json!(id);
        for k in 0..n {
            let field = format!("wb:sealed{k}");
            e[&field] = json!({"amount": format!("{}.{:02}", 100 + *serial % 900, k), "currency": "CNY", "terms": "FCA Chengdu, 30 days net"});
            if to.is_empty() {
                continue;
            }
            seal_at(
                e,
                &Place {
                    chain_id,
                    record: &id,
                    field: &format!("/{field}"),
                    category: waybill_types::DataCategory::Financial,
                },
                &to,
                &mut rand_core::OsRng,
            )
            .map_err(|e| anyhow::anyhow!("sealing: {e}"))?;
        }
    }
    Ok(doc.to_string())
}

/// One document to capture, signed: the transaction, its id (the capture id), its
/// number of events.
struct Capture {
    stx: SignedTx,
    id: TxId,
    events: usize,
}

impl Capture {
    fn document(&self) -> &str {
        match &self.stx.tx.payload {
            Payload::CaptureEpcis(CaptureEpcis { document }) => document,
            _ => unreachable!("signed_capture builds capture transactions only"),
        }
    }
}

fn signed_capture(key: &SecretKey, chain_id: &str, document: String) -> Capture {
    let events = serde_json::from_str::<Value>(&document)
        .ok()
        .and_then(|d| trace::document_events(&d).0.map(Vec::len))
        .unwrap_or(0);
    let stx = waybill_client::sign(
        key,
        chain_id,
        Payload::CaptureEpcis(CaptureEpcis { document }),
    );
    Capture {
        id: stx.id(),
        stx,
        events,
    }
}

type SentAt = Arc<Mutex<HashMap<TxId, (Instant, usize)>>>;

/// Post a member's documents in order, at most `permits` uncommitted at once
/// (the commit watcher gives permits back).
async fn capture_lane(
    client: Client,
    lane: usize,
    docs: Vec<Capture>,
    permits: Arc<Semaphore>,
    sent_at: SentAt,
) -> anyhow::Result<()> {
    for c in docs {
        permits.acquire().await?.forget();
        sent_at
            .lock()
            .expect("bench lock is never poisoned")
            .insert(c.id, (Instant::now(), lane));
        let mut attempt = 0;
        let answer = loop {
            match client.capture_signed(&c.stx, false).await {
                Ok(v) => break v,
                Err(e) if e.code() == Some("busy") && attempt + 1 < BUSY_RETRIES_MAX => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e).context("a benchmark capture was refused"),
            }
        };
        ensure!(
            answer["captureID"].as_str() == Some(c.id.to_string().as_str())
                && answer["events"].as_u64() == Some(c.events as u64),
            "unexpected capture answer: {answer}"
        );
    }
    Ok(())
}

/// Check a finished capture job: applied, every event stored, none a duplicate.
pub(crate) fn check_job(job: &Value, events: usize) -> anyhow::Result<()> {
    ensure!(
        job["success"] == true
            && job["running"] == false
            && job["eventsCaptured"].as_u64() == Some(events as u64)
            && job["duplicatesSkipped"].as_u64() == Some(0),
        "capture {} was not applied in full (expected {events} events): success {}, running {}, captured {}, duplicates {}, errors {}",
        job["captureID"],
        job["success"],
        job["running"],
        job["eventsCaptured"],
        job["duplicatesSkipped"],
        job["errors"]
    );
    Ok(())
}

/// The in-process baseline: parse, validate and hash every event of `docs`, one thread.
fn validate_and_hash(docs: &[&str]) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut n = 0;
    for d in docs {
        let doc: Value = serde_json::from_str(d)?;
        if let Err(p) = waybill_epcis::validate::validate_document(&doc) {
            bail!(
                "a benchmark document is not valid EPCIS: {:?}",
                &p[..p.len().min(5)]
            );
        }
        trace::document_events(&doc)
            .0
            .context("a benchmark document without events")?;
        // Hashed as the ledger hashes: from the text, numbers exactly as written.
        let exact = waybill_epcis::hash_id::ExactDocument::parse(d)?;
        for ev in exact.events() {
            let obj = ev.as_object().context("an event is not an object")?;
            std::hint::black_box(exact.hash_digest(obj)?);
            n += 1;
        }
    }
    Ok((n, started.elapsed().as_secs_f64()))
}

/// Percent-encode a path segment or query value (unreserved characters kept).
fn enc(s: &str) -> String {
    waybill_gs1::digital_link::uri_escape(s, waybill_gs1::digital_link::UriComponent::Path)
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

/// A bare HTTP/1.1 keep-alive connection: times a GET to the last byte of the answer
/// without parsing its body, which is what the API itself costs (the SDK's
/// `Client::get_as` also parses the JSON into a `Value`; that is timed separately).
pub(crate) struct RawHttp {
    conn: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
}

impl RawHttp {
    pub(crate) async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<RawHttp> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawHttp {
            conn: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// GET `path`, with an `Authorization` header if given: the status and the body.
    pub(crate) async fn get(
        &mut self,
        path: &str,
        authorization: Option<&str>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}\r\n", self.host);
        self.conn.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.conn.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line `{}`", line.trim()))?;
        let mut len = None;
        loop {
            line.clear();
            if self.conn.read_line(&mut line).await? == 0 {
                bail!("connection closed in the headers");
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = Some(v.trim().parse::<usize>()?);
                }
            }
        }
        let mut body = vec![0; len.context("an answer without Content-Length")?];
        self.conn.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Time one lineage: at the API (signed GET to the last byte), through the SDK
/// client (with JSON parsing), and in process in its parts.
async fn time_trace(
    client: &Client,
    api_addr: std::net::SocketAddr,
    shared: &Arc<waybill_node::ledger::Shared>,
    reader: &SecretKey,
    start: &str,
    direction: Direction,
    reps: usize,
) -> anyhow::Result<Value> {
    let dir = match direction {
        Direction::Forward => "forward",
        Direction::Back => "back",
    };
    let path = format!("/v1/trace/{}?direction={dir}", enc(start));
    let mut answer = Value::Null;
    for _ in 0..TRACE_WARMUP {
        answer = client.get_as(&path, reader).await?;
    }
    let n_events = answer["events"].as_array().map_or(0, Vec::len);
    ensure!(
        answer["truncated"] == false && answer["hidden_events"] == 0,
        "the trace of {start} was truncated or hid events: {}",
        answer["hidden_events"]
    );
    let expected_body = serde_json::to_vec(&answer)?.len();
    // At the API: each request signed afresh (not timed), timed to its last byte.
    let mut raw = RawHttp::connect(api_addr).await?;
    let mut api = Vec::with_capacity(reps);
    for i in 0..TRACE_WARMUP + reps {
        let auth = waybill_types::keys::read_authorization(reader, "GET", &path, now_ms());
        let t = Instant::now();
        let (status, body) = raw.get(&path, Some(&auth)).await?;
        let elapsed = ms(t.elapsed());
        ensure!(status == 200, "trace answered {status}");
        // The answer's size varies only with the JSON numbers' widths, not its events.
        ensure!(
            body.len().abs_diff(expected_body) < 64,
            "the trace answer changed"
        );
        if i >= TRACE_WARMUP {
            api.push(elapsed);
        }
    }
    // Through the SDK, as an integration would (signs, sends, parses the JSON).
    let mut sdk = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let v = client.get_as(&path, reader).await?;
        sdk.push(ms(t.elapsed()));
        ensure!(
            v["events"].as_array().map_or(0, Vec::len) == n_events,
            "the trace answer changed"
        );
    }
    // In process, on a snapshot, with the same visibility rule as the API.
    let (walk, build, ser, parse, body_bytes) = tokio::task::block_in_place(|| {
        let snap = shared.store.snapshot()?;
        let member = waybill_state::identity::load_member(&snap, &reader.public())?
            .context("the trace reader is not a member")?;
        let (mut walk, mut build, mut ser, mut parse) = (vec![], vec![], vec![], vec![]);
        let mut body_bytes = 0;
        for _ in 0..reps {
            let t = Instant::now();
            let lin = {
                let holds = lineage::walk_holds(&snap, &member.org, start, direction)?;
                let mut vis = |r: &EventRecord| {
                    waybill_state::trace::may_read_event(&snap, &member, r, holds)
                };
                lineage::walk(&snap, start, direction, &mut vis)?
            };
            walk.push(ms(t.elapsed()));
            ensure!(lin.events.len() == n_events, "in-process walk disagrees");
            let t = Instant::now();
            let v = waybill_api::epcis::lineage_answer(&snap, start, &lin)
                .map_err(|e| anyhow::anyhow!("lineage_answer: {}", e.message))?;
            build.push(ms(t.elapsed()));
            let t = Instant::now();
            let body = serde_json::to_vec(&v)?;
            ser.push(ms(t.elapsed()));
            body_bytes = body.len();
            let t = Instant::now();
            std::hint::black_box(serde_json::from_slice::<Value>(&body)?);
            parse.push(ms(t.elapsed()));
        }
        anyhow::Ok((walk, build, ser, parse, body_bytes))
    })?;
    let (api_p50, api_p99) = stats(api);
    let (sdk_p50, sdk_p99) = stats(sdk);
    let (walk_p50, walk_p99) = stats(walk);
    let (build_p50, _) = stats(build);
    let (ser_p50, _) = stats(ser);
    let (parse_p50, _) = stats(parse);
    Ok(json!({
        "id": start,
        "direction": dir,
        "events": n_events,
        "nodes": answer["nodes"].as_array().map_or(0, Vec::len),
        "body_bytes": body_bytes,
        "api_ms_p50": api_p50,
        "api_ms_p99": api_p99,
        "sdk_client_ms_p50": sdk_p50,
        "sdk_client_ms_p99": sdk_p99,
        "walk_ms_p50": walk_p50,
        "walk_ms_p99": walk_p99,
        "lineage_answer_ms_p50": build_p50,
        "serialize_ms_p50": ser_p50,
        "client_parse_ms_p50": parse_p50,
    }))
}

/// Start a fresh one-validator node for `s` in a temporary directory (its path is
/// returned for removal after the node stops) and apply the setup transactions.
pub(crate) async fn start_node(
    s: &Setup,
    tag: &str,
) -> anyhow::Result<(serve::Served, std::path::PathBuf)> {
    let dir = scratch_dir(tag)?;
    let home = Home::new(&dir);
    KeyFile::write(&home.validator_key(), "bench validator", &s.validator)?;
    std::fs::write(home.genesis_path(), serde_json::to_string(&s.genesis)?)?;
    let listen = Listen {
        api: format!("127.0.0.1:{}", free_port()?),
        p2p: format!("/ip4/127.0.0.1/tcp/{}", free_port()?),
        peers: vec![],
        peer_apis: vec![],
        byzantine: None,
        tls: None,
    };
    let served = serve::start(&home, listen)
        .await
        .context("starting the benchmark node")?;
    let client = Client::new(&format!("http://{}", served.api_addr));
    let applied = async {
        for r in client.submit_batch(&s.txs, true).await? {
            if r["status"] != "applied" {
                bail!("benchmark setup failed: {r}");
            }
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = applied {
        served.run_shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok((served, dir))
}

async fn run_once(o: &EpcisBenchOptions) -> anyhow::Result<Value> {
    let s = setup(
        "waybill-bench-epcis",
        &Kind::all(),
        o.n_members,
        o.keep_stock,
    )?;
    let chain_id = s.genesis.chain_id.clone();
    let (served, dir) = start_node(&s, "bench-epcis").await?;
    let result = measure(o, &s, &chain_id, &served).await;
    served.run_shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
    result
}

/// With `keep_stock`: the distribution centre's shipping events (two cartons each,
/// every fifth event of its documents) took exactly their cartons out of its stock
/// (its pallets' receipts hold none: no one packed them). The cartons shipped.
fn check_dc_stock(
    o: &EpcisBenchOptions,
    s: &Setup,
    shared: &waybill_node::ledger::Shared,
) -> anyhow::Result<u64> {
    if !o.keep_stock {
        return Ok(0);
    }
    let dc_members = s.capturers.iter().filter(|(_, k)| *k == Kind::Dc).count();
    let per_doc = (0..o.doc_events).filter(|i| i % 5 == 4).count();
    let want = (dc_members * o.docs_per_member * per_doc * 2) as u64;
    let stock = waybill_state::inventory::load_stock(
        &shared.store.snapshot()?,
        &gln(Kind::Dc, 1)?,
        &gtin(PACKER, CARTON_ITEM)?,
    )?
    .context("the distribution centre keeps stock")?;
    ensure!(
        stock.on_hand == DC_STOCK_START - want,
        "the distribution centre holds {} cartons; {DC_STOCK_START} counted less {want} shipped is {}",
        stock.on_hand,
        DC_STOCK_START - want
    );
    Ok(want)
}

async fn measure(
    o: &EpcisBenchOptions,
    s: &Setup,
    chain_id: &str,
    served: &serve::Served,
) -> anyhow::Result<Value> {
    let shared = served.node.shared.clone();
    let client = Client::new(&format!("http://{}", served.api_addr));
    // Documents, signed (for their ids) before the clock starts.
    let lanes: Vec<Vec<Capture>> = s
        .capturers
        .iter()
        .enumerate()
        .map(|(m, (key, kind))| {
            (0..o.docs_per_member)
                .map(|d| {
                    let mut doc = capture_document(*kind, m, d, o.doc_events);
                    if o.sealed_fields + o.plain_fields > 0 {
                        let mut serial = ((m * o.docs_per_member + d) * o.doc_events) as u64;
                        doc = add_fields(
                            &doc,
                            chain_id,
                            *kind,
                            (o.sealed_fields > 0).then(|| &s.seal_keys[kind]),
                            o.sealed_fields.max(o.plain_fields),
                            &mut serial,
                        )?;
                    }
                    Ok(signed_capture(key, chain_id, doc))
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect::<anyhow::Result<_>>()?;
    // Each capture's events and its capturer's key (a job is read by its submitter).
    let expected: HashMap<TxId, (usize, SecretKey)> = lanes
        .iter()
        .zip(&s.capturers)
        .flat_map(|(lane, (key, _))| lane.iter().map(move |c| (c.id, (c.events, key.clone()))))
        .collect();
    let n_docs = expected.len();
    let n_events: usize = expected.values().map(|(e, _)| e).sum();
    let doc_bytes: usize = lanes.iter().flatten().map(|c| c.document().len()).sum();
    let texts: Vec<String> = lanes
        .iter()
        .flatten()
        .map(|c| c.document().to_string())
        .collect();
    let events_before = trace::event_count(&shared.store.snapshot()?)?;

    // 1. Capture throughput.
    let sent_at: SentAt = Arc::new(Mutex::new(HashMap::with_capacity(n_docs)));
    let permits: Vec<Arc<Semaphore>> = (0..lanes.len())
        .map(|_| Arc::new(Semaphore::new(o.in_flight.max(1))))
        .collect();
    let mut commits = shared.commits.subscribe();
    let start_height = shared.head.borrow().height.0;
    let started = Instant::now();
    let tasks: Vec<_> = lanes
        .into_iter()
        .enumerate()
        .map(|(i, docs)| {
            tokio::spawn(capture_lane(
                client.clone(),
                i,
                docs,
                permits[i].clone(),
                sent_at.clone(),
            ))
        })
        .collect();
    let mut latencies_ms = Vec::with_capacity(n_docs);
    let mut rejected = Vec::new();
    while latencies_ms.len() < n_docs {
        let cb = next_commit(&mut commits, started + RUN_TIMEOUT, || {
            format!(
                "capture timed out with {} of {n_docs} documents committed",
                latencies_ms.len()
            )
        })
        .await?;
        let now = Instant::now();
        let sent = sent_at.lock().expect("bench lock is never poisoned");
        for r in cb.receipts.iter() {
            if let Some((t0, lane)) = sent.get(&r.tx_id) {
                latencies_ms.push(ms(now.duration_since(*t0)));
                permits[*lane].add_permits(1);
                if let TxStatus::Rejected { code, message } = &r.status {
                    rejected.push(format!("{code}: {message}"));
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        t.await.context("capture task")??;
    }
    let n_blocks = shared.head.borrow().height.0 - start_height;
    if !rejected.is_empty() {
        bail!(
            "{} benchmark captures were rejected, e.g. {}",
            rejected.len(),
            rejected[0]
        );
    }
    // Every capture job succeeded with all its events; the store holds them all.
    for (id, (events, key)) in &expected {
        check_job(
            &client.get_as(&format!("/epcis/capture/{id}"), key).await?,
            *events,
        )?;
    }
    let stored = trace::event_count(&shared.store.snapshot()?)? - events_before;
    ensure!(
        stored == n_events as u64,
        "{stored} events stored, {n_events} sent"
    );
    let shipped = check_dc_stock(o, s, &shared)?;
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (n_base, base_s) = tokio::task::block_in_place(|| validate_and_hash(&refs))?;
    ensure!(n_base == n_events, "baseline saw {n_base} events");
    let capture = json!({
        "events_per_s": (n_events as f64 / elapsed).round(),
        "documents_per_s": round1(n_docs as f64 / elapsed),
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "latency_ms_p50": round1(percentile(&latencies_ms, 0.5)),
        "latency_ms_p99": round1(percentile(&latencies_ms, 0.99)),
        "blocks": n_blocks,
        "document_bytes_mean": doc_bytes / n_docs.max(1),
        "baseline_validate_hash_events_per_s": (n_base as f64 / base_s).round(),
        "dc_stock_units_shipped": shipped,
    });

    // 2. The traced lineage, then its timing.
    for (kind, doc) in trace_documents() {
        let c = signed_capture(&s.tracers[&kind], chain_id, doc);
        ensure!(
            c.document().len() <= waybill_types::limits::EPCIS_DOCUMENT_BYTES_MAX,
            "a trace document is too large"
        );
        let job = client
            .capture_signed(&c.stx, true)
            .await
            .with_context(|| format!("capturing the traced lineage as {}", kind.org()))?;
        check_job(&job, c.events)?;
    }
    let reader = &s.tracers[&Kind::Packer];
    let lot = trace_lot_id()?;
    let carton = waybill_api::epcis::canonical_id(&trace_carton(TRACE_CARTONS / 2))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let forward = time_trace(
        &client,
        served.api_addr,
        &shared,
        reader,
        &lot,
        Direction::Forward,
        o.trace_reps,
    )
    .await?;
    let n_forward = forward["events"].as_u64().unwrap_or(0) as usize;
    ensure!(
        n_forward >= TRACE_EVENTS_MIN,
        "the forward lineage of the lot names {n_forward} events, fewer than {TRACE_EVENTS_MIN}"
    );
    let back = time_trace(
        &client,
        served.api_addr,
        &shared,
        reader,
        &carton,
        Direction::Back,
        o.trace_reps,
    )
    .await?;
    Ok(
        json!({ "capture": capture, "documents": n_docs, "events": n_events, "trace": { "forward": forward, "back": back } }),
    )
}

pub async fn run(o: EpcisBenchOptions) -> anyhow::Result<()> {
    if o.n_members == 0 || o.docs_per_member == 0 || o.runs == 0 || o.trace_reps == 0 {
        bail!("--members, --docs, --runs and --trace-reps must be at least 1");
    }
    if o.doc_events == 0 || o.doc_events > waybill_types::limits::EPCIS_EVENTS_MAX {
        bail!(
            "--doc-events must be 1-{}",
            waybill_types::limits::EPCIS_EVENTS_MAX
        );
    }
    if o.sealed_fields > 0 && o.plain_fields > 0 {
        bail!("--sealed-fields and --plaintext-fields measure two runs; give one of them");
    }
    let runs = repeat_runs(o.runs, o.json, || run_once(&o)).await?;
    let col = |ptr: &str| median_at(&runs, ptr);
    let eps = col("/capture/events_per_s");
    let base = col("/capture/baseline_validate_hash_events_per_s");
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let trace_summary = |d: &str| {
        let p = |k: &str| col(&format!("/trace/{d}/{k}"));
        json!({
            "id": runs[0]["trace"][d]["id"],
            "events": runs[0]["trace"][d]["events"],
            "nodes": runs[0]["trace"][d]["nodes"],
            "body_bytes": runs[0]["trace"][d]["body_bytes"],
            "api_ms_p50_median": r3(p("api_ms_p50")),
            "api_ms_p99_median": r3(p("api_ms_p99")),
            "sdk_client_ms_p50_median": r3(p("sdk_client_ms_p50")),
            "sdk_client_ms_p99_median": r3(p("sdk_client_ms_p99")),
            "in_process_walk_ms_p50_median": r3(p("walk_ms_p50")),
            "in_process_walk_ms_p99_median": r3(p("walk_ms_p99")),
            "in_process_lineage_answer_ms_p50_median": r3(p("lineage_answer_ms_p50")),
            "in_process_serialize_ms_p50_median": r3(p("serialize_ms_p50")),
            "client_parse_ms_p50_median": r3(p("client_parse_ms_p50")),
            "ratio_api_to_walk": round1(p("api_ms_p50") / p("walk_ms_p50")),
        })
    };
    let result = json!({
        "benchmark": "EPCIS capture (POST /epcis/capture) and lineage trace (GET /v1/trace) on one validator",
        "validators": 1,
        "members": o.n_members,
        "documents": runs[0]["documents"],
        "events_per_document": o.doc_events,
        "sealed_fields_per_event": o.sealed_fields,
        "plaintext_fields_per_event": o.plain_fields,
        "dc_keeps_stock": o.keep_stock,
        "events": runs[0]["events"],
        "in_flight_per_member": o.in_flight.max(1),
        "runs": o.runs,
        "trace_reps": o.trace_reps,
        "capture": {
            "events_per_s_median": eps,
            "latency_ms_p50_median": round1(col("/capture/latency_ms_p50")),
            "latency_ms_p99_median": round1(col("/capture/latency_ms_p99")),
            "baseline_validate_hash_events_per_s_median": base,
            "ratio_to_baseline": (eps / base * 100.0).round() / 100.0,
        },
        "trace": { "forward": trace_summary("forward"), "back": trace_summary("back") },
        "per_run": runs,
    });
    if o.json {
        println!("{result}");
    } else {
        let c = &result["capture"];
        println!(
            "captured {} events ({} sealed, {} plaintext fields each) in {} documents of {} from {} members: median {eps:.0} events/s over {} runs; \
capture latency p50 {} ms, p99 {} ms per document; in-process validate+hash baseline {base:.0} events/s (ratio {})",
            result["events"], o.sealed_fields, o.plain_fields, result["documents"], o.doc_events, o.n_members, o.runs,
            c["latency_ms_p50_median"], c["latency_ms_p99_median"], c["ratio_to_baseline"]
        );
        for d in ["forward", "back"] {
            let t = &result["trace"][d];
            println!(
                "trace {d} from {} ({} events, {} bytes): API p50 {} ms, p99 {} ms; SDK client (parses the JSON) p50 {} ms, p99 {} ms; \
in-process walk p50 {} ms (API/walk {}); in process: lineage_answer {} ms, serialising {} ms, client parse {} ms",
                t["id"], t["events"], t["body_bytes"], t["api_ms_p50_median"], t["api_ms_p99_median"],
                t["sdk_client_ms_p50_median"], t["sdk_client_ms_p99_median"],
                t["in_process_walk_ms_p50_median"], t["ratio_api_to_walk"],
                t["in_process_lineage_answer_ms_p50_median"], t["in_process_serialize_ms_p50_median"],
                t["client_parse_ms_p50_median"]
            );
        }
    }
    Ok(())
}
