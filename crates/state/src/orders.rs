//! Listings and orders (`docs/ORDERS.md`).
//!
//! A product's owner lists it for a seller, on a platform or for direct trade, with a
//! price, discounts, a ship-from location, a carrier and terms. A buyer signs an
//! order intent; placing it (one transaction) checks the listing, the lot's status,
//! the stock and the price, reserves the stock and moves the buyer's money into
//! escrow: pending transfers, kind `escrow`, to the seller's `sales` account and the
//! platform's `fees` account, which only this contract settles. Then:
//!
//! ```text
//! placed ──ship (EPCIS shipping event, po = the order)──▶ shipped
//!   │  ├─cancel (buyer, seller, platform)──▶ cancelled   (escrow voided, stock released)
//!   │  └─ship-by deadline──▶ expired                      (escrow voided, stock released, alert)
//! shipped ──receiving event / buyer's or carrier's confirmation──▶ delivered
//!   └─deliver-by deadline──▶ refunded                     (escrow voided, alert)
//! delivered ──end of the return window──▶ settled         (escrow posted)
//! ```
//!
//! Deadlines are block time and act at the start of a block, before its
//! transactions, earliest first, at most
//! [`ORDER_DEADLINES_PER_BLOCK_MAX`](waybill_types::limits::ORDER_DEADLINES_PER_BLOCK_MAX)
//! per block.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_gs1::{Gln, Gtin};
use waybill_types::hash::{sha256, Hash};
use waybill_types::money::{AccountId, AccountOwner, Amount, Currency};
use waybill_types::payload::commerce::{
    Discount, OrderAction, OrderIntent, OrderStep, OrderTerms, PlaceOrder, SetListing, BPS,
    ORDER_ACTION_DOMAIN, ORDER_INTENT_DOMAIN,
};
use waybill_types::payload::money::TransferRef;
use waybill_types::payload::LotStatus;
use waybill_types::reject::RejectCode;
use waybill_types::{DataCategory, Height, OrgId, PublicKey, Role, TxId};

use crate::access::any_may_write;
use crate::catalog::{load_location, load_lot, load_product};
use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, StateScan, Writes,
};
use crate::identity::{active_signer, load_member, load_org, Member};
use crate::inventory::{alert_kind, Alert, StockBook};
use crate::keys;
use crate::lot_status::lot_status;
use crate::money::{
    check_debit_authority, check_fresh, Ledger, PendingState, TransferRecord, ESCROW_KIND,
};

/// The seller's account that escrowed sales are credited to.
pub const SALES_ACCOUNT: &str = "sales";
/// The platform's account that escrowed fees are credited to.
pub const FEES_ACCOUNT: &str = "fees";

/// A listing: who sells a product, where, at what price, on what terms.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Listing {
    /// The listing as its owner set it.
    #[serde(flatten)]
    pub terms: ListingTerms,
    /// The product's owner organization.
    pub owner: OrgId,
    /// The member that set it.
    pub set_by: PublicKey,
    /// The block that set it.
    pub height: Height,
}

/// The fields of a [`SetListing`], as stored.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct ListingTerms {
    /// The product.
    pub gtin: Gtin,
    /// The seller.
    pub seller: OrgId,
    /// The platform (none: direct trade).
    pub platform: Option<OrgId>,
    /// The currency.
    pub currency: Currency,
    /// Price of one trade unit.
    pub unit_price: Amount,
    /// The platform's fee in basis points.
    pub platform_fee_bps: u16,
    /// Discounts.
    pub discounts: Vec<Discount>,
    /// Where orders ship from.
    pub ship_from: Gln,
    /// The lot on sale, if named.
    pub lot: Option<String>,
    /// The carrier assigned to its orders.
    pub carrier: Option<OrgId>,
    /// Deadlines.
    pub terms: OrderTerms,
    /// Whether orders are taken.
    pub active: bool,
}

/// The listing of `gtin` by `seller` on `platform` (none: direct trade).
pub fn load_listing<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
    seller: &OrgId,
    platform: Option<&OrgId>,
) -> Result<Option<Listing>, StateReadError> {
    let k = keys::listing(gtin, seller, platform);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Every listing of `gtin` (up to `max`).
pub fn listings_of<S: StateScan + ?Sized>(
    state: &S,
    gtin: &Gtin,
    max: usize,
) -> Result<Vec<Listing>, StateReadError> {
    let prefix = keys::listings_of(gtin);
    state
        .scan_from(&prefix, &prefix, max)?
        .into_iter()
        .map(|(k, v)| decode_record(&k, &v))
        .collect()
}

fn reject(code: RejectCode, msg: impl Into<String>) -> HandlerError {
    Rejection::new(code, msg).into()
}

/// `org` as a member organization with `role`, or a rejection naming `what` it was
/// to be.
fn org_with_role<S: StateRead>(
    ex: &Execution<S>,
    org: &OrgId,
    role: Role,
    what: &str,
) -> Result<(), HandlerError> {
    let Some(o) = load_org(ex, org)? else {
        return Err(reject(
            RejectCode::UnknownOrg,
            format!("{what} `{org}` is not a member of the consortium"),
        ));
    };
    if !o.roles.contains(&role) {
        return Err(reject(
            RejectCode::Invalid,
            format!("{what} `{org}` does not have the {} role", role.name()),
        ));
    }
    Ok(())
}

impl Contract for SetListing {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let Some(product) = load_product(ex, &self.gtin)? else {
            return Err(reject(
                RejectCode::UnknownProduct,
                format!("{} is not a registered product", self.gtin),
            ));
        };
        if product.owner != m.org || !(m.admin || any_may_write(&m.roles, DataCategory::Production))
        {
            return Err(reject(
                RejectCode::NotAuthorized,
                format!(
                    "{} is owned by `{}`; its admin or a member who writes its production data lists it (the signer is of `{}`)",
                    self.gtin, product.owner, m.org
                ),
            ));
        }
        if load_org(ex, &self.seller)?.is_none() {
            return Err(reject(
                RejectCode::UnknownOrg,
                format!("seller `{}` is not a member of the consortium", self.seller),
            ));
        }
        if let Some(p) = &self.platform {
            org_with_role(ex, p, Role::Platform, "platform")?;
        }
        if let Some(c) = &self.carrier {
            org_with_role(ex, c, Role::Carrier, "carrier")?;
        }
        if let Err(e) = crate::catalog::check_location_use(ex, &self.ship_from, &self.seller)? {
            return Err(e.into());
        }
        if let Some(lot) = &self.lot {
            if load_lot(ex, &self.gtin, lot)?.is_none() {
                return Err(reject(
                    RejectCode::UnknownLot,
                    format!("lot {}/{lot} is not registered", self.gtin),
                ));
            }
        }
        let listing = Listing {
            terms: ListingTerms {
                gtin: self.gtin.clone(),
                seller: self.seller.clone(),
                platform: self.platform.clone(),
                currency: self.currency,
                unit_price: self.unit_price,
                platform_fee_bps: self.platform_fee_bps,
                discounts: self.discounts.clone(),
                ship_from: self.ship_from.clone(),
                lot: self.lot.clone(),
                carrier: self.carrier.clone(),
                terms: self.terms,
                active: self.active,
            },
            owner: product.owner,
            set_by: m.key,
            height: ex.context().height,
        };
        Ok(vec![(
            keys::listing(&self.gtin, &self.seller, self.platform.as_ref()),
            encode_record(&listing),
        )])
    }

    fn describe(&self) -> String {
        format!(
            "{} {} for `{}`{} at {} {} a unit",
            if self.active { "listed" } else { "withdrew" },
            self.gtin,
            self.seller,
            self.platform
                .as_ref()
                .map_or(" (direct)".to_string(), |p| format!(" on `{p}`")),
            self.unit_price,
            self.currency
        )
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}

// ---------------------------------------------------------------------------------
// Pricing
// ---------------------------------------------------------------------------------

/// `n / d` rounded half to even.
pub fn div_half_even(n: u128, d: u128) -> u128 {
    let (q, r) = (n / d, n % d);
    // 2r vs d without overflow: r < d, so compare r with d - r.
    match r.cmp(&(d - r)) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// `bps` basis points of `x`, rounded half to even; `None` on overflow.
pub fn bps_of(x: Amount, bps: u16) -> Option<Amount> {
    x.0.checked_mul(u128::from(bps))
        .map(|n| Amount(div_half_even(n, u128::from(BPS))))
}

/// One discount applied to a line.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct AppliedDiscount {
    /// `volume`, `percent`, `fixed` or `coupon:<code>`.
    pub kind: String,
    /// Minor units taken off the line.
    pub amount: Amount,
}

/// A priced order line: the breakdown the order stores.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct PricedLine {
    /// The product.
    pub gtin: Gtin,
    /// The lot sold, if the listing names one.
    pub lot: Option<String>,
    /// Trade units.
    pub quantity: u32,
    /// The listed unit price.
    pub list_price: Amount,
    /// list price × quantity.
    pub gross: Amount,
    /// What came off, in the order applied.
    pub discounts: Vec<AppliedDiscount>,
    /// What the line costs.
    pub net: Amount,
    /// Of it, the platform's fee.
    pub fee: Amount,
}

