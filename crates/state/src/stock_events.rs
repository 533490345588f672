//! Stock moved by EPCIS events (docs/ORDERS.md, "Stock moved by EPCIS events"). A
//! location *keeps stock* once its warehouse has recorded any there (`adjust_stock`);
//! there, events its organization (or one it delegated the location to) captures move
//! it — anyone else's event naming the place moves nothing:
//!
//! - a `shipping` event takes what it names out of the available stock (never what
//!   placed orders reserve: `insufficient_stock`), unless it ships a Waybill order —
//!   names as its `po` a placed order its capturer may ship: that takes the order's
//!   reserved lines instead ([`crate::orders::on_events`]);
//! - a `receiving` event puts what it names into stock.
//!
//! Where: for shipping, the source of type `location`, else the `bizLocation`; for
//! receiving, the destination of type `location`, else the `bizLocation` — a GLN.
//! Events at places that keep no stock (a farm, a truck) move nothing, and neither do
//! `DELETE` events, error declarations and transformations.
//!
//! What, in the product's trade units: a serialized item (SGTIN) is one unit of its
//! GTIN (so is one with a third-party controlled serial, AI 235); a container (an
//! SSCC, or anything aggregated) stands for its contents as the ledger keeps them from
//! aggregation events (one whose contents it does not know holds nothing), followed to
//! [`CONTAINED_DEPTH_MAX`](crate::parties::CONTAINED_DEPTH_MAX) levels and
//! [`CONTAINED_MAX`](crate::parties::CONTAINED_MAX) identifiers — past that the event
//! is refused rather than half counted; an item counts once however often it is
//! named. Quantities are read exactly as written, never through a float. A quantity (`quantityList`, or an aggregation's
//! `childQuantityList`) without a unit, or in `H87` / `C62` / `EA`, counts trade units
//! and must be whole; in another unit it converts by the product's trade unit for that
//! unit of measure (master data, [`SetTradeUnit`]: a carton holds 5 `KGM`) and must
//! come out whole; otherwise the event is refused `unconvertible_quantity` and nothing
//! of the capture is stored. A container holding a lot by class (a quantity the
//! contents do not keep) is refused the same way unless the event states that lot's
//! quantity itself.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_epcis::hash_id::json::{Json, JsonObject};
use waybill_epcis::model::{EventSummary, IdRole};
use waybill_gs1::{Gln, Gtin};
use waybill_types::money::Rate;
use waybill_types::payload::commerce::{SetTradeUnit, TRADE_UNIT_UOMS};
use waybill_types::reject::RejectCode;
use waybill_types::{DataCategory, Height, OrgId, PublicKey};

use crate::access::any_may_write;
use crate::catalog::{check_location_use, load_product};
use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, Writes,
};
use crate::identity::active_signer;
use crate::inventory::StockBook;
use crate::keys;
use crate::parties::{Custody, CONTAINED_DEPTH_MAX, CONTAINED_MAX};

/// How much of a unit of measure one trade unit of a product holds.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct TradeUnit {
    /// The product.
    pub gtin: Gtin,
    /// The unit of measure (UN/ECE Rec. 20).
    pub uom: String,
    /// How many of it one trade unit holds.
    #[schemars(with = "String")]
    pub per_unit: Rate,
    /// Who set it.
    pub set_by: PublicKey,
    /// When (height).
    pub height: Height,
}

/// The trade unit of `gtin` in `uom`, if its owner set one.
pub fn load_trade_unit<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
    uom: &str,
) -> Result<Option<TradeUnit>, StateReadError> {
    let k = keys::trade_unit(gtin, uom);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Every trade unit of `gtin` (up to `max`), by unit of measure.
pub fn trade_units_of<S: crate::exec::StateScan + ?Sized>(
    state: &S,
    gtin: &Gtin,
    max: usize,
) -> Result<Vec<TradeUnit>, StateReadError> {
    let prefix = keys::trade_unit(gtin, "");
    state
        .scan_from(&prefix, &prefix, max)?
        .into_iter()
        .map(|(k, v)| decode_record(&k, &v))
        .collect()
}

impl Contract for SetTradeUnit {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let Some(product) = load_product(ex, &self.gtin)? else {
            return Err(Rejection::new(
                RejectCode::UnknownProduct,
                format!("{} is not a registered product", self.gtin),
            )
            .into());
        };
        if product.owner != m.org || !(m.admin || any_may_write(&m.roles, DataCategory::Production))
        {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "{} is owned by `{}`; its admin or a member who writes its production data sets its master data (the signer is of `{}`)",
                    self.gtin, product.owner, m.org
                ),
            )
            .into());
        }
        Ok(vec![(
            keys::trade_unit(&self.gtin, &self.uom),
            encode_record(&TradeUnit {
                gtin: self.gtin.clone(),
                uom: self.uom.clone(),
                per_unit: self.per_unit,
                set_by: call.signer,
                height: ex.context().height,
            }),
        )])
    }

    fn describe(&self) -> String {
        format!(
            "one trade unit of {} holds {} {}",
            self.gtin, self.per_unit, self.uom
        )
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}

