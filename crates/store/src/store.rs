use std::path::Path;

use crate::error::{db_err, open_error, StoreError};
use redb::{
    Builder, ConcurrencyMode, Database, DatabaseError, Durability, ReadOnlyDatabase,
    ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use waybill_state::index::ReadView;
use waybill_state::{StateRead, StateReadError, WriteSet};
use waybill_types::codec::{self, CodecError};
use waybill_types::{limits, Block, CommitCertificate, Genesis, Hash, Height, Receipt, TxId};

pub use crate::error::STORE_FORMAT_VERSION;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const CERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
const WRITESETS: TableDefinition<u64, &[u8]> = TableDefinition::new("write_sets");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// Derived index rows (`waybill_state::index`): not hashed, written with each block.
const INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("derived_index");

const META_VERSION: &str = "format_version";
const META_GENESIS: &str = "genesis";
const META_GENESIS_STATE_HASH: &str = "genesis_state_hash";
const META_HEAD: &str = "head";

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
    db: Db,
    path: String,
}

/// A store opened for writing (the node) or read-only (`verify`, `backup`).
pub(crate) enum Db {
    ReadWrite(Database),
    ReadOnly(ReadOnlyDatabase),
}

impl Db {
    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, redb::TransactionError> {
        match self {
            Db::ReadWrite(db) => db.begin_read(),
            Db::ReadOnly(db) => db.begin_read(),
        }
    }

    pub(crate) fn writable(&self) -> &Database {
        match self {
            Db::ReadWrite(db) => db,
            // Only `Store::open` makes a store that commits; the read-only opens serve
            // `verify` and `backup`, which never call a writing method.
            Db::ReadOnly(_) => panic!("a read-only store was asked to write"),
        }
    }
}

/// How every process opens a store: one writer (the node) and any number of
/// read-only handles (`waybill backup`, `waybill verify`) that see consistent snapshots.
fn builder() -> Builder {
    let mut b = Builder::new();
    b.set_concurrency_mode(ConcurrencyMode::SingleWriter);
    b
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path)
    }
}

macro_rules! tryd {
    ($self:expr, $e:expr) => {
        $e.map_err(|e| db_err(&$self.path)(e.into()))?
    };
}

