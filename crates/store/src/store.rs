use std::path::Path;

use redb::{Database, Durability, ReadTransaction, ReadableDatabase, TableDefinition};
use waybill_state::{StateRead, StateReadError, WriteSet};
use waybill_types::codec::{self, CodecError};
use waybill_types::{limits, Block, CommitCertificate, Genesis, Hash, Height, Receipt, TxId};

/// The on-disk format version. Bump when a table's layout changes, and say in the
/// commit how older stores are read.
pub const STORE_FORMAT_VERSION: u64 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const CERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
const WRITESETS: TableDefinition<u64, &[u8]> = TableDefinition::new("write_sets");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");

const META_VERSION: &str = "format_version";
const META_GENESIS: &str = "genesis";
const META_GENESIS_STATE_HASH: &str = "genesis_state_hash";
const META_HEAD: &str = "head";

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
        "store {path} has format version {found}; this build reads version {STORE_FORMAT_VERSION}"
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
    /// Already initialized with another genesis.
    #[error("store {path} was initialized with a different genesis (hash {stored}); refusing to mix chains")]
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

/// The last committed block.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Head {
    /// Its height (0 = only genesis).
    pub height: Height,
    /// Its hash ([`Hash::ZERO`] at genesis).
    pub block_hash: Hash,
    /// The state hash after it.
    pub state_hash: Hash,
    /// Its block time (genesis time at height 0).
    pub time_ms: u64,
}

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// The block.
    pub height: Height,
    /// Its index in the block.
    pub index: u32,
}

/// The node's database.
pub struct Store {
    db: Database,
    path: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path)
    }
}

fn db_err(path: &str) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| StoreError::Db {
        path: path.to_string(),
        source: Box::new(e),
    }
}

macro_rules! tryd {
    ($self:expr, $e:expr) => {
        $e.map_err(|e| db_err(&$self.path)(e.into()))?
    };
}

