//! The block driver: the work at the start of a block, each transaction's admission
//! (signer, expiry, replay) and execution through [`crate::dispatch`], the audit
//! entries every transaction leaves, and the work at the end of the block.

use waybill_types::block::TxStatus;
use waybill_types::hash::Hash;
use waybill_types::{Genesis, OrgId, PublicKey, Receipt, SignedTx, TxId};

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
        crate::money::expire_pending(&mut ex)?;
        crate::orders::run_deadlines(&mut ex)?;
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
        // The signer's organization (a key belongs to one organization for good).
        let (replay_key, org) = self.admit(stx)?;
        let signer = stx.tx.signer;
        let payload = &stx.tx.payload;
        let receipts_before = self.receipts.len();
        let tx_index =
            u32::try_from(receipts_before).expect("a block holds fewer than 2^32 transactions");
        // Handlers only read and return their writes; a rejection writes nothing.
        let status = match dispatch::execute(payload, self, Call { signer, tx_id }) {
            Ok(writes) => {
                for (k, v) in writes {
                    if crate::index::is_derived(&k) {
                        let audit = tx_index.to_be_bytes();
                        self.index_push(&k, derived_entry(&k, &v, &audit));
                    } else {
                        self.put(k, v);
                    }
                }
                if let Some(gtin) = dispatch::audited_product(payload) {
                    let prefix = keys::audit_of(audit::subject::PRODUCT, gtin.as_str().as_bytes());
                    self.index_push(&prefix, &tx_index.to_be_bytes());
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
        let entry = tx_index.to_be_bytes();
        self.index_push(&keys::audit_of(audit::subject::MEMBER, &signer.0), &entry);
        self.index_push(
            &keys::audit_of(audit::subject::ORG, org.as_str().as_bytes()),
            &entry,
        );
        self.receipts.push(Receipt { tx_id, status });
        assert_eq!(
            self.receipts.len(),
            receipts_before + 1,
            "one receipt per admitted transaction"
        );
        Ok(self.receipts.last().expect("a receipt was just pushed"))
    }

    /// The checks that decide whether a transaction may be in a block at all: its
    /// stateless rules, a registered signer (a validator's key for a purge record), an
    /// expiry after the block time and
    /// within the replay window, and a replay id not yet kept. Returns the key its
    /// replay id is kept under and the signer's organization (a validator's, for a
    /// purge record).
    fn admit(&self, stx: &SignedTx) -> Result<(Vec<u8>, OrgId), TxInvalid> {
        stx.check_stateless(&self.ctx.chain_id)
            .map_err(|e| TxInvalid::Stateless(e.to_string()))?;
        let signer: PublicKey = stx.tx.signer;
        use crate::governance::{signer_standing, SignerStanding};
        let org = match signer_standing(self, &stx.tx.payload, &signer, self.ctx.height)? {
            SignerStanding::Member(m) => m.org,
            SignerStanding::Validator(v) => v.org,
            SignerStanding::NotAValidator => return Err(TxInvalid::NotAValidator { signer }),
            SignerStanding::Unknown => return Err(TxInvalid::UnknownSigner { signer }),
        };
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
        Ok((replay_key, org))
    }

    /// Finish the block: the work due at its end (the subjects whose heads moved are
    /// folded into the heads tree, whose root the header commits to — see
    /// [`crate::open::heads_root`]), then the write set, the derived index rows and
    /// the receipts, in transaction order.
    pub fn finish(mut self) -> Result<Executed, StateReadError> {
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
        Ok(Executed::new(self.writes, self.index, self.receipts))
    }
}

/// What executing a block gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// Its writes to the hashed state, ordered by key.
    pub writes: WriteSet,
    /// Its derived index rows ([`crate::index`]): stored beside the state, not hashed.
    pub index: crate::index::Index,
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// The write set's canonical encoding ([`crate::encode_write_set`]), made once
    /// when execution finishes: hashed into the state hash and stored as is, so the
    /// store's write (the critical path of a pipelined commit) does not encode it.
    encoded_writes: Vec<u8>,
}

