//! The deterministic state machine: given the state and a block's transactions, it
//! computes the block's ordered write set and one receipt per transaction.
//!
//! No I/O, no clock, no randomness, no `HashMap` iteration: everything here is a
//! pure function of the state it reads through [`StateRead`], the block context and
//! the transactions. The node does the I/O. Amounts, times, counts and heights are
//! integers; the only floating point is in EPCIS validation (`waybill_epcis`), which
//! compares JSON numbers as serde_json parses them (correctly rounded, the same on
//! every platform): a quantity is not negative, `uniqueItems` equality. No float is
//! stored, hashed or summed.
//!
//! Layers, each importing only the ones below it (a test fails on any import cycle):
//! - [`block`] drives a block (admission, audit, start- and end-of-block work) and
//!   [`dispatch`] routes each payload to its domain's [`exec::Contract`];
//! - the domains, one module each, owning their handlers and reads: [`identity`]
//!   (organizations, members, roles), [`catalog`] (products, lots, locations),
//!   [`credentials`] (qualifications), [`governance`] (consortium changes),
//!   [`access`] (the authority matrix and read grants), [`trace`] (EPCIS capture and
//!   the lineage walk), [`money`] (accounts and transfers), [`fx`] (rates and conversions), [`lot_status`] (quarantine and recall), [`orders`] (listings and orders), [`inventory`] (stock and alerts), [`reviews`] (reviews of verified purchases); beside them [`open`] (the open tier's records and subject
//!   heads) and [`audit`] (the audit trail);
//! - [`exec`] and [`keys`]: what every domain shares.
//!
//! The payload structs themselves are defined once in `waybill_types::payload`, one
//! module per domain, so that clients build them without this crate.

// Functions of at most 70 lines (clippy.toml) in the library; the scenario tests in
// tests/ read as scripts and are exempt (a crate attribute, not `[lints]`, which would
// also bind every test target).
#![warn(clippy::too_many_lines)]

pub mod access;
pub mod audit;
pub mod block;
pub mod catalog;
pub mod commitments;
pub mod credentials;
pub mod dispatch;
pub mod exec;
pub mod fx;
pub mod governance;
pub mod identity;
pub mod index;
pub mod inventory;
pub mod keys;
pub mod lot_status;
pub mod money;
pub mod open;
pub mod orders;
pub mod parties;
pub mod privacy;
pub mod reviews;
pub mod screening;
pub mod stock_events;
pub mod trace;

pub use block::{apply_genesis, Executed};
pub use exec::{
    decode_record, encode_record, encode_write_set, genesis_state_hash, next_state_hash,
    outcomes_digest, write_set_digest, BlockContext, Execution, Pending, Rows, StateRead,
    StateReadError, StateScan, TxInvalid, WriteSet,
};