impl Store {
    /// Open (or create) the database at `path`. A new database is initialized with
    /// `genesis`; an existing one must have been initialized with the same genesis.
    pub fn open(path: &Path, genesis: &Genesis) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let db = Database::create(path).map_err(|e| db_err(&p)(e.into()))?;
        let store = Store { db, path: p };
        store.init(genesis)?;
        Ok(store)
    }

    /// Open an existing database without knowing its genesis (for `verify`).
    pub fn open_existing(path: &Path) -> Result<(Store, Genesis), StoreError> {
        let p = path.display().to_string();
        if !path.exists() {
            return Err(StoreError::NoGenesis { path: p });
        }
        let db = Database::create(path).map_err(|e| db_err(&p)(e.into()))?;
        let store = Store {
            db,
            path: p.clone(),
        };
        let genesis = store.genesis()?.ok_or(StoreError::NoGenesis { path: p })?;
        Ok((store, genesis))
    }

    fn init(&self, genesis: &Genesis) -> Result<(), StoreError> {
        if let Some(stored) = self.genesis()? {
            if stored.hash() != genesis.hash() {
                return Err(StoreError::GenesisMismatch {
                    path: self.path.clone(),
                    stored: stored.hash(),
                });
            }
            return Ok(());
        }
        let writes = waybill_state::apply_genesis(genesis);
        let state_hash = waybill_state::genesis_state_hash(genesis, &writes);
        let head = Head {
            height: Height(0),
            block_hash: Hash::ZERO,
            state_hash,
            time_ms: genesis.genesis_time_ms,
        };
        let mut txn = tryd!(self, self.db.begin_write());
        tryd!(self, txn.set_durability(Durability::Immediate));
        {
            let mut meta = tryd!(self, txn.open_table(META));
            tryd!(
                self,
                meta.insert(META_VERSION, STORE_FORMAT_VERSION.to_le_bytes().as_slice())
            );
            tryd!(
                self,
                meta.insert(META_GENESIS, codec::encode(genesis).as_slice())
            );
            tryd!(
                self,
                meta.insert(META_GENESIS_STATE_HASH, state_hash.0.as_slice())
            );
            tryd!(
                self,
                meta.insert(META_HEAD, codec::encode(&head).as_slice())
            );
            let mut state = tryd!(self, txn.open_table(STATE));
            for (k, v) in &writes {
                if let Some(v) = v {
                    tryd!(self, state.insert(k.as_slice(), v.as_slice()));
                }
            }
            // Create the other tables so readers never meet a missing table.
            tryd!(self, txn.open_table(BLOCKS));
            tryd!(self, txn.open_table(CERTS));
            tryd!(self, txn.open_table(WRITESETS));
            tryd!(self, txn.open_table(RECEIPTS));
            tryd!(self, txn.open_table(TX_INDEX));
        }
        tryd!(self, txn.commit());
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = tryd!(self, self.db.begin_read());
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(&self.path)(e.into())),
        };
        Ok(tryd!(self, table.get(key)).map(|g| g.value().to_vec()))
    }

    /// The genesis this store was initialized with.
    pub fn genesis(&self) -> Result<Option<Genesis>, StoreError> {
        if let Some(v) = self.meta(META_VERSION)? {
            let found = u64::from_le_bytes(v.as_slice().try_into().unwrap_or([0xff; 8]));
            if found != STORE_FORMAT_VERSION {
                return Err(StoreError::Version {
                    path: self.path.clone(),
                    found,
                });
            }
        }
        self.meta(META_GENESIS)?
            .map(|b| codec::decode(&b, limits::GENESIS_BYTES_MAX, "genesis"))
            .transpose()
            .map_err(|source| StoreError::Corrupt {
                what: "genesis",
                height: 0,
                source,
            })
    }

    /// The state hash at height 0.
    pub fn genesis_state_hash(&self) -> Result<Hash, StoreError> {
        let b = self
            .meta(META_GENESIS_STATE_HASH)?
            .ok_or(StoreError::NoGenesis {
                path: self.path.clone(),
            })?;
        let arr: [u8; 32] = b.as_slice().try_into().map_err(|_| StoreError::Corrupt {
            what: "genesis state hash",
            height: 0,
            source: CodecError::Malformed {
                what: "hash",
                reason: format!("{} bytes", b.len()),
            },
        })?;
        Ok(Hash(arr))
    }

    /// The last committed block.
    pub fn head(&self) -> Result<Head, StoreError> {
        let b = self.meta(META_HEAD)?.ok_or(StoreError::NoGenesis {
            path: self.path.clone(),
        })?;
        codec::decode(&b, 1024, "head").map_err(|source| StoreError::Corrupt {
            what: "head",
            height: 0,
            source,
        })
    }

    /// Commit a finalized block with everything derived from it, durably, in one
    /// write transaction. `writes` and `receipts` come from executing it.
    pub fn commit_block(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        writes: &WriteSet,
        receipts: &[Receipt],
        tx_ids: &[TxId],
    ) -> Result<Head, StoreError> {
        let prev = self.head()?;
        let height = block.header.height;
        if height != prev.height.next() {
            return Err(StoreError::OutOfOrder {
                expected: prev.height.next().0,
                got: height.0,
            });
        }
        assert_eq!(tx_ids.len(), block.txs.len(), "one id per transaction");
        assert_eq!(
            receipts.len(),
            block.txs.len(),
            "one receipt per transaction"
        );
        let head = Head {
            height,
            block_hash: block.hash(),
            state_hash: block.header.state_hash,
            time_ms: block.header.time_ms,
        };
        let mut txn = tryd!(self, self.db.begin_write());
        tryd!(self, txn.set_durability(Durability::Immediate));
        {
            let h = height.0;
            tryd!(
                self,
                tryd!(self, txn.open_table(BLOCKS)).insert(h, block.encode().as_slice())
            );
            tryd!(
                self,
                tryd!(self, txn.open_table(CERTS)).insert(h, codec::encode(certificate).as_slice())
            );
            let ws: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = writes.iter().collect();
            tryd!(
                self,
                tryd!(self, txn.open_table(WRITESETS)).insert(h, codec::encode(&ws).as_slice())
            );
            tryd!(
                self,
                tryd!(self, txn.open_table(RECEIPTS))
                    .insert(h, codec::encode(&receipts.to_vec()).as_slice())
            );
            let mut idx = tryd!(self, txn.open_table(TX_INDEX));
            for (i, id) in tx_ids.iter().enumerate() {
                let index =
                    u32::try_from(i).expect("block transaction count is bounded by BLOCK_TXS_MAX");
                tryd!(self, idx.insert(&id.0, (h, index)));
            }
            let mut state = tryd!(self, txn.open_table(STATE));
            for (k, v) in writes {
                match v {
                    Some(v) => tryd!(self, state.insert(k.as_slice(), v.as_slice())),
                    None => tryd!(self, state.remove(k.as_slice())),
                };
            }
            tryd!(
                self,
                tryd!(self, txn.open_table(META))
                    .insert(META_HEAD, codec::encode(&head).as_slice())
            );
        }
        tryd!(self, txn.commit());
        Ok(head)
    }

    fn get_u64(
        &self,
        table: TableDefinition<u64, &[u8]>,
        height: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = tryd!(self, self.db.begin_read());
        let t = tryd!(self, txn.open_table(table));
        Ok(tryd!(self, t.get(height)).map(|g| g.value().to_vec()))
    }

    /// A block's canonical bytes, as stored.
    pub fn block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_u64(BLOCKS, height.0)
    }

    /// A decoded block (body checked against its header).
    pub fn block(&self, height: Height) -> Result<Option<Block>, StoreError> {
        self.block_bytes(height)?
            .map(|b| {
                codec::decode::<Block>(&b, limits::BLOCK_BYTES_MAX, "block").map_err(|source| {
                    StoreError::Corrupt {
                        what: "block",
                        height: height.0,
                        source,
                    }
                })
            })
            .transpose()
    }

    /// A block's commit certificate.
    pub fn certificate(&self, height: Height) -> Result<Option<CommitCertificate>, StoreError> {
        self.get_u64(CERTS, height.0)?
            .map(|b| {
                codec::decode(&b, limits::CERTIFICATE_BYTES_MAX, "certificate").map_err(|source| {
                    StoreError::Corrupt {
                        what: "certificate",
                        height: height.0,
                        source,
                    }
                })
            })
            .transpose()
    }

    /// A block's receipts.
    pub fn receipts(&self, height: Height) -> Result<Option<Vec<Receipt>>, StoreError> {
        self.get_u64(RECEIPTS, height.0)?
            .map(|b| {
                codec::decode(&b, limits::BLOCK_BYTES_MAX, "receipts").map_err(|source| {
                    StoreError::Corrupt {
                        what: "receipts",
                        height: height.0,
                        source,
                    }
                })
            })
            .transpose()
    }

    /// A block's stored write set.
    pub fn write_set(&self, height: Height) -> Result<Option<WriteSet>, StoreError> {
        self.get_u64(WRITESETS, height.0)?
            .map(|b| {
                codec::decode::<Vec<(Vec<u8>, Option<Vec<u8>>)>>(
                    &b,
                    limits::BLOCK_BYTES_MAX * 4,
                    "write set",
                )
                .map(|v| v.into_iter().collect())
                .map_err(|source| StoreError::Corrupt {
                    what: "write set",
                    height: height.0,
                    source,
                })
            })
            .transpose()
    }

    /// Where a transaction is, if committed.
    pub fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>, StoreError> {
        let txn = tryd!(self, self.db.begin_read());
        let t = tryd!(self, txn.open_table(TX_INDEX));
        Ok(tryd!(self, t.get(&id.0)).map(|g| {
            let (h, i) = g.value();
            TxLocation {
                height: Height(h),
                index: i,
            }
        }))
    }

    /// A consistent read-only view of the committed state.
    pub fn snapshot(&self) -> Result<StateSnapshot, StoreError> {
        let txn = tryd!(self, self.db.begin_read());
        let table = tryd!(self, txn.open_table(STATE));
        Ok(StateSnapshot { table, _txn: txn })
    }

    /// Every stored state entry, in key order (for `verify`).
    pub fn state_entries(&self) -> Result<Rows, StoreError> {
        let snap = self.snapshot()?;
        snap.scan_prefix(&[], usize::MAX)
            .map_err(|e| StoreError::Corrupt {
                what: "state",
                height: 0,
                source: CodecError::Malformed {
                    what: "state",
                    reason: e.to_string(),
                },
            })
    }

    /// The database file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The database, for the store's other modules.
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }
}