impl Executed {
    /// What executing a block gave: its writes, derived index rows and receipts.
    pub fn new(writes: WriteSet, index: crate::index::Index, receipts: Vec<Receipt>) -> Executed {
        let encoded_writes = crate::encode_write_set(&writes);
        Executed {
            writes,
            index,
            receipts,
            encoded_writes,
        }
    }

    /// The write set's canonical encoding (what the store keeps beside the block).
    /// Equal to `encode_write_set(&self.writes)` unless `writes` was changed after
    /// execution, which the store checks in debug builds.
    pub fn encoded_writes(&self) -> &[u8] {
        &self.encoded_writes
    }

    /// The state hash after this block, given the one before it
    /// ([`crate::next_state_hash`], from the encoding made once).
    pub fn state_hash_after(&self, prev: &waybill_types::Hash) -> waybill_types::Hash {
        crate::exec::state_hash_from_digest(
            prev,
            &waybill_types::hash::sha256(&self.encoded_writes),
            &self.receipts,
        )
    }
}

/// The entry a handler's derived row adds: for the audit trail, the transaction's
/// index in the block (the handler names only the subject); otherwise the entry the
/// handler gives (an open-tier record's index; an event's seq and role).
fn derived_entry<'a>(key: &[u8], value: &'a [u8], tx_index: &'a [u8; 4]) -> &'a [u8] {
    if key.first() == Some(&keys::AUDIT) {
        assert!(value.is_empty(), "an audit row names only its subject");
        tx_index
    } else {
        assert!(!value.is_empty(), "a derived row carries its entry");
        value
    }
}

/// Where a transaction sits: its block's height and time, and its receipt.
#[derive(Clone, Copy, Debug)]
pub struct TxPlace<'a> {
    /// The block's height.
    pub height: waybill_types::Height,
    /// The block's time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transaction's receipt in that block.
    pub receipt: &'a Receipt,
}

/// The entry that transaction `tx` (at `place`) leaves in the audit trail of the
/// subject `subject` of kind `kind` ([`audit::subject`]): rebuilt from the transaction, its
/// receipt and the state (the signer's organization; for a capture in a product's
/// trail, how many new events its capture record stored). The derived index
/// ([`crate::index`]) lists which transactions a subject's trail names.
pub fn audit_entry<S: StateRead + ?Sized>(
    state: &S,
    place: TxPlace<'_>,
    tx: &SignedTx,
    (kind, subject): (u8, &[u8]),
) -> Result<audit::AuditEntry, StateReadError> {
    let signer = tx.tx.signer;
    let payload = &tx.tx.payload;
    use crate::governance::{signer_standing, SignerStanding};
    let org = match signer_standing(state, payload, &signer, place.height)? {
        SignerStanding::Member(m) => Some(m.org),
        SignerStanding::Validator(v) => Some(v.org),
        SignerStanding::NotAValidator | SignerStanding::Unknown => None,
    };
    let summary = match payload {
        waybill_types::Payload::CaptureEpcis(_) if kind == audit::subject::PRODUCT => {
            let n_new = crate::trace::load_capture(state, &place.receipt.tx_id)?
                .map_or(0, |c| c.events.iter().filter(|e| !e.duplicate).count());
            let g = String::from_utf8_lossy(subject);
            format!("captured {n_new} EPCIS event(s) naming {g}")
        }
        _ => dispatch::describe(payload),
    };
    Ok(audit::AuditEntry {
        height: place.height,
        time_ms: place.time_ms,
        tx_id: place.receipt.tx_id,
        signer,
        org,
        action: payload.kind().to_string(),
        summary,
        outcome: match &place.receipt.status {
            TxStatus::Applied => "applied".to_string(),
            TxStatus::Rejected { code, .. } => format!("rejected: {code}"),
        },
    })
}