fn overflow() -> Rejection {
    Rejection::new(
        RejectCode::Overflow,
        "the order's price would pass 2^128-1 minor units",
    )
}

/// Price `quantity` units on `listing`, with the buyer's `coupon` if the listing has
/// it (the second value says whether it applied). The order: the volume tier (the
/// highest `min_quantity` reached) sets the unit price; then every `percent`, every
/// `fixed`, the coupon; each rounded half to even, none below zero; then the
/// platform's fee on the net, half to even.
pub fn price_line(
    listing: &ListingTerms,
    quantity: u32,
    coupon: Option<&str>,
) -> Result<(PricedLine, bool), Rejection> {
    let q = u128::from(quantity);
    let gross = listing.unit_price.0.checked_mul(q).ok_or_else(overflow)?;
    let mut applied = Vec::new();
    let mut net = gross;
    let tier = listing
        .discounts
        .iter()
        .filter_map(|d| match d {
            Discount::Volume {
                min_quantity,
                unit_price,
            } if quantity >= *min_quantity => Some((*min_quantity, *unit_price)),
            _ => None,
        })
        .max_by_key(|(m, _)| *m);
    if let Some((_, price)) = tier {
        let tiered = price.0.checked_mul(q).ok_or_else(overflow)?;
        let off = net.saturating_sub(tiered);
        net -= off;
        applied.push(("volume".to_string(), off));
    }
    for d in &listing.discounts {
        if let Discount::Percent { bps } = d {
            let off = bps_of(Amount(net), *bps).ok_or_else(overflow)?.0.min(net);
            net -= off;
            applied.push(("percent".to_string(), off));
        }
    }
    for d in &listing.discounts {
        if let Discount::Fixed { amount } = d {
            let off = amount.0.min(net);
            net -= off;
            applied.push(("fixed".to_string(), off));
        }
    }
    let mut used = false;
    if let Some(code) = coupon {
        for d in &listing.discounts {
            if let Discount::Coupon { code: c, bps, .. } = d {
                if c == code {
                    let off = bps_of(Amount(net), *bps).ok_or_else(overflow)?.0.min(net);
                    net -= off;
                    applied.push((format!("coupon:{c}"), off));
                    used = true;
                }
            }
        }
    }
    let fee = bps_of(Amount(net), listing.platform_fee_bps).ok_or_else(overflow)?;
    Ok((
        PricedLine {
            gtin: listing.gtin.clone(),
            lot: listing.lot.clone(),
            quantity,
            list_price: listing.unit_price,
            gross: Amount(gross),
            discounts: applied
                .into_iter()
                .map(|(kind, amount)| AppliedDiscount {
                    kind,
                    amount: Amount(amount),
                })
                .collect(),
            net: Amount(net),
            fee,
        },
        used,
    ))
}

// ---------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------

/// Where an order stands.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum OrderState {
    /// Placed: stock reserved, money in escrow.
    Placed = 0,
    /// Shipped by the seller.
    Shipped = 1,
    /// Delivered; the return window runs.
    Delivered = 2,
    /// Settled: the escrow was posted to the seller and the platform.
    Settled = 3,
    /// Cancelled before shipping: escrow voided.
    Cancelled = 4,
    /// Not shipped by its deadline: escrow voided.
    Expired = 5,
    /// Not delivered by its deadline: escrow voided.
    Refunded = 6,
}

impl OrderState {
    /// Every state, in order.
    pub const ALL: [OrderState; 7] = [
        OrderState::Placed,
        OrderState::Shipped,
        OrderState::Delivered,
        OrderState::Settled,
        OrderState::Cancelled,
        OrderState::Expired,
        OrderState::Refunded,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            OrderState::Placed => "placed",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Settled => "settled",
            OrderState::Cancelled => "cancelled",
            OrderState::Expired => "expired",
            OrderState::Refunded => "refunded",
        }
    }

    /// Whether nothing more happens to the order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Settled
                | OrderState::Cancelled
                | OrderState::Expired
                | OrderState::Refunded
        )
    }
}

/// One step of an order's history.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Transition {
    /// The state entered.
    pub state: OrderState,
    /// The block.
    pub height: Height,
    /// Its time.
    pub time_ms: u64,
    /// What moved it: `buyer`, `seller`, `platform`, `carrier`, `event <seq>`,
    /// `deadline`.
    pub by: String,
    /// Why (a cancellation's reason), if given.
    pub reason: Option<String>,
}

