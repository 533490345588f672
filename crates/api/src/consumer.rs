//! The consumer page behind a product's QR code (`GET /01/…` from a browser), the
//! label sheet of QR codes (`GET /labels`), and the two scripts the page runs
//! (`GET /assets/{name}`).
//!
//! The page carries the product's proof bundle (docs/PROOFS.md) and renders its
//! records twice: here, as plain HTML marked "not verified" (what a browser without
//! JavaScript shows), and in the browser by `consumer.js`, which first removes that
//! copy, checks the bundle with `waybill-proof.js` (WebCrypto SHA-256 and Ed25519)
//! against the fingerprint in the scanned link, and draws the history again from the
//! verified bytes only.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::Value;
use waybill_state::trace;
use waybill_state::trace::lineage::{self, Direction};
use waybill_state::{catalog, keys};
use waybill_types::proof::ProofBundle;

use crate::pages::percent_encode;
use crate::{ApiError, AppState};

/// The proof verifier the page runs (plain JavaScript, no build step).
pub const PROOF_JS: &str = include_str!("../assets/waybill-proof.js");
/// The page's script: verify, then draw from verified records.
pub const CONSUMER_JS: &str = include_str!("../assets/consumer.js");

const STYLE: &str = "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:42rem;margin:0 auto;padding:.8rem;line-height:1.5;color:#1d2a1d;font-size:1.05rem;background:#fbfaf7}\
header h1{color:#b45300;font-size:1.45rem;margin:.1rem 0 .4rem}.brand{margin:0;color:#667;font-size:.85rem}\
h2{font-size:1.1rem;margin:.2rem 0 .4rem}h3{font-size:1rem;margin:.6rem 0 .2rem}\
dl{display:grid;grid-template-columns:minmax(5rem,auto) 1fr;gap:.15rem .8rem;margin:0}dt{color:#667}dd{margin:0;overflow-wrap:anywhere}\
.card{background:#fff;border:1px solid #e4e2dc;border-radius:.7rem;padding:.7rem .9rem;margin:.7rem 0;overflow-wrap:anywhere}\
.muted{color:#667;font-size:.9rem}code{overflow-wrap:anywhere;word-break:break-all;font-size:.85rem}ul{padding-left:1.2rem;margin:.2rem 0}\
.badge{border-radius:.7rem;padding:.6rem .9rem;margin:.6rem 0;border:2px solid #999;background:#f1f1f1}.badge strong{display:block;font-size:1.1rem}.badge .why{display:block;font-size:.9rem;overflow-wrap:anywhere}\
.badge.verified{border-color:#1e7b34;background:#e6f5e9;color:#10501f}.badge.failed{border-color:#b3261e;background:#fdecea;color:#7a1610}\
.badge.unverified{border-color:#b7791f;background:#fff6e0;color:#6b4a0b}.badge.checking{border-color:#888;background:#f3f3f3}\
.unverified .card{border-style:dashed}.tag{font-size:.75rem;font-weight:700;color:#6b4a0b;background:#fff0c2;border-radius:.3rem;padding:0 .3rem;margin-left:.4rem;vertical-align:middle}\
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid #f0a050;margin-left:.4rem}ol.timeline li{position:relative;padding:0 0 .8rem .9rem}\
ol.timeline li::before{content:'';position:absolute;left:-.5rem;top:.45rem;width:.7rem;height:.7rem;border-radius:50%;background:#f08a24}\
ol.timeline time{display:block;color:#667;font-size:.85rem}.temps{font-size:.9rem;color:#1e5a7b}.temps.warn{color:#b3261e;font-weight:600}\
.lapsed{color:#667}.chart{width:100%;height:auto;display:block}.chart .band{fill:#dff3e3}.chart .limit{stroke:#1e7b34;stroke-dasharray:4 3}\
.chart .axis{stroke:#999}.chart .line{fill:none;stroke:#1e5a7b;stroke-width:2}.chart .dot{fill:#1e5a7b}.chart .dot.out{fill:#b3261e}.chart .tick{font-size:12px;fill:#556}\
.qr svg{width:9rem;height:9rem;display:block}details summary{cursor:pointer;font-weight:600}a{color:#0b5cad}";

/// The label sheet and the consumer page's scripts (the page itself is the
/// resolver's answer to a browser).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/labels", get(labels))
        .route("/assets/{name}", get(asset))
}

