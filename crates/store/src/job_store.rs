//! The node's capture jobs as `Store` methods: recorded durably before a 202, listed,
//! updated and settled (the table and its records are in [`crate::jobs`]).

use redb::{Durability, ReadableTable, TableError};
use waybill_types::{codec, TxId};

use crate::error::StoreError;
use crate::jobs::{change_jobs, CaptureJob, JobFailure, JOBS, JOB_BYTES_MAX};
use crate::store::Store;

fn db_err(store: &Store) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| StoreError::Db {
        path: store.path().to_string(),
        source: Box::new(e),
    }
}

impl Store {
    /// Record a job durably (fsynced before this returns).
    pub fn put_capture_job(&self, id: &TxId, job: &CaptureJob) -> Result<(), StoreError> {
        self.write_jobs(Durability::Immediate, |t| {
            t.insert(&id.0, codec::encode(job).as_slice())?;
            Ok(())
        })
    }

    /// The job of capture `id`, if this node accepted it.
    pub fn capture_job(&self, id: &TxId) -> Result<Option<CaptureJob>, StoreError> {
        let e = db_err(self);
        let txn = self.db().begin_read().map_err(|x| e(x.into()))?;
        let t = match txn.open_table(JOBS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(x) => return Err(e(x.into())),
        };
        let Some(v) = t.get(&id.0).map_err(|x| e(x.into()))? else {
            return Ok(None);
        };
        codec::decode(v.value(), JOB_BYTES_MAX, "capture job")
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                what: "capture job",
                height: 0,
                source,
            })
    }

    /// Jobs whose transaction is neither committed (by the transaction index) nor
    /// known to have failed: what a starting node resubmits.
    pub fn open_capture_jobs(&self) -> Result<Vec<(TxId, CaptureJob)>, StoreError> {
        let e = db_err(self);
        let txn = self.db().begin_read().map_err(|x| e(x.into()))?;
        let t = match txn.open_table(JOBS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(x) => return Err(e(x.into())),
        };
        let mut out = Vec::new();
        for item in t.iter().map_err(|x| e(x.into()))? {
            let (k, v) = item.map_err(|x| e(x.into()))?;
            let job: CaptureJob =
                codec::decode(v.value(), JOB_BYTES_MAX, "capture job").map_err(|source| {
                    StoreError::Corrupt {
                        what: "capture job",
                        height: 0,
                        source,
                    }
                })?;
            if job.failed.is_none() && !job.tx.is_empty() {
                out.push((waybill_types::Hash(*k.value()), job));
            }
        }
        Ok(out)
    }

    /// Forget the transaction bytes of jobs whose transactions committed (the chain
    /// has them): for a starting node; a block's commit settles its own captures in
    /// the same write ([`settle_jobs_in`]).
    pub fn settle_capture_jobs(&self, committed: &[TxId]) -> Result<(), StoreError> {
        self.update_jobs(Durability::Immediate, committed, |_, job| {
            job.tx = Vec::new()
        })
    }

    /// Record that jobs' transactions will never commit, and why.
    pub fn fail_capture_jobs(&self, failed: &[(TxId, JobFailure)]) -> Result<(), StoreError> {
        let by_id: std::collections::BTreeMap<TxId, &JobFailure> =
            failed.iter().map(|(id, f)| (*id, f)).collect();
        let ids: Vec<TxId> = by_id.keys().copied().collect();
        self.update_jobs(Durability::Immediate, &ids, |id, job| {
            if let Some(f) = by_id.get(id) {
                job.failed = Some((*f).clone());
                job.tx = Vec::new();
            }
        })
    }

    /// Apply `change` to the job of each of `ids` that has one.
    fn update_jobs(
        &self,
        durability: Durability,
        ids: &[TxId],
        mut change: impl FnMut(&TxId, &mut CaptureJob),
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_jobs(durability, |t| {
            change_jobs(t, ids, |id, job| {
                change(id, job);
                true
            })
        })
    }

    fn write_jobs(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut redb::Table<&[u8; 32], &[u8]>) -> Result<(), redb::Error>,
    ) -> Result<(), StoreError> {
        let e = db_err(self);
        let mut txn = self
            .db()
            .writable()
            .begin_write()
            .map_err(|x| e(x.into()))?;
        txn.set_durability(durability).map_err(|x| e(x.into()))?;
        {
            let mut t = txn.open_table(JOBS).map_err(|x| e(x.into()))?;
            f(&mut t).map_err(&e)?;
        }
        txn.commit().map_err(|x| e(x.into()))
    }
}
