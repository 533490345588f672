//! The purger (docs/PRIVACY.md "Erasure"): purges erased fields' private parts from
//! the node's [`PrivateStore`] and records each purge on the chain with the node's
//! validator key ([`RecordPurge`]) — after every block that erases a field, and at
//! start for fields erased while the node was down.

use std::sync::Arc;

use waybill_types::payload::RecordPurge;
use waybill_types::{Payload, TxStatus};

use crate::ledger::Shared;
use crate::private::{PrivateStore, PURGE_RESUBMIT_BLOCKS};

/// Keep erasable fields' private parts in `store` from now on (once) and start
/// purging erased ones.
pub fn start(shared: &Arc<Shared>, store: PrivateStore) {
    if let Some(store) = shared.set_private_store(store) {
        spawn_purger(shared.clone(), store);
    }
}

/// Purge what was erased and record each purge, now and after every block: on start
/// (fields erased while the node was down, purges not yet recorded), then for each
/// block's applied `erase_sealed`.
fn spawn_purger(shared: Arc<Shared>, store: Arc<PrivateStore>) {
    let mut commits = shared.commits.subscribe();
    tokio::spawn(async move {
        sweep(&shared, &store);
        loop {
            match commits.recv().await {
                Ok(c) => {
                    let erased = c
                        .block
                        .txs
                        .iter()
                        .zip(c.receipts.iter())
                        .filter_map(|(t, r)| match (&t.tx.payload, &r.status) {
                            (Payload::EraseSealed(e), TxStatus::Applied) => {
                                Some((e.record.clone(), e.field.clone()))
                            }
                            _ => None,
                        });
                    for (record, field) in erased.collect::<Vec<_>>() {
                        if let Err(e) = store.purge(&record, &field) {
                            tracing::error!(%record, %field, error = %e, "cannot purge an erased field; retried at the next block");
                        }
                    }
                    record_purges(&shared, &store);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => sweep(&shared, &store),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Purge every kept part whose field is erased, then record the purges.
fn sweep(shared: &Shared, store: &PrivateStore) {
    let held = match store.held() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the private store");
            return;
        }
    };
    let Ok(snap) = shared.store.snapshot() else {
        return;
    };
    for (record, field) in held {
        match waybill_state::trace::erasure::load_erasure(&snap, &record, &field) {
            Ok(Some(_)) => {
                if let Err(e) = store.purge(&record, &field) {
                    tracing::error!(%record, %field, error = %e, "cannot purge an erased field");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read an erasure"),
        }
    }
    record_purges(shared, store);
}

/// For each tombstone: drop it if the purge is recorded on the chain, else submit the
/// record (again; the chain refuses a second one).
fn record_purges(shared: &Shared, store: &PrivateStore) {
    let stones = match store.tombstones() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the private store's tombstones");
            return;
        }
    };
    if stones.is_empty() {
        // The common case: no snapshot, no lock, nothing to do.
        return;
    }
    let Ok(snap) = shared.store.snapshot() else {
        return;
    };
    let me = store.key.public();
    let height = shared.head.borrow().height.0;
    let mut submitted = store
        .submitted
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut txs = Vec::new();
    for (record, field) in stones {
        let k = waybill_state::keys::seal_purged(&record, &field, Some(&me));
        let names = (record.clone(), field.clone());
        match waybill_state::exec::StateRead::get(&snap, &k) {
            Ok(Some(_)) => {
                let _ = std::fs::remove_file(store.tombstone(&record, &field));
                submitted.remove(&names);
            }
            Ok(None)
                if submitted
                    .get(&names)
                    .is_some_and(|h| height < h.saturating_add(PURGE_RESUBMIT_BLOCKS)) => {}
            Ok(None) => {
                submitted.insert(names, height);
                let tx = waybill_client::sign_with(
                    &store.key,
                    shared.chain_id(),
                    waybill_types::tx::random_nonce(),
                    shared
                        .now_ms()
                        .saturating_add(waybill_client::TX_EXPIRY_MS_DEFAULT),
                    Payload::RecordPurge(RecordPurge { record, field }),
                );
                txs.push(tx.encode());
            }
            Err(e) => tracing::error!(error = %e, "cannot read a purge record"),
        }
    }
    drop(submitted);
    if txs.is_empty() {
        return;
    }
    for r in crate::ledger::submit_batch(shared, txs) {
        if let Err(e) = r {
            tracing::warn!(error = %e, "a purge record was not admitted; retried at the next block");
        }
    }
}