impl Store {
    /// Open the database at `path` for writing, creating it from `genesis` if there is
    /// no file. An existing file is opened with redb's integrity check (every page's
    /// checksum is verified) and must hold a store of the same genesis; an empty file
    /// is refused ([`StoreError::Empty`]) and left as it is, never turned into a new
    /// chain.
    pub fn open(path: &Path, genesis: &Genesis) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let existing = file_len(path, &p)?;
        let db = match existing {
            Some(0) => return Err(StoreError::Empty { path: p }),
            Some(_) => {
                // Read-only first: a store of another format version or genesis is
                // refused before the integrity check, which commits, touches it.
                let (_, stored) = Store::open_existing(path)?;
                if stored.hash() != genesis.hash() {
                    return Err(StoreError::GenesisMismatch {
                        path: p,
                        stored: stored.hash(),
                    });
                }
                let mut b = builder();
                b.set_check_integrity_on_open(true);
                b.open(path).map_err(|e| open_error(&p, e))?
            }
            None => builder().create(path).map_err(|e| open_error(&p, e))?,
        };
        let store = Store {
            db: Db::ReadWrite(db),
            path: p,
        };
        match (existing, store.genesis()?) {
            (_, Some(stored)) if stored.hash() != genesis.hash() => {
                Err(StoreError::GenesisMismatch {
                    path: store.path.clone(),
                    stored: stored.hash(),
                })
            }
            (_, Some(_)) => Ok(store),
            (None, None) => {
                store.init(genesis)?;
                Ok(store)
            }
            // A redb file without a genesis: not a Waybill store, or one whose
            // creation was interrupted. Leave it for the operator to look at.
            (Some(_), None) => Err(StoreError::NoGenesis { path: store.path }),
        }
    }

    /// Open an existing database read-only, without knowing its genesis (`verify`,
    /// `backup`, `restore`). Never writes to the file; works beside a running node
    /// (it reads a consistent snapshot of the last commit). A store that was not shut
    /// down cleanly is recovered in memory (redb's repair, over an overlay that keeps
    /// every write off the file).
    pub fn open_existing(path: &Path) -> Result<(Store, Genesis), StoreError> {
        let p = path.display().to_string();
        match file_len(path, &p)? {
            None => return Err(StoreError::NoGenesis { path: p }),
            Some(0) => return Err(StoreError::Empty { path: p }),
            Some(_) => {}
        }
        let db = match builder().open_read_only(path) {
            Ok(db) => Db::ReadOnly(db),
            // Not shut down cleanly (a crash, a SIGKILL): recover into memory, so the
            // file is still not written.
            Err(DatabaseError::RepairAborted) => {
                Db::ReadWrite(crate::integrity::open_in_memory(path)?)
            }
            Err(e) => return Err(open_error(&p, e)),
        };
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
        let mut txn = tryd!(self, self.db.writable().begin_write());
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
            tryd!(self, txn.open_table(INDEX));
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
    /// write transaction. `executed` comes from executing it.
    pub fn commit_block(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        executed: &waybill_state::Executed,
        tx_ids: &[TxId],
    ) -> Result<Head, StoreError> {
        let (writes, receipts) = (&executed.writes, executed.receipts.as_slice());
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
        let mut txn = tryd!(self, self.db.writable().begin_write());
        tryd!(self, txn.set_durability(Durability::Immediate));
        debug_assert_eq!(
            executed.encoded_writes(),
            waybill_state::encode_write_set(writes).as_slice(),
            "the write set was changed after execution"
        );
        self.write_block_records(
            &txn,
            block,
            certificate,
            executed.encoded_writes(),
            receipts,
        )?;
        self.write_tx_index(&txn, height, tx_ids)?;
        let captures: Vec<TxId> = block
            .txs
            .iter()
            .zip(tx_ids)
            .filter(|(t, _)| matches!(t.tx.payload, waybill_types::Payload::CaptureEpcis(_)))
            .map(|(_, id)| *id)
            .collect();
        tryd!(self, crate::jobs::settle_jobs_in(&txn, &captures));
        self.write_state(&txn, writes)?;
        {
            let mut index = tryd!(self, txn.open_table(INDEX));
            for (k, v) in &executed.index {
                let old = tryd!(self, index.insert(k.as_slice(), v.as_slice()));
                assert!(
                    old.is_none(),
                    "a derived index row is keyed by its block's height and written once"
                );
            }
        }
        tryd!(
            self,
            tryd!(self, txn.open_table(META)).insert(META_HEAD, codec::encode(&head).as_slice())
        );
        tryd!(self, txn.commit());
        Ok(head)
    }

    /// The block's own records, keyed by its height: the block, its certificate, its
    /// write set (encoded once, at execution) and its receipts.
    fn write_block_records(
        &self,
        txn: &WriteTransaction,
        block: &Block,
        certificate: &CommitCertificate,
        encoded_writes: &[u8],
        receipts: &[Receipt],
    ) -> Result<(), StoreError> {
        let h = block.header.height.0;
        tryd!(
            self,
            tryd!(self, txn.open_table(BLOCKS)).insert(h, block.encode().as_slice())
        );
        tryd!(
            self,
            tryd!(self, txn.open_table(CERTS)).insert(h, codec::encode(certificate).as_slice())
        );
        tryd!(
            self,
            tryd!(self, txn.open_table(WRITESETS)).insert(h, encoded_writes)
        );
        tryd!(
            self,
            tryd!(self, txn.open_table(RECEIPTS))
                .insert(h, codec::encode(&receipts.to_vec()).as_slice())
        );
        Ok(())
    }

    /// Where each of the block's transactions is: (height, index in the block).
    fn write_tx_index(
        &self,
        txn: &WriteTransaction,
        height: Height,
        tx_ids: &[TxId],
    ) -> Result<(), StoreError> {
        let mut idx = tryd!(self, txn.open_table(TX_INDEX));
        for (i, id) in tx_ids.iter().enumerate() {
            let index =
                u32::try_from(i).expect("block transaction count is bounded by BLOCK_TXS_MAX");
            tryd!(self, idx.insert(&id.0, (height.0, index)));
        }
        Ok(())
    }

    /// The block's writes applied to the state table (`None` removes the key).
    fn write_state(&self, txn: &WriteTransaction, writes: &WriteSet) -> Result<(), StoreError> {
        let mut state = tryd!(self, txn.open_table(STATE));
        for (k, v) in writes {
            match v {
                Some(v) => tryd!(self, state.insert(k.as_slice(), v.as_slice())),
                None => tryd!(self, state.remove(k.as_slice())),
            };
        }
        Ok(())
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
        let index = tryd!(self, txn.open_table(INDEX));
        Ok(StateSnapshot {
            table,
            index,
            _txn: txn,
        })
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
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Every transaction index entry, in id order, with the head of the same
    /// snapshot (for `verify`, which may run beside commits).
    pub fn tx_index_entries(&self) -> Result<(Head, Vec<(TxId, TxLocation)>), StoreError> {
        let txn = tryd!(self, self.db.begin_read());
        let head = self.head_in(&txn)?;
        let t = tryd!(self, txn.open_table(TX_INDEX));
        let mut out = Vec::new();
        for item in tryd!(self, t.iter()) {
            let (k, v) = tryd!(self, item);
            let (h, i) = v.value();
            out.push((
                Hash(*k.value()),
                TxLocation {
                    height: Height(h),
                    index: i,
                },
            ));
        }
        Ok((head, out))
    }

    fn head_in(&self, txn: &ReadTransaction) -> Result<Head, StoreError> {
        let b = read_head(txn)
            .map_err(db_err(&self.path))?
            .ok_or(StoreError::NoGenesis {
                path: self.path.clone(),
            })?;
        codec::decode(&b, 1024, "head").map_err(|source| StoreError::Corrupt {
            what: "head",
            height: 0,
            source,
        })
    }

    /// Every stored state entry, in key order, with the head of the same snapshot
    /// (for `verify`, which may run beside commits).
    pub fn state_entries_at_head(&self) -> Result<(Head, Rows), StoreError> {
        self.entries_at_head(STATE, "state")
    }

    /// Every derived index row, in key order, with the head of the same snapshot.
    pub fn index_entries_at_head(&self) -> Result<(Head, Rows), StoreError> {
        self.entries_at_head(INDEX, "derived index")
    }

    fn entries_at_head(
        &self,
        def: TableDefinition<&'static [u8], &'static [u8]>,
        what: &'static str,
    ) -> Result<(Head, Rows), StoreError> {
        let txn = tryd!(self, self.db.begin_read());
        let head = self.head_in(&txn)?;
        let table = tryd!(self, txn.open_table(def));
        let rows = scan_table(&table, &[], &[], usize::MAX).map_err(|e| StoreError::Corrupt {
            what,
            height: head.height.0,
            source: CodecError::Malformed {
                what,
                reason: e.to_string(),
            },
        })?;
        Ok((head, rows))
    }

    /// Copy every table, as of one consistent snapshot, into a new store file at
    /// `out` (which must not exist), fsynced. Works on a running node's store (opened
    /// with [`Store::open_existing`]): the copy is the state after one committed block,
    /// never half of one. Written to `out` + `.partial` first and renamed, so `out`
    /// either holds a whole backup or does not exist.
    pub fn backup_to(&self, out: &Path) -> Result<Head, StoreError> {
        let o = out.display().to_string();
        let partial = out.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let src = tryd!(self, self.db.begin_read());
        let head = read_head(&src).map_err(|e| db_err(&self.path)(e))?;
        let head: Head = match head {
            Some(b) => codec::decode(&b, 1024, "head").map_err(|source| StoreError::Corrupt {
                what: "head",
                height: 0,
                source,
            })?,
            None => {
                return Err(StoreError::NoGenesis {
                    path: self.path.clone(),
                })
            }
        };
        let dst = builder().create(&partial).map_err(|e| open_error(&o, e))?;
        let oe = |e: redb::Error| db_err(&o)(e);
        let mut txn = dst.begin_write().map_err(|e| oe(e.into()))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| oe(e.into()))?;
        copy_table(&src, &txn, META).map_err(&oe)?;
        copy_table(&src, &txn, BLOCKS).map_err(&oe)?;
        copy_table(&src, &txn, CERTS).map_err(&oe)?;
        copy_table(&src, &txn, WRITESETS).map_err(&oe)?;
        copy_table(&src, &txn, RECEIPTS).map_err(&oe)?;
        copy_table(&src, &txn, TX_INDEX).map_err(&oe)?;
        copy_table(&src, &txn, STATE).map_err(&oe)?;
        copy_table(&src, &txn, INDEX).map_err(&oe)?;
        // Capture jobs still open are promises this node made (202): they go along, so
        // a node restored from the backup resubmits them or records why it cannot.
        match src.open_table(crate::jobs::JOBS) {
            Ok(_) => copy_table(&src, &txn, crate::jobs::JOBS).map_err(&oe)?,
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(oe(e.into())),
        }
        txn.commit().map_err(|e| oe(e.into()))?;
        drop(dst);
        std::fs::rename(&partial, out).map_err(|e| oe(redb::Error::Io(e)))?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| oe(redb::Error::Io(e)))?;
        }
        Ok(head)
    }
}