/// An order.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Order {
    /// The buyer's key.
    pub buyer: PublicKey,
    /// The buyer's id for it.
    pub id: String,
    /// SHA-256 of the signed intent (borsh).
    pub intent_hash: Hash,
    /// The seller.
    pub seller: OrgId,
    /// The platform, none for direct trade.
    pub platform: Option<OrgId>,
    /// The carrier assigned (the seller's freight agreement), if any.
    pub carrier: Option<OrgId>,
    /// Where it ships from.
    pub ship_from: Gln,
    /// The currency.
    pub currency: Currency,
    /// The priced lines.
    pub lines: Vec<PricedLine>,
    /// Σ lines' net: what the buyer pays.
    pub total: Amount,
    /// Σ lines' fee: the platform's part.
    pub fee: Amount,
    /// The account paid from.
    pub pay_from: AccountId,
    /// The coupon used, if any.
    pub coupon: Option<String>,
    /// The salted hash of the key that may review it.
    pub review_key_hash: Option<Hash>,
    /// Its terms (copied from the listing when placed).
    pub terms: OrderTerms,
    /// Where it stands.
    pub state: OrderState,
    /// The deadline of the current state, ms of block time (none once final).
    pub deadline_ms: Option<u64>,
    /// The EPCIS event that shipped it, if one did.
    pub shipped_by_event: Option<u64>,
    /// The escrow: the pending transfer to the seller, and the one to the platform.
    pub escrow: Vec<TransferRef>,
    /// Who submitted the placement.
    pub placed_by: PublicKey,
    /// The placement transaction.
    pub tx_id: TxId,
    /// Every step, the first being `placed`.
    pub history: Vec<Transition>,
    /// The sealed delivery address (`{"wb:sealed": …}` JSON text), if one was given.
    #[schemars(with = "Option<serde_json::Value>")]
    pub ship_to: Option<String>,
}

impl Order {
    /// `urn:waybill:order:<buyer hex>:<id>`: how EPCIS events name it (as a `po`
    /// business transaction).
    pub fn urn(&self) -> String {
        order_urn(&self.buyer, &self.id)
    }

    /// The organizations that are parties to it.
    pub fn parties(&self) -> Vec<&OrgId> {
        let mut v = vec![&self.seller];
        v.extend(self.platform.as_ref());
        v.extend(self.carrier.as_ref());
        v.extend(self.pay_from.org_owner());
        v.sort();
        v.dedup();
        v
    }
}

/// How EPCIS events name an order.
pub fn order_urn(buyer: &PublicKey, id: &str) -> String {
    format!("urn:waybill:order:{}:{id}", buyer.to_hex())
}

