//! Reviews of verified purchases (docs/ORDERS.md "Reviews"). The buyer of a
//! delivered order line reviews it once, signing with a fresh review key whose salted
//! hash the order has held since placement: the state machine checks the key against
//! the order, so the published review is a verified purchase, while the public — who
//! sees the review key, never the order — cannot link it to the buyer (the order's
//! parties can). The seller may answer; the platform may hide a review's text with a
//! reason. Every review stays on chain and in the product's published count and
//! average, which each review record carries (so the newest one proves them).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_gs1::Gtin;
use waybill_types::payload::commerce::{
    review_key_hash, ReviewAction, ReviewOrder, ReviewStep, REVIEW_DOMAIN,
};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, OrgId, PublicKey, Role};

use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, Writes,
};
use crate::identity::{active_signer, load_org};
use crate::keys;
use crate::open::{OpenRecord, Publisher};
use crate::orders::{delivered_on, load_order, OrderState};

/// A review as kept in state.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Review {
    /// The review key.
    pub review_key: PublicKey,
    /// The product.
    pub gtin: Gtin,
    /// The lot bought, if the order line names one.
    pub lot: Option<String>,
    /// The order's buyer and id (never published).
    pub buyer: PublicKey,
    /// The order's id.
    pub order: String,
    /// The seller.
    pub seller: OrgId,
    /// The platform.
    pub platform: Option<OrgId>,
    /// 1 to 5.
    pub rating: u8,
    /// Title.
    pub title: String,
    /// Text.
    pub text: String,
    /// The seller's answer, if any.
    pub answer: Option<String>,
    /// Why the platform hid it, if it did.
    pub hidden: Option<String>,
    /// The block that recorded it.
    pub height: Height,
}

/// The review by `review_key` of `gtin`.
pub fn load_review<S: StateRead + ?Sized>(
    state: &S,
    review_key: &PublicKey,
    gtin: &Gtin,
) -> Result<Option<Review>, StateReadError> {
    let k = keys::review(review_key, gtin);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// A product's review count and rating sum.
pub fn product_reviews<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
) -> Result<(u64, u64), StateReadError> {
    let k = keys::product_reviews(gtin);
    Ok(state
        .get(&k)?
        .map(|b| decode_record(&k, &b))
        .transpose()?
        .unwrap_or((0, 0)))
}

fn reject(code: RejectCode, msg: impl Into<String>) -> HandlerError {
    Rejection::new(code, msg).into()
}

fn name_of<S: StateRead + ?Sized>(state: &S, org: &OrgId) -> Result<String, StateReadError> {
    Ok(load_org(state, org)?.map_or_else(|| org.to_string(), |o| o.name))
}

/// The open-tier subject a review of `gtin` (lot `lot`) is published under: the
/// lot's (its pages walk it), else the product's.
fn subject(gtin: &Gtin, lot: Option<&str>) -> String {
    match lot {
        Some(l) => crate::catalog::lot_id(gtin, l),
        None => crate::catalog::product_id(gtin),
    }
}

/// The checks of a review, in order: the order and the line, the review key against
/// the order's hash, the signature, delivery, once.
fn checked<S: StateRead>(
    p: &ReviewOrder,
    ex: &Execution<S>,
) -> Result<(crate::orders::Order, crate::orders::PricedLine), HandlerError> {
    let Some(o) = load_order(ex, &p.buyer, &p.order)? else {
        return Err(reject(
            RejectCode::UnknownOrder,
            format!("buyer {} placed no order `{}`", p.buyer, p.order),
        ));
    };
    let line = o.lines.iter().find(|l| l.gtin == p.gtin).cloned();
    let key_ok = o.review_key_hash == Some(review_key_hash(&p.salt, &p.review_key));
    let (Some(line), true) = (line, key_ok) else {
        return Err(reject(
            RejectCode::NotAPurchase,
            format!(
                "review key {} with this salt is not the one order `{}` holds, or the order has no line of {}",
                p.review_key, p.order, p.gtin
            ),
        ));
    };
    let bytes = ReviewOrder::signing_bytes(
        &ex.context().chain_id,
        &p.buyer,
        &p.order,
        &p.gtin,
        p.rating,
        &p.title,
        &p.text,
    );
    if p.review_key
        .verify(REVIEW_DOMAIN, &bytes, &p.signature)
        .is_err()
    {
        return Err(reject(
            RejectCode::BadBuyerSignature,
            format!(
                "the review's signature does not verify for review key {}",
                p.review_key
            ),
        ));
    }
    if !matches!(o.state, OrderState::Delivered | OrderState::Settled) {
        return Err(reject(
            RejectCode::OrderState,
            format!(
                "order `{}` is {}; a purchase is reviewed once delivered",
                o.id,
                o.state.name()
            ),
        ));
    }
    if load_review(ex, &p.review_key, &p.gtin)?.is_some() {
        return Err(reject(
            RejectCode::Duplicate,
            format!(
                "{} of order `{}` was already reviewed; a purchase is reviewed once",
                p.gtin, o.id
            ),
        ));
    }
    Ok((o, line))
}

