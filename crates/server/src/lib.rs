//! A Waybill node serving its HTTP API, run from a node directory: the directory's
//! layout and files ([`home`]) and the node-plus-API lifecycle ([`serve`]). The
//! `waybill` binary (`node`, `demo`) and `waybill-bench` both start nodes through it,
//! so a benchmark measures the node the binary runs.

pub mod home;
pub mod operator;
pub mod serve;

pub use home::{Home, NodeFile, DEFAULT_DIR, DEFAULT_NODE};
pub use serve::{Listen, Served};
