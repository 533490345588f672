//! Lot status: released (the default), quarantined, recalled. Set by a member with the
//! inspector or regulator role, for any lot; a recall is final. Orders (issue 16's
//! next part) refuse lots that are not released (`lot_quarantined`, `lot_recalled`).
//!
//! | from \ to | released | quarantined | recalled |
//! |---|---|---|---|
//! | released | unchanged | ✓ | ✓ |
//! | quarantined | ✓ | unchanged | ✓ |
//! | recalled | `lot_recalled` | `lot_recalled` | `lot_recalled` |

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_gs1::Gtin;
use waybill_types::payload::{LotStatus, SetLotStatus};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, OrgId, PublicKey, Role};

use crate::catalog::load_lot;
use crate::exec::{
    decode_record, encode_record, Call, Contract, Execution, HandlerError, Rejection, StateRead,
    StateReadError, Writes,
};
use crate::identity::active_signer;
use crate::keys;

/// A lot's status as last set.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct LotStatusRecord {
    /// The status.
    pub status: LotStatus,
    /// Why.
    pub reason: String,
    /// The member that set it.
    pub by: PublicKey,
    /// Its organization.
    pub org: OrgId,
    /// The block that recorded it.
    pub height: Height,
}

/// The lot's status record, if its status was ever set.
pub fn load_lot_status<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
    lot: &str,
) -> Result<Option<LotStatusRecord>, StateReadError> {
    let k = keys::lot_status(gtin, lot);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The lot's status: released unless set otherwise.
pub fn lot_status<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
    lot: &str,
) -> Result<LotStatus, StateReadError> {
    Ok(load_lot_status(state, gtin, lot)?.map_or(LotStatus::Released, |r| r.status))
}

impl Contract for SetLotStatus {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = active_signer(ex, call.signer)?;
        let lot_name = format!("{}/{}", self.gtin, self.lot);
        if load_lot(ex, &self.gtin, &self.lot)?.is_none() {
            return Err(Rejection::new(
                RejectCode::UnknownLot,
                format!("lot {lot_name} is not registered"),
            )
            .into());
        }
        if !m
            .roles
            .iter()
            .any(|r| matches!(r, Role::Inspector | Role::Regulator))
        {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "{} may not set a lot's status: that takes the inspector or regulator role",
                    m.key
                ),
            )
            .into());
        }
        let now = lot_status(ex, &self.gtin, &self.lot)?;
        if now == LotStatus::Recalled {
            return Err(Rejection::new(
                RejectCode::LotRecalled,
                format!("lot {lot_name} is recalled; a recall is final"),
            )
            .into());
        }
        if now == self.status {
            return Err(Rejection::new(
                RejectCode::LotStatusUnchanged,
                format!("lot {lot_name} is already {}", now.name()),
            )
            .into());
        }
        let record = LotStatusRecord {
            status: self.status,
            reason: self.reason.clone(),
            by: m.key,
            org: m.org,
            height: ex.context().height,
        };
        Ok(vec![(
            keys::lot_status(&self.gtin, &self.lot),
            encode_record(&record),
        )])
    }

    fn describe(&self) -> String {
        format!(
            "set lot {}/{} {}: {}",
            self.gtin,
            self.lot,
            self.status.name(),
            self.reason
        )
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}
