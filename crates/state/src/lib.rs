//! The deterministic state machine: given the state and a block's transactions, it
//! computes the block's ordered write set and one receipt per transaction.
//!
//! No I/O, no clock, no randomness, no floats, no `HashMap` iteration: everything
//! here is a pure function of the state it reads through [`StateRead`], the block
//! context and the transactions. The node does the I/O.
//!
//! One module per domain: [`identity`] (organizations, members, roles), [`catalog`]
//! (products, lots); [`access`] holds the authority matrix.

pub mod access;
pub mod audit;
pub mod catalog;
pub mod credentials;
mod exec;
pub mod governance;
pub mod identity;
pub mod keys;
pub mod open;
pub mod trace;

pub use exec::{
    apply_genesis, genesis_state_hash, next_state_hash, write_set_digest, BlockContext, Execution,
    StateRead, StateReadError, TxInvalid, WriteSet,
};

use borsh::{BorshDeserialize, BorshSerialize};

/// Decode a record stored in state. Records are written only by this crate, so a
/// record that does not decode means the store was corrupted.
pub fn decode_record<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, StateReadError> {
    borsh::from_slice(bytes).map_err(|e| StateReadError::Corrupt {
        key: key.to_vec(),
        reason: e.to_string(),
    })
}

/// Encode a record for state.
pub fn encode_record<T: BorshSerialize>(value: &T) -> Vec<u8> {
    waybill_types::codec::encode(value)
}