/// `GET /assets/{name}`: the page's scripts.
pub(crate) async fn asset(p: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(name) = p?;
    let body = match name.as_str() {
        "waybill-proof.js" => PROOF_JS,
        "consumer.js" => CONSUMER_JS,
        _ => {
            return Err(ApiError::not_found(
                "unknown_asset",
                format!("no asset `{name}`; there are waybill-proof.js and consumer.js"),
            ))
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}

/// The scheme and host the browser used, for links and QR codes that must come back
/// to this node.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// The QR code (SVG) of `link`, a page's link on this node (see [`base_url`]). Only
/// the request's `Host` can make it too long for a QR code: that is refused (400
/// `link_too_long`), never drawn as an empty code; any other failure is a 500 that
/// names its cause.
fn link_qr(link: &str) -> Result<String, ApiError> {
    use waybill_gs1::qr::{svg, QrError, QrOptions};
    svg(link, &QrOptions::default()).map_err(|e| match e {
        QrError::TooLong { len, max } => ApiError::bad_request(
            "link_too_long",
            format!(
                "this page's link is {len} bytes, over the {max} a QR code holds; it starts with the request's Host header, which is too long: use the node's usual host name"
            ),
        ),
        other => {
            tracing::error!(%other, link, "cannot draw a page's QR code");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "qr_failed",
                format!("cannot draw this page's QR code: {other}"),
            )
        }
    })
}

/// A consortium fingerprint as it may appear in a link (`wb`): hex only.
pub(crate) fn clean_fingerprint(wb: Option<&str>) -> Option<String> {
    wb.filter(|w| (8..=64).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

/// The records of a bundle by position, decoded but NOT verified (for the
/// no-JavaScript view).
fn unverified_records(bundle: &ProofBundle) -> BTreeMap<(u64, u64), Value> {
    bundle
        .records
        .iter()
        .filter_map(|r| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&r.record)
                .ok()?;
            Some(((r.height, r.index), serde_json::from_slice(&bytes).ok()?))
        })
        .collect()
}

/// How a shown event relates to the page's subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Relation {
    /// A container, while it held the item.
    Held,
    /// The lot the item belongs to.
    Lot,
    /// Something it was made from.
    Input,
}

/// A timeline step: the event, its time, and — if it is about another subject of the
/// history — which, and how.
struct Step<'a> {
    record: &'a Value,
    time_ms: i64,
    via: Option<(&'a str, Relation)>,
}

type Windows = Vec<(i64, i64)>;

fn clip(windows: &[(i64, i64)], lo: i64, hi: i64) -> Windows {
    windows
        .iter()
        .filter_map(|&(a, b)| {
            let (x, y) = (a.max(lo), b.min(hi));
            (x < y || (x == y && lo == hi)).then_some((x, y))
        })
        .collect()
}

fn within(t: i64, windows: &[(i64, i64)]) -> bool {
    windows
        .iter()
        .any(|&(a, b)| t >= a && (t < b || (a == b && t == a)))
}

/// How far the history reaches from the page's subject: each subject reached, the
/// time windows in which its events are about the page's subject, and how it relates.
type Reach = BTreeMap<String, (Windows, Option<Relation>)>;

