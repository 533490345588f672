//! Stock per product (GTIN) per location (GLN), in the GTIN's trade units, shared by
//! every platform that sells from the location: on hand, reserved by placed orders,
//! available (on hand − reserved). The location's warehouse counts, receives and
//! writes off stock (`adjust_stock`); orders reserve it when placed, take it when
//! shipped and release it when cancelled or expired. Reserved never exceeds on hand
//! (asserted on every write). When the available stock falls below the reorder
//! point, an alert is raised for the location's owner. A location where stock was
//! ever recorded *keeps stock* (`STOCK_KEPT`): EPCIS shipping and receiving events
//! there move it too ([`crate::stock_events`]).

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_gs1::{Gln, Gtin};
use waybill_types::payload::commerce::{AdjustStock, StockChange};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, OrgId, Role};

use crate::catalog::{check_location_use, load_location};
use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, StateScan, Writes,
};
use crate::identity::active_signer;
use crate::keys;

/// The stock of a product at a location.
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    schemars::JsonSchema,
)]
pub struct Stock {
    /// Trade units on hand.
    pub on_hand: u64,
    /// Of them, reserved by placed orders.
    pub reserved: u64,
    /// An alert is raised when the available stock falls below it (0: never).
    pub reorder_point: u64,
}

impl Stock {
    /// On hand and not reserved.
    pub fn available(&self) -> u64 {
        self.on_hand - self.reserved
    }
}

/// An alert for an organization: stock fell below its reorder point, or an order
/// expired or was refunded at its deadline.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Alert {
    /// `reorder`, `order_expired` or `order_refunded`.
    pub kind: String,
    /// What it is about: `<GLN>/<GTIN>`, or the order as `<buyer>/<id>`.
    pub subject: String,
    /// What happened, in a sentence.
    pub message: String,
    /// The block that raised it.
    pub height: Height,
    /// Its time.
    pub time_ms: u64,
}

/// Alert kinds, as the byte in their key.
pub(crate) mod alert_kind {
    pub const REORDER: u8 = 1;
    pub const ORDER_EXPIRED: u8 = 2;
    pub const ORDER_REFUNDED: u8 = 3;
}

/// The stock of `gtin` at `gln`, if any was ever recorded.
pub fn load_stock<S: StateRead + ?Sized>(
    state: &S,
    gln: &Gln,
    gtin: &Gtin,
) -> Result<Option<Stock>, StateReadError> {
    let k = keys::stock(gln, gtin);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Every product's stock at `gln` (up to `max` rows), by GTIN.
pub fn stock_at<S: StateScan + ?Sized>(
    state: &S,
    gln: &Gln,
    max: usize,
) -> Result<Vec<(Gtin, Stock)>, StateReadError> {
    let prefix = keys::stock_at(gln);
    let mut out = Vec::new();
    for (k, v) in state.scan_from(&prefix, &prefix, max)? {
        let gtin = std::str::from_utf8(&k[prefix.len()..])
            .ok()
            .and_then(|s| s.parse::<Gtin>().ok())
            .ok_or_else(|| StateReadError::Corrupt {
                key: k.clone(),
                reason: "stock key's GTIN does not parse".into(),
            })?;
        out.push((gtin, decode_record(&k, &v)?));
    }
    Ok(out)
}

/// Every stock row (up to `max`), by location and GTIN.
pub fn all_stock<S: StateScan + ?Sized>(
    state: &S,
    max: usize,
) -> Result<Vec<(Gln, Gtin, Stock)>, StateReadError> {
    let prefix = [keys::STOCK];
    let mut out = Vec::new();
    for (k, v) in state.scan_from(&prefix, &prefix, max)? {
        let parsed = std::str::from_utf8(&k[1..]).ok().and_then(|s| {
            let (gln, gtin) = s.split_at_checked(13)?;
            Some((gln.parse::<Gln>().ok()?, gtin.parse::<Gtin>().ok()?))
        });
        let (gln, gtin) = parsed.ok_or_else(|| StateReadError::Corrupt {
            key: k.clone(),
            reason: "stock key's GLN or GTIN does not parse".into(),
        })?;
        out.push((gln, gtin, decode_record(&k, &v)?));
    }
    Ok(out)
}

/// An organization's alerts, oldest first (up to `max`).
pub fn alerts_of<S: StateScan + ?Sized>(
    state: &S,
    org: &OrgId,
    max: usize,
) -> Result<Vec<Alert>, StateReadError> {
    let prefix = keys::alerts_of(org);
    state
        .scan_from(&prefix, &prefix, max)?
        .into_iter()
        .map(|(k, v)| decode_record(&k, &v))
        .collect()
}

/// `insufficient_stock` if `s` has fewer than `qty` units available.
fn short_of(s: &Stock, gln: &Gln, gtin: &Gtin, qty: u64) -> Option<Rejection> {
    (s.available() < qty).then(|| {
        Rejection::new(
            RejectCode::InsufficientStock,
            format!(
                "{gtin} at {gln}: {} available ({} on hand, {} reserved); {qty} asked for",
                s.available(),
                s.on_hand,
                s.reserved
            ),
        )
    })
}

/// The stock rows one transaction (or a block's deadlines) reads and changes, kept
/// until its end; then written with the alerts they raise.
pub(crate) struct StockBook<'e, S: StateRead + ?Sized> {
    state: &'e S,
    height: Height,
    time_ms: u64,
    rows: BTreeMap<(Gln, Gtin), (Option<Stock>, Stock)>,
    /// Locations marked as keeping stock whatever their rows do.
    marks: std::collections::BTreeSet<Gln>,
}

