//! Transaction payloads: what a transaction asks the ledger to do, one module per
//! domain. Each domain's payload structs are defined once, in its module, with their
//! stateless checks; [`Payload`] only wraps them. The state machine's module of the
//! same name executes them (see `docs/CONTRACTS.md`).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::limits;
use crate::org::Role;

pub mod access;
pub mod catalog;
pub mod commerce;
pub mod credentials;
pub mod governance;
pub mod identity;
pub mod money;
pub mod privacy;
pub mod trace;

pub use access::GrantRead;
pub use catalog::{
    LotInput, LotRef, LotStatus, RegisterLocation, RegisterLot, RegisterProduct,
    SetLocationDelegate, SetLotStatus,
};
pub use commerce::{
    AdjustStock, OrderAction, PlaceOrder, ReviewAction, ReviewOrder, SetListing, SetTradeUnit,
};
pub use credentials::{RecordQualification, RequireQualification, RevokeQualification};
pub use governance::{ApproveGovernance, GovernanceAction, ProposeGovernance};
pub use identity::{RegisterMember, RevokeMember, SetMemberRoles};
pub use money::{CloseAccount, Convert, Deposit, OpenAccount, PublishRate, Transfers};
pub use privacy::{AddSealWraps, ComplainSealWrap, EraseSealed, RecordPurge, RegisterSealKey};
pub use trace::CaptureEpcis;

/// What a transaction asks the ledger to do. JSON form: `{"type": "register_lot", ...}`.
///
/// Each variant wraps its domain's payload struct, defined once in that domain's
/// module; the wire forms (borsh: the variant's byte then the struct's fields; JSON:
/// the struct's fields beside `type`) are those of the struct.
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
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Payload {
    /// An organization admin registers a member of its organization.
    RegisterMember(RegisterMember) = 0,
    /// An organization admin replaces a member's roles.
    SetMemberRoles(SetMemberRoles) = 1,
    /// An organization admin revokes a member: its later transactions are refused.
    RevokeMember(RevokeMember) = 2,
    /// Register a product (trade item) under a company prefix the organization owns.
    RegisterProduct(RegisterProduct) = 3,
    /// Register a lot (batch) of a product the organization owns.
    RegisterLot(RegisterLot) = 4,
    /// An organization admin proposes a change to the consortium; the proposer's
    ProposeGovernance(ProposeGovernance) = 5,
    /// An organization admin approves an open proposal. When more than half of the
    ApproveGovernance(ApproveGovernance) = 6,
    /// Register a location (GLN) under a company prefix the organization owns.
    RegisterLocation(RegisterLocation) = 7,
    /// The owner of a location lets another organization capture events there (or
    SetLocationDelegate(SetLocationDelegate) = 8,
    /// An inspector or regulator records a supplier's qualification after verifying it.
    RecordQualification(RecordQualification) = 9,
    /// An inspector or regulator revokes a qualification.
    RevokeQualification(RevokeQualification) = 10,
    /// A regulator makes (or, with `kind: null`, stops making) a qualification a
    RequireQualification(RequireQualification) = 11,
    /// An organization admin lets another organization's members read this
    GrantRead(GrantRead) = 12,
    /// Capture a GS1 EPCIS 2.0 document (JSON/JSON-LD): all its events or none.
    CaptureEpcis(CaptureEpcis) = 13,
    /// An organization admin registers the organization's next encryption key.
    RegisterSealKey(RegisterSealKey) = 14,
    /// A recipient of a sealed field wraps its data key for more organizations.
    AddSealWraps(AddSealWraps) = 15,
    /// A recipient says its wrap of a sealed field does not open.
    ComplainSealWrap(ComplainSealWrap) = 16,
    /// Erase an erasable sealed field (personal data) on its subject's request.
    EraseSealed(EraseSealed) = 17,
    /// A node records that it purged an erased field (signed by its validator key).
    RecordPurge(RecordPurge) = 18,
    /// An organization opens an account of its own.
    OpenAccount(OpenAccount) = 19,
    /// An account's owner closes it.
    CloseAccount(CloseAccount) = 20,
    /// Transfers (single-phase, pending, post, void) that succeed or fail together.
    Transfer(Transfers) = 21,
    /// A payment provider records money received for an account.
    Deposit(Deposit) = 22,
    /// A payment provider quotes an exchange rate for a window of block time.
    PublishRate(PublishRate) = 23,
    /// Convert money between currencies at a provider's rate (a linked pair).
    Convert(Convert) = 24,
    /// An inspector or a regulator quarantines, releases or recalls a lot.
    SetLotStatus(SetLotStatus) = 25,
    /// A product's owner lists it for a seller (on a platform, or direct) at a price.
    SetListing(SetListing) = 26,
    /// Place an order from the buyer's signed intent (stock reserved, money escrowed).
    PlaceOrder(PlaceOrder) = 27,
    /// Cancel an order, or confirm its delivery.
    OrderAction(OrderAction) = 28,
    /// A warehouse counts, receives, writes off stock, or sets a reorder point.
    AdjustStock(AdjustStock) = 29,
    /// The buyer of a delivered order line reviews it, with its review key.
    ReviewOrder(ReviewOrder) = 30,
    /// The seller answers a review, or the platform hides it.
    ReviewAction(ReviewAction) = 31,
    /// A product's owner says how much of a unit of measure one trade unit holds.
    SetTradeUnit(SetTradeUnit) = 32,
}