fn read_head(txn: &ReadTransaction) -> Result<Option<Vec<u8>>, redb::Error> {
    let t = txn.open_table(META)?;
    Ok(t.get(META_HEAD)?.map(|g| g.value().to_vec()))
}

/// Copy one table from a read snapshot into a write transaction.
fn copy_table<K, V>(
    src: &ReadTransaction,
    dst: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<(), redb::Error>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
    for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
{
    let from = src.open_table(def)?;
    let mut to = dst.open_table(def)?;
    for item in from.iter()? {
        let (k, v) = item?;
        to.insert(k.value(), v.value())?;
    }
    Ok(())
}

/// The length of the file at `path`, or `None` if there is none.
fn file_len(path: &Path, p: &str) -> Result<Option<u64>, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(db_err(p)(redb::Error::Io(e))),
    }
}

/// Key-value rows, in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A read-only snapshot of the state at one committed height.
pub struct StateSnapshot {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    index: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    _txn: ReadTransaction,
}

/// One table of a [`StateSnapshot`] read as state.
struct TableRead<'a>(&'a redb::ReadOnlyTable<&'static [u8], &'static [u8]>);

impl StateRead for TableRead<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        self.0
            .get(key)
            .map(|o| o.map(|g| g.value().to_vec()))
            .map_err(|e| StateReadError::Store(e.to_string()))
    }
}

