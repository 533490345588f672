//! The schemas of the OpenAPI document (`components.schemas`), generated from the
//! Rust types with `schemars` (JSON Schema 2020-12, OpenAPI 3.1's dialect) in their
//! serialize form: the domain records the handlers serialize (`Product`, `Lot`,
//! `Member`, `ProofBundle`, `Receipt`, `Payload`, …) derive their schema, and the
//! answers a handler assembles around them are described by the shape types here.
//! The api tests drive every operation and validate each body against the schema the
//! document declares for it (`tests/openapi_conformance.rs`), so a shape here cannot
//! drift from what a handler writes without a test failing.

// The shape types are only described, never built: a handler writes the same JSON.
#![allow(dead_code)]

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};
use waybill_epcis::model::IdRole;
use waybill_state::{audit, catalog, credentials, governance, identity, trace};
use waybill_types::block::{BlockHeader, CommitCertificate};
use waybill_types::payload::Payload;
use waybill_types::proof::ProofBundle;
use waybill_types::{DataCategory, Hash, Height, OrgId, PublicKey, Receipt, Signature};

/// A page of a list: the items and, while more remain, the cursor of the next page.
#[derive(JsonSchema)]
#[schemars(rename = "{T}Page")]
struct Page<T> {
    items: Vec<T>,
    /// Pass as `after` for the next page; null on the last page.
    next_after: Option<String>,
}

/// An account as `GET /v1/accounts` and `GET /v1/accounts/{id}` show it.
#[derive(JsonSchema)]
struct AccountView {
    id: waybill_types::money::AccountId,
    currency: waybill_types::money::Currency,
    /// The currency's minor-unit exponent (2: amounts are hundredths).
    exponent: u8,
    flags: waybill_types::payload::money::AccountFlags,
    debits_pending: waybill_types::money::Amount,
    debits_posted: waybill_types::money::Amount,
    credits_pending: waybill_types::money::Amount,
    credits_posted: waybill_types::money::Amount,
    balance: Balances,
    /// The height of the block that opened it.
    opened_at: Height,
}

/// An order as `GET /v1/orders` and `GET /v1/orders/{buyer}/{id}` show it.
#[derive(JsonSchema)]
struct OrderView {
    #[serde(flatten)]
    order: waybill_state::orders::Order,
    /// `urn:waybill:order:<buyer hex>:<id>`: how EPCIS events name it (a `po`).
    urn: String,
    /// The sealed delivery address, `{"wb:sealed": …}` (the record's `ship_to` text
    /// parsed), if one was given.
    #[schemars(with = "Option<serde_json::Value>")]
    ship_to: Option<serde_json::Value>,
}

/// Stock of a product at a location, as `GET /v1/inventory` shows it.
#[derive(JsonSchema)]
struct StockView {
    location: waybill_gs1::Gln,
    gtin: waybill_gs1::Gtin,
    /// Trade units on hand.
    on_hand: u64,
    /// Of them, reserved by placed orders.
    reserved: u64,
    /// on_hand − reserved.
    available: u64,
    /// 0: none.
    reorder_point: u64,
    below_reorder_point: bool,
}

/// `GET /v1/providers/{org}/references`: one booked payment.
#[derive(JsonSchema)]
struct BookedReference {
    /// The provider's reference.
    reference: String,
    transfer: waybill_state::money::TransferRecord,
}

/// Balances seen from the owner, signed decimal strings of minor units.
#[derive(JsonSchema)]
struct Balances {
    /// credits_posted − debits_posted.
    #[schemars(regex(pattern = r"^-?(0|[1-9][0-9]*)$"))]
    posted: String,
    /// posted + credits_pending − debits_pending.
    #[schemars(regex(pattern = r"^-?(0|[1-9][0-9]*)$"))]
    pending: String,
    /// posted − debits_pending: what may still be spent.
    #[schemars(regex(pattern = r"^-?(0|[1-9][0-9]*)$"))]
    available: String,
}

/// `GET /v1/orgs/{id}/seal-keys`.
#[derive(JsonSchema)]
struct SealKeys {
    org: OrgId,
    /// The current version; null if the organization has registered no key.
    current: Option<u32>,
    /// Every version, oldest first.
    keys: Vec<waybill_state::privacy::SealKey>,
}

/// `GET /v1/sealed`.
#[derive(JsonSchema)]
struct SealedFields {
    /// The record (the event's eventID).
    record: String,
    /// The event's Event Hash ID.
    hash_id: String,
    /// Its sealed fields (or the one asked for).
    fields: Vec<SealedFieldAfterCapture>,
}

