//! The commit mark: a small file beside the store (`data/commit-mark.json`) recording
//! the genesis and a block this node has committed (its height and hash).
//!
//! The node writes it, fsynced, after the start-up checks and every
//! [`COMMIT_MARK_INTERVAL_BLOCKS`] blocks; at start it refuses a store that does not
//! hold that block — a missing, emptied, replaced or rolled-back store — rather than
//! start a new chain or serve an old one. `waybill restore` rewrites it to the restored
//! store's head. A data directory without one is a node that never ran (or one an
//! operator wiped on purpose to resync it from its peers).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use waybill_store::Store;
use waybill_types::{Hash, Height};

/// Blocks between two updates of the commit mark.
pub const COMMIT_MARK_INTERVAL_BLOCKS: u64 = 100;

/// The file name, in the data directory.
pub const COMMIT_MARK_FILE: &str = "commit-mark.json";

/// A block this node committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitMark {
    /// The genesis hash of the chain.
    pub genesis: Hash,
    /// The block's height (0: only genesis).
    pub height: u64,
    /// The block's hash ([`Hash::ZERO`] at height 0).
    pub block_hash: Hash,
}

/// The store does not match the commit mark (or the mark cannot be read).
#[derive(Debug, thiserror::Error)]
pub enum CommitMarkError {
    /// The store file is gone but the node has run.
    #[error("store {store} is missing, but this node has committed block {height} ({mark} says so): its data was lost. Nothing was written. Install a backup with `waybill restore --dir DIR --from FILE`; or, to rebuild this node from its peers, remove the whole data directory {data_dir} and start it again")]
    StoreMissing {
        /// The store path.
        store: String,
        /// The mark's height.
        height: u64,
        /// The mark file.
        mark: String,
        /// The data directory.
        data_dir: String,
    },
    /// The store is behind the mark or holds another block there.
    #[error("store {store} does not hold block {height} {block_hash} that this node committed ({mark}): {found}. It was replaced or rolled back; nothing was written. Install a backup with `waybill restore --dir DIR --from FILE` (it checks the backup and updates the mark)")]
    Mismatch {
        /// The store path.
        store: String,
        /// The mark's height.
        height: u64,
        /// The mark's block hash.
        block_hash: Hash,
        /// What the store holds instead.
        found: String,
        /// The mark file.
        mark: String,
    },
    /// The mark is of another chain.
    #[error("commit mark {mark} is of another chain (genesis {found}, this node's genesis is {expected}); the data directory belongs to another consortium. Use a fresh --dir, or `waybill restore` a backup of this chain")]
    OtherChain {
        /// The mark file.
        mark: String,
        /// Its genesis.
        found: Hash,
        /// This node's.
        expected: Hash,
    },
    /// Unreadable.
    #[error("commit mark {mark} cannot be read: {reason}; if the store is sound (`waybill verify --dir DIR`), delete the mark and start again")]
    Unreadable {
        /// The mark file.
        mark: String,
        /// Why.
        reason: String,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] waybill_store::StoreError),
    /// Writing the mark failed.
    #[error("cannot write commit mark {mark}: {source}")]
    Write {
        /// The mark file.
        mark: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl CommitMark {
    /// The mark file of a data directory.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(COMMIT_MARK_FILE)
    }

    /// Read the mark; `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<CommitMark>, CommitMarkError> {
        let unreadable = |reason: String| CommitMarkError::Unreadable {
            mark: path.display().to_string(),
            reason,
        };
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| unreadable(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unreadable(e.to_string())),
        }
    }

    /// Write the mark durably (temporary file fsynced, renamed, directory fsynced).
    pub fn write(&self, path: &Path) -> Result<(), CommitMarkError> {
        let err = |source| CommitMarkError::Write {
            mark: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(self).expect("a commit mark always serializes");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&json).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(err)?;
        }
        Ok(())
    }

    /// The mark of `store`'s head.
    pub fn of_head(store: &Store) -> Result<CommitMark, CommitMarkError> {
        let genesis = store
            .genesis()?
            .ok_or_else(|| waybill_store::StoreError::NoGenesis {
                path: store.path().to_string(),
            })?;
        let head = store.head()?;
        Ok(CommitMark {
            genesis: genesis.hash(),
            height: head.height.0,
            block_hash: head.block_hash,
        })
    }

    /// Whether `store` holds the marked block (of the same chain).
    pub fn check(&self, store: &Store, mark_path: &Path) -> Result<(), CommitMarkError> {
        let mark = mark_path.display().to_string();
        let mismatch = |found: String| CommitMarkError::Mismatch {
            store: store.path().to_string(),
            height: self.height,
            block_hash: self.block_hash,
            found,
            mark: mark.clone(),
        };
        let head = store.head()?;
        if head.height.0 < self.height {
            return Err(mismatch(format!("its head is height {}", head.height.0)));
        }
        if self.height > 0 {
            let found = store.block(Height(self.height))?.map(|b| b.hash());
            if found != Some(self.block_hash) {
                return Err(mismatch(match found {
                    Some(h) => format!("it has block {h} at that height"),
                    None => "the block is missing".to_string(),
                }));
            }
        }
        Ok(())
    }
}