/// The order `id` of `buyer`.
pub fn load_order<S: StateRead + ?Sized>(
    state: &S,
    buyer: &PublicKey,
    id: &str,
) -> Result<Option<Order>, StateReadError> {
    let k = keys::order(buyer, id);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The orders `org` is a party to (up to `max`), by buyer and id.
pub fn orders_of<S: StateScan + ?Sized>(
    state: &S,
    org: &OrgId,
    max: usize,
) -> Result<Vec<Order>, StateReadError> {
    let prefix = keys::orders_of(org);
    let mut out = Vec::new();
    for (k, _) in state.scan_from(&prefix, &prefix, max)? {
        let (buyer, id) = split_order_key(&k, prefix.len())?;
        let o = load_order(state, &buyer, &id)?.ok_or_else(|| StateReadError::Corrupt {
            key: k.clone(),
            reason: "an organization's order index names a missing order".into(),
        })?;
        out.push(o);
    }
    Ok(out)
}

/// Every order (up to `max`), by buyer and id.
pub fn all_orders<S: StateScan + ?Sized>(
    state: &S,
    max: usize,
) -> Result<Vec<Order>, StateReadError> {
    let prefix = [keys::ORDER];
    state
        .scan_from(&prefix, &prefix, max)?
        .into_iter()
        .map(|(k, v)| decode_record(&k, &v))
        .collect()
}

fn split_order_key(k: &[u8], at: usize) -> Result<(PublicKey, String), StateReadError> {
    let corrupt = || StateReadError::Corrupt {
        key: k.to_vec(),
        reason: "order key shorter than its buyer, or its id is not UTF-8".into(),
    };
    let buyer = k
        .get(at..at + 32)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(PublicKey)
        .ok_or_else(corrupt)?;
    let id = std::str::from_utf8(&k[at + 32..]).map_err(|_| corrupt())?;
    Ok((buyer, id.to_string()))
}

/// The escrow's pending transfers of order `id`: the seller's leg and the fee leg.
fn escrow_ref(buyer: &PublicKey, id: &str, leg: &str) -> TransferRef {
    // A '.' is never in a client id a signer chooses (ids are words), so these never
    // collide with a buyer's own transfers, and no transfer can name them to post or
    // void them.
    TransferRef {
        signer: *buyer,
        id: format!("order.{id}.{leg}"),
    }
}

/// The lines' listings, all shipping from one location on one carrier and terms.
fn listings_for<S: StateRead>(
    ex: &Execution<S>,
    i: &OrderIntent,
) -> Result<Vec<ListingTerms>, HandlerError> {
    let mut out: Vec<ListingTerms> = Vec::with_capacity(i.lines.len());
    for line in &i.lines {
        let on = i
            .platform
            .as_ref()
            .map_or("directly".to_string(), |p| format!("on `{p}`"));
        let l = match load_listing(ex, &line.gtin, &i.seller, i.platform.as_ref())? {
            Some(l) if l.terms.active => l.terms,
            _ => {
                return Err(reject(
                    RejectCode::UnknownListing,
                    format!("`{}` does not sell {} {on}", i.seller, line.gtin),
                ))
            }
        };
        if l.currency != i.currency {
            return Err(reject(
                RejectCode::UnknownListing,
                format!(
                    "`{}` sells {} {on} in {}, not {}",
                    i.seller, line.gtin, l.currency, i.currency
                ),
            ));
        }
        if let Some(lot) = &l.lot {
            match lot_status(ex, &line.gtin, lot)? {
                LotStatus::Released => {}
                LotStatus::Quarantined => {
                    return Err(reject(
                        RejectCode::LotQuarantined,
                        format!(
                            "lot {}/{lot} is quarantined; it is not sold until released",
                            line.gtin
                        ),
                    ))
                }
                LotStatus::Recalled => {
                    return Err(reject(
                        RejectCode::LotRecalled,
                        format!("lot {}/{lot} is recalled; it is not sold", line.gtin),
                    ))
                }
            }
        }
        if let Some(first) = out.first() {
            if (&first.ship_from, &first.carrier, &first.terms)
                != (&l.ship_from, &l.carrier, &l.terms)
            {
                return Err(reject(
                    RejectCode::Invalid,
                    format!(
                        "{} ships from {} on other terms than {} (from {}); one order is one shipment — order them separately",
                        line.gtin, l.ship_from, first.gtin, first.ship_from
                    ),
                ));
            }
        }
        out.push(l);
    }
    Ok(out)
}

/// May the buyer's key pay from `pay_from`? Its own key account, or an account of
/// its organization when it is a member who moves that organization's money.
fn check_payer<S: StateRead>(ex: &Execution<S>, i: &OrderIntent) -> Result<(), HandlerError> {
    match &i.pay_from.owner {
        AccountOwner::Key(k) if *k == i.buyer => Ok(()),
        AccountOwner::Key(_) => Err(reject(
            RejectCode::NotAuthorized,
            format!(
                "account `{}` is another key's; the buyer pays from its own",
                i.pay_from
            ),
        )),
        AccountOwner::Org(_) => {
            let Some(m) = load_member(ex, &i.buyer)?.filter(Member::is_active) else {
                return Err(reject(
                    RejectCode::NotAuthorized,
                    format!(
                        "account `{}` is an organization's; the buyer {} is not an active member of it",
                        i.pay_from, i.buyer
                    ),
                ));
            };
            check_debit_authority(&m, &i.pay_from)
        }
    }
}

/// Price every line; the coupon is used at most once per order and counted.
fn price_lines<S: StateRead>(
    ex: &Execution<S>,
    i: &OrderIntent,
    listings: &[ListingTerms],
) -> Result<(Vec<PricedLine>, Writes), HandlerError> {
    let mut lines = Vec::with_capacity(listings.len());
    let mut coupon_used = false;
    for (l, line) in listings.iter().zip(&i.lines) {
        let (p, used) = price_line(l, line.quantity, i.coupon.as_deref())?;
        coupon_used |= used;
        lines.push(p);
    }
    let mut w = Writes::new();
    if let Some(code) = &i.coupon {
        if !coupon_used {
            return Err(reject(
                RejectCode::UnknownCoupon,
                format!("no listing on this order has coupon `{code}`"),
            ));
        }
        let cap = listings
            .iter()
            .flat_map(|l| &l.discounts)
            .filter_map(|d| match d {
                Discount::Coupon {
                    code: c, max_uses, ..
                } if c == code => Some(*max_uses),
                _ => None,
            })
            .min()
            .expect("a used coupon is on a listing");
        let k = keys::coupon_uses(&i.seller, i.platform.as_ref(), code);
        let uses: u32 = ex
            .get(&k)?
            .map(|b| decode_record(&k, &b))
            .transpose()?
            .unwrap_or(0);
        if uses >= cap {
            return Err(reject(
                RejectCode::CouponExhausted,
                format!("coupon `{code}` was used {uses} times, its cap"),
            ));
        }
        w.push((k, encode_record(&(uses + 1))));
    }
    Ok((lines, w))
}

impl Contract for PlaceOrder {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let i = &self.intent;
        let ctx = ex.context();
        let submitter_ok = m.key == i.buyer
            || m.org == i.seller
            || (i.platform.as_ref() == Some(&m.org) && m.roles.contains(&Role::Platform));
        if !submitter_ok {
            return Err(reject(
                RejectCode::NotAuthorized,
                format!(
                    "an order is submitted by its platform, its seller or the buyer; {} is of `{}`",
                    m.key, m.org
                ),
            ));
        }
        if i.chain_id != ctx.chain_id || i.expires_at_ms <= ctx.time_ms {
            return Err(reject(
                RejectCode::IntentExpired,
                format!(
                    "the intent is for chain `{}` until {} ms; this is `{}` at {} ms — ask the buyer to sign again",
                    i.chain_id, i.expires_at_ms, ctx.chain_id, ctx.time_ms
                ),
            ));
        }
        let intent_hash = sha256(&i.signing_bytes());
        if i.buyer
            .verify(ORDER_INTENT_DOMAIN, &i.signing_bytes(), &self.signature)
            .is_err()
        {
            return Err(reject(
                RejectCode::BadBuyerSignature,
                format!(
                    "the intent's signature does not verify for buyer {}",
                    i.buyer
                ),
            ));
        }
        if let Some(o) = load_order(ex, &i.buyer, &i.id)? {
            let code = if o.intent_hash == intent_hash {
                RejectCode::Exists
            } else {
                RejectCode::ExistsWithDifferentFields
            };
            return Err(reject(
                code,
                format!(
                    "buyer {} already placed order `{}` (transaction {}); a replayed intent changes nothing",
                    i.buyer, i.id, o.tx_id
                ),
            ));
        }
        check_payer(ex, i)?;
        let listings = listings_for(ex, i)?;
        let (lines, mut writes) = price_lines(ex, i, &listings)?;
        if let Some(text) = &self.ship_to {
            let committed = check_ship_to(ex, i, &listings[0], text)?;
            crate::commitments::append(ex, ex.context().height.0, &mut writes, &[committed])?;
        }
        place(
            ex,
            call,
            Placement {
                intent: i,
                intent_hash,
                listing: &listings[0],
                lines,
                ship_to: self.ship_to.clone(),
            },
            writes,
        )
    }

    fn describe(&self) -> String {
        format!(
            "placed order `{}` of buyer {} with `{}` ({} lines)",
            self.intent.id,
            self.intent.buyer.short(),
            self.intent.seller,
            self.intent.lines.len()
        )
    }
}

/// The order's total and the platform's part of it; refused above the buyer's
/// maximum (`price_changed`) or at zero.
fn order_total(i: &OrderIntent, lines: &[PricedLine]) -> Result<(Amount, Amount), HandlerError> {
    let mut total = Amount::ZERO;
    let mut fee = Amount::ZERO;
    for l in lines {
        total = total.checked_add(l.net).ok_or_else(overflow)?;
        fee = fee.checked_add(l.fee).ok_or_else(overflow)?;
    }
    if total > i.max_total {
        return Err(reject(
            RejectCode::PriceChanged,
            format!(
                "the order costs {total} {}, above the buyer's maximum {}; ask the buyer to agree to the new price",
                i.currency, i.max_total
            ),
        ));
    }
    if total == Amount::ZERO {
        return Err(reject(
            RejectCode::Invalid,
            "the discounts take the order to zero; a free order has nothing to escrow",
        ));
    }
    Ok((total, fee))
}

