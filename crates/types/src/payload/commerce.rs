//! Payloads of commerce: listings (who sells a product, on which platform, at what
//! price and on what terms), orders (placed from an intent the buyer signs, then
//! cancelled, shipped, delivered and settled), and stock at locations. Money is whole
//! minor units ([`crate::money::Amount`]); see `docs/ORDERS.md`.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use waybill_gs1::{Gln, Gtin};

use super::{check_lot, check_text, check_word, PayloadError};
use crate::hash::Hash;
use crate::keys::{PublicKey, Signature};
use crate::limits;
use crate::money::{AccountId, Amount, Currency};
use crate::org::OrgId;

/// The domain an order intent is signed under (`domain ‖ borsh(intent)`).
pub const ORDER_INTENT_DOMAIN: &[u8] = b"waybill/order-intent/v1\0";
/// The domain a buyer's order action is signed under
/// (`domain ‖ borsh((chain id, buyer, order id, action))`).
pub const ORDER_ACTION_DOMAIN: &[u8] = b"waybill/order-action/v1\0";
/// Basis points in one whole: 10,000 bps = 100 %.
pub const BPS: u16 = 10_000;

/// A discount of a listing. JSON: `{"kind": "percent", "bps": 500}`. Applied per
/// line in this order: the volume tier sets the unit price; then each `percent`, then
/// each `fixed`, then the coupon the intent names — each rounded half to even to the
/// minor unit, none taking a line below zero.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Discount {
    /// `bps` basis points off every line (500 = 5 %).
    Percent {
        /// 1..=10,000.
        bps: u16,
    } = 0,
    /// `amount` minor units off every line (not below zero).
    Fixed {
        /// More than zero.
        amount: Amount,
    } = 1,
    /// From `min_quantity` units on a line, each unit costs `unit_price` (the tier
    /// with the highest `min_quantity` a line reaches applies).
    Volume {
        /// At least 2.
        min_quantity: u32,
        /// The tier's unit price.
        unit_price: Amount,
    } = 2,
    /// A coupon: an intent that names `code` gets `bps` off every line, at most
    /// `max_uses` orders in all.
    Coupon {
        /// The code the buyer enters (a word).
        code: String,
        /// 1..=10,000.
        bps: u16,
        /// How many orders may use it, at least 1.
        max_uses: u32,
    } = 3,
}

/// How long each step of an order may take, in ms of block time.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct OrderTerms {
    /// The seller ships within this after placement, or the order expires (refunded
    /// in full).
    pub ship_within_ms: u64,
    /// The order is delivered within this after shipping, or it is refunded in full.
    pub deliver_within_ms: u64,
    /// After delivery the buyer may return it for this long; then the escrow is
    /// settled. Zero settles at the first block after delivery.
    pub return_window_ms: u64,
}

impl OrderTerms {
    fn check(&self) -> Result<(), PayloadError> {
        let max = limits::ORDER_STEP_MS_MAX;
        for (f, v) in [
            ("terms.ship_within_ms", self.ship_within_ms),
            ("terms.deliver_within_ms", self.deliver_within_ms),
        ] {
            if v == 0 || v > max {
                return Err(field(f, &format!("{v} is outside 1..={max} ms")));
            }
        }
        if self.return_window_ms > max {
            return Err(field(
                "terms.return_window_ms",
                &format!("{} is above {max} ms", self.return_window_ms),
            ));
        }
        Ok(())
    }
}