/// One sealed field after capture.
#[derive(JsonSchema)]
struct SealedFieldAfterCapture {
    /// Its JSON pointer inside the record.
    field: String,
    category: DataCategory,
    /// The organizations (and key versions) it was sealed for at capture.
    recipients: Vec<SealedRecipient>,
    /// A complaint waits for a new wrap.
    flagged: bool,
    /// Wraps added since capture.
    added_wraps: Vec<waybill_state::trace::wraps::AddedWrap>,
    /// Complaints of wraps that do not open (settled ones too).
    complaints: Vec<waybill_state::trace::wraps::WrapComplaint>,
}

/// A recipient at capture.
#[derive(JsonSchema)]
struct SealedRecipient {
    org: OrgId,
    kv: u32,
}

/// `GET /v1/status`.
#[derive(JsonSchema)]
struct Status {
    chain_id: String,
    genesis_hash: Hash,
    height: Height,
    latest_block_hash: Hash,
    latest_block_time_ms: u64,
    state_hash: Hash,
    mempool_txs: u64,
    txs_committed_since_start: u64,
    peers: u64,
    /// The last block is at most 30 s old.
    in_sync: bool,
    /// The validator set for the next height.
    validators: Vec<governance::ValidatorRecord>,
    /// Why the node stopped trusting its store, if it did.
    tamper_alert: Option<String>,
    gossip_dropped_txs: u64,
    version: String,
}

/// A block in the list of blocks.
#[derive(JsonSchema)]
struct BlockSummary {
    height: u64,
    hash: Hash,
    time_ms: u64,
    n_txs: u32,
    proposer: PublicKey,
}

/// An EPCIS capture's document replaced by a note, for a reader who may not read it.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct RedactedPayload {
    /// `capture_epcis`.
    #[serde(rename = "type")]
    kind: CaptureEpcisTag,
    redacted: bool,
    /// The length of the document withheld.
    document_bytes: u64,
    reason: String,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum CaptureEpcisTag {
    CaptureEpcis,
}

/// A transaction's payload as a reader sees it.
#[derive(JsonSchema)]
#[serde(untagged)]
enum PayloadView {
    Payload(Payload),
    Redacted(RedactedPayload),
}

/// A transaction in a block, decoded, with its receipt and canonical bytes.
#[derive(JsonSchema)]
struct BlockTx {
    id: Hash,
    signer: PublicKey,
    nonce: u64,
    expires_at_ms: u64,
    chain_id: String,
    payload: PayloadView,
    signature: Signature,
    receipt: Option<Receipt>,
    /// The canonical signed transaction; absent when the payload is redacted.
    #[serde(skip_serializing_if = "String::is_empty")]
    bytes_base64: String,
}

/// `GET /v1/txs/{id}` for a committed transaction.
#[derive(JsonSchema)]
struct TxView {
    #[serde(flatten)]
    tx: BlockTx,
    height: Height,
    index: u32,
    block_hash: Hash,
}

/// `GET /v1/txs/{id}` for a transaction still in the mempool.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct PendingTx {
    tx_id: Hash,
    status: PendingTag,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum PendingTag {
    Pending,
}

/// `GET /v1/txs/{id}`: committed, or waiting.
#[derive(JsonSchema)]
#[serde(untagged)]
enum TxLookup {
    Committed(TxView),
    Pending(PendingTx),
}

/// `GET /v1/blocks/{height}`.
#[derive(JsonSchema)]
struct BlockView {
    height: u64,
    hash: Hash,
    header: BlockHeader,
    /// The commit certificate (none for a block this node has not certified yet).
    certificate: Option<CommitCertificate>,
    txs: Vec<BlockTx>,
    /// The canonical block; absent when a transaction's payload is redacted.
    #[serde(skip_serializing_if = "String::is_empty")]
    bytes_base64: String,
}

/// A validator set and the height it took effect.
#[derive(JsonSchema)]
struct ValidatorSetFrom {
    from_height: u64,
    validators: Vec<governance::ValidatorRecord>,
}

/// `GET /v1/validators`.
#[derive(JsonSchema)]
struct Validators {
    next_height: Height,
    in_force: Vec<governance::ValidatorRecord>,
    history: Vec<ValidatorSetFrom>,
}

/// `GET /v1/screening-rules`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct ScreeningRules {
    in_force: waybill_state::screening::RuleSet,
    history: Vec<waybill_state::screening::RuleSet>,
}

/// `GET /v1/sealed/private`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct PrivatePartAnswer {
    record: String,
    field: String,
    /// The SHA-256 its record names.
    private: Hash,
    part: waybill_types::seal::PrivatePart,
}