impl<'e, S: StateRead + ?Sized> StockBook<'e, S> {
    pub(crate) fn new(state: &'e S, height: Height, time_ms: u64) -> Self {
        StockBook {
            state,
            height,
            time_ms,
            rows: BTreeMap::new(),
            marks: std::collections::BTreeSet::new(),
        }
    }

    /// Mark `gln` as keeping stock (its warehouse recorded stock there).
    pub(crate) fn mark(&mut self, gln: &Gln) {
        self.marks.insert(gln.clone());
    }

    fn row(&mut self, gln: &Gln, gtin: &Gtin) -> Result<&mut Stock, StateReadError> {
        let k = (gln.clone(), gtin.clone());
        if !self.rows.contains_key(&k) {
            let s = load_stock(self.state, gln, gtin)?;
            let now = s.clone().unwrap_or_default();
            self.rows.insert(k.clone(), (s, now));
        }
        Ok(&mut self.rows.get_mut(&k).expect("just inserted").1)
    }

    /// The state it reads.
    pub(crate) fn state(&self) -> &'e S {
        self.state
    }

    /// Does `gln` keep stock: has any been recorded there (or in this book)?
    pub(crate) fn keeps_stock(&self, gln: &Gln) -> Result<bool, StateReadError> {
        if self.marks.contains(gln) || self.rows.keys().any(|(g, _)| g == gln) {
            return Ok(true);
        }
        Ok(self.state.get(&keys::stock_kept(gln))?.is_some())
    }

    /// Put `qty` units into stock (goods received).
    pub(crate) fn put(
        &mut self,
        gln: &Gln,
        gtin: &Gtin,
        qty: u64,
    ) -> Result<Result<(), Rejection>, StateReadError> {
        let s = self.row(gln, gtin)?;
        match s.on_hand.checked_add(qty) {
            Some(n) => {
                s.on_hand = n;
                Ok(Ok(()))
            }
            None => Ok(Err(Rejection::new(
                RejectCode::Overflow,
                format!("{gtin} at {gln}: on hand would pass 2^64-1 units"),
            ))),
        }
    }

    /// Take `qty` available (not reserved) units out of stock, or `insufficient_stock`.
    pub(crate) fn take(
        &mut self,
        gln: &Gln,
        gtin: &Gtin,
        qty: u64,
    ) -> Result<Result<(), Rejection>, StateReadError> {
        let s = self.row(gln, gtin)?;
        if let Some(e) = short_of(s, gln, gtin, qty) {
            return Ok(Err(e));
        }
        s.on_hand -= qty;
        Ok(Ok(()))
    }

    /// Reserve `qty` units for an order, or `insufficient_stock`.
    pub(crate) fn reserve(
        &mut self,
        gln: &Gln,
        gtin: &Gtin,
        qty: u64,
    ) -> Result<Result<(), Rejection>, StateReadError> {
        let s = self.row(gln, gtin)?;
        if let Some(e) = short_of(s, gln, gtin, qty) {
            return Ok(Err(e));
        }
        s.reserved += qty;
        Ok(Ok(()))
    }

    /// Release `qty` reserved units (an order cancelled or expired).
    pub(crate) fn release(
        &mut self,
        gln: &Gln,
        gtin: &Gtin,
        qty: u64,
    ) -> Result<(), StateReadError> {
        let s = self.row(gln, gtin)?;
        s.reserved = s
            .reserved
            .checked_sub(qty)
            .ok_or_else(|| StateReadError::Corrupt {
                key: keys::stock(gln, gtin),
                reason: format!(
                    "an order releases {qty} units, more than the {} reserved",
                    s.reserved
                ),
            })?;
        Ok(())
    }

    /// Take `qty` reserved units out of stock (an order shipped).
    pub(crate) fn ship(&mut self, gln: &Gln, gtin: &Gtin, qty: u64) -> Result<(), StateReadError> {
        self.release(gln, gtin, qty)?;
        let s = self.row(gln, gtin)?;
        s.on_hand = s
            .on_hand
            .checked_sub(qty)
            .ok_or_else(|| StateReadError::Corrupt {
                key: keys::stock(gln, gtin),
                reason: format!(
                    "an order ships {qty} units, more than the {} on hand",
                    s.on_hand
                ),
            })?;
        Ok(())
    }

    /// The writes: changed rows (reserved ≤ on hand asserted), and an alert for the
    /// location's owner where the available stock fell below the reorder point.
    pub(crate) fn into_writes(mut self) -> Result<Writes, StateReadError> {
        self.take_writes()
    }

    /// [`StockBook::into_writes`], leaving the book empty (for a holder that goes on).
    pub(crate) fn take_writes(&mut self) -> Result<Writes, StateReadError> {
        let mut w = Writes::new();
        let mut marks = std::mem::take(&mut self.marks);
        for ((gln, gtin), (before, now)) in std::mem::take(&mut self.rows) {
            assert!(
                now.reserved <= now.on_hand,
                "stock invariant broken for {gtin} at {gln}: {} reserved of {} on hand",
                now.reserved,
                now.on_hand
            );
            if before.as_ref() == Some(&now) || (before.is_none() && now == Stock::default()) {
                continue;
            }
            let was = before.as_ref().map_or(0, Stock::available);
            let crossed = now.reorder_point > 0
                && now.available() < now.reorder_point
                && (was >= now.reorder_point
                    || before.as_ref().map(|b| b.reorder_point) != Some(now.reorder_point));
            if crossed {
                let loc =
                    load_location(self.state, &gln)?.ok_or_else(|| StateReadError::Corrupt {
                        key: keys::location(&gln),
                        reason: "stock is kept at a location that is missing".into(),
                    })?;
                let subject = format!("{gln}/{gtin}");
                let alert = Alert {
                    kind: "reorder".into(),
                    message: format!(
                        "{gtin} at {gln} ({}): {} available, below the reorder point {}",
                        loc.name,
                        now.available(),
                        now.reorder_point
                    ),
                    subject: subject.clone(),
                    height: self.height,
                    time_ms: self.time_ms,
                };
                w.push((
                    keys::alert(
                        &loc.owner,
                        self.height.0,
                        alert_kind::REORDER,
                        subject.as_bytes(),
                    ),
                    encode_record(&alert),
                ));
            }
            marks.insert(gln.clone());
            w.push((keys::stock(&gln, &gtin), encode_record(&now)));
        }
        for gln in marks {
            if self.state.get(&keys::stock_kept(&gln))?.is_none() {
                w.push((keys::stock_kept(&gln), encode_record(&self.height)));
            }
        }
        Ok(w)
    }
}

