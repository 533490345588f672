//! Why a transaction was rejected: the stable codes a block's receipts carry.
//!
//! A rejected transaction is in the block with one of these codes and a message
//! naming the problem; it changed nothing but its replay id. The wire name (the
//! receipt's `code`) is stable snake_case; clients match on it. Refusals at
//! submission (a transaction that cannot be in a block at all: bad signature,
//! unknown signer, expired, replayed) are not rejections and have codes of their
//! own in the API.

macro_rules! reject_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal : $meaning:literal,)*) => {
        /// The reason a transaction in a block was rejected.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RejectCode {
            $($(#[$doc])* #[doc = $meaning] $variant,)*
        }

        impl RejectCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [RejectCode] = &[$(RejectCode::$variant,)*];

            /// The stable wire name, e.g. `unknown_product`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RejectCode::$variant => $wire,)*
                }
            }

            /// What it means, in one line.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(RejectCode::$variant => $meaning,)*
                }
            }

            /// The code with this wire name.
            pub fn from_wire(s: &str) -> Option<RejectCode> {
                match s {
                    $($wire => Some(RejectCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reject_codes! {
    // Who may do it.
    NotAuthorized = "not_authorized": "The signer's roles or organization do not allow this action.",
    NotAdmin = "not_admin": "Only the organization's admin may do this.",
    MemberRevoked = "member_revoked": "The member (signer or subject) is revoked.",
    UnknownMember = "unknown_member": "The member named is not registered.",
    AlreadyRegistered = "already_registered": "The key is already a member of an organization.",
    RoleNotAllowed = "role_not_allowed": "The organization may not grant this role.",
    CannotRevokeAdmin = "cannot_revoke_admin": "An organization admin is replaced by governance, not revoked by a member transaction.",
    UnknownOrg = "unknown_org": "The organization named is not a member of the consortium.",
    // Catalog.
    Duplicate = "duplicate": "What the transaction registers is already registered.",
    PrefixNotOwned = "prefix_not_owned": "The identifier is not under a company prefix of the signer's organization.",
    UnknownProduct = "unknown_product": "The product (GTIN) is not registered.",
    UnknownLot = "unknown_lot": "The lot named is not registered.",
    UnknownLocation = "unknown_location": "The location (GLN) is not registered.",
    LocationNotDelegated = "location_not_delegated": "The location belongs to another organization that has not delegated it to the signer's.",
    // Credentials.
    MissingQualification = "missing_qualification": "A valid qualification the action needs is missing.",
    SelfCertification = "self_certification": "An organization cannot verify its own qualification.",
    UnknownQualification = "unknown_qualification": "The qualification named is not recorded.",
    AlreadyRevoked = "already_revoked": "The qualification is already revoked.",
    // Access.
    Invalid = "invalid": "The request contradicts itself (e.g. granting an organization its own data).",
    // Governance.
    Limit = "limit": "A ledger-wide limit was reached (e.g. proposal numbers exhausted).",
    UnknownProposal = "unknown_proposal": "The governance proposal named does not exist.",
    ProposalClosed = "proposal_closed": "The proposal was already carried out.",
    AlreadyApproved = "already_approved": "The organization already approved the proposal.",
    PrefixTaken = "prefix_taken": "A company prefix overlaps one another organization owns.",
    UnknownValidator = "unknown_validator": "The key named is not a validator.",
    LastValidator = "last_validator": "The last validator cannot be removed.",
    NoValidator = "no_validator": "The change would leave no validator with voting power.",
    VotingPowerOutOfRange = "voting_power_out_of_range": "A validator's voting power is outside the allowed range.",
    VotingPowerOverflow = "voting_power_overflow": "The validator set's total voting power would overflow.",
    // Traceability.
    MalformedJson = "malformed_json": "The EPCIS document is not valid JSON.",
    TooManyEvents = "too_many_events": "The EPCIS document has more events than one capture allows.",
    InvalidEpcis = "invalid_epcis": "One or more events were refused (each named by a JSON pointer); nothing was stored.",
    EventIdTaken = "event_id_taken": "Every refused event was refused for its eventID, which belongs to another organization's event.",
    // Privacy.
    SealKeyVersion = "seal_key_version": "The encryption key's version is not the organization's next one (its current version + 1).",
    SealedField = "sealed_field": "A sealed field is malformed, stands elsewhere than it was sealed for, is wrapped for an organization key that is not current, or for recipients outside the rule (every regulator; only parties that read its category); or the named sealed field does not exist.",
    // Money.
    UnknownAccount = "unknown_account": "The account named is not open.",
    AccountClosed = "account_closed": "The account is closed; no new transfer may touch it.",
    ExceedsCredits = "exceeds_credits": "The debit would take the account's debits (posted and pending) past its posted credits: an overdraft.",
    ExceedsDebits = "exceeds_debits": "The credit would take the account's credits (posted and pending) past its posted debits.",
    Overflow = "overflow": "An account's sum, or a currency's sum over all accounts, would pass 2^128-1 minor units.",
    Exists = "exists": "The signer already made a transfer with this client id and the same fields; nothing changed, the first result stands.",
    ExistsWithDifferentFields = "exists_with_different_fields": "The signer already used this client id for a different transfer.",
    UnknownTransfer = "unknown_transfer": "The transfer named does not exist.",
    NotPending = "not_pending": "The transfer named is not a pending transfer, so it cannot be posted or voided.",
    PendingTransferPosted = "pending_transfer_already_posted": "The pending transfer was already posted.",
    PendingTransferVoided = "pending_transfer_already_voided": "The pending transfer was already voided.",
    PendingTransferExpired = "pending_transfer_expired": "The pending transfer expired at its timeout; the money went back to the payer.",
    ExceedsPendingAmount = "exceeds_pending_amount": "The post is for more than the pending transfer holds.",
    LotRecalled = "lot_recalled": "The lot is recalled: it is not sold, and its status does not change again.",
    LotStatusUnchanged = "lot_status_unchanged": "The lot already has the status asked for.",
    UnknownFxRate = "unknown_fx_rate": "The provider quoted no exchange rate with this id for this pair of currencies.",
    FxRateExpired = "fx_rate_expired": "The exchange rate is not valid at the block's time (before its window, or at or after its end).",
    // Orders and stock.
    UnknownListing = "unknown_listing": "The seller does not list the product on this platform (or its listing is withdrawn).",
    LotQuarantined = "lot_quarantined": "The lot is quarantined: it is not sold until an inspector or regulator releases it.",
    InsufficientStock = "insufficient_stock": "The location has fewer units available (on hand, not reserved) than asked for.",
    PriceChanged = "price_changed": "The order's price is above the most the buyer agreed to pay.",
    CouponExhausted = "coupon_exhausted": "The coupon was used as many times as its cap allows.",
    UnknownCoupon = "unknown_coupon": "The listing has no coupon with this code.",
    BadBuyerSignature = "bad_buyer_signature": "The buyer's signature over the order intent or action does not verify.",
    IntentExpired = "intent_expired": "The order intent's expiry is not after the block's time, or it is for another chain.",
    UnknownOrder = "unknown_order": "The order named does not exist.",
    OrderState = "order_state": "The order is not in a state that allows this step (e.g. cancelling a shipped order).",
    NotAPurchase = "not_a_purchase": "The review key is not the one the order holds, or the order has no line of the product: only its buyer reviews a purchase.",
    UnknownReview = "unknown_review": "No review with this review key and product exists.",
    UnconvertibleQuantity = "unconvertible_quantity": "An EPCIS quantity at a location that keeps stock is not a whole number of the product's trade units (no trade unit in its unit of measure, or not a whole multiple of it).",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in RejectCode::ALL {
            let w = c.as_str();
            assert!(seen.insert(w), "{w} twice");
            assert!(
                w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{w}"
            );
            assert_eq!(RejectCode::from_wire(w), Some(*c));
            assert!(c.meaning().ends_with('.'), "{w}: one sentence");
        }
        assert_eq!(RejectCode::from_wire("state_error"), None);
    }
}