/// `PUT /v1/sealed/private`: kept.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct PrivatePartKept {
    record: String,
    field: String,
    /// The SHA-256 its record names.
    private: Hash,
    /// The recipient organizations this node keeps it for.
    kept_for: Vec<OrgId>,
}

/// A submission accepted into the mempool.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct SubmitAccepted {
    tx_id: Hash,
    status: AcceptedTag,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum AcceptedTag {
    Accepted,
}

/// Why a committed transaction was rejected.
#[derive(JsonSchema)]
struct RejectReason {
    code: crate::schemas::RejectCodeRef,
    message: String,
}

/// A reference to the generated `RejectCode` schema (filled in by
/// [`crate::openapi_document`]).
struct RejectCodeRef;

impl JsonSchema for RejectCodeRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RejectCode".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// The outcome of a submission that waited (`wait=true`).
#[derive(JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
enum SubmitOutcome {
    /// Committed and applied.
    Applied {
        tx_id: Hash,
        height: Height,
        index: u32,
    },
    /// Committed, but the state machine refused it.
    Rejected {
        tx_id: Hash,
        height: Height,
        index: u32,
        reason: RejectReason,
    },
    /// Left the mempool without being committed (expired, or replaced).
    Dropped { tx_id: Hash, reason: String },
    /// Not committed within the wait; ask `GET /v1/txs/{id}` later.
    Pending { tx_id: Hash, message: String },
}

/// `POST /v1/tx/dry-run`: what the transaction would do as the next block's only one.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct TxDryRun {
    tx_id: Hash,
    /// The height it was tried at.
    height: Height,
    status: DryRunStatus,
    /// Why the state machine would refuse it (`status` = `rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<RejectReason>,
    /// The open-tier records it would publish (the schema of each:
    /// `OpenRecord`, docs/PROOFS.md), with their `prev` links.
    publishes: Vec<serde_json::Value>,
    /// The fields it would seal: record, field pointer, commitment.
    seals: Vec<DryRunSeal>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum DryRunStatus {
    Applied,
    Rejected,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct DryRunSeal {
    record: String,
    field: String,
    commitment: Hash,
}

/// A refused transaction of a batch.
#[derive(JsonSchema)]
struct SubmitRefusal {
    error: SubmitRefusalError,
}

#[derive(JsonSchema)]
struct SubmitRefusalError {
    /// The refusal's stable code (e.g. `bad_signature`, `duplicate`, `busy`).
    code: String,
    message: String,
}

/// One result of a batch: accepted, an outcome (`wait=true`), or refused.
#[derive(JsonSchema)]
#[serde(untagged)]
enum SubmitBatchResult {
    Accepted(SubmitAccepted),
    Outcome(SubmitOutcome),
    Refused(SubmitRefusal),
}

/// `POST /v1/txs`: one result per transaction, in order.
#[derive(JsonSchema)]
struct SubmitBatch {
    results: Vec<SubmitBatchResult>,
}

/// `POST /epcis/capture` without `wait`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct CaptureAccepted {
    #[serde(rename = "captureID")]
    capture_id: Hash,
    /// Where the capture job is read.
    location: String,
    /// Events in the document.
    events: u64,
    /// RFC 3339 time the node accepted it.
    #[serde(rename = "createdAt")]
    created_at: String,
}

/// A capture job's error (EPCIS 2.0 REST binding).
#[derive(JsonSchema)]
struct CaptureError {
    /// The rejection or refusal code.
    #[serde(rename = "type")]
    kind: String,
    /// JSON pointer of the refused event, when one is named.
    #[serde(skip_serializing_if = "String::is_empty")]
    pointer: String,
    detail: String,
}

/// The capture job of `GET /epcis/capture/{id}` (and `POST /epcis/capture?wait=true`).
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
struct CaptureJob {
    #[serde(rename = "captureID")]
    capture_id: Hash,
    /// Always `rollback`: a capture is applied whole or not at all.
    capture_error_behaviour: String,
    /// RFC 3339: when this node accepted it; for a capture submitted as a plain
    /// transaction, its block's time (null if that block is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    running: bool,
    /// RFC 3339; null when the block is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    /// The block that holds it, once committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<Height>,
    success: bool,
    errors: Vec<CaptureError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events_captured: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicates_skipped: Option<u64>,
    /// The events stored (and those skipped as duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<Vec<trace::CapturedEvent>>,
}

