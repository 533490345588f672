//! redb's integrity check (every page's checksum, the allocator state) on a store file
//! without writing to it.
//!
//! redb checks integrity only on a writable open, and the check commits. To check a
//! file that must stay as it is (`waybill verify`, `waybill restore`), the database is
//! opened over [`OverlayBackend`]: reads come from the file, writes land in memory and
//! are dropped with it; only reads and locks reach the file.

use std::collections::BTreeMap;
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use redb::backends::FileBackend;
use redb::{BackendError, Builder, StorageBackend};

use crate::error::{open_error, StoreError};

/// Overlay block size (redb's page size, so a page write touches one block).
const BLOCK_BYTES: u64 = 4096;
/// Most bytes the overlay holds. The check writes only the allocator state and a
/// header (a few pages per GiB of store); past this it gives up rather than grow.
const OVERLAY_BYTES_MAX: u64 = 256 << 20;

/// A storage backend that reads a file and keeps every write in memory.
#[derive(Debug)]
pub(crate) struct OverlayBackend {
    file: FileBackend,
    file_len: u64,
    state: Mutex<Overlay>,
}

#[derive(Debug)]
struct Overlay {
    /// Written blocks, by block index.
    blocks: BTreeMap<u64, Vec<u8>>,
    /// The storage length as redb set it.
    len: u64,
    /// Bytes of the file at or past this offset were cut by a `set_len` and read as zeros.
    zero_from: u64,
}

impl OverlayBackend {
    pub(crate) fn open(path: &Path) -> io::Result<OverlayBackend> {
        // Opened for writing only because POSIX byte-range write locks need it (so a
        // check refuses a file a node holds); this backend never writes through it:
        // `write`, `set_len` and `sync_data` stay in the overlay.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let file_len = file.metadata()?.len();
        Ok(OverlayBackend {
            file: FileBackend::new(file).map_err(|e| io::Error::other(e.to_string()))?,
            file_len,
            state: Mutex::new(Overlay {
                blocks: BTreeMap::new(),
                len: file_len,
                zero_from: file_len,
            }),
        })
    }

    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, Overlay>> {
        self.state
            .lock()
            .map_err(|_| io::Error::other("overlay lock poisoned"))
    }

    /// The block's current bytes: the overlay's copy, else the file's, else zeros.
    fn block(&self, st: &Overlay, idx: u64) -> io::Result<Vec<u8>> {
        if let Some(b) = st.blocks.get(&idx) {
            return Ok(b.clone());
        }
        let mut buf = vec![0u8; BLOCK_BYTES as usize];
        let start = idx * BLOCK_BYTES;
        let end = (start + BLOCK_BYTES).min(self.file_len).min(st.zero_from);
        if end > start {
            self.file.read(start, &mut buf[..(end - start) as usize])?;
        }
        Ok(buf)
    }
}

impl StorageBackend for OverlayBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.lock()?.len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.lock()?;
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&e| e <= st.len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        let mut pos = offset;
        while pos < end {
            let idx = pos / BLOCK_BYTES;
            let within = (pos % BLOCK_BYTES) as usize;
            let n = ((BLOCK_BYTES as usize) - within).min((end - pos) as usize);
            let dst = &mut out[(pos - offset) as usize..(pos - offset) as usize + n];
            if let Some(b) = st.blocks.get(&idx) {
                dst.copy_from_slice(&b[within..within + n]);
            } else {
                let b = self.block(&st, idx)?;
                dst.copy_from_slice(&b[within..within + n]);
            }
            pos += n as u64;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.lock()?;
        if len < st.len {
            let first_cut = len.div_ceil(BLOCK_BYTES);
            st.blocks.retain(|&i, _| i < first_cut);
            // Zero the tail of the block that now ends the storage.
            if !len.is_multiple_of(BLOCK_BYTES) {
                let idx = len / BLOCK_BYTES;
                let mut b = self.block(&st, idx)?;
                b[(len % BLOCK_BYTES) as usize..].fill(0);
                st.blocks.insert(idx, b);
            }
            st.zero_from = st.zero_from.min(len);
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock()?;
        let end = offset + data.len() as u64;
        if end > st.len {
            st.len = end;
        }
        let mut pos = offset;
        while pos < end {
            let idx = pos / BLOCK_BYTES;
            let within = (pos % BLOCK_BYTES) as usize;
            let n = ((BLOCK_BYTES as usize) - within).min((end - pos) as usize);
            let mut b = self.block(&st, idx)?;
            b[within..within + n]
                .copy_from_slice(&data[(pos - offset) as usize..(pos - offset) as usize + n]);
            st.blocks.insert(idx, b);
            pos += n as u64;
        }
        if st.blocks.len() as u64 * BLOCK_BYTES > OVERLAY_BYTES_MAX {
            return Err(io::Error::other(format!(
                "the integrity check wrote more than {OVERLAY_BYTES_MAX} bytes; giving up"
            )));
        }
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        self.file.close()
    }

    // Locks go to the file, so a check refuses a store a running node holds.
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}

/// Run redb's integrity check on the store file at `path` without writing to it:
/// every page of the committed trees must match its checksum. `Ok` if it does;
/// [`StoreError::Damaged`] naming what redb found if not; [`StoreError::InUse`] if a
/// node has the file open (stop it, or check a `waybill backup` of it instead).
pub fn check_file_integrity(path: &Path) -> Result<(), StoreError> {
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| StoreError::Damaged {
        path: p.clone(),
        reason: format!("cannot read the file: {e}"),
    })?;
    if meta.len() == 0 {
        return Err(StoreError::Empty { path: p });
    }
    drop(open_in_memory(path)?);
    Ok(())
}

/// Open the store at `path` with redb's integrity check (and, for a file not shut
/// down cleanly, its repair) over an [`OverlayBackend`]: every write stays in memory.
pub(crate) fn open_in_memory(path: &Path) -> Result<redb::Database, StoreError> {
    let p = path.display().to_string();
    let backend = OverlayBackend::open(path).map_err(|e| StoreError::Damaged {
        path: p.clone(),
        reason: format!("cannot open the file: {e}"),
    })?;
    let mut b = Builder::new();
    b.set_check_integrity_on_open(true);
    b.create_with_backend(backend)
        .map_err(|e| open_error(&p, e))
}

/// Load the allocator state (the free-space map redb records at a clean shutdown,
/// in the last pages of the file) the way a plain open does, without writing. The
/// integrity check rebuilds that state instead of reading it, so a damaged one passes
/// it; a node rebuilds it too, but a file whose map was altered is still a tampered
/// file. A damaged map makes redb fail here (or panic, in a debug build: callers that
/// must not crash catch that).
pub fn check_allocator_state(path: &Path) -> Result<(), StoreError> {
    let p = path.display().to_string();
    let db = Builder::new()
        .open_read_only(path)
        .map_err(|e| match open_error(&p, e) {
            // A file not shut down cleanly has no recorded map to check.
            StoreError::NeedsRecovery { .. } => None,
            other => Some(other),
        });
    match db {
        Ok(db) => {
            drop(db);
            Ok(())
        }
        Err(None) => Ok(()),
        Err(Some(e)) => Err(e),
    }
}
