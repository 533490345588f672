//! Persistence in redb: blocks, commit certificates, write sets, receipts, the
//! transaction index and the state, each block committed in one write transaction.
//!
//! A crash never leaves half a block: either every table has block `h` or none does.
//! [`verify`] re-checks what is stored and names the first record that is wrong.

mod error;
mod integrity;
mod job_store;
mod jobs;
mod store;
pub mod verify;

pub use integrity::{check_allocator_state, check_file_integrity};
pub use jobs::{CaptureJob, JobFailure};

pub use error::StoreError;
pub use store::{Head, Rows, StateSnapshot, Store, TxLocation, STORE_FORMAT_VERSION};