/// A product's owner lets `seller` sell its product (on `platform`, or directly)
/// at a price, from a location, on terms; replaces that seller and platform's
/// listing of the product. Signed by the owner's admin or a member whose roles write
/// production data.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SetListing {
    /// The product.
    pub gtin: Gtin,
    /// Who sells it (receives the price less the platform's fee).
    pub seller: OrgId,
    /// The platform it is sold on (an organization with the platform role), or none
    /// for direct trade (no fee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<OrgId>,
    /// The price list's currency.
    pub currency: Currency,
    /// Price of one trade unit, in minor units.
    pub unit_price: Amount,
    /// The platform's fee on each order, in basis points of its total (0 without a
    /// platform).
    #[serde(default)]
    pub platform_fee_bps: u16,
    /// Discounts, at most [`limits::DISCOUNTS_MAX`].
    #[serde(default)]
    pub discounts: Vec<Discount>,
    /// Where orders are shipped from: their stock is reserved there.
    pub ship_from: Gln,
    /// The lot on sale, if one is named (orders for it are refused while it is
    /// quarantined or recalled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// The carrier of the seller's freight agreement: placement assigns it the
    /// shipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<OrgId>,
    /// The order's deadlines.
    pub terms: OrderTerms,
    /// False withdraws the listing (orders already placed go on).
    pub active: bool,
}

impl SetListing {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        if self.unit_price.0 == 0 {
            return Err(field("unit_price", "a price is more than zero"));
        }
        if self.platform_fee_bps > BPS {
            return Err(field(
                "platform_fee_bps",
                &format!("{} bps is more than 100 %", self.platform_fee_bps),
            ));
        }
        if self.platform.is_none() && self.platform_fee_bps != 0 {
            return Err(field(
                "platform_fee_bps",
                "direct trade (no platform) has no platform fee",
            ));
        }
        if self.platform.as_ref() == Some(&self.seller) {
            return Err(field(
                "platform",
                "the seller is not its own platform; leave platform out for direct trade",
            ));
        }
        if let Some(l) = &self.lot {
            check_lot(l)?;
        }
        if self.discounts.len() > limits::DISCOUNTS_MAX {
            return Err(field(
                "discounts",
                &format!(
                    "{} discounts; at most {}",
                    self.discounts.len(),
                    limits::DISCOUNTS_MAX
                ),
            ));
        }
        let mut codes = std::collections::BTreeSet::new();
        for d in &self.discounts {
            match d {
                Discount::Percent { bps } | Discount::Coupon { bps, .. }
                    if *bps == 0 || *bps > BPS =>
                {
                    return Err(field(
                        "discounts[].bps",
                        &format!("{bps} is outside 1..=10000"),
                    ))
                }
                Discount::Fixed { amount } if amount.0 == 0 => {
                    return Err(field(
                        "discounts[].amount",
                        "a fixed discount is more than zero",
                    ))
                }
                Discount::Volume {
                    min_quantity,
                    unit_price,
                } if *min_quantity < 2 || unit_price.0 == 0 => {
                    return Err(field(
                        "discounts[]",
                        "a volume tier starts at 2 units or more, at a price above zero",
                    ))
                }
                Discount::Coupon { code, max_uses, .. } => {
                    check_word("discounts[].code", code)?;
                    if *max_uses == 0 {
                        return Err(field(
                            "discounts[].max_uses",
                            "a coupon is usable at least once",
                        ));
                    }
                    if !codes.insert(code.clone()) {
                        return Err(field(
                            "discounts[].code",
                            &format!("coupon `{code}` is listed twice"),
                        ));
                    }
                }
                _ => {}
            }
        }
        self.terms.check()
    }
}

/// One line of an order: a product and how many trade units.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// The product.
    pub gtin: Gtin,
    /// Trade units, 1..=[`limits::ORDER_QUANTITY_MAX`].
    pub quantity: u32,
}

/// What the buyer signs: the order it agrees to, the most it pays, and until when.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct OrderIntent {
    /// The chain it is for (an intent for another chain is refused).
    pub chain_id: String,
    /// The buyer's id for the order, unique per buyer (a word).
    pub id: String,
    /// The buyer's key: it signs the intent, and is the order's buyer.
    pub buyer: PublicKey,
    /// Who sells.
    pub seller: OrgId,
    /// The platform, or none for direct trade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<OrgId>,
    /// What, at most [`limits::ORDER_LINES_MAX`] lines, each product once.
    pub lines: Vec<OrderLine>,
    /// The currency paid.
    pub currency: Currency,
    /// The most the buyer pays; a higher price is refused (`price_changed`).
    pub max_total: Amount,
    /// The account paid from: the buyer key's own (`key:<buyer>:…`), or an account of
    /// the buyer's organization when the buyer is a member who moves its money.
    pub pay_from: AccountId,
    /// Block time after which the intent is refused.
    pub expires_at_ms: u64,
    /// A coupon code, if the buyer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
    /// SHA-256 of (a salt ‖ a fresh review key): the key that may review the order's
    /// lines once delivered, unlinkable to the buyer by the public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_key_hash: Option<Hash>,
}