impl Payload {
    /// The snake_case name of this kind of payload (its JSON `type`).
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::RegisterMember(_) => "register_member",
            Payload::SetMemberRoles(_) => "set_member_roles",
            Payload::RevokeMember(_) => "revoke_member",
            Payload::RegisterProduct(_) => "register_product",
            Payload::RegisterLot(_) => "register_lot",
            Payload::ProposeGovernance(_) => "propose_governance",
            Payload::ApproveGovernance(_) => "approve_governance",
            Payload::RegisterLocation(_) => "register_location",
            Payload::SetLocationDelegate(_) => "set_location_delegate",
            Payload::RecordQualification(_) => "record_qualification",
            Payload::RevokeQualification(_) => "revoke_qualification",
            Payload::RequireQualification(_) => "require_qualification",
            Payload::GrantRead(_) => "grant_read",
            Payload::CaptureEpcis(_) => "capture_epcis",
            Payload::RegisterSealKey(_) => "register_seal_key",
            Payload::AddSealWraps(_) => "add_seal_wraps",
            Payload::ComplainSealWrap(_) => "complain_seal_wrap",
            Payload::EraseSealed(_) => "erase_sealed",
            Payload::RecordPurge(_) => "record_purge",
            Payload::OpenAccount(_) => "open_account",
            Payload::CloseAccount(_) => "close_account",
            Payload::Transfer(_) => "transfer",
            Payload::Deposit(_) => "deposit",
            Payload::PublishRate(_) => "publish_rate",
            Payload::Convert(_) => "convert",
            Payload::SetLotStatus(_) => "set_lot_status",
            Payload::SetListing(_) => "set_listing",
            Payload::PlaceOrder(_) => "place_order",
            Payload::OrderAction(_) => "order_action",
            Payload::AdjustStock(_) => "adjust_stock",
            Payload::ReviewOrder(_) => "review_order",
            Payload::ReviewAction(_) => "review_action",
            Payload::SetTradeUnit(_) => "set_trade_unit",
        }
    }

    /// Checks that need no state: lengths, formats, counts.
    pub fn check(&self) -> Result<(), PayloadError> {
        match self {
            Payload::RegisterMember(p) => p.check(),
            Payload::SetMemberRoles(p) => p.check(),
            Payload::RevokeMember(p) => p.check(),
            Payload::RegisterProduct(p) => p.check(),
            Payload::RegisterLot(p) => p.check(),
            Payload::ProposeGovernance(p) => p.check(),
            Payload::ApproveGovernance(p) => p.check(),
            Payload::RegisterLocation(p) => p.check(),
            Payload::SetLocationDelegate(p) => p.check(),
            Payload::RecordQualification(p) => p.check(),
            Payload::RevokeQualification(p) => p.check(),
            Payload::RequireQualification(p) => p.check(),
            Payload::GrantRead(p) => p.check(),
            Payload::CaptureEpcis(p) => p.check(),
            Payload::RegisterSealKey(p) => p.check(),
            Payload::AddSealWraps(p) => p.check(),
            Payload::ComplainSealWrap(p) => p.check(),
            Payload::EraseSealed(p) => p.check(),
            Payload::RecordPurge(p) => p.check(),
            Payload::OpenAccount(p) => p.check(),
            Payload::CloseAccount(p) => p.check(),
            Payload::Transfer(p) => p.check(),
            Payload::Deposit(p) => p.check(),
            Payload::PublishRate(p) => p.check(),
            Payload::Convert(p) => p.check(),
            Payload::SetLotStatus(p) => p.check(),
            Payload::SetListing(p) => p.check(),
            Payload::PlaceOrder(p) => p.check(),
            Payload::OrderAction(p) => p.check(),
            Payload::AdjustStock(p) => p.check(),
            Payload::ReviewOrder(p) => p.check(),
            Payload::ReviewAction(p) => p.check(),
            Payload::SetTradeUnit(p) => p.check(),
        }
    }
}

