//! GS1 standards as pure functions: identification keys (GTIN, GLN, SSCC) and their
//! mod-10 check digits, the Application Identifier table and its rules ([`ai`]), and
//! GS1 Digital Link URIs ([`digital_link`]) and the QR codes that carry them ([`qr`]).
//!
//! It knows nothing of Waybill: no transactions, no state, no EPCIS, no I/O. Keys
//! serialize as their digit strings (serde at the API edge, borsh where they are hashed).

pub mod ai;
pub mod digital_link;
mod ident;
mod percent;
pub mod qr;

pub use ident::{
    check_digit, verify_check_digit, with_check_digit, Gln, Gs1Error, Gs1Kind, Gtin, Sscc,
};