impl OrderIntent {
    /// The bytes the buyer signs (after [`ORDER_INTENT_DOMAIN`]).
    pub fn signing_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encodes an intent")
    }
}

/// Place an order from the buyer's signed intent: the listing, lot status, stock and
/// price are checked, the stock reserved and the buyer's money moved to escrow, in
/// one transaction. Submitted by the platform, the seller, or the buyer itself.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The intent.
    pub intent: OrderIntent,
    /// The buyer's signature over [`ORDER_INTENT_DOMAIN`] ‖ the intent.
    pub signature: Signature,
    /// Where to deliver — the buyer's name, phone and address — as a sealed field
    /// (`{"wb:sealed": …}`, JSON text) for record `urn:waybill:order:<buyer hex>:<id>`
    /// at `/ship_to`, category `platform_transactions`, wrapped for the seller, the
    /// platform, the listing's carrier and every regulator (docs/ORDERS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<String>,
}

impl PlaceOrder {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        let i = &self.intent;
        check_word("intent.id", &i.id)?;
        check_text(
            "intent.chain_id",
            &i.chain_id,
            limits::CHAIN_ID_BYTES_MAX,
            true,
        )?;
        let n = i.lines.len();
        if n == 0 || n > limits::ORDER_LINES_MAX {
            return Err(field(
                "intent.lines",
                &format!("{n} lines; an order has 1 to {}", limits::ORDER_LINES_MAX),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in &i.lines {
            if l.quantity == 0 || l.quantity > limits::ORDER_QUANTITY_MAX {
                return Err(field(
                    "intent.lines[].quantity",
                    &format!(
                        "{} is outside 1..={}",
                        l.quantity,
                        limits::ORDER_QUANTITY_MAX
                    ),
                ));
            }
            if !seen.insert(&l.gtin) {
                return Err(field(
                    "intent.lines[].gtin",
                    &format!("{} is on two lines; one line per product", l.gtin),
                ));
            }
        }
        if i.max_total.0 == 0 {
            return Err(field("intent.max_total", "an order costs more than zero"));
        }
        if i.pay_from.currency != i.currency {
            return Err(field(
                "intent.pay_from",
                &format!(
                    "the account is in {}, the order in {}; convert first",
                    i.pay_from.currency, i.currency
                ),
            ));
        }
        if i.platform.as_ref() == Some(&i.seller) {
            return Err(field(
                "intent.platform",
                "the seller is not its own platform",
            ));
        }
        if let Some(c) = &i.coupon {
            check_word("intent.coupon", c)?;
        }
        match &self.ship_to {
            Some(t) if t.len() > limits::SHIP_TO_BYTES_MAX => Err(field(
                "ship_to",
                &format!(
                    "{} bytes; a sealed address is at most {}",
                    t.len(),
                    limits::SHIP_TO_BYTES_MAX
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// What a party does to an order. JSON: `{"kind": "cancel", "reason": "…"}`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum OrderStep {
    /// Cancel before shipping (the buyer, the seller or the platform): the escrow is
    /// voided and the stock released.
    Cancel {
        /// Why.
        reason: String,
    } = 0,
    /// The buyer confirms delivery (or the assigned carrier records it): the return
    /// window starts.
    ConfirmDelivery = 1,
}

impl OrderStep {
    /// The snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            OrderStep::Cancel { .. } => "cancel",
            OrderStep::ConfirmDelivery => "confirm_delivery",
        }
    }
}

/// A party acts on an order. The buyer acts through the platform with its
/// signature (`buyer_signature`), or signs the transaction itself.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct OrderAction {
    /// The order's buyer.
    pub buyer: PublicKey,
    /// The buyer's id for the order.
    pub id: String,
    /// What to do.
    pub step: OrderStep,
    /// The buyer's signature over [`ORDER_ACTION_DOMAIN`] ‖ borsh((chain id, buyer,
    /// id, step)), when someone else submits the buyer's action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_signature: Option<Signature>,
}

impl OrderAction {
    /// The bytes a buyer signs for `step` on order `id` (after [`ORDER_ACTION_DOMAIN`]).
    pub fn signing_bytes(chain_id: &str, buyer: &PublicKey, id: &str, step: &OrderStep) -> Vec<u8> {
        borsh::to_vec(&(chain_id, buyer, id, step)).expect("borsh encodes an order action")
    }

    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_word("id", &self.id)?;
        if let OrderStep::Cancel { reason } = &self.step {
            check_text("step.reason", reason, limits::TEXT_BYTES_MAX, true)?;
        }
        Ok(())
    }
}

/// A change to the stock of a product at a location. JSON: `{"kind": "count", …}`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum StockChange {
    /// A stock count: on hand is now `on_hand` (not below what orders reserve).
    Count {
        /// Trade units counted.
        on_hand: u64,
    } = 0,
    /// Goods received into stock.
    Receipt {
        /// Trade units, more than zero.
        quantity: u64,
    } = 1,
    /// Goods written off.
    WriteOff {
        /// Trade units, more than zero, at most what is on hand and not reserved.
        quantity: u64,
        /// Why, a reason code (a word: `damaged`, `expired`, `lost`, `sample`, …).
        reason: String,
    } = 2,
    /// The reorder point: when the available stock falls below it, an alert is
    /// raised. Zero: none.
    ReorderPoint {
        /// Trade units.
        point: u64,
    } = 3,
}

/// The location's warehouse changes the stock of a product there. Signed by a
/// member with the warehouse role (or the admin) of the location's owner or of an
/// organization it delegated the location to.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct AdjustStock {
    /// The location.
    pub location: Gln,
    /// The product.
    pub gtin: Gtin,
    /// What changed.
    pub change: StockChange,
}

impl AdjustStock {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        match &self.change {
            StockChange::Receipt { quantity } | StockChange::WriteOff { quantity, .. }
                if *quantity == 0 =>
            {
                Err(field("change.quantity", "a quantity is more than zero"))
            }
            StockChange::WriteOff { reason, .. } => check_word("change.reason", reason),
            _ => Ok(()),
        }
    }
}

