//! The private store (docs/PRIVACY.md "Erasure"): the private parts of erasable
//! sealed fields — their wraps and ciphertext, which the chain does not hold — kept for
//! the organizations this node serves, outside the ledger's store so that they can be
//! purged.
//!
//! One file per field, `private/<SHA-256(record ‖ 0 ‖ field) hex>.json` =
//! `{"record", "field", "part"}`, written to a temporary file, synced and renamed. A
//! purge overwrites the file with zeros, syncs, unlinks it and syncs the directory, and
//! leaves a tombstone (`private/purged/<same name>`, the names only) until the node's
//! purge record is on the chain ([`crate::purger`] purges and records).
//!
//! What a purge cannot reach: copies made outside this store (a recipient that saved
//! the plaintext, a backup of the data directory taken before the purge) and blocks of
//! the filesystem or disk that still hold the overwritten bytes (encrypt the disk).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use waybill_types::seal::PrivatePart;
use waybill_types::{OrgId, SecretKey};

/// The private store of one node.
#[derive(Debug)]
pub struct PrivateStore {
    dir: PathBuf,
    holds_for: Vec<OrgId>,
    pub(crate) key: SecretKey,
    /// Purge records submitted and not yet seen on the chain: (record, field) → the
    /// height they were submitted after (resubmitted [`PURGE_RESUBMIT_BLOCKS`] later).
    pub(crate) submitted: std::sync::Mutex<std::collections::HashMap<(String, String), u64>>,
}

/// Blocks after which a purge record not yet on the chain is submitted again.
pub const PURGE_RESUBMIT_BLOCKS: u64 = 20;

#[derive(Serialize, Deserialize)]
struct Entry {
    record: String,
    field: String,
    part: PrivatePart,
}

#[derive(Serialize, Deserialize)]
struct Tombstone {
    record: String,
    field: String,
}

fn io_context(what: &str, path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_context("cannot sync directory", dir, e))
}

impl PrivateStore {
    /// Open (creating) the store in `dir`, keeping parts for `holds_for`; purges are
    /// recorded with `key` (the node's validator key).
    pub fn open(dir: PathBuf, holds_for: Vec<OrgId>, key: SecretKey) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("purged"))
            .map_err(|e| io_context("cannot create the private store", &dir, e))?;
        Ok(PrivateStore {
            dir,
            holds_for,
            key,
            submitted: Default::default(),
        })
    }

    /// The organizations whose private parts this node keeps.
    pub fn holds_for(&self) -> &[OrgId] {
        &self.holds_for
    }

    fn name(record: &str, field: &str) -> String {
        let mut h = sha2::Sha256::new();
        h.update(record.as_bytes());
        h.update([0]);
        h.update(field.as_bytes());
        format!("{}.json", waybill_types::Hash(h.finalize().into()).to_hex())
    }

    fn path(&self, record: &str, field: &str) -> PathBuf {
        self.dir.join(Self::name(record, field))
    }

    pub(crate) fn tombstone(&self, record: &str, field: &str) -> PathBuf {
        self.dir.join("purged").join(Self::name(record, field))
    }

    /// Keep `part` for `field` of `record` (replacing any earlier copy).
    pub fn put(&self, record: &str, field: &str, part: &PrivatePart) -> std::io::Result<()> {
        let path = self.path(record, field);
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(&Entry {
            record: record.into(),
            field: field.into(),
            part: part.clone(),
        })
        .map_err(std::io::Error::other)?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_context("cannot write", &tmp, e))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| io_context("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_context("cannot rename into", &path, e))?;
        sync_dir(&self.dir)
    }

    /// The part kept for `field` of `record`, if any.
    pub fn get(&self, record: &str, field: &str) -> std::io::Result<Option<PrivatePart>> {
        let path = self.path(record, field);
        match std::fs::read(&path) {
            Ok(b) => {
                let e: Entry = serde_json::from_slice(&b).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} is not a private-store entry: {e}", path.display()),
                    )
                })?;
                Ok(Some(e.part))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_context("cannot read", &path, e)),
        }
    }

    /// Purge the part kept for `field` of `record`: overwrite, sync, unlink, and leave
    /// a tombstone until the purge is recorded. Whether a part was kept.
    pub fn purge(&self, record: &str, field: &str) -> std::io::Result<bool> {
        let path = self.path(record, field);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_context("cannot read", &path, e)),
        };
        let stone = self.tombstone(record, field);
        std::fs::write(
            &stone,
            serde_json::to_vec(&Tombstone {
                record: record.into(),
                field: field.into(),
            })
            .map_err(std::io::Error::other)?,
        )
        .map_err(|e| io_context("cannot write", &stone, e))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| io_context("cannot open", &path, e))?;
        let zeros = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX).min(1 << 20)];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])
                .map_err(|e| io_context("cannot overwrite", &path, e))?;
            left -= n as u64;
        }
        f.sync_all()
            .map_err(|e| io_context("cannot sync", &path, e))?;
        drop(f);
        std::fs::remove_file(&path).map_err(|e| io_context("cannot remove", &path, e))?;
        sync_dir(&self.dir)?;
        Ok(true)
    }

    /// The (record, field) of every part kept.
    pub fn held(&self) -> std::io::Result<Vec<(String, String)>> {
        self.entries(&self.dir, |b| {
            serde_json::from_slice::<Entry>(b).map(|e| (e.record, e.field))
        })
    }

    /// The (record, field) of every purge not yet seen recorded.
    pub(crate) fn tombstones(&self) -> std::io::Result<Vec<(String, String)>> {
        self.entries(&self.dir.join("purged"), |b| {
            serde_json::from_slice::<Tombstone>(b).map(|t| (t.record, t.field))
        })
    }

    fn entries(
        &self,
        dir: &Path,
        parse: impl Fn(&[u8]) -> serde_json::Result<(String, String)>,
    ) -> std::io::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| io_context("cannot list", dir, e))? {
            let path = e?.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| io_context("cannot read", &path, e))?;
            match parse(&bytes) {
                Ok(names) => out.push(names),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "not a private-store file; left alone")
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
