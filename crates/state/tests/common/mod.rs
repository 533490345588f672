//! What several state tests share (each test crate uses its part).
#![allow(dead_code)]

use std::collections::BTreeMap;

/// A state whose `fail_at`-th read (get or scan) fails: a store fault injected into
/// execution, which must halt the block and never become a rejection.
pub struct Faulty<'a> {
    pub inner: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    pub reads: std::cell::Cell<usize>,
    pub fail_at: usize,
}

impl<'a> Faulty<'a> {
    /// `inner`, failing its `fail_at`-th read.
    pub fn new(inner: &'a BTreeMap<Vec<u8>, Vec<u8>>, fail_at: usize) -> Self {
        Faulty {
            inner,
            reads: std::cell::Cell::new(0),
            fail_at,
        }
    }

    fn tick(&self) -> Result<(), waybill_state::StateReadError> {
        let n = self.reads.get();
        self.reads.set(n + 1);
        if n == self.fail_at {
            return Err(waybill_state::StateReadError::Store(format!(
                "injected failure of read {n}"
            )));
        }
        Ok(())
    }
}

impl waybill_state::StateRead for Faulty<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, waybill_state::StateReadError> {
        self.tick()?;
        waybill_state::StateRead::get(self.inner, key)
    }
}

impl waybill_state::StateScan for Faulty<'_> {
    fn scan_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        max: usize,
    ) -> Result<waybill_state::Rows, waybill_state::StateReadError> {
        self.tick()?;
        self.inner.scan_from(prefix, start, max)
    }
}

/// A state in memory.
pub type State = BTreeMap<Vec<u8>, Vec<u8>>;

/// The test key of `label`.
pub fn key(label: &str) -> waybill_types::SecretKey {
    waybill_types::SecretKey::from_label(label)
}

/// Lay a block's writes over `state`.
pub fn apply(state: &mut State, writes: &waybill_state::WriteSet) {
    for (k, v) in writes {
        match v {
            Some(v) => state.insert(k.clone(), v.clone()),
            None => state.remove(k),
        };
    }
}

/// `Ok`, or the rejection code of a receipt.
pub fn code(r: &waybill_types::Receipt) -> Result<(), String> {
    match &r.status {
        waybill_types::TxStatus::Applied => Ok(()),
        waybill_types::TxStatus::Rejected { code, .. } => Err(code.clone()),
    }
}

/// A chain held in memory for contract tests: genesis applied, then blocks executed
/// and committed one after another; transactions signed with test keys. The tests'
/// own chains wrap it with their setup and the invariants they check after a block.
#[derive(Clone)]
pub struct Ledger {
    /// The chain id.
    pub chain_id: &'static str,
    /// The committed state.
    pub state: State,
    /// The last block's height.
    pub height: u64,
    /// The last block's time (genesis: the time given).
    pub time_ms: u64,
    /// The last nonce used.
    pub nonce: u64,
}

impl Ledger {
    /// Genesis `g` (checked) applied, at `t0`.
    pub fn new(chain_id: &'static str, g: &waybill_types::Genesis, t0: u64) -> Ledger {
        g.check().expect("valid genesis");
        let mut state = State::new();
        apply(&mut state, &waybill_state::apply_genesis(g));
        Ledger {
            chain_id,
            state,
            height: 0,
            time_ms: t0,
            nonce: 0,
        }
    }

    /// `payload` signed by `signer`'s test key, expiring at `expires_at_ms`.
    pub fn tx_until(
        &mut self,
        signer: &str,
        payload: waybill_types::Payload,
        expires_at_ms: u64,
    ) -> waybill_types::SignedTx {
        self.nonce += 1;
        let k = key(signer);
        waybill_types::Transaction {
            version: waybill_types::tx::TX_VERSION,
            chain_id: self.chain_id.into(),
            signer: k.public(),
            nonce: self.nonce,
            expires_at_ms,
            payload,
        }
        .sign(&k)
    }

    /// Execute `txs` as the next block at `time_ms` and commit it: their receipts.
    pub fn execute(
        &mut self,
        time_ms: u64,
        txs: &[waybill_types::SignedTx],
    ) -> Vec<waybill_types::Receipt> {
        let ctx = waybill_state::BlockContext {
            chain_id: self.chain_id.into(),
            height: waybill_types::Height(self.height + 1),
            time_ms,
        };
        let mut ex =
            waybill_state::Execution::begin(&self.state, ctx).expect("in-memory state reads");
        let results: Vec<_> = txs.iter().map(|t| ex.apply(t, t.id()).cloned()).collect();
        let out = ex.finish().expect("in-memory state reads");
        apply(&mut self.state, &out.writes);
        self.height += 1;
        self.time_ms = time_ms;
        results
            .into_iter()
            .map(|r| r.expect("every test transaction is admissible"))
            .collect()
    }
}
