//! The canonical binary encoding: borsh, decoded with a byte limit and required to
//! consume its whole input. Everything hashed or signed goes through here.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// Input longer than the limit for this kind of record.
    #[error("{what} is {bytes} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a valid encoding.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// A version this build does not know.
    #[error("{what} has version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        found: u8,
        /// The version supported.
        supported: u8,
    },
}

/// Encode with the canonical encoding.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh encoding into a Vec cannot fail")
}

/// Decode `bytes`, refusing more than `max_bytes` and any trailing bytes.
pub fn decode<T: BorshDeserialize>(
    bytes: &[u8],
    max_bytes: usize,
    what: &'static str,
) -> Result<T, CodecError> {
    if bytes.len() > max_bytes {
        return Err(CodecError::TooLarge {
            what,
            bytes: bytes.len(),
            max: max_bytes,
        });
    }
    borsh::from_slice(bytes).map_err(|e| CodecError::Malformed {
        what,
        reason: e.to_string(),
    })
}
