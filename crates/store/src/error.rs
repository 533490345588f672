//! How a store operation fails, and the on-disk format version stores are checked
//! against. Below every other module of the crate.

use redb::DatabaseError;
use waybill_types::codec::CodecError;
use waybill_types::Hash;

/// The on-disk format version. Bump when a table's layout changes, and say in the
/// commit how older stores are read.
///
/// Version 5 (issue 15): sealed fields in format 2 — no `record` or `field` members
/// (where a field stands says them). The capture contract refuses format 1, so a
/// version-4 store holding sealed fields would not replay; refused instead.
///
/// Version 4 (issue 15): block headers gained `commit_root` (header version 3), the
/// state the commitment tree of sealed fields.
///
/// Version 3 (issue 14): the audit trail and the open-tier identifier index left the
/// hashed state for a derived index table (`derived_index`, one row per subject per
/// block), so state hashes differ from version 2's. Version 2 came with issue 12 (the
/// state layout, the block header and the store checks changed together). Older
/// stores are refused with [`StoreError::Version`]; there is no migration:
/// re-initialize the node and resync it from its peers, or `waybill restore` a backup
/// taken by a node of this version.
pub const STORE_FORMAT_VERSION: u64 = 5;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("storage error in {path}: {source}")]
    Db {
        /// The database file.
        path: String,
        /// The cause.
        source: Box<redb::Error>,
    },
    /// A stored record does not decode.
    #[error("stored {what} at height {height} is corrupt: {source}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Where.
        height: u64,
        /// The decoding error.
        source: CodecError,
    },
    /// Written by another version.
    #[error(
        "store {path} has format version {found}, and this build reads only version {STORE_FORMAT_VERSION}; there is no migration: move the old store away and resync the node from its peers (it starts from genesis), or install a backup of version {STORE_FORMAT_VERSION} with `waybill restore --dir DIR --from FILE`"
    )]
    Version {
        /// The file.
        path: String,
        /// Its version.
        found: u64,
    },
    /// Not initialized.
    #[error("store {path} has no genesis; run `waybill init` first")]
    NoGenesis {
        /// The file.
        path: String,
    },
    /// The file exists but holds nothing: a truncated or lost store, never a new one.
    #[error("store {path} is an empty file (0 bytes): the node's data was lost or truncated; it was left as it is. Install a backup with `waybill restore --dir DIR --from FILE`, or move the file away to resync the node from its peers")]
    Empty {
        /// The file.
        path: String,
    },
    /// The file is not a redb database, or its pages fail their checksums.
    #[error("store {path} is damaged: {reason}. Run `waybill verify --dir DIR` to find the first bad record, then install a backup with `waybill restore --dir DIR --from FILE`")]
    Damaged {
        /// The file.
        path: String,
        /// What redb found.
        reason: String,
    },
    /// A read-only open found a store that was not shut down cleanly.
    #[error("store {path} was not shut down cleanly (the node crashed or is still running) and a read-only open cannot recover it; start the node once to let it recover the store (or stop it), then try again")]
    NeedsRecovery {
        /// The file.
        path: String,
    },
    /// Another process holds the store.
    #[error("store {path} is open in another process (a running node?); stop it first, or use `waybill backup` to copy a running node's store")]
    InUse {
        /// The file.
        path: String,
    },
    /// Already initialized with another genesis.
    #[error("store {path} was initialized with a different genesis (hash {stored}) than this node's; refusing to mix chains. Install a backup of this consortium's chain with `waybill restore --dir DIR --from FILE`")]
    GenesisMismatch {
        /// The file.
        path: String,
        /// The stored genesis hash.
        stored: Hash,
    },
    /// Out-of-order commit (a bug in the caller).
    #[error("cannot commit block {got}: the next height is {expected}")]
    OutOfOrder {
        /// Expected height.
        expected: u64,
        /// Offered height.
        got: u64,
    },
}

pub(crate) fn open_error(path: &str, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::RepairAborted => StoreError::NeedsRecovery {
            path: path.to_string(),
        },
        DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
            path: path.to_string(),
        },
        DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => StoreError::Damaged {
            path: path.to_string(),
            reason,
        },
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            StoreError::Damaged {
                path: path.to_string(),
                reason: io.to_string(),
            }
        }
        other => db_err(path)(other.into()),
    }
}

/// A redb failure in the store at `path`.
pub(crate) fn db_err(path: &str) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| StoreError::Db {
        path: path.to_string(),
        source: Box::new(e),
    }
}
