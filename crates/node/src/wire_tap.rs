//! A test hook on the wire's plaintext. With `WAYBILL_WIRE_TAP=FILE` in its
//! environment, a node appends to FILE the bytes of every consensus, sync and WAL
//! message it encodes or decodes (`consensus::codec`) and of every transaction it
//! gossips to a peer (`gossip`), each as a 4-byte big-endian length and the bytes.
//! On the network those messages are Noise- (consensus, sync) or TLS-encrypted
//! (gossip), so a test cannot read them there: the tap is where the canary scan of
//! docs/PRIVACY.md looks for sealed plaintext in what nodes tell each other.
//!
//! Not for production: it writes everything the node says and hears to a file. The
//! node logs a warning at start when it is set. Unset (the normal case), recording
//! costs one atomic load.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

/// The environment variable naming the tap file.
pub const WIRE_TAP_ENV: &str = "WAYBILL_WIRE_TAP";

static TAP: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();

fn tap() -> Option<&'static Mutex<std::fs::File>> {
    TAP.get_or_init(|| {
        let path = std::env::var_os(WIRE_TAP_ENV)?;
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                tracing::error!(path = %std::path::Path::new(&path).display(), error = %e, "cannot open the wire tap file; not tapping");
                None
            }
        }
    })
    .as_ref()
}

/// Is the tap on? (Opens the file on first use.)
pub fn enabled() -> bool {
    tap().is_some()
}

/// Log a warning if the tap is on (at node start).
pub fn warn_if_enabled() {
    if enabled() {
        tracing::warn!(
            "{WIRE_TAP_ENV} is set: this node writes the plaintext of every consensus, sync and gossip message to that file (a test hook; never in production)"
        );
    }
}

/// Append one message's plaintext bytes to the tap, if it is on.
pub fn record(bytes: &[u8]) {
    let Some(tap) = tap() else {
        return;
    };
    let Ok(len) = u32::try_from(bytes.len()) else {
        return;
    };
    // A poisoned lock only means another thread panicked mid-write; keep tapping.
    let mut f = tap
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = f
        .write_all(&len.to_be_bytes())
        .and_then(|()| f.write_all(bytes));
}