/// Which events the page shows, in time order: the item's own, a container's while it
/// held the item, an input's up to its transformation, a lot's about the lot itself.
/// The same selection as `timeline` in `assets/consumer.js`.
fn timeline<'a>(
    roots: &[String],
    history: &'a waybill_types::proof::History,
    records: &'a BTreeMap<(u64, u64), Value>,
) -> Vec<Step<'a>> {
    let corrected: BTreeSet<&str> = records
        .values()
        .filter(|r| r["kind"] == "correction")
        .flat_map(|r| r["corrects"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let mut reach: Reach = roots
        .iter()
        .map(|r| (r.clone(), (vec![(i64::MIN, i64::MAX)], None)))
        .collect();
    let mut shown: BTreeMap<(u64, u64), Step<'a>> = BTreeMap::new();
    for (s, chain) in &history.chains {
        let Some((windows, relation)) = reach.get(s).cloned() else {
            continue;
        };
        let mut events: Vec<((u64, u64), &Value, i64)> = chain
            .iter()
            .filter_map(|p| Some((*p, records.get(p)?)))
            .filter(|(_, r)| {
                (r["kind"] == "event" || r["kind"] == "inspection")
                    && !corrected.contains(txt(r, "hash_id"))
            })
            .filter_map(|(p, r)| Some((p, r, waybill_epcis::time::parse_ms(txt(r, "event_time"))?)))
            .collect();
        events.sort_by_key(|e| e.2);
        let mut holds = Holds::default();
        for (pos, r, t) in events {
            let ids = ids_of(r);
            let roles: BTreeSet<&str> = ids
                .iter()
                .filter(|(_, id)| id == s)
                .map(|(r, _)| *r)
                .collect();
            let only_lot = !roles.is_empty() && roles.iter().all(|r| *r == "ilmd_lot");
            if within(t, &windows) && !(relation == Some(Relation::Lot) && only_lot) {
                shown.entry(pos).or_insert(Step {
                    record: r,
                    time_ms: t,
                    via: (!roots.contains(s))
                        .then(|| (s.as_str(), relation.unwrap_or(Relation::Held))),
                });
            }
            holds.follow(&mut reach, &windows, r, &ids, &roles, t);
        }
        holds.close(&mut reach, &windows);
        reach_raw_materials(&mut reach, s, chain, records, &windows);
    }
    let mut steps: Vec<Step<'a>> = shown.into_values().collect();
    steps.sort_by_key(|s| s.time_ms);
    steps
}

/// The identifiers an event record names, with their roles.
fn ids_of(r: &Value) -> Vec<(&str, &str)> {
    r["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| Some((x["role"].as_str()?, x["id"].as_str()?)))
        .collect()
}

/// The containers that held a subject: those holding it now (since when) and the
/// windows in which others held it.
#[derive(Default)]
struct Holds<'a> {
    open: BTreeMap<&'a str, i64>,
    held: BTreeMap<&'a str, Windows>,
}

impl<'a> Holds<'a> {
    /// Follow an event at `t` about the subject (in `roles`) to what it reaches: the
    /// containers it enters or leaves, the inputs it was made from, its lot.
    fn follow(
        &mut self,
        reach: &mut Reach,
        windows: &[(i64, i64)],
        r: &Value,
        ids: &[(&'a str, &'a str)],
        roles: &BTreeSet<&str>,
        t: i64,
    ) {
        if roles.contains("child") || roles.contains("child_quantity") {
            for (_, p) in ids.iter().filter(|(r, _)| *r == "parent") {
                if r["action"] == "DELETE" {
                    if let Some(start) = self.open.remove(*p) {
                        self.held.entry(*p).or_default().push((start, t));
                    }
                } else {
                    self.open.entry(*p).or_insert(t);
                }
            }
        }
        if roles.contains("output") || roles.contains("output_quantity") {
            for (_, i) in ids
                .iter()
                .filter(|(r, _)| *r == "input" || *r == "input_quantity")
            {
                reach
                    .entry(i.to_string())
                    .or_insert_with(|| (clip(windows, i64::MIN, t), Some(Relation::Input)));
            }
        }
        if roles.contains("epc") || roles.contains("quantity") {
            for (_, l) in ids.iter().filter(|(r, _)| *r == "ilmd_lot") {
                reach
                    .entry(l.to_string())
                    .or_insert_with(|| (windows.to_vec(), Some(Relation::Lot)));
            }
        }
    }

    /// The containers reach the subject's history within the windows they held it
    /// (one still holding it, from then on).
    fn close(self, reach: &mut Reach, windows: &[(i64, i64)]) {
        let mut held = self.held;
        for (p, start) in self.open {
            held.entry(p).or_default().push((start, i64::MAX));
        }
        for (p, ws) in held {
            let w: Windows = ws.iter().flat_map(|&(a, b)| clip(windows, a, b)).collect();
            reach
                .entry(p.to_string())
                .or_insert((w, Some(Relation::Held)));
        }
    }
}

/// A lot record of `subject` reaches the raw materials it names.
fn reach_raw_materials(
    reach: &mut Reach,
    subject: &str,
    chain: &[(u64, u64)],
    records: &BTreeMap<(u64, u64), Value>,
    windows: &[(i64, i64)],
) {
    for p in chain {
        let Some(r) = records
            .get(p)
            .filter(|r| r["kind"] == "lot" && r["id"] == subject)
        else {
            continue;
        };
        for id in r["raw_material_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            reach
                .entry(id.to_string())
                .or_insert_with(|| (windows.to_vec(), Some(Relation::Input)));
        }
    }
}

/// What a subject of the history is, in a few words ("pallet 0690…", "lot PJ2611A").
fn short_id(id: &str) -> String {
    if let Some(i) = id.find("/00/") {
        return format!("pallet {}", &id[i + 4..]);
    }
    if let Some(i) = id.find("/10/") {
        return format!("lot {}", &id[i + 4..]);
    }
    if let Some(i) = id.find("/21/") {
        return format!("item {}", &id[i + 4..]);
    }
    id.to_string()
}

fn via_text(subject: &str, relation: Relation) -> String {
    let what = short_id(subject);
    match relation {
        Relation::Held => format!("{what}, which held this item"),
        Relation::Lot => format!("{what}, which this item belongs to"),
        Relation::Input => format!("{what}, which it was made from"),
    }
}

fn txt<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn local_name(s: &str) -> &str {
    s.rsplit(['/', ':', '#']).next().unwrap_or(s)
}

fn step_label(ev: &Value, place_kind: Option<&str>) -> String {
    let step = local_name(txt(ev, "biz_step"));
    if txt(ev, "event_type") == "TransformationEvent" {
        return "Processed".into();
    }
    match (step, place_kind) {
        ("commissioning", Some("farm")) => return "Harvested".into(),
        ("inspecting", Some(k)) if k.contains("customs") => return "Customs inspection".into(),
        _ => {}
    }
    let known = [
        ("commissioning", "Produced"),
        ("receiving", "Received"),
        ("inspecting", "Inspected"),
        ("shipping", "Shipped"),
        ("departing", "Departed"),
        ("transporting", "In transit"),
        ("arriving", "Arrived"),
        ("storing", "Stored"),
        ("picking", "Picked"),
        ("packing", "Packed"),
        ("unpacking", "Unpacked"),
        ("accepting", "Accepted"),
        ("loading", "Loaded"),
        ("unloading", "Unloaded"),
        ("retail_selling", "Sold"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == step)
        .map(|(_, l)| (*l).to_string())
        .unwrap_or_else(|| step.replace('_', " "))
}

fn gln_of(uri: &str) -> Option<&str> {
    let i = uri.find("/414/")?;
    uri.get(i + 5..i + 18)
}

/// What the page shows of a bundle's records (decoded, not verified).
struct Facts<'a> {
    product: Option<&'a Value>,
    lots: Vec<&'a Value>,
    locations: BTreeMap<&'a str, &'a Value>,
    quals: BTreeMap<String, &'a Value>,
}

impl<'a> Facts<'a> {
    /// The product (of `gtin`), lots, locations and qualifications among `records`.
    fn of(records: &'a BTreeMap<(u64, u64), Value>, gtin: &str) -> Facts<'a> {
        let mut f = Facts {
            product: None,
            lots: Vec::new(),
            locations: BTreeMap::new(),
            quals: BTreeMap::new(),
        };
        for r in records.values() {
            match txt(r, "kind") {
                "product" if txt(r, "gtin") == gtin && f.product.is_none() => f.product = Some(r),
                "lot" => f.lots.push(r),
                "location" => {
                    f.locations.insert(txt(r, "gln"), r);
                }
                "qualification" => {
                    let key = format!(
                        "{}|{}|{}",
                        txt(r, "org"),
                        txt(r, "qualification_kind"),
                        txt(r, "number")
                    );
                    f.quals.insert(key, r);
                }
                _ => {}
            }
        }
        f
    }
}

/// The consumer page (`templates/consumer.html`, checked at compile time): the
/// no-JavaScript view of the bundle's records, not verified, every value escaped.
#[derive(Template)]
#[template(path = "consumer.html")]
struct ConsumerPage<'a> {
    title: &'a str,
    chain: &'a str,
    style: &'a str,
    product: Option<ProductView<'a>>,
    lot: Option<&'a str>,
    serial: Option<&'a str>,
    origins: Vec<OriginView>,
    steps: Vec<StepView>,
    anchor: u64,
    anchor_time: String,
    quals: Vec<QualView<'a>>,
    qr: String,
    link: String,
    fp: String,
    proof_path: String,
    /// The bundle as JSON, `<` escaped so no string can end the script element.
    bundle_json: String,
}

struct ProductView<'a> {
    name: &'a str,
    brand: &'a str,
    owner_name: &'a str,
    gtin: &'a str,
}