impl Contract for AdjustStock {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        if let Err(e) = check_location_use(ex, &self.location, &m.org)? {
            return Err(e.into());
        }
        if !(m.admin || m.roles.contains(&Role::Warehouse)) {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "{} may not change stock at {}: that takes the warehouse role (or the admin) of the location's organization",
                    m.key, self.location
                ),
            )
            .into());
        }
        if crate::catalog::load_product(ex, &self.gtin)?.is_none() {
            return Err(Rejection::new(
                RejectCode::UnknownProduct,
                format!("{} is not a registered product", self.gtin),
            )
            .into());
        }
        let ctx = ex.context();
        let mut book = StockBook::new(ex, ctx.height, ctx.time_ms);
        book.mark(&self.location);
        let s = book.row(&self.location, &self.gtin)?;
        match &self.change {
            StockChange::Count { on_hand } => {
                if *on_hand < s.reserved {
                    return Err(Rejection::new(
                        RejectCode::InsufficientStock,
                        format!(
                            "placed orders reserve {} units of {} here; a count of {on_hand} is below that — ship or cancel those orders, or write the difference off after they ship",
                            s.reserved, self.gtin
                        ),
                    )
                    .into());
                }
                s.on_hand = *on_hand;
            }
            StockChange::Receipt { quantity } => {
                s.on_hand = s.on_hand.checked_add(*quantity).ok_or_else(|| {
                    Rejection::new(RejectCode::Overflow, "on hand would pass 2^64-1 units")
                })?;
            }
            StockChange::WriteOff { quantity, reason } => {
                if s.available() < *quantity {
                    return Err(Rejection::new(
                        RejectCode::InsufficientStock,
                        format!(
                            "write-off ({reason}) of {quantity} units of {}: {} available ({} on hand, {} reserved by orders)",
                            self.gtin,
                            s.available(),
                            s.on_hand,
                            s.reserved
                        ),
                    )
                    .into());
                }
                s.on_hand -= quantity;
            }
            StockChange::ReorderPoint { point } => s.reorder_point = *point,
        }
        Ok(book.into_writes()?)
    }

    fn describe(&self) -> String {
        let what = match &self.change {
            StockChange::Count { on_hand } => format!("counted {on_hand}"),
            StockChange::Receipt { quantity } => format!("received {quantity}"),
            StockChange::WriteOff { quantity, reason } => {
                format!("wrote off {quantity} ({reason})")
            }
            StockChange::ReorderPoint { point } => format!("reorder point {point}"),
        };
        format!("stock of {} at {}: {what}", self.gtin, self.location)
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}