impl Contract for ReviewOrder {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        active_signer(ex, call.signer)?;
        let ctx = ex.context();
        let (o, line) = checked(self, ex)?;
        let (count, sum) = product_reviews(ex, &self.gtin)?;
        let (count, sum) = (count + 1, sum + u64::from(self.rating));
        let review = Review {
            review_key: self.review_key,
            gtin: self.gtin.clone(),
            lot: line.lot.clone(),
            buyer: o.buyer,
            order: o.id.clone(),
            seller: o.seller.clone(),
            platform: o.platform.clone(),
            rating: self.rating,
            title: self.title.clone(),
            text: self.text.clone(),
            answer: None,
            hidden: None,
            height: ctx.height,
        };
        let mut w = vec![
            (
                keys::review(&self.review_key, &self.gtin),
                encode_record(&review),
            ),
            (
                keys::product_reviews(&self.gtin),
                encode_record(&(count, sum)),
            ),
        ];
        let seller_name = name_of(ex, &o.seller)?;
        let platform_name = o.platform.as_ref().map(|p| name_of(ex, p)).transpose()?;
        let key_hex = self.review_key.to_hex();
        let day = delivered_on(&o).unwrap_or_default();
        let record = OpenRecord::Review {
            review_key: &key_hex,
            gtin: self.gtin.as_str(),
            lot: line.lot.as_deref(),
            rating: self.rating,
            title: &self.title,
            text: &self.text,
            verified_purchase: true,
            seller_name: &seller_name,
            platform_name: platform_name.as_deref(),
            delivered_on: &day,
            product_reviews: count,
            product_rating_sum: sum,
            source: call.tx_id.to_string(),
        };
        let mut publisher = Publisher::new(ex, ctx.height.0)?;
        publisher.publish(&mut w, &record, &[subject(&self.gtin, line.lot.as_deref())])?;
        publisher.finish(&mut w);
        Ok(w)
    }

    fn describe(&self) -> String {
        format!("reviewed {} ({} stars)", self.gtin, self.rating)
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}

impl Contract for ReviewAction {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let ctx = ex.context();
        let Some(mut r) = load_review(ex, &self.review_key, &self.gtin)? else {
            return Err(reject(
                RejectCode::UnknownReview,
                format!("review key {} reviewed no {}", self.review_key, self.gtin),
            ));
        };
        let mut w = Writes::new();
        let mut publisher = Publisher::new(ex, ctx.height.0)?;
        apply(
            self,
            ex,
            &m,
            &mut r,
            &mut publisher,
            &mut w,
            call.tx_id.to_string(),
        )?;
        publisher.finish(&mut w);
        w.push((
            keys::review(&self.review_key, &self.gtin),
            encode_record(&r),
        ));
        Ok(w)
    }

    fn describe(&self) -> String {
        let what = match &self.step {
            ReviewStep::Answer { .. } => "answered",
            ReviewStep::Hide { .. } => "hid",
        };
        format!("{what} a review of {}", self.gtin)
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}

/// Review action `a` by `m`: answer or hide `r`, publishing the record.
fn apply<S: StateRead>(
    a: &ReviewAction,
    ex: &Execution<S>,
    m: &crate::identity::Member,
    r: &mut Review,
    publisher: &mut Publisher<'_, Execution<'_, S>>,
    w: &mut Writes,
    source: String,
) -> Result<(), HandlerError> {
    let key_hex = a.review_key.to_hex();
    let subject = subject(&r.gtin, r.lot.as_deref());
    match &a.step {
        ReviewStep::Answer { text } => {
            if m.org != r.seller {
                return Err(reject(
                    RejectCode::NotAuthorized,
                    format!(
                        "only the seller `{}` answers this review; the signer is of `{}`",
                        r.seller, m.org
                    ),
                ));
            }
            if r.answer.is_some() {
                return Err(reject(
                    RejectCode::Duplicate,
                    "the seller already answered this review",
                ));
            }
            r.answer = Some(text.clone());
            let by = name_of(ex, &r.seller)?;
            let rec = OpenRecord::ReviewAnswer {
                review_key: &key_hex,
                gtin: r.gtin.as_str(),
                text,
                by: &by,
                source,
            };
            publisher.publish(w, &rec, std::slice::from_ref(&subject))?;
        }
        ReviewStep::Hide { reason } => {
            let platform_member =
                r.platform.as_ref() == Some(&m.org) && m.roles.contains(&Role::Platform);
            if !platform_member {
                return Err(reject(
                    RejectCode::NotAuthorized,
                    format!(
                        "only a platform member of `{}` hides this review; the signer is of `{}`",
                        r.platform.as_ref().map_or("(no platform)", |p| p.as_str()),
                        m.org
                    ),
                ));
            }
            if r.hidden.is_some() {
                return Err(reject(
                    RejectCode::Duplicate,
                    "the review is already hidden",
                ));
            }
            r.hidden = Some(reason.clone());
            let by = name_of(ex, &m.org)?;
            let rec = OpenRecord::ReviewHidden {
                review_key: &key_hex,
                gtin: r.gtin.as_str(),
                reason,
                by: &by,
                source,
            };
            publisher.publish(w, &rec, std::slice::from_ref(&subject))?;
        }
    }
    Ok(())
}