struct OriginView {
    lot: String,
    /// "Harvested" (at a farm) or "Made".
    verb: &'static str,
    produced_on: String,
    place: Option<PlaceView>,
    quantity: String,
    unit: String,
    inputs: Vec<InputView>,
    raw: Vec<RawView>,
}

struct PlaceView {
    name: String,
    address: String,
}

struct InputView {
    kind: String,
    name: String,
    amount: String,
    applied_on: String,
}

struct RawView {
    href: String,
    lot: String,
    gtin: String,
}

struct StepView {
    time: String,
    label: String,
    disposition: String,
    place: String,
    org: String,
    via: Option<String>,
    temps: Option<TempsView>,
}

struct TempsView {
    n: usize,
    lo: f64,
    hi: f64,
}

struct QualView<'a> {
    kind: String,
    number: &'a str,
    issuer: &'a str,
    valid_from: &'a str,
    valid_to: &'a str,
    revoked: Option<&'a str>,
}

/// The page for `subject` (a canonical Digital Link without query), as HTML.
pub(crate) fn page(
    state: &AppState,
    subject: &str,
    local_path: &str,
    base: &str,
    wb: Option<&str>,
) -> Result<String, ApiError> {
    let (bundle, history) = crate::proofs::build_bundle_with_history(state, subject)?;
    let records = unverified_records(&bundle);
    let roots = waybill_types::proof::Subject::parse(subject)
        .map_err(|e| ApiError::bad_request("bad_digital_link", e))?
        .roots();
    let dl = waybill_gs1::digital_link::DigitalLink::parse(subject)
        .map_err(|e| ApiError::bad_request("bad_digital_link", e.to_string()))?;
    let facts = Facts::of(&records, dl.gtin().unwrap_or(""));
    let steps = timeline(&roots, &history, &records);
    // The QR code: this page's link with the consortium fingerprint (the trust root).
    let fp = waybill_types::proof::fingerprint(&state.genesis);
    let link = format!("{base}{local_path}?wb={fp}");
    let qr = link_qr(&link)?;
    let page = ConsumerPage {
        title: facts.product.map_or("Product history", |p| txt(p, "name")),
        chain: &bundle.chain_id,
        style: STYLE,
        product: facts.product.map(|p| ProductView {
            name: txt(p, "name"),
            brand: txt(p, "brand"),
            owner_name: txt(p, "owner_name"),
            gtin: txt(p, "gtin"),
        }),
        lot: dl.lot(),
        serial: dl.serial(),
        origins: origins(&facts, &dl, wb),
        steps: steps
            .iter()
            .map(|s| step_view(s, &facts.locations))
            .collect(),
        anchor: bundle.anchor,
        anchor_time: anchor_time(&bundle),
        quals: facts.quals.values().map(|q| qual_view(q)).collect(),
        qr,
        link,
        fp,
        proof_path: format!("/v1/proofs/{}", local_path.trim_start_matches('/')),
        bundle_json: serde_json::to_string(&bundle)
            .map_err(ApiError::internal)?
            .replace('<', "\\u003c"),
    };
    page.render().map_err(ApiError::internal)
}

