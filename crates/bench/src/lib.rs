//! `waybill-bench`: the workloads behind `waybill bench`. Each run starts fresh nodes
//! the way the binary does (`waybill_server::serve`), drives them over HTTP, and
//! reports medians over runs as text or one JSON object, with an in-process baseline
//! measured in the same run:
//!
//! * [`tx`] — committed signed transactions per second and commit latency, on one or
//!   several validators (`--workload tx`, the default);
//! * [`epcis`] — EPCIS capture throughput and lineage trace latency (`--workload epcis`);
//! * [`consumer`] — the consumer page and proof bundle of a 200-event product, served
//!   by the node and verified in headless Chromium (`--workload consumer`);
//! * [`seal`] — sealing and opening a field, per core, against signing a transaction
//!   (`--workload seal`).
//!
//! The command line (flags, defaults) stays in the binary; docs/BENCHMARKS.md has the
//! commands and the figures.

mod baseline;
pub mod consumer;
pub mod epcis;
mod measure;
mod orders;
pub mod seal;
pub mod tx;
mod workload;