/// An order about to be placed: the checked intent, priced on its listing.
struct Placement<'a> {
    intent: &'a OrderIntent,
    /// SHA-256 of the signed intent.
    intent_hash: Hash,
    /// The listing of the first line (every line ships from its location).
    listing: &'a ListingTerms,
    lines: Vec<PricedLine>,
    /// The sealed delivery address, checked.
    ship_to: Option<String>,
}

/// The rest of a placement: the total against the buyer's maximum, the stock, the
/// escrow, the order, its deadline and index entries.
fn place<S: StateRead>(
    ex: &Execution<S>,
    call: Call,
    p: Placement<'_>,
    mut w: Writes,
) -> Result<Writes, HandlerError> {
    let Placement {
        intent: i,
        intent_hash,
        listing: first,
        lines,
        ship_to,
    } = p;
    let ctx = ex.context();
    let (total, fee) = order_total(i, &lines)?;
    let mut stock = StockBook::new(ex, ctx.height, ctx.time_ms);
    for l in &lines {
        if let Err(e) = stock.reserve(&first.ship_from, &l.gtin, u64::from(l.quantity))? {
            return Err(e.into());
        }
    }
    let mut ledger = Ledger::new(ex, ctx.height, ctx.time_ms);
    let escrow = hold_escrow(
        &mut ledger,
        i,
        intent_hash,
        total.checked_sub(fee).expect("a fee is at most its line"),
        fee,
        call.tx_id,
    )?;
    let deadline = ctx.time_ms.saturating_add(first.terms.ship_within_ms);
    let order = Order {
        buyer: i.buyer,
        id: i.id.clone(),
        intent_hash,
        seller: i.seller.clone(),
        platform: i.platform.clone(),
        carrier: first.carrier.clone(),
        ship_from: first.ship_from.clone(),
        currency: i.currency,
        lines,
        total,
        fee,
        pay_from: i.pay_from.clone(),
        coupon: i.coupon.clone(),
        review_key_hash: i.review_key_hash,
        terms: first.terms,
        state: OrderState::Placed,
        deadline_ms: Some(deadline),
        shipped_by_event: None,
        escrow,
        placed_by: call.signer,
        tx_id: call.tx_id,
        history: vec![Transition {
            state: OrderState::Placed,
            height: ctx.height,
            time_ms: ctx.time_ms,
            by: "buyer".into(),
            reason: None,
        }],
        ship_to,
    };
    for org in order.parties() {
        w.push((keys::order_of(org, &i.buyer, &i.id), Vec::new()));
    }
    w.push((keys::order_deadline(deadline, &i.buyer, &i.id), Vec::new()));
    w.push((keys::order(&i.buyer, &i.id), encode_record(&order)));
    w.extend(stock.into_writes()?);
    w.extend(ledger.into_writes()?);
    Ok(w)
}

/// Move the buyer's money into escrow: a pending transfer of `seller_part` to the
/// seller's sales account and one of `fee` to the platform's fees account (each only
/// if more than zero), held by the order. Returns their ids.
fn hold_escrow<S: StateRead + ?Sized>(
    ledger: &mut Ledger<'_, S>,
    i: &OrderIntent,
    intent_hash: Hash,
    seller_part: Amount,
    fee: Amount,
    tx_id: TxId,
) -> Result<Vec<TransferRef>, HandlerError> {
    let (height, time_ms) = ledger.at();
    let mut legs = vec![(
        escrow_ref(&i.buyer, &i.id, "sale"),
        AccountId::org(&i.seller, i.currency, SALES_ACCOUNT),
        seller_part,
    )];
    if let (Some(p), true) = (&i.platform, fee > Amount::ZERO) {
        legs.push((
            escrow_ref(&i.buyer, &i.id, "fee"),
            AccountId::org(p, i.currency, FEES_ACCOUNT),
            fee,
        ));
    }
    legs.retain(|(_, _, a)| *a > Amount::ZERO);
    for (r, credit, amount) in &legs {
        if let Err(e) = check_fresh(ledger, r, &intent_hash)? {
            return Err(e.into());
        }
        if let Err(e) = ledger.open_pair(&i.pay_from, credit)? {
            return Err(e.into());
        }
        if let Err(e) = ledger.book(&i.pay_from, credit, *amount, true)? {
            return Err(e.into());
        }
        ledger.transfers.insert(
            r.clone(),
            TransferRecord {
                id: r.clone(),
                kind: ESCROW_KIND.into(),
                debit: i.pay_from.clone(),
                credit: credit.clone(),
                amount: *amount,
                pending: None,
                // Held by the order, which settles it; no timeout of its own.
                pending_state: Some(PendingState::Pending {
                    expires_at_ms: u64::MAX,
                }),
                reference: None,
                height,
                time_ms,
                tx_id,
                body: intent_hash,
            },
        );
    }
    Ok(legs.into_iter().map(|(r, _, _)| r).collect())
}

/// The sealed delivery address of intent `i` on listing `l`: a sealed field standing
/// at `/ship_to` of the order's record, category `platform_transactions`, wrapped for
/// every regulator, the seller, the platform and the carrier (and at most the buying
/// organization besides), each at its current key version; inline, or erasable
/// (detached: the record keeps no ciphertext, the recipients' nodes keep the private
/// part, and `erase_sealed` has them purge it). The chain cannot open it;
/// each recipient's member opens it with its organization's key (`waybill open`), and
/// the AEAD's associated data binds it to this order and field. Its commitment joins
/// the block's commitment tree. Returns (record, field, commitment).
fn check_ship_to<S: StateRead>(
    ex: &Execution<S>,
    i: &OrderIntent,
    l: &ListingTerms,
    text: &str,
) -> Result<(String, String, Hash), HandlerError> {
    use waybill_types::seal::SealedField;
    let bad = |m: String| reject(RejectCode::SealedField, format!("ship_to: {m}"));
    let record = order_urn(&i.buyer, &i.id);
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let sealed = match SealedField::from_json(&v, &record, "/ship_to") {
        None => return Err(bad("not a sealed field ({\"wb:sealed\": …})".into())),
        Some(Err(e)) => return Err(bad(e.to_string())),
        Some(Ok(s)) => s,
    };
    if sealed.category() != DataCategory::PlatformTransactions {
        return Err(bad(format!(
            "sealed as {}; an address is platform_transactions",
            sealed.category().name()
        )));
    }
    let recipients = sealed.recipients();
    let orgs: std::collections::BTreeSet<&OrgId> = recipients.iter().map(|w| &w.org).collect();
    let regulators = crate::parties::PartyResolver::new().regulators(ex)?;
    let mut needed: Vec<&OrgId> = regulators.iter().collect();
    needed.push(&i.seller);
    needed.extend(i.platform.as_ref());
    needed.extend(l.carrier.as_ref());
    if let Some(missing) = needed.iter().find(|o| !orgs.contains(*o)) {
        return Err(bad(format!(
            "not sealed for `{missing}`; an address is sealed for the seller, the platform, the carrier and every regulator"
        )));
    }
    let buyer_org = i.pay_from.org_owner();
    if let Some(extra) = orgs
        .iter()
        .find(|o| !needed.contains(*o) && Some(**o) != buyer_org)
    {
        return Err(bad(format!(
            "sealed for `{extra}`, which is no party to the order"
        )));
    }
    let problems = crate::privacy::key_version_problems(ex, &recipients, "ship_to")?;
    if let Some(p) = problems.first() {
        return Err(reject(RejectCode::SealedField, p.clone()));
    }
    Ok((record, "/ship_to".to_string(), *sealed.commitment()))
}