/// "Origin": up to three lots — the subject's own if the history has them, else the
/// lots it was made from.
fn origins(
    facts: &Facts,
    dl: &waybill_gs1::digital_link::DigitalLink,
    wb: Option<&str>,
) -> Vec<OriginView> {
    let gtin = dl.gtin().unwrap_or("");
    let mine: Vec<&&Value> = facts
        .lots
        .iter()
        .filter(|l| txt(l, "gtin") == gtin && dl.lot().is_none_or(|x| txt(l, "lot") == x))
        .collect();
    let origin_lots: Vec<&&Value> = if mine.is_empty() {
        facts.lots.iter().collect()
    } else {
        mine
    };
    origin_lots
        .into_iter()
        .take(3)
        .map(|l| origin_view(l, facts, wb))
        .collect()
}

/// A lot: where and when it was made, its inputs (fertilizer, …) and the lots it was
/// made from (links to their pages, with the scanned fingerprint).
fn origin_view(l: &Value, facts: &Facts, wb: Option<&str>) -> OriginView {
    let origin = facts.locations.get(txt(l, "origin_gln"));
    let raw = l["raw_materials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let href = format!(
                "/01/{}/10/{}",
                txt(r, "gtin"),
                percent_encode(txt(r, "lot"))
            );
            RawView {
                href: match wb {
                    Some(w) => format!("{href}?wb={w}"),
                    None => href,
                },
                lot: txt(r, "lot").to_string(),
                gtin: txt(r, "gtin").to_string(),
            }
        })
        .collect();
    OriginView {
        lot: txt(l, "lot").to_string(),
        verb: if origin.is_some_and(|o| txt(o, "location_kind") == "farm") {
            "Harvested"
        } else {
            "Made"
        },
        produced_on: txt(l, "produced_on").to_string(),
        place: origin.map(|o| PlaceView {
            name: txt(o, "name").to_string(),
            address: txt(o, "address").to_string(),
        }),
        quantity: l["quantity"].to_string(),
        unit: txt(l, "unit").to_string(),
        inputs: l["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| InputView {
                kind: txt(i, "kind").replace('_', " "),
                name: txt(i, "name").to_string(),
                amount: txt(i, "amount").to_string(),
                applied_on: txt(i, "applied_on").to_string(),
            })
            .collect(),
        raw,
    }
}

