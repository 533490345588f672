//! What the transaction workloads share (`crate::tx` runs them; `crate::orders` builds
//! the orders workload): the options, a run's transactions, a benchmark genesis.

use anyhow::Context as _;
use waybill_types::{Genesis, GenesisOrganization, GenesisValidator, SecretKey, SignedTx};

/// What `waybill bench --workload tx` runs (see the binary's `--help` for each flag).
pub struct TxBenchOptions {
    pub n_txs: usize,
    pub n_members: usize,
    pub batch: usize,
    pub concurrency: usize,
    pub runs: usize,
    pub n_nodes: usize,
    pub rate_tx_per_s: u64,
    pub json: bool,
    /// 0: lot registrations (`--workload tx`); otherwise transfers per transaction
    /// (`--workload transfers`, a multiple of 5).
    pub transfers_per_tx: usize,
    /// `--workload orders`: `n_txs` is the number of orders, each placed, shipped (an
    /// EPCIS shipping event, `ORDERS_PER_CAPTURE` to a document), confirmed delivered
    /// and settled (zero return window).
    pub orders: bool,
}

/// Shipping events per EPCIS document in `--workload orders`.
pub const ORDERS_PER_CAPTURE: usize = 50;

/// One run's transactions: genesis, setup (members and a product), and the measured
/// transactions split into lanes (a member's transactions stay in one lane, in order).
pub(crate) struct Workload {
    pub(crate) genesis: Genesis,
    pub(crate) validators: Vec<SecretKey>,
    /// Setup phases, each committed before the next starts.
    pub(crate) setup: Vec<Vec<SignedTx>>,
    pub(crate) lanes: Vec<Vec<SignedTx>>,
    pub(crate) n_txs: usize,
    /// Orders in the measured transactions (0 but for `--workload orders`).
    pub(crate) n_orders: usize,
    /// Sent once every measured transaction is committed, so that the next block —
    /// whose start settles the orders — comes at once rather than at the idle
    /// chain's empty-block interval.
    pub(crate) tick: Option<SignedTx>,
}

/// A benchmark chain's genesis: `organizations`, each validator of the first of them
/// with voting power 1, the time now.
pub(crate) fn bench_genesis(
    organizations: Vec<GenesisOrganization>,
    validators: &[SecretKey],
) -> anyhow::Result<Genesis> {
    let org = organizations
        .first()
        .context("a benchmark chain has an organization")?
        .id
        .clone();
    Ok(Genesis {
        chain_id: "waybill-bench".into(),
        genesis_time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        organizations,
        validators: validators
            .iter()
            .map(|v| GenesisValidator {
                org: org.clone(),
                public_key: v.public(),
                voting_power: 1,
            })
            .collect(),
    })
}
