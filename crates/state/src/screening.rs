//! The open tier's screening rules in force ([`waybill_types::screening`]): version 1
//! from genesis (not written to state: a store without a change reads it from code),
//! each later version written when a governance proposal to change them is approved.
//!
//! State: `META "screening_version"` → the version in force (u32); `META
//! "screening_v{N}"` → version N (N ≥ 2): the height it took effect and its rules.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::screening::{self, ScreeningRule};

use crate::exec::{decode_record, encode_record, StateRead, StateReadError, Writes};
use crate::keys;

/// A version of the screening rules.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct RuleSet {
    /// Its version: 1 at genesis, one more at each change.
    pub version: u32,
    /// The height of the block that put it in force (0: genesis).
    pub since_height: u64,
    /// The rules.
    pub rules: Vec<ScreeningRule>,
}

fn version_key(v: u32) -> Vec<u8> {
    keys::meta(&format!("screening_v{v}"))
}

/// The version in force.
pub fn current_version<S: StateRead + ?Sized>(state: &S) -> Result<u32, StateReadError> {
    let k = keys::meta("screening_version");
    state.get(&k)?.map_or(Ok(1), |b| decode_record(&k, &b))
}

/// Version `v` of the rules, if there is one.
pub fn load<S: StateRead + ?Sized>(state: &S, v: u32) -> Result<Option<RuleSet>, StateReadError> {
    if v == 1 {
        return Ok(Some(RuleSet {
            version: 1,
            since_height: 0,
            rules: screening::v1(),
        }));
    }
    let k = version_key(v);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// The rules in force.
pub fn in_force<S: StateRead + ?Sized>(state: &S) -> Result<RuleSet, StateReadError> {
    let v = current_version(state)?;
    load(state, v)?.ok_or_else(|| StateReadError::Corrupt {
        key: version_key(v),
        reason: format!("screening rules version {v} is in force but missing"),
    })
}

/// Every version, oldest first.
pub fn history<S: StateRead + ?Sized>(state: &S) -> Result<Vec<RuleSet>, StateReadError> {
    let mut out = Vec::new();
    for v in 1..=current_version(state)? {
        out.extend(load(state, v)?);
    }
    Ok(out)
}

/// The writes that put `rules` in force as the next version at `height`.
pub(crate) fn replace<S: StateRead + ?Sized>(
    state: &S,
    height: u64,
    rules: &[ScreeningRule],
) -> Result<Writes, StateReadError> {
    let v = current_version(state)?
        .checked_add(1)
        .expect("fewer than 2^32 governance changes: each needs a block");
    let set = RuleSet {
        version: v,
        since_height: height,
        rules: rules.to_vec(),
    };
    Ok(vec![
        (version_key(v), encode_record(&set)),
        (keys::meta("screening_version"), encode_record(&v)),
    ])
}
