//! The node: mempool, block execution and commit, the consensus integration
//! (Malachite), catch-up, and the shared handle the API reads through.

pub mod app;
pub mod commit_mark;
pub mod consensus;
pub mod gossip;
pub mod ledger;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod private;
pub mod purger;
pub mod readiness;
pub mod wire_tap;

pub use ledger::{Ledger, Shared, SubmitError, TxOutcome};
pub use malachitebft_engine_byzantine::{ByzantineConfig, Trigger};
pub use mempool::Mempool;
pub use node::{start, NodeOptions, RunningNode};