/// The newest certified header's time: how far the history is complete.
fn anchor_time(bundle: &ProofBundle) -> String {
    bundle
        .headers
        .last()
        .and_then(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(&c.header)
                .ok()
        })
        .and_then(|b| {
            waybill_types::codec::decode::<waybill_types::BlockHeader>(&b, 64 * 1024, "header").ok()
        })
        .map(|hd| crate::epcis::rfc3339_ms(hd.time_ms))
        .unwrap_or_default()
}

/// Where an event happened: its location's name, else its vehicle or read point.
fn place_of(e: &Value, loc: Option<&&Value>) -> String {
    match loc {
        Some(l) => txt(l, "name").to_string(),
        None => match txt(e, "read_point").split_once("/8004/") {
            Some((_, asset)) => format!("vehicle {asset}"),
            None => txt(e, "read_point").to_string(),
        },
    }
}

/// What an event's disposition (or an inspection's outcome) says, as a suffix.
fn disposition_text(e: &Value) -> String {
    let field = if e["kind"] == "inspection" {
        "outcome"
    } else {
        "disposition"
    };
    match local_name(txt(e, field)) {
        "" | "active" => String::new(),
        "conformant" => " — passed".into(),
        "non_conformant" => " — failed".into(),
        d => format!(" — {}", d.replace('_', " ")),
    }
}

/// One step of the journey: when, what, where, by whom, through what, and the
/// temperatures read.
fn step_view(step: &Step, locations: &BTreeMap<&str, &Value>) -> StepView {
    let e = step.record;
    let loc = gln_of(txt(e, "biz_location"))
        .or_else(|| gln_of(txt(e, "read_point")))
        .and_then(|g| locations.get(g));
    let org = if txt(e, "org_name").is_empty() {
        txt(e, "org")
    } else {
        txt(e, "org_name")
    };
    let temps: Vec<f64> = e["readings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| txt(r, "type").to_ascii_lowercase().contains("temperature"))
        .filter_map(|r| r["value"].as_f64())
        .collect();
    StepView {
        time: txt(e, "event_time").to_string(),
        label: step_label(e, loc.map(|l| txt(l, "location_kind"))),
        disposition: disposition_text(e),
        place: place_of(e, loc),
        org: org.to_string(),
        via: step.via.map(|(s, relation)| via_text(s, relation)),
        temps: (!temps.is_empty()).then(|| TempsView {
            n: temps.len(),
            lo: temps.iter().copied().fold(f64::INFINITY, f64::min),
            hi: temps.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }),
    }
}

/// A qualification of an owner, with its revocation if any.
fn qual_view(q: &Value) -> QualView<'_> {
    QualView {
        kind: txt(q, "qualification_kind").replace('_', " "),
        number: txt(q, "number"),
        issuer: txt(q, "issuer"),
        valid_from: txt(q, "valid_from"),
        valid_to: txt(q, "valid_to"),
        revoked: q["revoked"].as_str(),
    }
}