/// A payload field that breaks a stateless rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// The field named is invalid.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// A short machine word: 1-64 characters of `a-z`, `0-9`, `_` and `-`.
pub(super) fn check_word(field: &'static str, s: &str) -> Result<(), PayloadError> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PayloadError::Field {
            field,
            reason: format!("`{s}` must be 1-64 characters of a-z, 0-9, '_' and '-', e.g. organic"),
        })
    }
}

pub(super) fn check_country(field: &'static str, s: &str) -> Result<(), PayloadError> {
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(PayloadError::Field {
            field,
            reason: format!("`{s}` is not an ISO 3166-1 alpha-2 code such as CN"),
        });
    }
    Ok(())
}

/// Decimal degrees as text: optional '-', up to 3 integer digits, up to 7 decimals,
/// within ±`max`.
pub(super) fn check_degrees(field: &'static str, s: &str, max: u32) -> Result<(), PayloadError> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let ok = (1..=3).contains(&int.len())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 7
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(body.contains('.') && frac.is_empty())
        && int
            .parse::<u32>()
            .is_ok_and(|v| v < max || (v == max && frac.bytes().all(|b| b == b'0')));
    if ok {
        Ok(())
    } else {
        Err(PayloadError::Field {
            field,
            reason: format!("`{s}` is not decimal degrees within ±{max}, e.g. 30.4521"),
        })
    }
}

pub(super) fn check_text(
    field: &'static str,
    s: &str,
    max: usize,
    required: bool,
) -> Result<(), PayloadError> {
    if required && s.trim().is_empty() {
        return Err(PayloadError::Field {
            field,
            reason: "must not be empty".into(),
        });
    }
    if s.len() > max {
        return Err(PayloadError::Field {
            field,
            reason: format!("is {} bytes, over the limit of {max}", s.len()),
        });
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(PayloadError::Field {
            field,
            reason: "must not contain control characters".into(),
        });
    }
    Ok(())
}

pub(super) fn check_roles(roles: &[Role]) -> Result<(), PayloadError> {
    if roles.is_empty() || roles.len() > limits::ROLES_MAX {
        return Err(PayloadError::Field {
            field: "roles",
            reason: format!(
                "must list 1 to {} roles, got {}",
                limits::ROLES_MAX,
                roles.len()
            ),
        });
    }
    let mut sorted = roles.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != roles.len() {
        return Err(PayloadError::Field {
            field: "roles",
            reason: "lists a role twice".into(),
        });
    }
    Ok(())
}

/// GS1 AI (10) lot: 1–20 characters of GS1 character set 82 (printable ASCII minus a few).
pub(super) fn check_lot(lot: &str) -> Result<(), PayloadError> {
    let ok_char = |b: u8| b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b);
    if lot.is_empty() || lot.len() > 20 || !lot.bytes().all(ok_char) {
        return Err(PayloadError::Field {
            field: "lot",
            reason: format!(
                "`{lot}` is not a GS1 lot number: 1-20 characters of GS1 character set 82"
            ),
        });
    }
    Ok(())
}

pub(super) fn check_date(field: &'static str, s: &str) -> Result<(), PayloadError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10);
    let (m, d) = if ok {
        (
            s[5..7].parse::<u32>().unwrap_or(0),
            s[8..10].parse::<u32>().unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    if !ok || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(PayloadError::Field {
            field,
            reason: format!("`{s}` is not a date in the form YYYY-MM-DD"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_json_shape() {
        let p: Payload = serde_json::from_str(
            r#"{"type":"register_lot","gtin":"06901234000016","lot":"L1","origin_gln":null,"produced_on":"2026-11-02","quantity":5,"unit":"kg"}"#,
        )
        .expect("parses");
        assert_eq!(p.kind(), "register_lot");
        assert!(p.check().is_ok());
    }

    #[test]
    fn dates_checked() {
        assert!(check_date("d", "2026-02-30").is_ok());
        assert!(check_date("d", "2026-13-01").is_err());
        assert!(check_date("d", "26-1-1").is_err());
    }
}
