//! The signing scheme Malachite's `Context` names: Ed25519 over Waybill's own key and
//! signature types, with their byte encodings. `context` (the `Context` impl) and
//! `signing` (what is signed, the guard, the verifier) both use it; it knows neither.

use malachitebft_app_channel::app::types::core::SigningScheme;
use waybill_types::{PublicKey, SecretKey, Signature};

/// Ed25519 over Waybill's key and signature types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaybillSigningScheme;

/// Bytes that are not a key or signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemeDecodeError {
    /// Wrong length.
    #[error("expected {expected} bytes, got {actual}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Actual length.
        actual: usize,
    },
    /// Not a curve point.
    #[error("not a valid Ed25519 public key")]
    InvalidKey,
}

impl SigningScheme for WaybillSigningScheme {
    type DecodingError = SchemeDecodeError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = SecretKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, SchemeDecodeError> {
        let arr: [u8; 64] = bytes.try_into().map_err(|_| SchemeDecodeError::Length {
            expected: 64,
            actual: bytes.len(),
        })?;
        Ok(Signature(arr))
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, SchemeDecodeError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SchemeDecodeError::Length {
            expected: 32,
            actual: bytes.len(),
        })?;
        let key = PublicKey(arr);
        key.verifying_key()
            .map_err(|_| SchemeDecodeError::InvalidKey)?;
        Ok(key)
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}
