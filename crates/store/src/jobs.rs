//! Capture jobs (the EPCIS REST binding's `/capture/{id}`): what this node promised a
//! client when it answered `202 Accepted`. A job is written durably *before* that
//! answer, with the signed transaction, so that a restart or a crash between the
//! answer and the commit loses nothing: the node resubmits a job's transaction when it
//! starts, and a job whose transaction can no longer commit (expired, dropped, refused)
//! records why. A job is node-local (not consensus state); its outcome, once
//! committed, is the transaction's receipt on the chain.

use borsh::{BorshDeserialize, BorshSerialize};
use redb::{ReadableTable, TableDefinition};
use waybill_types::{codec, OrgId, PublicKey, TxId};

pub(crate) const JOBS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("capture_jobs");

/// Largest stored job record (the signed transaction plus a little).
pub(crate) const JOB_BYTES_MAX: usize = waybill_types::limits::TX_BYTES_MAX + 64 * 1024;

/// Why a job's transaction will never commit.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct JobFailure {
    /// When this node found out, ms since the Unix epoch.
    pub at_ms: u64,
    /// A stable code (`expired_tx`, `dropped`, …).
    pub code: String,
    /// What happened.
    pub reason: String,
}

/// A capture job.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CaptureJob {
    /// The member who signed the capture.
    pub signer: PublicKey,
    /// Its organization: the only one that may read the job.
    pub org: OrgId,
    /// When the node accepted it, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Events in the document.
    pub n_events: u32,
    /// The signed transaction while it is not committed (to resubmit after a restart);
    /// emptied once it is.
    pub tx: Vec<u8>,
    /// Set when the transaction can no longer commit.
    pub failed: Option<JobFailure>,
}

/// Settle the jobs of `committed` inside a block's own write transaction: each job's
/// transaction bytes are dropped (the chain holds them now). No extra commit, no extra
/// fsync; jobs this node never accepted are not there and are skipped.
pub(crate) fn settle_jobs_in(
    txn: &redb::WriteTransaction,
    committed: &[TxId],
) -> Result<(), redb::Error> {
    if committed.is_empty() {
        return Ok(());
    }
    change_jobs(&mut txn.open_table(JOBS)?, committed, |_, job| {
        !std::mem::take(&mut job.tx).is_empty()
    })
}

/// Apply `change` to the job of each of `ids` that has one, writing it back when
/// `change` says it changed. A damaged job record is left as it is; reading it
/// reports it.
pub(crate) fn change_jobs(
    t: &mut redb::Table<&[u8; 32], &[u8]>,
    ids: &[TxId],
    mut change: impl FnMut(&TxId, &mut CaptureJob) -> bool,
) -> Result<(), redb::Error> {
    for id in ids {
        let Some(bytes) = t.get(&id.0)?.map(|v| v.value().to_vec()) else {
            continue;
        };
        let Ok(mut job) = codec::decode::<CaptureJob>(&bytes, JOB_BYTES_MAX, "capture job") else {
            continue;
        };
        if change(id, &mut job) {
            t.insert(&id.0, codec::encode(&job).as_slice())?;
        }
    }
    Ok(())
}
