//! The block driver: the work at the start of a block, each transaction's admission
//! (signer, expiry, replay) and execution through [`crate::dispatch`], the audit
//! entries every transaction leaves, and the work at the end of the block.

use waybill_types::block::TxStatus;
use waybill_types::hash::Hash;
use waybill_types::{Genesis, PublicKey, Receipt, SignedTx, TxId};

use crate::audit;
use crate::dispatch;
use crate::exec::{
    BlockContext, Call, Execution, HandlerError, StateRead, StateReadError, StateScan, TxInvalid,
    WriteSet,
};
use crate::keys;

/// The writes that genesis makes: organizations, their admins as members, the
/// genesis hash.
pub fn apply_genesis(genesis: &Genesis) -> WriteSet {
    let mut w = WriteSet::new();
    crate::identity::genesis_writes(genesis, &mut w);
    crate::governance::genesis_writes(genesis, &mut w);
    w.insert(keys::genesis_hash(), Some(genesis.hash().0.to_vec()));
    w
}

impl<'a, S: StateScan> Execution<'a, S> {
    /// Start executing a block on `base`: first the work due at the start of every
    /// block, before its transactions — replay ids whose expiry is not after the
    /// block time are removed, oldest first, at most
    /// [`REPLAY_IDS_EXPIRED_PER_BLOCK_MAX`](waybill_types::limits::REPLAY_IDS_EXPIRED_PER_BLOCK_MAX)
    /// (the rest roll over to the next block; an expired transaction is refused by
    /// its expiry whether or not its id is still kept).
    pub fn begin(base: &'a S, ctx: BlockContext) -> Result<Self, StateReadError> {
        assert!(ctx.height.0 >= 1, "blocks start at height 1 (0 is genesis)");
        let mut ex = Execution::new(base, ctx);
        ex.expire_replay_ids()?;
        Ok(ex)
    }

    fn expire_replay_ids(&mut self) -> Result<(), StateReadError> {
        const CHUNK: usize = 256;
        let max = waybill_types::limits::REPLAY_IDS_EXPIRED_PER_BLOCK_MAX;
        let prefix = [keys::REPLAY];
        let mut start = prefix.to_vec();
        let mut expired = Vec::new();
        'scan: loop {
            let rows = self.base.scan_from(&prefix, &start, CHUNK)?;
            let n_rows = rows.len();
            for (k, _) in rows {
                let expires_at_ms = k
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StateReadError::Corrupt {
                        key: k.clone(),
                        reason: "replay key shorter than its expiry".into(),
                    })?;
                if expires_at_ms > self.ctx.time_ms || expired.len() >= max {
                    break 'scan;
                }
                start = [k.as_slice(), &[0]].concat();
                expired.push(k);
            }
            if n_rows < CHUNK {
                break;
            }
        }
        for k in expired {
            self.writes.insert(k, None);
        }
        Ok(())
    }
}

impl<'a, S: StateRead> Execution<'a, S> {
    /// Apply one transaction whose signature was already verified. `Ok` with the
    /// receipt if it belongs in the block (applied or rejected); `Err` if it cannot
    /// be in a block at all, in which case nothing was written.
    pub fn apply(&mut self, stx: &SignedTx, tx_id: TxId) -> Result<&Receipt, TxInvalid> {
        let replay_key = self.admit(stx)?;
        let signer = stx.tx.signer;
        let payload = &stx.tx.payload;
        let action = audit::Action {
            kind: payload.kind(),
            summary: dispatch::describe(payload),
        };
        // The signer's organization as it was before the transaction.
        let org = crate::identity::load_member(self, &signer)?.map(|m| m.org);
        let receipts_before = self.receipts.len();
        // Handlers only read and return their writes; a rejection writes nothing.
        let status = match dispatch::execute(
            payload,
            self,
            Call {
                signer,
                tx_id,
                kind: action.kind,
            },
        ) {
            Ok(writes) => {
                for (k, v) in writes {
                    self.put(k, v);
                }
                if let Some(gtin) = dispatch::audited_product(payload) {
                    let (k, v) =
                        audit::product_entry(&action, &self.ctx, tx_id, signer, org.as_ref(), gtin);
                    self.put(k, v);
                }
                TxStatus::Applied
            }
            Err(HandlerError::Reject(r)) => TxStatus::Rejected {
                code: r.code.as_str().to_string(),
                message: r.message,
            },
            Err(HandlerError::State(e)) => return Err(TxInvalid::State(e)),
        };
        // Kept until the expiry passes (see `begin`), whatever the outcome.
        self.put(replay_key, Vec::new());
        for (k, v) in audit::actor_entries(&action, &self.ctx, tx_id, signer, org.as_ref(), &status)
        {
            self.put(k, v);
        }
        self.receipts.push(Receipt { tx_id, status });
        assert_eq!(
            self.receipts.len(),
            receipts_before + 1,
            "one receipt per admitted transaction"
        );
        Ok(self.receipts.last().expect("a receipt was just pushed"))
    }

    /// The checks that decide whether a transaction may be in a block at all: its
    /// stateless rules, a registered signer, an expiry after the block time and
    /// within the replay window, and a replay id not yet kept. Returns the key its
    /// replay id is kept under.
    fn admit(&self, stx: &SignedTx) -> Result<Vec<u8>, TxInvalid> {
        stx.check_stateless(&self.ctx.chain_id)
            .map_err(|e| TxInvalid::Stateless(e.to_string()))?;
        let signer: PublicKey = stx.tx.signer;
        if self.get(&keys::member(&signer))?.is_none() {
            return Err(TxInvalid::UnknownSigner { signer });
        }
        let block_time_ms = self.ctx.time_ms;
        let expires_at_ms = stx.tx.expires_at_ms;
        if expires_at_ms <= block_time_ms {
            return Err(TxInvalid::Expired {
                signer,
                expires_at_ms,
                block_time_ms,
            });
        }
        let window_ms = waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX;
        if expires_at_ms - block_time_ms > window_ms {
            return Err(TxInvalid::ExpiryTooFar {
                signer,
                expires_at_ms,
                block_time_ms,
                window_ms,
            });
        }
        let replay_id: Hash = stx.tx.replay_id();
        let replay_key = keys::replay(expires_at_ms, &replay_id);
        if self.get(&replay_key)?.is_some() {
            return Err(TxInvalid::Replayed { signer, replay_id });
        }
        Ok(replay_key)
    }

    /// Finish the block: the work due at its end (the subjects whose heads moved are
    /// folded into the heads tree, whose root the header commits to — see
    /// [`crate::open::heads_root`]), then the write set and the receipts, in
    /// transaction order.
    pub fn finish(mut self) -> Result<(WriteSet, Vec<Receipt>), StateReadError> {
        crate::open::update_heads_tree(self.base, &mut self.writes)?;
        // Every receipt is one transaction's, and no transaction is in a block twice
        // (its replay id is written with its receipt, so a second copy is refused).
        let ids: std::collections::BTreeSet<&TxId> =
            self.receipts.iter().map(|r| &r.tx_id).collect();
        assert_eq!(
            ids.len(),
            self.receipts.len(),
            "a transaction is in a block at most once"
        );
        Ok((self.writes, self.receipts))
    }
}