/// Which way an event moves stock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    In,
    Out,
}

/// Why an event may not move stock: (code, message).
pub(crate) type StockProblem = (RejectCode, String);

/// The stock one capture moves: its book (which the orders its events ship move too,
/// [`crate::orders::on_events`]) and those orders.
pub(crate) struct CaptureStock<'e, S: StateRead + ?Sized> {
    /// The stock rows the capture reads and changes.
    pub(crate) book: StockBook<'e, S>,
    /// The orders (by URN) a shipping event of this capture ships: their reserved
    /// lines move, not what the event lists.
    shipped: BTreeSet<String>,
}

impl<'e, S: StateRead + ?Sized> CaptureStock<'e, S> {
    pub(crate) fn new(book: StockBook<'e, S>) -> Self {
        CaptureStock {
            book,
            shipped: BTreeSet::new(),
        }
    }

    /// Move the stock event `s` (its exact JSON `event`) names, captured by
    /// `capturer`: at a location that keeps stock and that the capturer may use (its
    /// own, or delegated to it; anyone else's event there moves nothing). `custody`
    /// holds containers' contents as this capture left them; `ptr` names the event in
    /// problems.
    pub(crate) fn on_event(
        &mut self,
        custody: &mut Custody,
        capturer: &OrgId,
        s: &EventSummary,
        event: &JsonObject,
        ptr: &str,
    ) -> Result<Vec<StockProblem>, StateReadError> {
        let state = self.book.state();
        let Some((way, gln)) = where_it_moves(s) else {
            return Ok(Vec::new());
        };
        if way == Way::Out && self.ships_an_order(capturer, s)? {
            return Ok(Vec::new());
        }
        if !self.book.keeps_stock(&gln)? || check_location_use(state, &gln, capturer)?.is_err() {
            return Ok(Vec::new());
        }
        let mut units = Units::default();
        let mut problems = Vec::new();
        count_quantities(state, s, event, ptr, &mut units, &mut problems)?;
        count_identifiers(state, custody, s, ptr, &mut units, &mut problems)?;
        if !problems.is_empty() {
            return Ok(problems);
        }
        for (gtin, n) in units.by_gtin {
            let moved = match way {
                Way::In => self.book.put(&gln, &gtin, n)?,
                Way::Out => self.book.take(&gln, &gtin, n)?,
            };
            if let Err(e) = moved {
                let what = match way {
                    Way::In => "receiving",
                    Way::Out => "shipping",
                };
                problems.push((
                    e.code,
                    format!(
                        "{ptr}: {what} {}{}",
                        e.message,
                        if way == Way::Out {
                            "; placed orders keep what they reserve — ship those by naming the order as the event's `po`"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        Ok(problems)
    }

    /// Does shipping event `s` ship a Waybill order — name as its `po` an order that
    /// is placed (and not shipped by an earlier event of this capture) and that
    /// `capturer` may ship? Then the order's lines move, as
    /// [`crate::orders::on_events`] does, and nothing else.
    fn ships_an_order(
        &mut self,
        capturer: &OrgId,
        s: &EventSummary,
    ) -> Result<bool, StateReadError> {
        let mut ships = false;
        for (t, urn) in &s.biz_transactions {
            let Some((buyer, id)) = crate::orders::parse_order_urn(urn).filter(|_| t == "po")
            else {
                continue;
            };
            if self.shipped.contains(urn) {
                continue;
            }
            let Some(o) = crate::orders::load_order(self.book.state(), &buyer, &id)? else {
                continue;
            };
            if o.state == crate::orders::OrderState::Placed
                && crate::orders::may_ship(self.book.state(), capturer, &o)?
            {
                // Every order it names ships (as `orders::on_events` has it).
                self.shipped.insert(urn.clone());
                ships = true;
            }
        }
        Ok(ships)
    }
}

/// The way and the location an event moves stock at, if it moves any.
fn where_it_moves(s: &EventSummary) -> Option<(Way, Gln)> {
    if s.error_declaration
        || s.action.as_deref() == Some("DELETE")
        || !matches!(
            s.event_type.as_str(),
            "ObjectEvent" | "AggregationEvent" | "TransactionEvent"
        )
    {
        return None;
    }
    let (way, ends) = match s.biz_step.as_deref() {
        Some("shipping") => (Way::Out, &s.sources),
        Some("receiving") => (Way::In, &s.destinations),
        _ => return None,
    };
    let end = ends
        .iter()
        .find(|(t, _)| t == "location" || t.ends_with("SDT-location"))
        .map(|(_, id)| id.as_str());
    let gln = end
        .and_then(gln_of)
        .or_else(|| s.biz_location_gln.as_deref().and_then(|g| g.parse().ok()))?;
    Some((way, gln))
}

/// The GLN of a location identifier (SGLN or Digital Link with AI 414).
fn gln_of(id: &str) -> Option<Gln> {
    waybill_epcis::epc::parse(id)
        .ok()?
        .element("414")
        .and_then(|g| g.parse().ok())
}

/// Trade units counted so far, and what was counted.
#[derive(Default)]
struct Units {
    by_gtin: BTreeMap<Gtin, u64>,
    /// Serialized items counted (each once).
    items: BTreeSet<String>,
    /// Classes (lots) whose quantity the event states.
    classes: BTreeSet<String>,
}

impl Units {
    fn add(&mut self, gtin: Gtin, n: u64, ptr: &str) -> Result<(), StockProblem> {
        let slot = self.by_gtin.entry(gtin).or_default();
        *slot = slot.checked_add(n).ok_or_else(|| {
            (
                RejectCode::Overflow,
                format!("{ptr}: more than 2^64-1 trade units"),
            )
        })?;
        Ok(())
    }
}

/// A canonical GS1 identifier's GTIN, and whether it is one serialized item (a
/// serial, AI 21, or a third-party controlled serial, AI 235).
fn trade_item(id: &str) -> Option<(Gtin, bool)> {
    let rest = id.strip_prefix("https://id.gs1.org/01/")?;
    let gtin = rest.get(..14)?.parse().ok()?;
    let after = &rest[14..];
    Some((
        gtin,
        after.starts_with("/21/") || after.starts_with("/235/"),
    ))
}

/// The event's quantities (`quantityList`, or an aggregation's `childQuantityList`)
/// in trade units.
fn count_quantities<S: StateRead + ?Sized>(
    state: &S,
    s: &EventSummary,
    event: &JsonObject,
    ptr: &str,
    units: &mut Units,
    problems: &mut Vec<StockProblem>,
) -> Result<(), StateReadError> {
    let list = if s.event_type == "AggregationEvent" {
        "childQuantityList"
    } else {
        "quantityList"
    };
    let entries: &[Json] = match event.get(list) {
        Some(Json::Array(v)) => v,
        _ => &[],
    };
    for (i, q) in entries.iter().filter_map(Json::as_object).enumerate() {
        let at = format!("{ptr}/{list}/{i}");
        let class = q.get("epcClass").and_then(Json::as_str).unwrap_or("");
        let Some(canonical) = waybill_epcis::epc::parse(class).ok().map(|c| c.canonical) else {
            continue;
        };
        let Some((gtin, false)) = trade_item(&canonical) else {
            continue;
        };
        units.classes.insert(canonical.clone());
        let uom = q.get("uom").and_then(Json::as_str);
        // The quantity exactly as written (no float): `4.52e2` is 452.
        let amount = match q.get("quantity") {
            Some(Json::Number(n)) => n
                .exact_decimal(40)
                .unwrap_or_else(|| n.literal().to_string()),
            Some(_) | None => {
                problems.push((
                    RejectCode::UnconvertibleQuantity,
                    format!("{at}: {canonical} without a quantity; at a location that keeps stock, a quantity is stated"),
                ));
                continue;
            }
        };
        match trade_units(state, &gtin, &amount, uom, &at)? {
            Ok(n) => {
                if let Err(p) = units.add(gtin, n, &at) {
                    problems.push(p);
                }
            }
            Err(p) => problems.push(p),
        }
    }
    Ok(())
}

/// `amount` of `uom` (none: trade units) of `gtin`, in whole trade units.
fn trade_units<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
    amount: &str,
    uom: Option<&str>,
    at: &str,
) -> Result<Result<u64, StockProblem>, StateReadError> {
    let bad = |why: String| {
        Ok(Err((
            RejectCode::UnconvertibleQuantity,
            format!("{at}: {why}"),
        )))
    };
    // Zero (`0`, `0.0`) counts nothing; no float is involved.
    let digits: Vec<char> = amount.chars().filter(|c| *c != '.').collect();
    if !digits.is_empty() && digits.iter().all(|c| *c == '0') {
        return Ok(Ok(0));
    }
    let Ok(q) = amount.parse::<Rate>() else {
        return bad(format!(
            "quantity {amount} is not an exact decimal the ledger can count"
        ));
    };
    let per = match uom {
        None => None,
        Some(u) if TRADE_UNIT_UOMS.contains(&u) => None,
        Some(u) => match load_trade_unit(state, gtin, u)? {
            Some(t) => Some(t.per_unit),
            None => {
                return bad(format!(
                    "{amount} {u} of {gtin}: the product's master data says no trade unit in {u}; its owner sets one (`set_trade_unit`), or the event counts trade units"
                ))
            }
        },
    };
    let pow = |e: u8| 10u128.checked_pow(u32::from(e));
    let (num, den) = match per {
        None => (Some(q.mantissa), pow(q.scale)),
        Some(p) => (
            pow(p.scale).and_then(|x| q.mantissa.checked_mul(x)),
            pow(q.scale).and_then(|x| p.mantissa.checked_mul(x)),
        ),
    };
    let (Some(num), Some(den)) = (num, den.filter(|d| *d > 0)) else {
        return bad(format!("{amount} is too large to convert"));
    };
    if num % den != 0 {
        return bad(match (per, uom) {
            (Some(p), Some(u)) => format!(
                "{amount} {u} of {gtin} is not a whole number of trade units ({p} {u} each)"
            ),
            _ => format!("{amount} trade units of {gtin}: not a whole number"),
        });
    }
    match u64::try_from(num / den) {
        Ok(n) => Ok(Ok(n)),
        Err(_) => bad(format!("{amount} is more than 2^64-1 trade units")),
    }
}

/// The serialized items and containers the event names, each item once.
fn count_identifiers<S: StateRead + ?Sized>(
    state: &S,
    custody: &mut Custody,
    s: &EventSummary,
    ptr: &str,
    units: &mut Units,
    problems: &mut Vec<StockProblem>,
) -> Result<(), StateReadError> {
    let children = s
        .ids
        .iter()
        .any(|(r, _)| matches!(r, IdRole::Child | IdRole::ChildQuantity));
    let named: Vec<&str> = s
        .ids
        .iter()
        .filter(|(r, _)| match r {
            IdRole::Epc | IdRole::Child => true,
            // An aggregation that lists no children moves the container whole.
            IdRole::Parent => !children,
            _ => false,
        })
        .map(|(_, id)| id.as_str())
        .collect();
    let mut frontier: Vec<String> = named.iter().map(|id| (*id).to_string()).collect();
    let mut seen = BTreeSet::new();
    let mut too_many = false;
    for _ in 0..=CONTAINED_DEPTH_MAX {
        let mut next = Vec::new();
        for id in frontier {
            if seen.len() >= CONTAINED_MAX {
                too_many = true;
                break;
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            match trade_item(&id) {
                Some((gtin, true)) => {
                    if units.items.insert(id.clone()) {
                        if let Err(p) = units.add(gtin, 1, ptr) {
                            problems.push(p);
                        }
                    }
                }
                Some((_, false)) if !units.classes.contains(&id) => problems.push((
                    RejectCode::UnconvertibleQuantity,
                    format!(
                        "{ptr}: a container it names holds {id} by class, a quantity the ledger does not keep; state it in the event's quantity list"
                    ),
                )),
                Some(_) => {}
                None => next.extend(custody.contents_now(state, &id)?),
            }
        }
        frontier = next;
        if frontier.is_empty() || too_many {
            break;
        }
    }
    if too_many || !frontier.is_empty() {
        // Counting part of it would misstate the stock.
        problems.push((
            RejectCode::UnconvertibleQuantity,
            format!(
                "{ptr}: what it names holds more than {CONTAINED_MAX} identifiers, or nests deeper than {} levels; the ledger does not count that far — state the quantities in the event",
                CONTAINED_DEPTH_MAX + 1
            ),
        ));
    }
    Ok(())
}
