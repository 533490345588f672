//! The mempool: signed transactions waiting to be ordered, bounded in count and
//! bytes, de-duplicated by id, with per-signer sequence numbers kept contiguous.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use waybill_types::{limits, PublicKey, SignedTx, TxId};

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
    /// Sequence number already used.
    #[error("sequence number {got} was already used by {signer}; the next one is {expected}")]
    Replayed {
        /// Signer.
        signer: PublicKey,
        /// Next valid.
        expected: u64,
        /// Offered.
        got: u64,
    },
    /// Sequence number skips ahead.
    #[error("sequence number {got} from {signer} is out of order; the next one is {expected}")]
    OutOfOrder {
        /// Signer.
        signer: PublicKey,
        /// Next valid.
        expected: u64,
        /// Offered.
        got: u64,
    },
}

impl AdmitError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AdmitError::Full { .. } => "busy",
            AdmitError::Duplicate(_) => "duplicate",
            AdmitError::Replayed { .. } => "replayed_seq",
            AdmitError::OutOfOrder { .. } => "out_of_order_seq",
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
    /// Next expected sequence number per signer with transactions waiting.
    next_seq: HashMap<PublicKey, u64>,
    /// Waiting transactions per signer.
    per_signer: HashMap<PublicKey, usize>,
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

    /// Admit a transaction whose signature and stateless rules were checked.
    /// `committed_seq` is the signer's last committed sequence number, read from
    /// state by the caller (used when the signer has nothing waiting).
    pub fn admit(&self, ptx: PoolTx, committed_seq: u64) -> Result<(), AdmitError> {
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
        let signer = ptx.tx.tx.signer;
        let expected = g
            .next_seq
            .get(&signer)
            .copied()
            .unwrap_or(committed_seq.saturating_add(1));
        let got = ptx.tx.tx.seq;
        if got < expected {
            return Err(AdmitError::Replayed {
                signer,
                expected,
                got,
            });
        }
        if got > expected {
            return Err(AdmitError::OutOfOrder {
                signer,
                expected,
                got,
            });
        }
        g.next_seq.insert(signer, got.saturating_add(1));
        *g.per_signer.entry(signer).or_insert(0) += 1;
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
        let g = self.lock();
        let mut out = Vec::with_capacity(max_txs.min(g.queue.len()));
        let mut bytes = 0;
        for ptx in g.queue.values() {
            if out.len() >= max_txs || bytes + ptx.bytes > max_bytes {
                break;
            }
            bytes += ptx.bytes;
            out.push(ptx.clone());
        }
        out
    }

    /// Remove transactions (committed, or dropped as invalid). Signers left with
    /// nothing waiting fall back to the committed sequence number; a signer that
    /// had a transaction dropped has its later ones dropped too (they can never be
    /// in order), and they are returned so their submitters can be told.
    pub fn remove(&self, ids: &HashSet<TxId>, dropped_signers: &HashSet<PublicKey>) -> Vec<TxId> {
        let mut g = self.lock();
        let mut cascaded = Vec::new();
        let mut to_remove: Vec<u64> = ids
            .iter()
            .filter_map(|id| g.by_id.get(id).copied())
            .collect();
        if !dropped_signers.is_empty() {
            for (n, ptx) in &g.queue {
                if dropped_signers.contains(&ptx.tx.tx.signer) && !ids.contains(&ptx.id) {
                    to_remove.push(*n);
                    cascaded.push(ptx.id);
                }
            }
        }
        for n in to_remove {
            if let Some(ptx) = g.queue.remove(&n) {
                g.by_id.remove(&ptx.id);
                g.bytes -= ptx.bytes;
                let signer = ptx.tx.tx.signer;
                let left = g.per_signer.get_mut(&signer).map(|c| {
                    *c -= 1;
                    *c
                });
                if left == Some(0) {
                    g.per_signer.remove(&signer);
                    g.next_seq.remove(&signer);
                }
            }
        }
        for s in dropped_signers {
            if !g.per_signer.contains_key(s) {
                g.next_seq.remove(s);
            }
        }
        cascaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waybill_types::tx::TX_VERSION;
    use waybill_types::{Payload, SecretKey, Transaction};

    fn ptx(key: &SecretKey, seq: u64) -> PoolTx {
        let tx = Transaction {
            version: TX_VERSION,
            chain_id: "t".into(),
            signer: key.public(),
            seq,
            payload: Payload::RevokeMember {
                member: key.public(),
                reason: "x".into(),
            },
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
    fn sequence_numbers_must_be_contiguous() {
        let k = SecretKey::from_label("a");
        let m = Mempool::new(10, 1 << 20);
        assert!(m.admit(ptx(&k, 4), 3).is_ok());
        assert!(matches!(
            m.admit(ptx(&k, 4), 3),
            Err(AdmitError::Duplicate(_))
        ));
        assert!(matches!(
            m.admit(ptx(&k, 3), 3),
            Err(AdmitError::Replayed { expected: 5, .. })
        ));
        assert!(matches!(
            m.admit(ptx(&k, 7), 3),
            Err(AdmitError::OutOfOrder { expected: 5, .. })
        ));
        assert!(m.admit(ptx(&k, 5), 3).is_ok());
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn full_at_the_limit_and_not_before() {
        let m = Mempool::new(3, 1 << 20);
        for i in 0..3 {
            let k = SecretKey::from_label(&format!("k{i}"));
            assert!(m.admit(ptx(&k, 1), 0).is_ok(), "tx {i} fits");
        }
        let k = SecretKey::from_label("k3");
        assert!(matches!(
            m.admit(ptx(&k, 1), 0),
            Err(AdmitError::Full { n_txs: 3, .. })
        ));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn byte_limit() {
        let k = SecretKey::from_label("a");
        let one = ptx(&k, 1).bytes;
        let m = Mempool::new(100, one * 2);
        assert!(m.admit(ptx(&k, 1), 0).is_ok());
        assert!(m.admit(ptx(&k, 2), 0).is_ok());
        assert!(matches!(
            m.admit(ptx(&k, 3), 0),
            Err(AdmitError::Full { .. })
        ));
    }

    #[test]
    fn remove_committed_and_cascade_dropped() {
        let a = SecretKey::from_label("a");
        let b = SecretKey::from_label("b");
        let m = Mempool::new(100, 1 << 20);
        let a1 = ptx(&a, 1);
        let a2 = ptx(&a, 2);
        let b1 = ptx(&b, 1);
        for p in [a1.clone(), a2.clone(), b1.clone()] {
            m.admit(p, 0).expect("admits");
        }
        let cascaded = m.remove(&HashSet::from([a1.id]), &HashSet::from([a.public()]));
        assert_eq!(cascaded, vec![a2.id]);
        assert_eq!(m.len(), 1);
        // `a` has nothing waiting: its next sequence comes from state again.
        assert!(m.admit(ptx(&a, 1), 0).is_ok());
    }
}
