//! The mempool: signed transactions waiting to be ordered, bounded in count and
//! bytes, de-duplicated by id, in arrival order. There is no per-signer order to keep:
//! transactions carry a nonce and an expiry (replay protection is the ledger's, by
//! replay id), so one signer's transactions are independent of each other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use waybill_types::{limits, SignedTx, TxId};

/// Why the mempool did not take a transaction.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AdmitError {
    /// Full: retry later.
    #[error("mempool is full ({n_txs} transactions, {bytes} bytes); busy, retry later")]
    Full {
        /// Transactions waiting.
        n_txs: usize,
        /// Bytes waiting.
        bytes: usize,
    },
    /// Already waiting.
    #[error("transaction {0} is already in the mempool")]
    Duplicate(TxId),
}

impl AdmitError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AdmitError::Full { .. } => "busy",
            AdmitError::Duplicate(_) => "duplicate",
        }
    }
}

/// A transaction waiting, with what was computed when it arrived.
#[derive(Clone, Debug)]
pub struct PoolTx {
    /// The transaction.
    pub tx: Arc<SignedTx>,
    /// Its id.
    pub id: TxId,
    /// Its encoded size.
    pub bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// Arrival order → transaction.
    queue: BTreeMap<u64, PoolTx>,
    /// Id → arrival number.
    by_id: HashMap<TxId, u64>,
    next_arrival: u64,
    bytes: usize,
}

/// The mempool. Cheap to share behind an `Arc`.
pub struct Mempool {
    inner: Mutex<Inner>,
    notify: Arc<tokio::sync::Notify>,
    txs_max: usize,
    bytes_max: usize,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mempool({} txs)", self.len())
    }
}