/// `GET /labels`: a sheet of QR codes for the registered products, their lots and a
/// few serialised items of each lot: what a producer prints, and what the demo shows.
pub(crate) async fn labels(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let base = base_url(&headers);
    let s2 = s.clone();
    let html = tokio::task::spawn_blocking(move || labels_html(&s2, &base))
        .await
        .map_err(ApiError::internal)??;
    Ok((StatusCode::OK, Html(html)).into_response())
}

const LABEL_PRODUCTS_MAX: usize = 50;
const LABEL_LOTS_MAX: usize = 10;
const LABEL_ITEMS_MAX: usize = 4;

/// The serialised items (ids starting with `prefix`) made from lot `lot_id` whose
/// events are published, at most [`LABEL_ITEMS_MAX`]: the items with the longest
/// public journeys first (the ones that travelled furthest), then in the order
/// reached.
fn lot_items(
    snap: &waybill_store::StateSnapshot,
    lot_id: &str,
    prefix: &str,
) -> Result<Vec<String>, ApiError> {
    let mut published = |r: &trace::EventRecord| Ok(r.open.is_some());
    let walk = lineage::walk(snap, lot_id, Direction::Forward, &mut published)?;
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &walk.events {
        for (_, id) in e.ids.iter().filter(|(_, id)| id.starts_with(prefix)) {
            *named.entry(id.as_str()).or_default() += 1;
        }
    }
    let mut items: Vec<(usize, usize, &str)> = walk
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.id.starts_with(prefix))
        .map(|(i, n)| {
            (
                named.get(n.id.as_str()).copied().unwrap_or(0),
                i,
                n.id.as_str(),
            )
        })
        .collect();
    items.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(items
        .into_iter()
        .take(LABEL_ITEMS_MAX)
        .map(|(_, _, id)| id.to_string())
        .collect())
}

/// The label sheet (`templates/labels.html`, checked at compile time).
#[derive(Template)]
#[template(path = "labels.html")]
struct LabelSheet<'a> {
    chain: &'a str,
    style: &'a str,
    fp: String,
    products: Vec<LabelSection>,
}

/// A product's labels: its lots and a few items of each.
struct LabelSection {
    name: String,
    brand: String,
    gtin: String,
    labels: Vec<LabelView>,
}

struct LabelView {
    /// The link the QR code holds, with the consortium fingerprint.
    href: String,
    qr: String,
    title: String,
    sub: String,
    path: String,
}

fn labels_html(s: &AppState, base: &str) -> Result<String, ApiError> {
    let snap = s.store.snapshot()?;
    let fp = waybill_types::proof::fingerprint(&s.genesis);
    let label = |path: &str, title: String, sub: String| -> Result<LabelView, ApiError> {
        let href = format!("{base}{path}?wb={fp}");
        Ok(LabelView {
            qr: link_qr(&href)?,
            href,
            title,
            sub,
            path: path.to_string(),
        })
    };
    let mut products = Vec::new();
    for (k, v) in snap.scan_prefix(&[keys::PRODUCT], LABEL_PRODUCTS_MAX)? {
        let p: catalog::Product = waybill_state::decode_record(&k, &v)?;
        let mut labels = Vec::new();
        for (lk, lv) in snap.scan_prefix(&keys::lots_of(&p.gtin), LABEL_LOTS_MAX)? {
            let l: catalog::Lot = waybill_state::decode_record(&lk, &lv)?;
            let lot_path = format!("/01/{}/10/{}", p.gtin, percent_encode(&l.lot));
            labels.push(label(
                &lot_path,
                format!("Lot {}", l.lot),
                format!("{} {} · {}", l.quantity, l.unit, l.produced_on),
            )?);
            // A few serialised items made from the lot.
            let prefix = format!("https://id.gs1.org/01/{}/21/", p.gtin);
            let items = lot_items(&snap, &format!("https://id.gs1.org{lot_path}"), &prefix)?;
            for id in items {
                let path = id.trim_start_matches("https://id.gs1.org");
                labels.push(label(
                    path,
                    format!("Item {}", &id[prefix.len()..]),
                    format!("from lot {}", l.lot),
                )?);
            }
        }
        products.push(LabelSection {
            name: p.name,
            brand: p.brand,
            gtin: p.gtin.to_string(),
            labels,
        });
    }
    let sheet = LabelSheet {
        chain: s.chain_id(),
        style: STYLE,
        fp,
        products,
    };
    sheet.render().map_err(ApiError::internal)
}