/// An identifier with its type (`[{"type", "id"}]`).
#[derive(JsonSchema)]
struct TypedId {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

/// An identifier of an event with its role.
#[derive(JsonSchema)]
struct RoleId {
    role: IdRole,
    id: String,
}

/// An event of a lineage answer.
#[derive(JsonSchema)]
struct LineageEvent {
    seq: u64,
    /// Event Hash ID (`ni:///sha-256;…`).
    hash_id: String,
    event_id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    action: Option<String>,
    event_time: String,
    biz_step: Option<String>,
    disposition: Option<String>,
    read_point: Option<String>,
    biz_location: Option<String>,
    ids: Vec<RoleId>,
    biz_transactions: Vec<TypedId>,
    sources: Vec<TypedId>,
    destinations: Vec<TypedId>,
    org: OrgId,
    category: DataCategory,
    tx_id: Hash,
    height: Height,
}

/// The recall list of a forward lineage.
#[derive(JsonSchema)]
struct Recall {
    items: Vec<String>,
    lots: Vec<String>,
    containers: Vec<String>,
    business_transactions: Vec<TypedId>,
    destinations: Vec<TypedId>,
    locations: Vec<String>,
}

/// `GET /v1/trace/{id}`.
#[derive(JsonSchema)]
struct Lineage {
    id: String,
    direction: trace::lineage::Direction,
    nodes: Vec<trace::lineage::TraceNode>,
    events: Vec<LineageEvent>,
    lots: Vec<catalog::Lot>,
    /// Events the reader may not see.
    hidden_events: u64,
    /// Events withdrawn by an error declaration.
    corrected_events: u64,
    /// The walk stopped at its limit.
    truncated: bool,
    /// Forward answers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    recall: Option<Recall>,
}

/// An audit entry with its time in RFC 3339.
#[derive(JsonSchema)]
struct AuditItem {
    #[serde(flatten)]
    entry: audit::AuditEntry,
    time: String,
}

/// `GET /v1/audit`.
#[derive(JsonSchema)]
struct AuditPage {
    /// What the trail is of (`product 0…`, `member …`, `org …`).
    subject: String,
    items: Vec<AuditItem>,
    next_after: Option<String>,
}

/// A qualification with its status today.
#[derive(JsonSchema)]
struct QualificationItem {
    #[serde(flatten)]
    qualification: credentials::Qualification,
    status: QualificationStatus,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
enum QualificationStatus {
    Valid,
    Expired,
    NotYetValid,
    Revoked,
}

/// `GET /v1/orgs/{id}/qualifications`.
#[derive(JsonSchema)]
struct QualificationPage {
    org: OrgId,
    /// Today, `YYYY-MM-DD`: the date the statuses are for.
    date: String,
    items: Vec<QualificationItem>,
    next_after: Option<String>,
}

/// The schemas declared by hand: documents whose form a standard sets (EPCIS 2.0,
/// RFC 9264 linksets, OpenAPI) rather than a Rust type.
fn declared() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("EpcisDocument".into(), json!({
        "type": "object",
        "description": "An EPCIS 2.0 EPCISDocument (JSON or JSON-LD). The node checks it against the EPCIS 2.0.1 JSON schema's rules and stricter ones of its own (a 400 `invalid_epcis` names every problem by JSON pointer); the full standard schema is the GS1 EPCIS 2.0 JSON schema.",
        "required": ["type", "epcisBody"],
        "properties": {
            "@context": {},
            "type": { "const": "EPCISDocument" },
            "schemaVersion": { "type": "string" },
            "creationDate": { "type": "string" },
            "epcisBody": {
                "type": "object",
                "required": ["eventList"],
                "properties": { "eventList": { "type": "array", "items": { "$ref": "#/components/schemas/EpcisEvent" } } }
            }
        }
    }));
    m.insert("EpcisEvent".into(), json!({
        "type": "object",
        "description": "An EPCIS 2.0 event as captured (numbers exactly as written), with recordTime and, when it had none, its Event Hash ID as eventID",
        "required": ["type", "eventTime", "eventTimeZoneOffset"],
        "properties": {
            "type": { "enum": ["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"] },
            "eventID": { "type": "string" },
            "eventTime": { "type": "string" },
            "recordTime": { "type": "string" },
            "eventTimeZoneOffset": { "type": "string" }
        }
    }));
    m.insert("EpcisQueryDocument".into(), epcis_query_document());
    declare_links_and_openapi(&mut m);
    m
}

/// The EPCIS 2.0 query document the events endpoints answer with.
fn epcis_query_document() -> Value {
    json!({
        "type": "object",
        "description": "An EPCIS 2.0 EPCISQueryDocument holding the events the reader may read",
        "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
        "properties": {
            "@context": { "type": "array" },
            "type": { "const": "EPCISQueryDocument" },
            "schemaVersion": { "const": "2.0" },
            "creationDate": { "type": "string" },
            "epcisBody": {
                "type": "object",
                "required": ["queryResults"],
                "properties": { "queryResults": {
                    "type": "object",
                    "required": ["queryName", "resultsBody"],
                    "properties": {
                        "queryName": { "const": "SimpleEventQuery" },
                        "resultsBody": {
                            "type": "object",
                            "required": ["eventList"],
                            "properties": { "eventList": { "type": "array", "items": { "$ref": "#/components/schemas/EpcisEvent" } } }
                        }
                    }
                } }
            }
        }
    })
}

/// RFC 9264 linksets and the OpenAPI document itself.
fn declare_links_and_openapi(m: &mut Map<String, Value>) {
    m.insert("Linkset".into(), json!({
        "type": "object",
        "description": "An RFC 9264 linkset (GS1 resolver profile): one context object whose members other than `anchor` are GS1 link types, each with its links",
        "required": ["linkset"],
        "properties": { "linkset": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["anchor"],
                "properties": { "anchor": { "type": "string" } },
                "additionalProperties": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["href", "title", "type"],
                        "properties": {
                            "href": { "type": "string" },
                            "title": { "type": "string" },
                            "type": { "type": "string" }
                        }
                    }
                }
            }
        } }
    }));
    m.insert("OpenApiDocument".into(), json!({
        "type": "object",
        "description": "An OpenAPI 3.1 document",
        "required": ["openapi", "info", "paths", "components"],
        "properties": { "openapi": { "const": "3.1.0" }, "info": { "type": "object" }, "paths": { "type": "object" }, "components": { "type": "object" } }
    }));
}