/// Who acts on an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Buyer,
    Seller,
    Platform,
    Carrier,
}

impl Actor {
    fn name(self) -> &'static str {
        match self {
            Actor::Buyer => "buyer",
            Actor::Seller => "seller",
            Actor::Platform => "platform",
            Actor::Carrier => "carrier",
        }
    }
}

/// Who `m` acts as on order `o`, with the buyer's signature if one came.
fn actor<S: StateRead>(
    ex: &Execution<S>,
    m: &Member,
    o: &Order,
    a: &OrderAction,
) -> Result<Actor, HandlerError> {
    let org_actor = if m.org == o.seller {
        Some(Actor::Seller)
    } else if o.platform.as_ref() == Some(&m.org) && m.roles.contains(&Role::Platform) {
        Some(Actor::Platform)
    } else if o.carrier.as_ref() == Some(&m.org) && m.roles.contains(&Role::Carrier) {
        Some(Actor::Carrier)
    } else {
        None
    };
    if m.key == o.buyer {
        return Ok(Actor::Buyer);
    }
    let Some(org_actor) = org_actor else {
        return Err(reject(
            RejectCode::NotAuthorized,
            format!(
                "{} of `{}` is no party to order `{}` (its buyer, seller, platform or carrier)",
                m.key, m.org, o.id
            ),
        ));
    };
    match &a.buyer_signature {
        None => Ok(org_actor),
        Some(sig) => {
            let bytes =
                OrderAction::signing_bytes(&ex.context().chain_id, &o.buyer, &o.id, &a.step);
            if o.buyer.verify(ORDER_ACTION_DOMAIN, &bytes, sig).is_err() {
                return Err(reject(
                    RejectCode::BadBuyerSignature,
                    format!(
                        "the buyer's signature over `{}` does not verify",
                        a.step.name()
                    ),
                ));
            }
            Ok(Actor::Buyer)
        }
    }
}

impl Contract for OrderAction {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let Some(mut o) = load_order(ex, &self.buyer, &self.id)? else {
            return Err(reject(
                RejectCode::UnknownOrder,
                format!("buyer {} placed no order `{}`", self.buyer, self.id),
            ));
        };
        let who = actor(ex, &m, &o, self)?;
        let ctx = ex.context();
        let (allowed, from, to) = match &self.step {
            OrderStep::Cancel { .. } => (
                matches!(who, Actor::Buyer | Actor::Seller | Actor::Platform),
                OrderState::Placed,
                OrderState::Cancelled,
            ),
            OrderStep::ConfirmDelivery => (
                matches!(who, Actor::Buyer | Actor::Carrier),
                OrderState::Shipped,
                OrderState::Delivered,
            ),
        };
        if !allowed {
            return Err(reject(
                RejectCode::NotAuthorized,
                format!("the {} may not {} an order", who.name(), self.step.name()),
            ));
        }
        if o.state != from {
            return Err(reject(
                RejectCode::OrderState,
                format!(
                    "order `{}` is {}; {} takes a {} order",
                    o.id,
                    o.state.name(),
                    self.step.name(),
                    from.name()
                ),
            ));
        }
        let reason = match &self.step {
            OrderStep::Cancel { reason } => Some(reason.clone()),
            OrderStep::ConfirmDelivery => None,
        };
        let mut w = Writes::new();
        if to == OrderState::Cancelled {
            let mut stock = StockBook::new(ex, ctx.height, ctx.time_ms);
            let mut ledger = Ledger::new(ex, ctx.height, ctx.time_ms);
            unwind(
                &mut stock,
                &mut ledger,
                &o,
                true,
                (ctx.height, ctx.time_ms, call.tx_id),
            )?;
            w.extend(stock.into_writes()?);
            w.extend(ledger.into_writes()?);
        }
        let by = who.name();
        move_to(&mut o, to, ctx.height, ctx.time_ms, by, reason, &mut w);
        if to == OrderState::Delivered {
            publish_delivery(ex, &o, call.tx_id, &mut w)?;
        }
        Ok(w)
    }

    fn describe(&self) -> String {
        format!(
            "{} order `{}` of buyer {}",
            self.step.name(),
            self.id,
            self.buyer.short()
        )
    }
}

/// Move `o` to `to`: its deadline key replaced by the new state's (none once final),
/// the history extended, the record written.
fn move_to(
    o: &mut Order,
    to: OrderState,
    height: Height,
    time_ms: u64,
    by: &str,
    reason: Option<String>,
    w: &mut Writes,
) {
    // The old deadline's key stays; the start-of-block run drops it when it comes
    // due, seeing the order's deadline has moved (a handler only writes, never
    // deletes).
    let next = match to {
        OrderState::Shipped => Some(time_ms.saturating_add(o.terms.deliver_within_ms)),
        OrderState::Delivered => Some(time_ms.saturating_add(o.terms.return_window_ms)),
        _ => None,
    };
    if let Some(d) = next {
        w.push((keys::order_deadline(d, &o.buyer, &o.id), Vec::new()));
    }
    o.deadline_ms = next;
    o.state = to;
    o.history.push(Transition {
        state: to,
        height,
        time_ms,
        by: by.to_string(),
        reason,
    });
    w.push((keys::order(&o.buyer, &o.id), encode_record(&*o)));
}

/// Void (`release_stock`: and release the reserved stock of) order `o`'s escrow.
fn unwind<S: StateRead + ?Sized>(
    stock: &mut StockBook<'_, S>,
    ledger: &mut Ledger<'_, S>,
    o: &Order,
    release_stock: bool,
    at: (Height, u64, TxId),
) -> Result<(), HandlerError> {
    if release_stock {
        for l in &o.lines {
            stock.release(&o.ship_from, &l.gtin, u64::from(l.quantity))?;
        }
    }
    settle_escrow(ledger, o, false, at)
}

