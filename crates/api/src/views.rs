//! JSON views of chain records.

use base64::Engine as _;
use serde_json::{json, Value};
use waybill_types::{Receipt, SignedTx};

/// A transaction with its receipt, decoded, plus its canonical bytes.
pub fn tx(stx: &SignedTx, receipt: Option<&Receipt>) -> Value {
    let bytes = stx.encode();
    json!({
        "id": SignedTx::id_of(&bytes),
        "signer": stx.tx.signer,
        "nonce": stx.tx.nonce,
        "expires_at_ms": stx.tx.expires_at_ms,
        "chain_id": stx.tx.chain_id,
        "payload": stx.tx.payload,
        "signature": stx.signature,
        "receipt": receipt,
        "bytes_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}