/// Every schema of `components.schemas` generated from a Rust type, with the
/// declared ones, keyed by name; `$ref`s point at `#/components/schemas/`.
pub(crate) fn components() -> Map<String, Value> {
    let settings = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| s.definitions_path = "/components/schemas/".into());
    let mut gen = SchemaGenerator::new(settings);
    gen.subschema_for::<Status>();
    gen.subschema_for::<TxLookup>();
    gen.subschema_for::<BlockView>();
    gen.subschema_for::<Page<BlockSummary>>();
    gen.subschema_for::<Page<identity::Organization>>();
    gen.subschema_for::<identity::Organization>();
    gen.subschema_for::<Page<identity::Member>>();
    gen.subschema_for::<identity::Member>();
    gen.subschema_for::<SealKeys>();
    gen.subschema_for::<Page<AccountView>>();
    gen.subschema_for::<AccountView>();
    gen.subschema_for::<waybill_state::money::TransferRecord>();
    gen.subschema_for::<Page<BookedReference>>();
    gen.subschema_for::<Page<OrderView>>();
    gen.subschema_for::<OrderView>();
    gen.subschema_for::<Page<waybill_state::orders::Listing>>();
    gen.subschema_for::<Page<waybill_state::stock_events::TradeUnit>>();
    gen.subschema_for::<Page<StockView>>();
    gen.subschema_for::<Page<waybill_state::inventory::Alert>>();
    gen.subschema_for::<waybill_state::fx::FxRate>();
    gen.subschema_for::<SealedFields>();
    gen.subschema_for::<waybill_types::disclosure::CommitmentProof>();
    gen.subschema_for::<Page<catalog::Product>>();
    gen.subschema_for::<catalog::Product>();
    gen.subschema_for::<Page<catalog::Lot>>();
    gen.subschema_for::<catalog::Lot>();
    gen.subschema_for::<Page<catalog::Location>>();
    gen.subschema_for::<catalog::Location>();
    gen.subschema_for::<Validators>();
    gen.subschema_for::<ScreeningRules>();
    gen.subschema_for::<PrivatePartAnswer>();
    gen.subschema_for::<PrivatePartKept>();
    gen.subschema_for::<waybill_types::seal::PrivatePart>();
    gen.subschema_for::<Page<governance::Proposal>>();
    gen.subschema_for::<governance::Proposal>();
    gen.subschema_for::<SubmitAccepted>();
    gen.subschema_for::<SubmitOutcome>();
    gen.subschema_for::<TxDryRun>();
    gen.subschema_for::<SubmitBatch>();
    gen.subschema_for::<CaptureAccepted>();
    gen.subschema_for::<CaptureJob>();
    gen.subschema_for::<Lineage>();
    gen.subschema_for::<AuditPage>();
    gen.subschema_for::<QualificationPage>();
    gen.subschema_for::<ProofBundle>();
    let mut out = gen.take_definitions(true);
    // Filled in from `RejectCode::ALL` by `openapi_document`.
    out.remove("RejectCode");
    out.extend(declared());
    out
}