/// Post (`post`) or void every escrow leg of `o` in full.
///
/// `at` is the block and the transaction that settles it (a deadline's settlement
/// has no transaction: the zero id).
fn settle_escrow<S: StateRead + ?Sized>(
    ledger: &mut Ledger<'_, S>,
    o: &Order,
    post: bool,
    (height, time_ms, tx_id): (Height, u64, TxId),
) -> Result<(), HandlerError> {
    for r in &o.escrow {
        let Some(mut p) = ledger.transfer(r)? else {
            return Err(StateReadError::Corrupt {
                key: keys::transfer(&r.signer, &r.id),
                reason: format!("order `{}` holds escrow `{}`, which is missing", o.id, r.id),
            }
            .into());
        };
        if !matches!(p.pending_state, Some(PendingState::Pending { .. })) {
            return Err(StateReadError::Corrupt {
                key: keys::transfer(&r.signer, &r.id),
                reason: format!("order `{}`'s escrow `{}` is no longer pending", o.id, r.id),
            }
            .into());
        }
        let posted = if post { p.amount } else { Amount::ZERO };
        if let Err(e) = ledger.settle(&p.debit, &p.credit, p.amount, posted)? {
            return Err(e.into());
        }
        let by = TransferRef {
            signer: r.signer,
            id: format!("{}.{}", r.id, if post { "post" } else { "void" }),
        };
        p.pending_state = Some(if post {
            PendingState::Posted {
                by: by.clone(),
                amount: posted,
            }
        } else {
            PendingState::Voided { by: by.clone() }
        });
        let record = TransferRecord {
            id: by.clone(),
            kind: if post { "post" } else { "void" }.into(),
            debit: p.debit.clone(),
            credit: p.credit.clone(),
            amount: p.amount,
            pending: Some(r.clone()),
            pending_state: None,
            reference: None,
            height,
            time_ms,
            tx_id,
            body: o.intent_hash,
        };
        ledger.transfers.insert(r.clone(), p);
        ledger.transfers.insert(by, record);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// EPCIS events and deadlines
// ---------------------------------------------------------------------------------

/// An EPCIS event a capture stored, as far as orders care: its seq, business step
/// and business transactions.
pub(crate) struct OrderEvent {
    pub seq: u64,
    pub biz_step: Option<String>,
    pub biz_transactions: Vec<(String, String)>,
}

/// The orders that `events`, captured by `capturer`, move: a `shipping` event naming
/// a placed order as its `po` ships it, when captured by the seller, the owner of the
/// ship-from location or the assigned carrier (the stock leaves the location); a
/// `receiving` or `accepting` event naming a shipped order delivers it, when captured
/// by the assigned carrier or the buying organization. Any other event naming an
/// order is stored and moves nothing (the order's history says what did). The stock
/// moves in `stock`, the capture's book (its other events move stock too).
pub(crate) fn on_events<'e, S: StateRead>(
    ex: &'e Execution<'e, S>,
    capturer: &OrgId,
    events: &[OrderEvent],
    stock: &mut StockBook<'e, Execution<'e, S>>,
) -> Result<(Writes, Vec<Order>), StateReadError> {
    let mut delivered = Vec::new();
    let ctx = ex.context();
    let mut orders: std::collections::BTreeMap<(PublicKey, String), Order> = Default::default();
    let mut w = Writes::new();
    for e in events {
        let step = e.biz_step.as_deref();
        for (t, id) in &e.biz_transactions {
            let Some((buyer, oid)) = parse_order_urn(id).filter(|_| t == "po") else {
                continue;
            };
            let k = (buyer, oid.clone());
            if !orders.contains_key(&k) {
                match load_order(ex, &buyer, &oid)? {
                    Some(o) => orders.insert(k.clone(), o),
                    None => continue,
                };
            }
            let o = orders.get_mut(&k).expect("loaded above");
            let ships = step == Some("shipping")
                && o.state == OrderState::Placed
                && may_ship(ex, capturer, o)?;
            let by = format!("event {}", e.seq);
            match (step, o.state) {
                (Some("shipping"), OrderState::Placed) if ships => {
                    for l in &o.lines {
                        stock.ship(&o.ship_from, &l.gtin, u64::from(l.quantity))?;
                    }
                    o.shipped_by_event = Some(e.seq);
                    move_to(
                        o,
                        OrderState::Shipped,
                        ctx.height,
                        ctx.time_ms,
                        &by,
                        None,
                        &mut w,
                    );
                }
                (Some("receiving" | "accepting"), OrderState::Shipped)
                    if o.carrier.as_ref() == Some(capturer)
                        || o.pay_from.org_owner() == Some(capturer) =>
                {
                    move_to(
                        o,
                        OrderState::Delivered,
                        ctx.height,
                        ctx.time_ms,
                        &by,
                        None,
                        &mut w,
                    );
                    delivered.push(o.clone());
                }
                _ => {}
            }
        }
    }
    Ok((w, delivered))
}

/// An organization's name (its id if it is missing).
fn org_name<S: StateRead + ?Sized>(state: &S, org: &OrgId) -> Result<String, StateReadError> {
    Ok(load_org(state, org)?.map_or_else(|| org.to_string(), |o| o.name))
}

/// The day (UTC) order `o` was delivered, from its history.
pub fn delivered_on(o: &Order) -> Option<String> {
    o.history
        .iter()
        .find(|t| t.state == OrderState::Delivered)
        .map(|t| waybill_epcis::time::date_of_ms(t.time_ms))
}

/// Publish, in a transaction of its own, the sales of delivered order `o`.
fn publish_delivery<S: StateRead>(
    ex: &Execution<S>,
    o: &Order,
    tx_id: TxId,
    w: &mut Writes,
) -> Result<(), StateReadError> {
    let mut publisher = crate::open::Publisher::new(ex, ex.context().height.0)?;
    publish_sales(ex, &mut publisher, w, o, tx_id)?;
    publisher.finish(w);
    Ok(())
}

/// Publish the open-tier sale of each lot delivered order `o` sold (a line without
/// a lot publishes nothing: no page would show it): seller, platform, quantity, day.
pub(crate) fn publish_sales<S: StateRead + ?Sized>(
    state: &S,
    publisher: &mut crate::open::Publisher<'_, S>,
    w: &mut Writes,
    o: &Order,
    source: TxId,
) -> Result<(), StateReadError> {
    let seller_name = org_name(state, &o.seller)?;
    let platform_name = o
        .platform
        .as_ref()
        .map(|p| org_name(state, p))
        .transpose()?;
    let day = delivered_on(o).unwrap_or_default();
    for l in &o.lines {
        let Some(lot) = &l.lot else { continue };
        let lot_id = crate::catalog::lot_id(&l.gtin, lot);
        let record = crate::open::OpenRecord::Sale {
            lot_id: &lot_id,
            gtin: l.gtin.as_str(),
            quantity: l.quantity,
            seller: o.seller.as_str(),
            seller_name: &seller_name,
            platform: o.platform.as_ref().map(OrgId::as_str),
            platform_name: platform_name.as_deref(),
            delivered_on: &day,
            source: source.to_string(),
        };
        publisher.publish(w, &record, std::slice::from_ref(&lot_id))?;
    }
    Ok(())
}

/// The buyer and id of `urn:waybill:order:<buyer hex>:<id>`, written exactly as
/// [`order_urn`] writes it (lowercase hex, nothing around it): one order has one name,
/// so what is keyed by it (erasures, purges, wraps, private parts) cannot be split
/// across spellings.
pub fn parse_order_urn(urn: &str) -> Option<(PublicKey, String)> {
    let rest = urn.strip_prefix("urn:waybill:order:")?;
    let (hex, id) = rest.split_once(':')?;
    let buyer = PublicKey::from_hex(hex).ok()?;
    (order_urn(&buyer, id) == urn).then(|| (buyer, id.to_string()))
}

/// May `capturer` ship order `o` by an EPCIS event: its seller, the owner of its
/// ship-from location, or its carrier?
pub(crate) fn may_ship<S: StateRead + ?Sized>(
    state: &S,
    capturer: &OrgId,
    o: &Order,
) -> Result<bool, StateReadError> {
    Ok(*capturer == o.seller
        || o.carrier.as_ref() == Some(capturer)
        || load_location(state, &o.ship_from)?.is_some_and(|l| l.owner == *capturer))
}

/// Act on the order deadlines that are due (not after the block time), earliest
/// first, at most
/// [`ORDER_DEADLINES_PER_BLOCK_MAX`](waybill_types::limits::ORDER_DEADLINES_PER_BLOCK_MAX)
/// (the rest roll over): a placed order expires, a shipped one is refunded (escrow
/// voided, an alert for the seller and the platform), a delivered one is settled
/// (escrow posted). A deadline the order has moved past is dropped. Runs at the
/// start of a block, before its transactions.
pub(crate) fn run_deadlines<S: StateScan>(ex: &mut Execution<'_, S>) -> Result<(), StateReadError> {
    let due = due_deadlines(ex)?;
    if due.is_empty() {
        return Ok(());
    }
    let (height, time_ms) = (ex.ctx.height, ex.ctx.time_ms);
    let at = (height, time_ms, TxId::default());
    let writes = {
        let mut stock = StockBook::new(&*ex, height, time_ms);
        let mut ledger = Ledger::new(&*ex, height, time_ms);
        let mut w = Writes::new();
        let mut seen = std::collections::BTreeSet::new();
        for (_, deadline, buyer, id) in &due {
            let Some(mut o) = load_order(&*ex, buyer, id)? else {
                return Err(StateReadError::Corrupt {
                    key: keys::order_deadline(*deadline, buyer, id),
                    reason: format!("a deadline names order `{id}`, which is missing"),
                });
            };
            if o.deadline_ms != Some(*deadline) || !seen.insert((*buyer, id.clone())) {
                continue;
            }
            let (to, alert) = match o.state {
                OrderState::Placed => (OrderState::Expired, Some(alert_kind::ORDER_EXPIRED)),
                OrderState::Shipped => (OrderState::Refunded, Some(alert_kind::ORDER_REFUNDED)),
                OrderState::Delivered => (OrderState::Settled, None),
                _ => continue,
            };
            let settled = match to {
                OrderState::Settled => settle_escrow(&mut ledger, &o, true, at),
                _ => unwind(&mut stock, &mut ledger, &o, to == OrderState::Expired, at),
            };
            match settled {
                Ok(()) => {}
                Err(HandlerError::State(e)) => return Err(e),
                Err(HandlerError::Reject(r)) => {
                    unreachable!(
                        "settling an order's escrow in full cannot fail: {}",
                        r.message
                    )
                }
            }
            if let Some(kind) = alert {
                deadline_alert(&o, to, kind, height, time_ms, &mut w);
            }
            move_to(&mut o, to, height, time_ms, "deadline", None, &mut w);
        }
        w.extend(stock.into_writes()?);
        match ledger.into_writes() {
            Ok(lw) => w.extend(lw),
            Err(HandlerError::State(e)) => return Err(e),
            Err(HandlerError::Reject(r)) => {
                unreachable!("settling escrow in full keeps every sum: {}", r.message)
            }
        }
        w
    };
    for (k, v) in writes {
        ex.put(k, v);
    }
    // The run writes no deadline key (its steps end in final states), so every due
    // key goes.
    for (k, _, _, _) in due {
        ex.writes.insert(k, None);
    }
    Ok(())
}

type Due = (Vec<u8>, u64, PublicKey, String);

/// The due deadline keys, earliest first, at most the per-block cap.
fn due_deadlines<S: StateScan>(ex: &Execution<'_, S>) -> Result<Vec<Due>, StateReadError> {
    const CHUNK: usize = 256;
    let max = waybill_types::limits::ORDER_DEADLINES_PER_BLOCK_MAX;
    let prefix = [keys::ORDER_DEADLINE];
    let mut due = Vec::new();
    let mut start = prefix.to_vec();
    'scan: loop {
        let rows = ex.base.scan_from(&prefix, &start, CHUNK)?;
        let n_rows = rows.len();
        for (k, _) in rows {
            let at = k
                .get(1..9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StateReadError::Corrupt {
                    key: k.clone(),
                    reason: "order deadline key shorter than its time".into(),
                })?;
            if at > ex.ctx.time_ms || due.len() >= max {
                break 'scan;
            }
            start = [k.as_slice(), &[0]].concat();
            let (buyer, id) = split_order_key(&k, 9)?;
            due.push((k, at, buyer, id));
        }
        if n_rows < CHUNK {
            break;
        }
    }
    Ok(due)
}

fn deadline_alert(
    o: &Order,
    to: OrderState,
    kind: u8,
    height: Height,
    time_ms: u64,
    w: &mut Writes,
) {
    let subject = format!("{}/{}", o.buyer.to_hex(), o.id);
    let alert = Alert {
        kind: format!("order_{}", to.name()),
        subject: subject.clone(),
        message: match to {
            OrderState::Expired => format!(
                "order `{}` was not shipped by its deadline; the buyer's {} {} were released and its stock unreserved",
                o.id, o.total, o.currency
            ),
            _ => format!(
                "order `{}` was not delivered by its deadline; the buyer's {} {} were refunded",
                o.id, o.total, o.currency
            ),
        },
        height,
        time_ms,
    };
    let mut orgs = vec![&o.seller];
    orgs.extend(o.platform.as_ref());
    for org in orgs {
        w.push((
            keys::alert(org, height.0, kind, subject.as_bytes()),
            encode_record(&alert),
        ));
    }
}
