//! GS1 EPCIS 2.0 and CBV 2.0 for Waybill: the JSON/JSON-LD document model, validation
//! as strict as the ratified EPCIS 2.0.1 JSON schema plus Waybill's own rules, EPC URI
//! canonicalisation, and the EPCIS Event Hash ID (CBV 2.0 §8.9).
//!
//! Pure functions of their input: the state machine uses this crate to check and index
//! captured events, so nothing here may depend on a clock, I/O or randomness.

pub mod cbv;
pub mod context;
pub mod epc;
pub mod hash_id;
pub mod model;
pub mod time;
pub mod validate;
