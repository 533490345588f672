//! Payloads of the traceability domain: GS1 EPCIS 2.0 capture.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::PayloadError;
use crate::limits;

/// Capture a GS1 EPCIS 2.0 document (JSON/JSON-LD): all its events or none.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct CaptureEpcis {
    /// The document, as JSON text.
    pub document: String,
}

impl CaptureEpcis {
    /// Checks that need no state: the document's size (its content is validated
    /// when the block executes it).
    pub fn check(&self) -> Result<(), PayloadError> {
        if self.document.len() > limits::EPCIS_DOCUMENT_BYTES_MAX {
            return Err(PayloadError::Field {
                field: "document",
                reason: format!(
                    "is {} bytes, over the limit of {} for one EPCIS document; split it",
                    self.document.len(),
                    limits::EPCIS_DOCUMENT_BYTES_MAX
                ),
            });
        }
        Ok(())
    }
}