impl waybill_state::StateScan for TableRead<'_> {
    fn scan_from(&self, prefix: &[u8], start: &[u8], max: usize) -> Result<Rows, StateReadError> {
        scan_table(self.0, prefix, start, max)
    }
}

/// Up to `max` rows of `table` with key prefix `prefix` and key `>= start`.
fn scan_table(
    table: &redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
    prefix: &[u8],
    start: &[u8],
    max: usize,
) -> Result<Rows, StateReadError> {
    let mut out = Vec::new();
    let range = table
        .range(start..)
        .map_err(|e| StateReadError::Store(e.to_string()))?;
    for item in range {
        let (k, v) = item.map_err(|e| StateReadError::Store(e.to_string()))?;
        if !k.value().starts_with(prefix) || out.len() >= max {
            break;
        }
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
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
    /// (for paging: pass the last key seen plus a zero byte). A derived prefix
    /// (`waybill_state::keys::is_derived`) is read from the derived index.
    pub fn scan_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        max: usize,
    ) -> Result<Rows, StateReadError> {
        self.with_view(|v| waybill_state::StateScan::scan_from(&v, prefix, start, max))
    }

    /// Read the hashed state and the derived index as one, routed by
    /// `waybill_state::index::ReadView`.
    fn with_view<R>(
        &self,
        read: impl FnOnce(ReadView<'_, TableRead<'_>, TableRead<'_>>) -> R,
    ) -> R {
        let (state, index) = (TableRead(&self.table), TableRead(&self.index));
        read(ReadView {
            state: &state,
            index: &index,
        })
    }
}

/// A snapshot reads as the hashed state and its derived index together: a derived
/// key is served from the derived index.
impl StateRead for StateSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        self.with_view(|v| v.get(key))
    }
}

impl waybill_state::StateScan for StateSnapshot {
    fn scan_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        max: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateReadError> {
        StateSnapshot::scan_from(self, prefix, start, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis() -> Genesis {
        serde_json::from_value(serde_json::json!({
            "chain_id": "format-test",
            "genesis_time_ms": 1_700_000_000_000u64,
            "organizations": [],
            "validators": []
        }))
        .expect("a genesis")
    }

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("waybill-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    /// A store written by the previous format version is refused, saying what it is,
    /// what this build reads and what to do; and it is not written.
    #[test]
    fn a_store_of_the_old_format_is_refused_with_what_to_do() {
        let dir = temp("old-format");
        let path = dir.join("waybill.redb");
        let g = genesis();
        drop(Store::open(&path, &g).expect("a new store"));
        {
            let db = builder().open(&path).expect("opens");
            let txn = db.begin_write().expect("txn");
            txn.open_table(META)
                .expect("meta")
                .insert(
                    META_VERSION,
                    (STORE_FORMAT_VERSION - 1).to_le_bytes().as_slice(),
                )
                .expect("insert");
            txn.commit().expect("commit");
        }
        let before = waybill_types::sha256(&std::fs::read(&path).expect("reads"));
        for err in [
            Store::open(&path, &g).expect_err("refused").to_string(),
            Store::open_existing(&path)
                .expect_err("refused")
                .to_string(),
        ] {
            assert!(
                err.contains(&format!("format version {}", STORE_FORMAT_VERSION - 1))
                    && err.contains(&format!("reads only version {STORE_FORMAT_VERSION}"))
                    && err.contains("waybill restore"),
                "{err}"
            );
        }
        assert_eq!(
            waybill_types::sha256(&std::fs::read(&path).expect("reads")),
            before,
            "not written"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_empty_file_is_refused_and_stays_empty() {
        let dir = temp("empty");
        let path = dir.join("waybill.redb");
        std::fs::write(&path, b"").expect("empty");
        let err = Store::open(&path, &genesis()).expect_err("refused");
        assert!(matches!(err, StoreError::Empty { .. }), "{err}");
        assert!(matches!(
            Store::open_existing(&path),
            Err(StoreError::Empty { .. })
        ));
        assert_eq!(std::fs::metadata(&path).expect("exists").len(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}