/// Units of measure that are the trade unit itself (UN/ECE Rec. 20 `H87` piece, `C62`
/// one, and the common `EA` each): an EPCIS quantity in them counts trade units.
pub const TRADE_UNIT_UOMS: [&str; 3] = ["H87", "C62", "EA"];

/// Product master data: how much of a unit of measure one trade unit of the product
/// holds (e.g. a carton of oranges: 5 `KGM`), so that an EPCIS quantity in that unit
/// converts to trade units of stock. Set by the product owner's admin or a member who
/// writes its production data; setting it again replaces it.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SetTradeUnit {
    /// The product.
    pub gtin: Gtin,
    /// The unit of measure, a UN/ECE Recommendation 20 code as EPCIS writes it
    /// (`KGM`, `LTR`, `MTR`…; 2 or 3 of A-Z and 0-9).
    pub uom: String,
    /// How many of it one trade unit holds, an exact decimal more than zero
    /// (`"5"`, `"0.75"`).
    pub per_unit: crate::money::Rate,
}

impl SetTradeUnit {
    /// Checks that need no state: a UN/ECE code that is not a trade unit already.
    pub fn check(&self) -> Result<(), PayloadError> {
        let code = (2..=3).contains(&self.uom.len())
            && self
                .uom
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !code {
            return Err(field(
                "uom",
                "a UN/ECE Recommendation 20 code: 2 or 3 of A-Z and 0-9",
            ));
        }
        if !self.per_unit.is_well_formed() {
            return Err(field(
                "per_unit",
                "an exact decimal more than zero, at most 18 decimals",
            ));
        }
        if TRADE_UNIT_UOMS.contains(&self.uom.as_str()) {
            return Err(field(
                "uom",
                "H87, C62 and EA count trade units already; they need no conversion",
            ));
        }
        Ok(())
    }
}

