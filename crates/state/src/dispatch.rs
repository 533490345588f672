//! The dispatch: routes a payload to the [`Contract`] of its domain. The one list of
//! payload kinds the state machine executes; adding a kind adds one line here (see
//! `docs/CONTRACTS.md`).

use waybill_gs1::Gtin;
use waybill_types::Payload;

use crate::exec::{Call, Contract, Execution, HandlerError, StateRead, Writes};

/// Binds `$c` to the payload's struct (each implements [`Contract`]) and evaluates
/// `$body`: one arm per kind of payload.
macro_rules! with_contract {
    ($payload:expr, $c:ident => $body:expr) => {
        match $payload {
            Payload::RegisterMember($c) => $body,
            Payload::SetMemberRoles($c) => $body,
            Payload::RevokeMember($c) => $body,
            Payload::RegisterProduct($c) => $body,
            Payload::RegisterLot($c) => $body,
            Payload::ProposeGovernance($c) => $body,
            Payload::ApproveGovernance($c) => $body,
            Payload::RegisterLocation($c) => $body,
            Payload::SetLocationDelegate($c) => $body,
            Payload::RecordQualification($c) => $body,
            Payload::RevokeQualification($c) => $body,
            Payload::RequireQualification($c) => $body,
            Payload::GrantRead($c) => $body,
            Payload::CaptureEpcis($c) => $body,
            Payload::RegisterSealKey($c) => $body,
            Payload::AddSealWraps($c) => $body,
            Payload::ComplainSealWrap($c) => $body,
            Payload::EraseSealed($c) => $body,
            Payload::RecordPurge($c) => $body,
            Payload::OpenAccount($c) => $body,
            Payload::CloseAccount($c) => $body,
            Payload::Transfer($c) => $body,
            Payload::Deposit($c) => $body,
            Payload::PublishRate($c) => $body,
            Payload::Convert($c) => $body,
            Payload::SetLotStatus($c) => $body,
            Payload::SetListing($c) => $body,
            Payload::PlaceOrder($c) => $body,
            Payload::OrderAction($c) => $body,
            Payload::AdjustStock($c) => $body,
            Payload::ReviewOrder($c) => $body,
            Payload::ReviewAction($c) => $body,
            Payload::SetTradeUnit($c) => $body,
        }
    };
}

/// Execute `payload` for `call` on `ex`: the writes it asks for, or why not.
pub(crate) fn execute<S: StateRead>(
    payload: &Payload,
    ex: &Execution<S>,
    call: Call,
) -> Result<Writes, HandlerError> {
    with_contract!(payload, c => c.execute(ex, call))
}

/// A one-line description of `payload` for the audit trail.
pub fn describe(payload: &Payload) -> String {
    with_contract!(payload, c => c.describe())
}

/// The product whose audit trail records `payload` when it applies.
pub fn audited_product(payload: &Payload) -> Option<&Gtin> {
    with_contract!(payload, c => c.audited_product())
}