/// Key-value rows, in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A read-only snapshot of the state at one committed height.
pub struct StateSnapshot {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    _txn: ReadTransaction,
}

impl StateSnapshot {
    /// The head as of this snapshot: the state it shows is the state after this block.
    pub fn head(&self) -> Result<Head, StateReadError> {
        let meta = self
            ._txn
            .open_table(META)
            .map_err(|e| StateReadError::Store(e.to_string()))?;
        let b = meta
            .get(META_HEAD)
            .map_err(|e| StateReadError::Store(e.to_string()))?
            .ok_or_else(|| StateReadError::Store("the store has no head".into()))?
            .value()
            .to_vec();
        codec::decode(&b, 1024, "head").map_err(|e| StateReadError::Corrupt {
            key: META_HEAD.as_bytes().to_vec(),
            reason: e.to_string(),
        })
    }

    /// Up to `max` entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8], max: usize) -> Result<Rows, StateReadError> {
        self.scan_from(prefix, prefix, max)
    }

    /// Up to `max` entries with key prefix `prefix` and key `>= start`, in key order
    /// (for paging: pass the last key seen plus a zero byte).
    pub fn scan_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        max: usize,
    ) -> Result<Rows, StateReadError> {
        let mut out = Vec::new();
        let range = self
            .table
            .range(start..)
            .map_err(|e| StateReadError::Store(e.to_string()))?;
        for item in range {
            let (k, v) = item.map_err(|e| StateReadError::Store(e.to_string()))?;
            if !k.value().starts_with(prefix) {
                break;
            }
            if out.len() >= max {
                break;
            }
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

impl StateRead for StateSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        self.table
            .get(key)
            .map(|o| o.map(|g| g.value().to_vec()))
            .map_err(|e| StateReadError::Store(e.to_string()))
    }
}

impl waybill_state::trace::StateScan for StateSnapshot {
    fn scan_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateReadError> {
        StateSnapshot::scan_from(self, prefix, start, max)
    }
}