fn field(field: &'static str, reason: &str) -> PayloadError {
    PayloadError::Field {
        field,
        reason: reason.to_string(),
    }
}

/// The domain a review is signed under by its review key
/// (`domain ‖ borsh((chain id, buyer, order id, gtin, rating, title, text))`).
pub const REVIEW_DOMAIN: &[u8] = b"waybill/review/v1\0";

/// The review key's hash an order holds: `SHA-256(salt ‖ review public key)`.
pub fn review_key_hash(salt: &Hash, review_key: &PublicKey) -> Hash {
    crate::hash::sha256_parts(&[&salt.0, &review_key.0])
}

/// The buyer of a delivered order line reviews it, once, with the review key whose
/// salted hash the order holds: the public sees the review and that it is a verified
/// purchase, not who bought. Submitted by any member (the platform, typically).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ReviewOrder {
    /// The order's buyer.
    pub buyer: PublicKey,
    /// The buyer's id for the order.
    pub order: String,
    /// The line's product.
    pub gtin: Gtin,
    /// 1 to 5 stars.
    pub rating: u8,
    /// A title (at most 200 bytes).
    pub title: String,
    /// The review (at most 1,000 bytes).
    pub text: String,
    /// The review key.
    pub review_key: PublicKey,
    /// The salt of the review key's hash.
    pub salt: Hash,
    /// The review key's signature over [`REVIEW_DOMAIN`] ‖ [`ReviewOrder::signing_bytes`].
    pub signature: Signature,
}

impl ReviewOrder {
    /// The bytes the review key signs.
    #[allow(clippy::too_many_arguments)]
    pub fn signing_bytes(
        chain_id: &str,
        buyer: &PublicKey,
        order: &str,
        gtin: &Gtin,
        rating: u8,
        title: &str,
        text: &str,
    ) -> Vec<u8> {
        borsh::to_vec(&(chain_id, buyer, order, gtin.as_str(), rating, title, text))
            .expect("borsh encodes a review")
    }

    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        check_word("order", &self.order)?;
        if !(1..=5).contains(&self.rating) {
            return Err(field(
                "rating",
                &format!("{} is outside 1..=5 stars", self.rating),
            ));
        }
        check_text("title", &self.title, limits::NAME_BYTES_MAX, true)?;
        check_text("text", &self.text, limits::TEXT_BYTES_MAX, true)
    }
}

/// What the seller or the platform does about a review. JSON:
/// `{"kind": "answer", "text": "…"}`.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum ReviewStep {
    /// The seller answers (once).
    Answer {
        /// The answer.
        text: String,
    } = 0,
    /// The platform hides the review's text on its pages, with a reason; the review
    /// stays on chain and in the published count and average.
    Hide {
        /// Why.
        reason: String,
    } = 1,
}

/// The seller answers a review, or the platform hides it.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ReviewAction {
    /// The review: its review key…
    pub review_key: PublicKey,
    /// …and the product it reviews.
    pub gtin: Gtin,
    /// What to do.
    pub step: ReviewStep,
}

impl ReviewAction {
    /// Checks that need no state.
    pub fn check(&self) -> Result<(), PayloadError> {
        match &self.step {
            ReviewStep::Answer { text } => {
                check_text("step.text", text, limits::TEXT_BYTES_MAX, true)
            }
            ReviewStep::Hide { reason } => {
                check_text("step.reason", reason, limits::TEXT_BYTES_MAX, true)
            }
        }
    }
}