impl Mempool {
    /// A mempool with limits no higher than the constants in [`limits`].
    pub fn new(txs_max: usize, bytes_max: usize) -> Mempool {
        Mempool {
            inner: Mutex::new(Inner::default()),
            notify: Arc::new(tokio::sync::Notify::new()),
            txs_max: txs_max.min(limits::MEMPOOL_TXS_MAX),
            bytes_max: bytes_max.min(limits::MEMPOOL_BYTES_MAX),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .expect("mempool lock is never held across a panic")
    }

    /// Wakes when transactions arrive.
    pub fn notify(&self) -> Arc<tokio::sync::Notify> {
        self.notify.clone()
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether `id` is waiting.
    pub fn contains(&self, id: &TxId) -> bool {
        self.lock().by_id.contains_key(id)
    }

    /// The waiting transaction `id`, if any.
    pub fn get(&self, id: &TxId) -> Option<PoolTx> {
        let g = self.lock();
        g.by_id.get(id).and_then(|n| g.queue.get(n)).cloned()
    }

    /// Admit a transaction whose signature and stateless rules were checked.
    pub fn admit(&self, ptx: PoolTx) -> Result<(), AdmitError> {
        let mut g = self.lock();
        if g.by_id.contains_key(&ptx.id) {
            return Err(AdmitError::Duplicate(ptx.id));
        }
        if g.queue.len() >= self.txs_max || g.bytes + ptx.bytes > self.bytes_max {
            return Err(AdmitError::Full {
                n_txs: g.queue.len(),
                bytes: g.bytes,
            });
        }
        let n = g.next_arrival;
        g.next_arrival += 1;
        g.bytes += ptx.bytes;
        g.by_id.insert(ptx.id, n);
        g.queue.insert(n, ptx);
        drop(g);
        self.notify.notify_one();
        Ok(())
    }

    /// Up to `max_txs` transactions, at most `max_bytes` in all, in arrival order,
    /// without removing them (they leave when committed or dropped).
    pub fn peek_batch(&self, max_txs: usize, max_bytes: usize) -> Vec<PoolTx> {
        self.peek_batch_excluding(max_txs, max_bytes, &HashSet::new())
    }

    /// As [`Mempool::peek_batch`], passing over the transactions in `exclude` (those of
    /// a decided block the store is still writing, which stay in the pool until then).
    pub fn peek_batch_excluding(
        &self,
        max_txs: usize,
        max_bytes: usize,
        exclude: &HashSet<TxId>,
    ) -> Vec<PoolTx> {
        let g = self.lock();
        let mut out = Vec::with_capacity(max_txs.min(g.queue.len()));
        let mut bytes = 0;
        for ptx in g.queue.values() {
            if exclude.contains(&ptx.id) {
                continue;
            }
            if out.len() >= max_txs || bytes + ptx.bytes > max_bytes {
                break;
            }
            bytes += ptx.bytes;
            out.push(ptx.clone());
        }
        out
    }

    /// Remove transactions (committed, or dropped as invalid).
    pub fn remove(&self, ids: &HashSet<TxId>) {
        let mut g = self.lock();
        for id in ids {
            if let Some(n) = g.by_id.remove(id) {
                if let Some(ptx) = g.queue.remove(&n) {
                    g.bytes -= ptx.bytes;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waybill_types::payload::RevokeMember;
    use waybill_types::tx::TX_VERSION;
    use waybill_types::{Payload, SecretKey, Transaction};

    fn ptx(key: &SecretKey, nonce: u64) -> PoolTx {
        let tx = Transaction {
            version: TX_VERSION,
            chain_id: "t".into(),
            signer: key.public(),
            nonce,
            expires_at_ms: 1_800_000_000_000,
            payload: Payload::RevokeMember(RevokeMember {
                member: key.public(),
                reason: "x".into(),
            }),
        }
        .sign(key);
        let bytes = tx.encode().len();
        PoolTx {
            id: tx.id(),
            tx: Arc::new(tx),
            bytes,
        }
    }

    #[test]
    fn one_signer_any_nonces_in_any_order() {
        let k = SecretKey::from_label("a");
        let m = Mempool::new(10, 1 << 20);
        for nonce in [9, 3, 77, 4] {
            assert!(m.admit(ptx(&k, nonce)).is_ok(), "nonce {nonce}");
        }
        assert!(matches!(m.admit(ptx(&k, 3)), Err(AdmitError::Duplicate(_))));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn a_batch_passes_over_excluded_transactions_in_pool_order() {
        let k = SecretKey::from_label("a");
        let m = Mempool::new(10, 1 << 20);
        let txs: Vec<PoolTx> = (1..=5).map(|n| ptx(&k, n)).collect();
        for t in &txs {
            assert!(m.admit(t.clone()).is_ok());
        }
        let exclude: HashSet<TxId> = [txs[0].id, txs[2].id].into_iter().collect();
        let got: Vec<TxId> = m
            .peek_batch_excluding(2, 1 << 20, &exclude)
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(got, vec![txs[1].id, txs[3].id]);
        // Excluded transactions stay in the pool.
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn full_at_the_limit_and_not_before() {
        let m = Mempool::new(3, 1 << 20);
        for i in 0..3 {
            let k = SecretKey::from_label(&format!("k{i}"));
            assert!(m.admit(ptx(&k, 1)).is_ok(), "tx {i} fits");
        }
        let k = SecretKey::from_label("k3");
        assert!(matches!(
            m.admit(ptx(&k, 1)),
            Err(AdmitError::Full { n_txs: 3, .. })
        ));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn byte_limit() {
        let k = SecretKey::from_label("a");
        let one = ptx(&k, 1).bytes;
        let m = Mempool::new(100, one * 2);
        assert!(m.admit(ptx(&k, 1)).is_ok());
        assert!(m.admit(ptx(&k, 2)).is_ok());
        assert!(matches!(m.admit(ptx(&k, 3)), Err(AdmitError::Full { .. })));
    }

    #[test]
    fn remove_leaves_the_others_in_order() {
        let a = SecretKey::from_label("a");
        let b = SecretKey::from_label("b");
        let m = Mempool::new(100, 1 << 20);
        let a1 = ptx(&a, 1);
        let a2 = ptx(&a, 2);
        let b1 = ptx(&b, 1);
        for p in [a1.clone(), a2.clone(), b1.clone()] {
            m.admit(p).expect("admits");
        }
        m.remove(&HashSet::from([a1.id]));
        let left: Vec<TxId> = m.peek_batch(10, 1 << 20).iter().map(|p| p.id).collect();
        assert_eq!(left, vec![a2.id, b1.id]);
        assert_eq!(m.bytes(), a2.bytes + b1.bytes);
    }
}
