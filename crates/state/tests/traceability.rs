//! Traceability through real transactions: the authority matrix per data category,
//! locations and their delegation, qualifications and category requirements, EPCIS
//! capture (atomicity, duplicates, error declarations, extensions, limits), the
//! lineage walk, the audit trail and determinism.
//!
//! The fixture is a small consortium modelled on the demo journey (same company
//! prefixes and locations, so the demo's EPCIS documents can be captured as they are),
//! plus an organization that may grant every role, for the role-by-role matrix.

mod common;
use common::Faulty;

use waybill_types::payload::{
    CaptureEpcis, GrantRead, RecordQualification, RegisterLocation, RegisterLot, RegisterMember,
    RegisterProduct, RequireQualification, RevokeQualification, SetLocationDelegate,
};

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use waybill_gs1::{with_check_digit, Gln, Gtin};
use waybill_state::access::{may_read, may_write, member_may_read, DataCategory};
use waybill_state::audit::{subject, AuditEntry};
use waybill_state::catalog::{load_location, load_lot};
use waybill_state::credentials::load_qualification;
use waybill_state::identity::{load_member, Member};
use waybill_state::trace::lineage::{self, Direction, Lineage};
use waybill_state::trace::{self, EventRecord};
use waybill_state::{
    apply_genesis, genesis_state_hash, keys, next_state_hash, BlockContext, Execution, TxInvalid,
    WriteSet,
};
use waybill_types::tx::TX_VERSION;
use waybill_types::{
    limits, Genesis, GenesisOrganization, GenesisValidator, Hash, Height, LotRef, OrgId, Payload,
    Receipt, Role, SecretKey, SignedTx, Transaction, TxId, TxStatus,
};

// ---------------------------------------------------------------------------
// Fixture.
// ---------------------------------------------------------------------------

const CHAIN: &str = "waybill-trace-test";
/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const DAY_MS: u64 = 86_400_000;
/// 2026-11-20T00:00:00Z: a block time after every event of the demo documents (event
/// times may lie at most a day past the block time).
const AFTER_DEMO_MS: u64 = T0 + 323 * DAY_MS;

type State = BTreeMap<Vec<u8>, Vec<u8>>;

const ORCHARD: &str = "pujiang-orchard";
const PACKING: &str = "chengdu-packing";
const COLDCHAIN: &str = "coldchain-express";
const SHOPMART: &str = "shopmart";
const CUSTOMS: &str = "chengdu-customs";
const REGULATOR: &str = "sichuan-regulator";
const CONSUMERS: &str = "consumer-panel";
const EVERY: &str = "every-role";

/// (id, roles, company prefixes).
const ORGS: &[(&str, &[Role], &[&str])] = &[
    (ORCHARD, &[Role::Producer], &["6901234"]),
    (PACKING, &[Role::Processor, Role::Warehouse], &["6905678"]),
    (COLDCHAIN, &[Role::Carrier, Role::Warehouse], &["6907001"]),
    (SHOPMART, &[Role::Platform, Role::Financier], &["6908001"]),
    (CUSTOMS, &[Role::Customs, Role::Inspector], &["6909001"]),
    (REGULATOR, &[Role::Regulator, Role::Inspector], &["6909901"]),
    (CONSUMERS, &[Role::Consumer], &[]),
    // Also the prefix of the GS1 example location in the conformance documents.
    (EVERY, &Role::ALL, &["6905555", "0012345"]),
];

/// (key label, org, roles) of the members registered at height 1.
const MEMBERS: &[(&str, &str, &[Role])] = &[
    ("grower", ORCHARD, &[Role::Producer]),
    ("packer", PACKING, &[Role::Processor]),
    ("storekeeper", PACKING, &[Role::Warehouse]),
    ("driver", COLDCHAIN, &[Role::Carrier]),
    ("coldstore", COLDCHAIN, &[Role::Warehouse]),
    ("seller", SHOPMART, &[Role::Platform]),
    ("banker", SHOPMART, &[Role::Financier]),
    ("officer", CUSTOMS, &[Role::Customs]),
    ("qc", CUSTOMS, &[Role::Inspector]),
    ("auditor", REGULATOR, &[Role::Regulator]),
    ("field-inspector", REGULATOR, &[Role::Inspector]),
    ("shopper", CONSUMERS, &[Role::Consumer]),
];

fn key(label: &str) -> SecretKey {
    SecretKey::from_label(&format!("trace-{label}"))
}

fn admin(org_id: &str) -> SecretKey {
    key(&format!("{org_id}-admin"))
}

/// The member of [`EVERY`] that holds only `role`.
fn only(role: Role) -> SecretKey {
    key(&format!("only-{}", role.name()))
}

fn org(id: &str) -> OrgId {
    OrgId::new(id).expect("test org id is valid")
}

fn gtin(data13: &str) -> Gtin {
    with_check_digit(data13)
        .expect("digits")
        .parse()
        .expect("valid GTIN")
}

fn gln(data12: &str) -> Gln {
    with_check_digit(data12)
        .expect("digits")
        .parse()
        .expect("valid GLN")
}

/// Bulk oranges, by the kg (orchard).
fn bulk() -> Gtin {
    gtin("0690123400001")
}
/// Orange cartons, serialised (orchard's brand, packed by the packing house).
fn carton() -> Gtin {
    gtin("0690123400002")
}
/// Compost, a raw material of the orchard's lots.
fn compost() -> Gtin {
    gtin("0690123400003")
}
/// Juice (packing house).
fn juice() -> Gtin {
    gtin("0690567800001")
}

/// The orchard (demo: `urn:epc:id:sgln:6901234.00001.0`).
fn farm() -> Gln {
    gln("690123400001")
}
/// The packing plant (demo: `urn:epc:id:sgln:6905678.00001.0`).
fn plant() -> Gln {
    gln("690567800001")
}
/// The packing house's distribution centre.
fn dc() -> Gln {
    gln("690567800002")
}
/// The carrier's cold store.
fn hub() -> Gln {
    gln("690700100012")
}
/// Under the orchard's prefix, never registered.
fn unregistered() -> Gln {
    gln("690123400009")
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: T0,
        organizations: ORGS
            .iter()
            .map(|(id, roles, prefixes)| GenesisOrganization {
                id: org(id),
                name: format!("{id} (test)"),
                admin: admin(id).public(),
                roles: roles.to_vec(),
                company_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            })
            .collect(),
        validators: vec![GenesisValidator {
            org: org(REGULATOR),
            public_key: key("validator").public(),
            voting_power: 1,
        }],
    }
}

fn location(g: &Gln, name: &str) -> Payload {
    Payload::RegisterLocation(RegisterLocation {
        gln: g.clone(),
        name: name.into(),
        kind: "site".into(),
        address: "1 Test Road, Chengdu".into(),
        country: "CN".into(),
        latitude: Some("30.6829".into()),
        longitude: Some("103.8552".into()),
    })
}

fn product(g: &Gtin, category: &str) -> Payload {
    Payload::RegisterProduct(RegisterProduct {
        gtin: g.clone(),
        name: "Navel oranges".into(),
        brand: "Pujiang Gold".into(),
        category: category.into(),
        origin_country: "CN".into(),
    })
}

fn lot(g: &Gtin, lot: &str, claims: &[&str], raw: &[(Gtin, &str)]) -> Payload {
    Payload::RegisterLot(RegisterLot {
        gtin: g.clone(),
        lot: lot.into(),
        origin_gln: Some(farm()),
        produced_on: "2025-12-30".into(),
        quantity: 500,
        unit: "kg".into(),
        inputs: vec![],
        raw_materials: raw
            .iter()
            .map(|(g, l)| LotRef {
                gtin: g.clone(),
                lot: l.to_string(),
            })
            .collect(),
        claims: claims.iter().map(|c| c.to_string()).collect(),
    })
}

fn qualification(o: &str, kind: &str, number: &str, from: &str, to: &str) -> Payload {
    Payload::RecordQualification(RecordQualification {
        org: org(o),
        kind: kind.into(),
        issuer: "China Organic Certification Center".into(),
        number: number.into(),
        scope: "navel oranges, 120 ha".into(),
        valid_from: from.into(),
        valid_to: to.into(),
    })
}

fn capture(document: &str) -> Payload {
    Payload::CaptureEpcis(CaptureEpcis {
        document: document.to_string(),
    })
}

// ---------------------------------------------------------------------------
// EPCIS documents.
// ---------------------------------------------------------------------------

const ACME: &str = "https://acme.example/epcis/";

fn doc_value(events: Vec<Value>) -> Value {
    json!({
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            { "acme": ACME }
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": { "eventList": events }
    })
}

fn doc(events: Vec<Value>) -> String {
    doc_value(events).to_string()
}

/// 2026-01-01 at `minute` minutes past midnight (UTC), plus `extra` days.
fn at(day: u32, minute: u32) -> String {
    format!(
        "2026-01-{:02}T{:02}:{:02}:00Z",
        1 + day,
        minute / 60,
        minute % 60
    )
}

/// An event of `ty` at `time` with `fields` merged in.
fn event(ty: &str, time: &str, fields: Value) -> Value {
    let mut e = json!({ "type": ty, "eventTime": time, "eventTimeZoneOffset": "+00:00" });
    let m = e.as_object_mut().expect("object");
    for (k, v) in fields.as_object().expect("fields are an object") {
        m.insert(k.clone(), v.clone());
    }
    e
}

/// An ObjectEvent naming `epcs`, with `biz_step` (if any) at `loc` (if any).
fn object(
    time: &str,
    action: &str,
    biz_step: Option<&str>,
    epcs: &[String],
    loc: Option<&Gln>,
) -> Value {
    let mut f = json!({ "action": action, "epcList": epcs });
    if let Some(b) = biz_step {
        f["bizStep"] = json!(b);
    }
    if let Some(l) = loc {
        f["bizLocation"] = json!({ "id": loc_id(l) });
    }
    event("ObjectEvent", time, f)
}

fn sgtin(g: &Gtin, serial: &str) -> String {
    format!("https://id.gs1.org/01/{g}/21/{serial}")
}

fn lgtin(g: &Gtin, lot: &str) -> String {
    format!("https://id.gs1.org/01/{g}/10/{lot}")
}

/// An SSCC under the packing house's prefix.
fn sscc(serial_ref: u32) -> String {
    let s = with_check_digit(&format!("06905678{serial_ref:09}")).expect("digits");
    format!("https://id.gs1.org/00/{s}")
}

fn loc_id(g: &Gln) -> String {
    format!("https://id.gs1.org/414/{g}")
}

fn demo(path: &str) -> String {
    let p = format!("{}/../waybill/demo/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {p}: {e}"))
}

// ---------------------------------------------------------------------------
// Model chain.
// ---------------------------------------------------------------------------

fn apply_writes(state: &mut State, writes: &WriteSet) {
    for (k, v) in writes {
        match v {
            Some(v) => {
                state.insert(k.clone(), v.clone());
            }
            None => {
                state.remove(k);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BlockRun {
    height: u64,
    results: Vec<Result<Receipt, TxInvalid>>,
    writes: WriteSet,
    /// The derived index rows (audit trail, open-tier identifier index).
    index: waybill_state::index::Index,
    receipts: Vec<Receipt>,
    /// The transactions that are in the block (those with a receipt).
    txs: Vec<SignedTx>,
}

impl BlockRun {
    fn only(&self) -> &Receipt {
        assert_eq!(self.results.len(), 1, "one transaction was offered");
        self.results[0]
            .as_ref()
            .expect("the transaction belongs in a block")
    }
    fn tx_id(&self) -> TxId {
        self.only().tx_id
    }
}

fn run_block(state: &State, ctx: BlockContext, txs: &[SignedTx]) -> BlockRun {
    let height = ctx.height.0;
    let mut ex = Execution::begin(state, ctx).expect("the in-memory state reads");
    let results: Vec<Result<Receipt, TxInvalid>> =
        txs.iter().map(|t| ex.apply(t, t.id()).cloned()).collect();
    let out = ex.finish().expect("the in-memory state reads");
    let in_block = txs
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(t, _)| t.clone())
        .collect();
    BlockRun {
        height,
        results,
        writes: out.writes,
        index: out.index,
        receipts: out.receipts,
        txs: in_block,
    }
}

#[derive(Clone)]
struct Chain {
    state: State,
    height: u64,
    /// The time of the last block.
    time_ms: u64,
    state_hash: Hash,
    /// The derived index rows of every block.
    index: State,
    /// Every block's time, transactions and receipts (what the audit trail reads).
    blocks: BTreeMap<u64, (u64, Vec<SignedTx>, Vec<Receipt>)>,
    /// The next transaction nonce: each chain numbers its own, so that two chains
    /// built the same way sign the same transactions.
    next_nonce: std::cell::Cell<u64>,
}

impl Chain {
    /// Genesis, then the members (height 1) and the locations (height 2).
    fn new() -> Chain {
        let g = genesis();
        g.check().expect("the test genesis is valid");
        let writes = apply_genesis(&g);
        let mut state = State::new();
        apply_writes(&mut state, &writes);
        let mut c = Chain {
            state,
            height: 0,
            time_ms: T0,
            state_hash: genesis_state_hash(&g, &writes),
            index: State::new(),
            blocks: BTreeMap::new(),
            next_nonce: std::cell::Cell::new(1),
        };
        let mut regs: Vec<(SecretKey, Payload)> = MEMBERS
            .iter()
            .map(|(label, o, roles)| {
                (
                    admin(o),
                    Payload::RegisterMember(RegisterMember {
                        member: key(label).public(),
                        name: format!("{label} of {o}"),
                        roles: roles.to_vec(),
                    }),
                )
            })
            .collect();
        for r in Role::ALL {
            regs.push((
                admin(EVERY),
                Payload::RegisterMember(RegisterMember {
                    member: only(r).public(),
                    name: format!("{} only", r.name()),
                    roles: vec![r],
                }),
            ));
        }
        c.commit_all(&regs);
        c.commit_all(&[
            (key("grower"), location(&farm(), "Pujiang orchard")),
            (
                key("storekeeper"),
                location(&plant(), "Chengdu packing plant"),
            ),
            (
                key("storekeeper"),
                location(&dc(), "Chengdu distribution centre"),
            ),
            (key("coldstore"), location(&hub(), "Kwai Chung cold store")),
        ]);
        c
    }

    fn next_ctx(&self) -> BlockContext {
        BlockContext {
            chain_id: CHAIN.into(),
            height: Height(self.height + 1),
            time_ms: self.time_ms + 1_000,
        }
    }

    /// Make the next block's time `time_ms`.
    fn set_next_time(&mut self, time_ms: u64) {
        assert!(time_ms > self.time_ms, "block time moves forward");
        self.time_ms = time_ms - 1_000;
    }

    /// Sign `items` in order, each with a nonce of its own, expiring as late as the
    /// replay window allows after the next block.
    fn sign_all(&self, items: &[(SecretKey, Payload)]) -> Vec<SignedTx> {
        let expires_at_ms =
            self.next_ctx().time_ms + waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX;
        items
            .iter()
            .map(|(k, p)| {
                let nonce = self.next_nonce.get();
                self.next_nonce.set(nonce + 1);
                Transaction {
                    version: TX_VERSION,
                    chain_id: CHAIN.into(),
                    signer: k.public(),
                    nonce,
                    expires_at_ms,
                    payload: p.clone(),
                }
                .sign(k)
            })
            .collect()
    }

    fn execute(&self, txs: &[SignedTx]) -> BlockRun {
        run_block(&self.state, self.next_ctx(), txs)
    }

    /// The state and its derived index read as one (what the API's snapshot serves).
    fn view(&self) -> waybill_state::index::ReadView<'_, State, State> {
        waybill_state::index::ReadView {
            state: &self.state,
            index: &self.index,
        }
    }

    fn commit(&mut self, txs: &[SignedTx]) -> BlockRun {
        let ctx = self.next_ctx();
        let run = run_block(&self.state, ctx.clone(), txs);
        apply_writes(&mut self.state, &run.writes);
        self.state_hash = next_state_hash(&self.state_hash, &run.writes, &run.receipts);
        for (k, v) in &run.index {
            assert!(
                self.index.insert(k.clone(), v.clone()).is_none(),
                "an index row is its block's"
            );
        }
        self.blocks.insert(
            ctx.height.0,
            (ctx.time_ms, run.txs.clone(), run.receipts.clone()),
        );
        self.height = ctx.height.0;
        self.time_ms = ctx.time_ms;
        run
    }

    /// Commit one block of `items`; every one must be applied.
    fn commit_all(&mut self, items: &[(SecretKey, Payload)]) -> BlockRun {
        let txs = self.sign_all(items);
        let run = self.commit(&txs);
        for (r, (_, p)) in run.results.iter().zip(items) {
            match r {
                Ok(Receipt {
                    status: TxStatus::Applied,
                    ..
                }) => {}
                other => panic!("{} was not applied: {other:?}", p.kind()),
            }
        }
        run
    }

    fn submit(&mut self, k: &SecretKey, payload: Payload) -> BlockRun {
        let txs = self.sign_all(&[(k.clone(), payload)]);
        self.commit(&txs)
    }

    fn capture(&mut self, k: &SecretKey, document: &str) -> BlockRun {
        self.submit(k, capture(document))
    }

    fn member(&self, k: &SecretKey) -> Member {
        load_member(&self.state, &k.public())
            .expect("reads")
            .expect("is a member")
    }

    fn event_count(&self) -> u64 {
        trace::event_count(&self.state).expect("reads")
    }

    fn event(&self, seq: u64) -> EventRecord {
        trace::load_event(&self.state, seq)
            .expect("reads")
            .unwrap_or_else(|| panic!("event {seq} is stored"))
    }

    /// The seqs a capture stored (new ones, not duplicates).
    fn captured_seqs(&self, run: &BlockRun) -> Vec<u64> {
        trace::load_capture(&self.state, &run.tx_id())
            .expect("reads")
            .expect("capture record")
            .events
            .iter()
            .filter(|e| !e.duplicate)
            .map(|e| e.seq)
            .collect()
    }
}

#[track_caller]
fn assert_applied(run: &BlockRun) {
    match run.only().status {
        TxStatus::Applied => {}
        ref other => panic!("expected Applied, got {other:?}"),
    }
}

/// Asserts a one-transaction block was rejected with `code` and wrote nothing but the
/// transaction's replay id and its two audit entries (besides removing replay ids that
/// expired before the block). Returns the message.
#[track_caller]
fn assert_rejected(run: &BlockRun, signer: &SecretKey, code: &str) -> String {
    let r = run.only();
    let message = match &r.status {
        TxStatus::Rejected { code: c, message } => {
            assert_eq!(c, code, "rejection code (message: {message})");
            assert!(
                waybill_types::reject::RejectCode::from_wire(c).is_some(),
                "`{c}` is a documented RejectCode"
            );
            message.clone()
        }
        other => panic!("expected Rejected({code}), got {other:?}"),
    };
    let signer_pk = signer.public();
    let org_id = MEMBERS
        .iter()
        .find(|(l, _, _)| key(l).public() == signer_pk)
        .map(|(_, o, _)| *o)
        .or_else(|| {
            ORGS.iter()
                .find(|(o, _, _)| admin(o).public() == signer_pk)
                .map(|(o, _, _)| *o)
        })
        // The validator's key (a purge record) is its organization's.
        .or((key("validator").public() == signer_pk).then_some(REGULATOR))
        .unwrap_or(EVERY);
    let is_expiry =
        |k: &Vec<u8>, v: &Option<Vec<u8>>| k.first() == Some(&keys::REPLAY) && v.is_none();
    let replay_keys: Vec<Vec<u8>> = run
        .writes
        .iter()
        .filter(|(k, v)| k.first() == Some(&keys::REPLAY) && !is_expiry(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(replay_keys.len(), 1, "one replay id: {replay_keys:?}");
    assert_eq!(
        run.writes
            .iter()
            .filter(|(k, v)| !is_expiry(k, v))
            .map(|(k, _)| k.clone())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([replay_keys[0].clone()]),
        "a rejected transaction writes only its replay id"
    );
    let n = 0u32.to_be_bytes().to_vec();
    assert_eq!(
        run.index,
        BTreeMap::from([
            (
                keys::index_row(&keys::audit_of(subject::MEMBER, &signer_pk.0), run.height),
                n.clone()
            ),
            (
                keys::index_row(&keys::audit_of(subject::ORG, org_id.as_bytes()), run.height),
                n
            ),
        ]),
        "and is on its signer's and organization's audit trails"
    );
    assert!(!message.is_empty(), "a rejection explains itself");
    message
}

#[track_caller]
fn assert_contains(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "`{n}` missing from: {haystack}");
    }
}

// ---------------------------------------------------------------------------
// 1. Authority per data category.
// ---------------------------------------------------------------------------

/// A representative event of each EPCIS-writable category, unique per `tag`.
fn event_of(category: DataCategory, tag: &str, minute: u32) -> Value {
    let item = [sgtin(&carton(), &format!("M-{tag}"))];
    let t = at(0, minute);
    match category {
        DataCategory::Production => object(&t, "ADD", Some("commissioning"), &item, None),
        DataCategory::PlatformTransactions => {
            object(&t, "OBSERVE", Some("retail_selling"), &item, None)
        }
        DataCategory::CustomsQuality => object(&t, "OBSERVE", Some("inspecting"), &item, None),
        DataCategory::Transport => object(&t, "OBSERVE", Some("storing"), &item, None),
        // No CBV business step is financial: the closest a capturer can get is a step
        // of its own (a URI), which takes the capturer's first writable category.
        DataCategory::Financial => object(
            &t,
            "OBSERVE",
            Some("https://acme.example/bizstep/invoicing"),
            &item,
            None,
        ),
    }
}

#[test]
fn capture_authority_per_role_and_category() {
    let mut c = Chain::new();
    let harvest = doc(vec![object(
        &at(0, 60),
        "ADD",
        Some("commissioning"),
        &[lgtin(&bulk(), "H1")],
        Some(&farm()),
    )]);

    // A carrier cannot record a harvest: the message names the event's bizStep and
    // the authority it lacks.
    let before = c.event_count();
    let run = c.capture(&key("driver"), &harvest);
    let msg = assert_rejected(&run, &key("driver"), "invalid_epcis");
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/bizStep",
            "carrier",
            "may not write production data",
            "commissioning",
        ],
    );
    assert_eq!(c.event_count(), before, "nothing stored");

    // The producer can, at its own farm.
    let run = c.capture(&key("grower"), &harvest);
    assert_applied(&run);
    let seq = c.captured_seqs(&run)[0];
    assert_eq!(c.event(seq).category, DataCategory::Production);
    assert_eq!(c.event(seq).org, org(ORCHARD));

    // Customs and inspectors capture inspections; a platform sells but does not
    // inspect; a warehouse stores.
    let cases: &[(&str, DataCategory, bool)] = &[
        ("officer", DataCategory::CustomsQuality, true),
        ("qc", DataCategory::CustomsQuality, true),
        ("field-inspector", DataCategory::CustomsQuality, true),
        ("seller", DataCategory::PlatformTransactions, true),
        ("seller", DataCategory::CustomsQuality, false),
        ("seller", DataCategory::Production, false),
        ("coldstore", DataCategory::Transport, true),
        ("storekeeper", DataCategory::Transport, true),
        ("driver", DataCategory::Transport, true),
        ("officer", DataCategory::Transport, false),
        ("auditor", DataCategory::CustomsQuality, false),
        ("shopper", DataCategory::PlatformTransactions, false),
        ("packer", DataCategory::Production, true),
        ("packer", DataCategory::PlatformTransactions, false),
    ];
    for (i, (label, category, allowed)) in cases.iter().enumerate() {
        let k = key(label);
        let d = doc(vec![event_of(
            *category,
            &format!("case{i}"),
            100 + i as u32,
        )]);
        let run = c.capture(&k, &d);
        if *allowed {
            assert_applied(&run);
            let seq = c.captured_seqs(&run)[0];
            let rec = c.event(seq);
            assert_eq!(rec.category, *category, "{label} {category:?}");
            assert_eq!(rec.signer, k.public());
        } else {
            let msg = assert_rejected(&run, &k, "invalid_epcis");
            assert_contains(
                &msg,
                &[
                    "/epcisBody/eventList/0/bizStep",
                    &format!("may not write {} data", category.name()),
                ],
            );
        }
    }

    // The offending event is named by its index when it is not the first.
    let d = doc(vec![
        event_of(DataCategory::PlatformTransactions, "ok-sale", 200),
        event_of(DataCategory::CustomsQuality, "bad-inspection", 201),
    ]);
    let msg = assert_rejected(
        &c.capture(&key("seller"), &d),
        &key("seller"),
        "invalid_epcis",
    );
    assert_contains(&msg, &["/epcisBody/eventList/1/bizStep", "customs_quality"]);
    assert!(!msg.contains("/epcisBody/eventList/0"), "{msg}");

    // No role writes financial data through EPCIS: a financier's own step is refused,
    // and whatever another role captures under its own step is not financial.
    let msg = assert_rejected(
        &c.capture(
            &key("banker"),
            &doc(vec![event_of(DataCategory::Financial, "bank", 300)]),
        ),
        &key("banker"),
        "invalid_epcis",
    );
    assert_contains(&msg, &["financier", "/epcisBody/eventList/0/bizStep"]);
    let run = c.capture(
        &key("seller"),
        &doc(vec![event_of(DataCategory::Financial, "shop", 301)]),
    );
    assert_applied(&run);
    assert_eq!(
        c.event(c.captured_seqs(&run)[0]).category,
        DataCategory::PlatformTransactions
    );
    for r in Role::ALL {
        assert_ne!(
            trace::category_of(None, &[r]),
            DataCategory::Financial,
            "{r:?} without a step"
        );
    }
}

#[test]
fn read_authority_and_grants() {
    let mut c = Chain::new();
    // Role cells.
    assert!(!may_read(Role::Platform, DataCategory::CustomsQuality));
    assert!(may_read(Role::Platform, DataCategory::Production));
    assert!(may_read(Role::Producer, DataCategory::CustomsQuality));
    assert!(!may_read(Role::Carrier, DataCategory::CustomsQuality));
    assert!(!may_read(Role::Financier, DataCategory::Production));
    for cat in DataCategory::ALL {
        assert!(may_read(Role::Regulator, cat), "regulators read {cat:?}");
        assert!(!may_read(Role::Consumer, cat), "consumers read no {cat:?}");
        assert!(!may_write(Role::Consumer, cat));
    }

    let read = |c: &Chain, reader: &str, owner: &str, cat: DataCategory| -> bool {
        member_may_read(&c.state, &c.member(&key(reader)), &org(owner), cat).expect("reads")
    };
    // A platform does not read customs' inspections ...
    assert!(!read(&c, "seller", CUSTOMS, DataCategory::CustomsQuality));
    // ... a member other than the admin cannot grant it ...
    let run = c.submit(
        &key("officer"),
        Payload::GrantRead(GrantRead {
            org: org(SHOPMART),
            category: DataCategory::CustomsQuality,
            allowed: true,
        }),
    );
    assert_rejected(&run, &key("officer"), "not_admin");
    assert!(!read(&c, "seller", CUSTOMS, DataCategory::CustomsQuality));
    // ... nor can another organization's admin grant reading customs' data.
    let run = c.submit(
        &admin(SHOPMART),
        Payload::GrantRead(GrantRead {
            org: org(SHOPMART),
            category: DataCategory::CustomsQuality,
            allowed: true,
        }),
    );
    assert_rejected(&run, &admin(SHOPMART), "invalid");
    assert!(!read(&c, "seller", CUSTOMS, DataCategory::CustomsQuality));
    // The owner's admin grants it: now it reads customs' data, and only customs'.
    assert_applied(&c.submit(
        &admin(CUSTOMS),
        Payload::GrantRead(GrantRead {
            org: org(SHOPMART),
            category: DataCategory::CustomsQuality,
            allowed: true,
        }),
    ));
    assert!(read(&c, "seller", CUSTOMS, DataCategory::CustomsQuality));
    assert!(
        read(&c, "banker", CUSTOMS, DataCategory::CustomsQuality),
        "the grant is to the organization"
    );
    assert!(!read(&c, "seller", REGULATOR, DataCategory::CustomsQuality));
    assert!(!read(&c, "driver", CUSTOMS, DataCategory::CustomsQuality));
    // Withdrawn: reading stops.
    assert_applied(&c.submit(
        &admin(CUSTOMS),
        Payload::GrantRead(GrantRead {
            org: org(SHOPMART),
            category: DataCategory::CustomsQuality,
            allowed: false,
        }),
    ));
    assert!(!read(&c, "seller", CUSTOMS, DataCategory::CustomsQuality));
    // Granting an unknown organization is refused.
    let run = c.submit(
        &admin(CUSTOMS),
        Payload::GrantRead(GrantRead {
            org: org("nobody"),
            category: DataCategory::CustomsQuality,
            allowed: true,
        }),
    );
    assert_rejected(&run, &admin(CUSTOMS), "unknown_org");

    for cat in DataCategory::ALL {
        for (owner, _, _) in ORGS {
            // Regulators read every category of everyone.
            assert!(
                read(&c, "auditor", owner, cat),
                "regulator reads {owner} {cat:?}"
            );
            // Consumers read nothing of the consortium tier (except their own org's).
            if *owner != CONSUMERS {
                assert!(
                    !read(&c, "shopper", owner, cat),
                    "consumer reads {owner} {cat:?}"
                );
            }
        }
        // An organization reads its own data, whatever its roles.
        assert!(read(&c, "driver", COLDCHAIN, cat), "own {cat:?}");
        assert!(read(&c, "seller", SHOPMART, cat), "own {cat:?}");
    }
    // Financial data of another organization: only regulators and financiers.
    assert!(!read(&c, "seller", COLDCHAIN, DataCategory::Financial));
    assert!(read(&c, "banker", COLDCHAIN, DataCategory::Financial));
    assert!(!read(&c, "driver", SHOPMART, DataCategory::Financial));
}

#[test]
fn authority_matrix_through_transactions() {
    let mut c = Chain::new();
    let cats = [
        DataCategory::Production,
        DataCategory::PlatformTransactions,
        DataCategory::CustomsQuality,
        DataCategory::Transport,
        DataCategory::Financial,
    ];
    // Every single-role member of `every-role` captures one event of each category,
    // all in one block.
    let mut items = Vec::new();
    for (ri, r) in Role::ALL.iter().enumerate() {
        for (ci, cat) in cats.iter().enumerate() {
            let tag = format!("R{ri}C{ci}");
            let minute = (ri * 10 + ci) as u32;
            items.push((only(*r), capture(&doc(vec![event_of(*cat, &tag, minute)]))));
        }
    }
    let txs = c.sign_all(&items);
    let run = c.commit(&txs);
    // Letters: P production, S platform transactions (sales), Q customs & quality,
    // T transport, F financial. The capture column shows the category an event was
    // stored under, or `-` if the capture was refused.
    let letter = |c: DataCategory| match c {
        DataCategory::Production => " P",
        DataCategory::PlatformTransactions => " S",
        DataCategory::CustomsQuality => " Q",
        DataCategory::Transport => " T",
        DataCategory::Financial => " F",
    };
    let mut table = String::from(
        "role        | captured as P S Q T F | may_write P S Q T F | may_read P S Q T F\n",
    );
    let mut written: BTreeMap<(Role, DataCategory), Option<DataCategory>> = BTreeMap::new();
    for (ri, r) in Role::ALL.iter().enumerate() {
        let mut cap = String::new();
        let mut w = String::new();
        let mut rd = String::new();
        for (ci, cat) in cats.iter().enumerate() {
            let receipt = run.results[ri * cats.len() + ci]
                .as_ref()
                .expect("in block");
            let stored = match &receipt.status {
                TxStatus::Applied => {
                    let rec = trace::load_capture(&c.state, &receipt.tx_id)
                        .expect("reads")
                        .expect("capture");
                    Some(c.event(rec.events[0].seq).category)
                }
                TxStatus::Rejected { code, message } => {
                    assert_eq!(code, "invalid_epcis", "{message}");
                    assert_contains(
                        message,
                        &["/epcisBody/eventList/0/bizStep", "may not write"],
                    );
                    None
                }
            };
            written.insert((*r, *cat), stored);
            cap.push_str(stored.map(letter).unwrap_or(" -"));
            w.push_str(if may_write(*r, *cat) { " W" } else { " -" });
            rd.push_str(if may_read(*r, *cat) { " R" } else { " -" });
        }
        table.push_str(&format!(
            "{:<11} |            {cap} |          {w} |         {rd}\n",
            r.name()
        ));
    }
    println!("{table}");

    for r in Role::ALL {
        for cat in &cats[..4] {
            // Through a transaction, exactly the matrix: stored under that category.
            let expect = may_write(r, *cat).then_some(*cat);
            assert_eq!(written[&(r, *cat)], expect, "capture by {r:?} of {cat:?}");
        }
        let fin = written[&(r, DataCategory::Financial)];
        assert_ne!(
            fin,
            Some(DataCategory::Financial),
            "{r:?} wrote financial data"
        );
        assert_eq!(
            fin.is_some(),
            DataCategory::ALL[..4].iter().any(|c| may_write(r, *c)),
            "an own step is stored iff {r:?} writes some EPCIS category"
        );
    }
    // Fixed cells.
    assert_eq!(
        written[&(Role::Producer, DataCategory::Production)],
        Some(DataCategory::Production)
    );
    assert_eq!(written[&(Role::Carrier, DataCategory::Production)], None);
    assert_eq!(
        written[&(Role::Customs, DataCategory::CustomsQuality)],
        Some(DataCategory::CustomsQuality)
    );
    assert_eq!(
        written[&(Role::Inspector, DataCategory::CustomsQuality)],
        Some(DataCategory::CustomsQuality)
    );
    assert_eq!(
        written[&(Role::Platform, DataCategory::PlatformTransactions)],
        Some(DataCategory::PlatformTransactions)
    );
    assert_eq!(
        written[&(Role::Platform, DataCategory::CustomsQuality)],
        None
    );
    assert_eq!(
        written[&(Role::Warehouse, DataCategory::Transport)],
        Some(DataCategory::Transport)
    );
    assert_eq!(written[&(Role::Financier, DataCategory::Financial)], None);
    assert_eq!(
        written[&(Role::Regulator, DataCategory::CustomsQuality)],
        None
    );
    assert!(may_write(Role::Financier, DataCategory::Financial));
    assert!(!may_read(Role::Platform, DataCategory::Financial));
    assert!(may_read(Role::Processor, DataCategory::CustomsQuality));
    for cat in DataCategory::ALL {
        assert!(may_read(Role::Regulator, cat) && !may_write(Role::Regulator, cat));
        assert!(!may_read(Role::Consumer, cat) && !may_write(Role::Consumer, cat));
        assert!(
            Role::ALL
                .iter()
                .all(|r| !may_write(*r, cat) || may_read(*r, cat)),
            "whoever writes {cat:?} reads it"
        );
    }
}

// ---------------------------------------------------------------------------
// 2. Locations.
// ---------------------------------------------------------------------------

fn delegate(g: &Gln, to: &str, allowed: bool) -> Payload {
    Payload::SetLocationDelegate(SetLocationDelegate {
        gln: g.clone(),
        org: org(to),
        allowed,
    })
}

#[test]
fn locations_are_registered_by_the_prefix_owner_and_delegated_by_it() {
    let mut c = Chain::new();
    let orchard_office = gln("690123400002");

    // Registered by the owner of the company prefix, any member.
    assert_applied(&c.submit(&key("grower"), location(&orchard_office, "Orchard office")));
    let l = load_location(&c.state, &orchard_office)
        .expect("reads")
        .expect("registered");
    assert_eq!(l.owner, org(ORCHARD));
    assert_eq!(l.registered_by, key("grower").public());
    // Not under the registrant's prefix.
    let msg = assert_rejected(
        &c.submit(&key("driver"), location(&gln("690123400003"), "Not ours")),
        &key("driver"),
        "prefix_not_owned",
    );
    assert_contains(&msg, &["6901234000030", COLDCHAIN, "6907001"]);
    let msg = assert_rejected(
        &c.submit(&key("shopper"), location(&gln("690123400003"), "Not ours")),
        &key("shopper"),
        "prefix_not_owned",
    );
    assert_contains(&msg, &["none"]);
    assert!(load_location(&c.state, &gln("690123400003"))
        .expect("reads")
        .is_none());
    // Registered twice.
    let msg = assert_rejected(
        &c.submit(&key("grower"), location(&farm(), "Again")),
        &key("grower"),
        "duplicate",
    );
    assert_contains(&msg, &[farm().as_str(), "Pujiang orchard"]);

    // Customs captures the demo's export inspection at the packing plant, which is
    // the packing house's: refused, both events named, until the plant is delegated.
    let inspection = demo("orange/05-export-inspection.jsonld");
    c.set_next_time(AFTER_DEMO_MS);
    let before = c.event_count();
    let msg = assert_rejected(
        &c.capture(&key("officer"), &inspection),
        &key("officer"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/bizLocation/id",
            "/epcisBody/eventList/1/bizLocation/id",
            plant().as_str(),
            &format!("belongs to `{PACKING}` and is not delegated to `{CUSTOMS}`"),
        ],
    );
    assert_eq!(c.event_count(), before);

    // Only the owner delegates.
    for (who, code) in [("officer", "not_authorized"), ("driver", "not_authorized")] {
        let msg = assert_rejected(
            &c.submit(&key(who), delegate(&plant(), CUSTOMS, true)),
            &key(who),
            code,
        );
        assert_contains(&msg, &[PACKING]);
    }
    assert_rejected(
        &c.submit(&key("storekeeper"), delegate(&plant(), "nobody", true)),
        &key("storekeeper"),
        "unknown_org",
    );
    assert_rejected(
        &c.submit(&key("grower"), delegate(&unregistered(), CUSTOMS, true)),
        &key("grower"),
        "unknown_location",
    );
    assert_applied(&c.submit(&key("storekeeper"), delegate(&plant(), CUSTOMS, true)));
    let run = c.capture(&key("officer"), &inspection);
    assert_applied(&run);
    let seqs = c.captured_seqs(&run);
    assert_eq!(seqs.len(), 2);
    for s in &seqs {
        let e = c.event(*s);
        assert_eq!(e.biz_location.as_deref(), Some(loc_id(&plant()).as_str()));
        assert_eq!(e.org, org(CUSTOMS));
        assert_eq!(e.category, DataCategory::CustomsQuality);
    }
    // The delegation is to customs, not to everyone.
    let store_at_plant = doc(vec![object(
        &at(0, 30),
        "OBSERVE",
        Some("storing"),
        &[sscc(1)],
        Some(&plant()),
    )]);
    let msg = assert_rejected(
        &c.capture(&key("coldstore"), &store_at_plant),
        &key("coldstore"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/bizLocation/id",
            "not delegated",
            COLDCHAIN,
        ],
    );
    // The owner's own members need no delegation.
    assert_applied(&c.capture(&key("storekeeper"), &store_at_plant));

    // Withdrawn: refused again.
    assert_applied(&c.submit(&key("storekeeper"), delegate(&plant(), CUSTOMS, false)));
    let later = doc(vec![object(
        &at(0, 31),
        "OBSERVE",
        Some("inspecting"),
        &[sscc(1)],
        Some(&plant()),
    )]);
    let msg = assert_rejected(
        &c.capture(&key("officer"), &later),
        &key("officer"),
        "invalid_epcis",
    );
    assert_contains(&msg, &["not delegated"]);

    // An unregistered bizLocation is refused, even under the capturer's own prefix;
    // the readPoint alone is not checked.
    let nowhere = doc(vec![object(
        &at(0, 40),
        "ADD",
        Some("commissioning"),
        &[lgtin(&bulk(), "X1")],
        Some(&unregistered()),
    )]);
    let msg = assert_rejected(
        &c.capture(&key("grower"), &nowhere),
        &key("grower"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/bizLocation/id",
            unregistered().as_str(),
            "is not registered",
        ],
    );
    let mut read_point_only = object(
        &at(0, 41),
        "ADD",
        Some("commissioning"),
        &[lgtin(&bulk(), "X1")],
        None,
    );
    read_point_only["readPoint"] = json!({ "id": loc_id(&unregistered()) });
    assert_applied(&c.capture(&key("grower"), &doc(vec![read_point_only])));
    // An SGLN URN and a Digital Link name the same registered location.
    let urn = doc(vec![object(
        &at(0, 42),
        "OBSERVE",
        Some("storing"),
        &[sscc(2)],
        None,
    )]);
    let mut v: Value = serde_json::from_str(&urn).expect("json");
    v["epcisBody"]["eventList"][0]["bizLocation"] =
        json!({ "id": "urn:epc:id:sgln:6907001.00012.0" });
    let run = c.capture(&key("coldstore"), &v.to_string());
    assert_applied(&run);
    assert_eq!(
        c.event(c.captured_seqs(&run)[0]).biz_location.as_deref(),
        Some(loc_id(&hub()).as_str())
    );
}

// ---------------------------------------------------------------------------
// 3. Qualifications.
// ---------------------------------------------------------------------------

fn revoke_qualification(o: &str, number: &str) -> Payload {
    Payload::RevokeQualification(RevokeQualification {
        org: org(o),
        number: number.into(),
        reason: "certificate withdrawn by the issuer".into(),
    })
}

fn require(category: &str, kind: Option<&str>) -> Payload {
    Payload::RequireQualification(RequireQualification {
        product_category: category.into(),
        kind: kind.map(str::to_string),
    })
}

#[test]
fn only_inspectors_and_regulators_record_and_revoke_qualifications() {
    let mut c = Chain::new();
    let organic = |n: &str| qualification(ORCHARD, "organic", n, "2026-01-01", "2026-12-31");
    for who in ["grower", "officer", "seller", "driver", "banker", "shopper"] {
        let msg = assert_rejected(
            &c.submit(&key(who), organic("Q-X")),
            &key(who),
            "not_authorized",
        );
        assert_contains(&msg, &["inspector or regulator"]);
    }
    assert!(load_qualification(&c.state, &org(ORCHARD), "Q-X")
        .expect("reads")
        .is_none());
    assert_applied(&c.submit(&key("qc"), organic("Q-1")));
    assert_applied(&c.submit(&key("auditor"), organic("Q-2")));
    assert_applied(&c.submit(&key("field-inspector"), organic("Q-3")));
    let q = load_qualification(&c.state, &org(ORCHARD), "Q-2")
        .expect("reads")
        .expect("recorded");
    assert_eq!(q.verified_by, key("auditor").public());
    assert_eq!(q.verified_by_org, org(REGULATOR));
    assert_eq!(q.kind, "organic");
    assert!(q.revoked.is_none());
    assert_rejected(
        &c.submit(&key("qc"), organic("Q-1")),
        &key("qc"),
        "duplicate",
    );
    assert_rejected(
        &c.submit(
            &key("qc"),
            qualification("nobody", "organic", "Q-9", "2026-01-01", "2026-12-31"),
        ),
        &key("qc"),
        "unknown_org",
    );
    // Nobody certifies themselves, whatever roles their organization holds.
    let msg = assert_rejected(
        &c.submit(
            &key("auditor"),
            qualification(
                REGULATOR,
                "lab_accreditation",
                "Q-S",
                "2026-01-01",
                "2026-12-31",
            ),
        ),
        &key("auditor"),
        "self_certification",
    );
    assert_contains(&msg, &["its own qualification", "another organization"]);
    assert!(load_qualification(&c.state, &org(REGULATOR), "Q-S")
        .expect("reads")
        .is_none());

    for who in ["grower", "officer", "seller"] {
        assert_rejected(
            &c.submit(&key(who), revoke_qualification(ORCHARD, "Q-1")),
            &key(who),
            "not_authorized",
        );
    }
    assert_applied(&c.submit(
        &key("field-inspector"),
        revoke_qualification(ORCHARD, "Q-1"),
    ));
    let q = load_qualification(&c.state, &org(ORCHARD), "Q-1")
        .expect("reads")
        .expect("kept");
    assert_eq!(
        q.revoked.as_ref().map(|r| r.by),
        Some(key("field-inspector").public())
    );
    assert_rejected(
        &c.submit(&key("qc"), revoke_qualification(ORCHARD, "Q-1")),
        &key("qc"),
        "already_revoked",
    );
    assert_rejected(
        &c.submit(&key("qc"), revoke_qualification(ORCHARD, "Q-404")),
        &key("qc"),
        "unknown_qualification",
    );
}

/// Midnight UTC of a 2026 day (`month`, `day`), in ms.
fn utc_2026(month: u32, day: u32) -> u64 {
    let days_before: [u64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    T0 + (days_before[month as usize - 1] + u64::from(day) - 1) * DAY_MS
}

#[test]
fn an_organic_claim_needs_a_qualification_valid_on_the_block_date() {
    let mut c = Chain::new();
    c.commit_all(&[
        (key("grower"), product(&bulk(), "fresh fruit")),
        (key("grower"), product(&compost(), "fertilizer")),
    ]);
    let claim = |l: &str| lot(&bulk(), l, &["organic"], &[]);

    // None recorded.
    let msg = assert_rejected(
        &c.submit(&key("grower"), claim("A")),
        &key("grower"),
        "missing_qualification",
    );
    assert_contains(
        &msg,
        &[
            "`organic`",
            &format!("`{ORCHARD}`"),
            "none is recorded",
            "2026-01-01",
        ],
    );
    assert!(load_lot(&c.state, &bulk(), "A").expect("reads").is_none());
    // Lots without claims need none.
    assert_applied(&c.submit(&key("grower"), lot(&bulk(), "PLAIN", &[], &[])));

    // Valid from February to June.
    assert_applied(&c.submit(
        &key("qc"),
        qualification(ORCHARD, "organic", "ORG-1", "2026-02-01", "2026-06-30"),
    ));
    let msg = assert_rejected(
        &c.submit(&key("grower"), claim("A")),
        &key("grower"),
        "missing_qualification",
    );
    assert_contains(&msg, &["ORG-1 is not_yet_valid", "2026-02-01"]);

    c.set_next_time(utc_2026(2, 1));
    assert_applied(&c.submit(&key("grower"), claim("B")));
    let l = load_lot(&c.state, &bulk(), "B")
        .expect("reads")
        .expect("registered");
    assert_eq!(l.claims, vec!["organic".to_string()]);

    c.set_next_time(utc_2026(7, 1) - 1_000);
    assert_applied(&c.submit(&key("grower"), claim("C")));

    c.set_next_time(utc_2026(7, 1));
    let msg = assert_rejected(
        &c.submit(&key("grower"), claim("D")),
        &key("grower"),
        "missing_qualification",
    );
    assert_contains(&msg, &["ORG-1 is expired", "2026-07-01"]);

    // Another organization's certificate does not count.
    assert_applied(&c.submit(
        &key("qc"),
        qualification(PACKING, "organic", "ORG-P", "2026-01-01", "2027-12-31"),
    ));
    assert_rejected(
        &c.submit(&key("grower"), claim("D")),
        &key("grower"),
        "missing_qualification",
    );
    // Nor does another kind.
    assert_applied(&c.submit(
        &key("qc"),
        qualification(ORCHARD, "gap", "GAP-1", "2026-01-01", "2027-12-31"),
    ));
    assert_rejected(
        &c.submit(&key("grower"), claim("D")),
        &key("grower"),
        "missing_qualification",
    );

    // Renewed: accepted; revoked: refused again, the message saying why.
    assert_applied(&c.submit(
        &key("qc"),
        qualification(ORCHARD, "organic", "ORG-2", "2026-07-01", "2027-06-30"),
    ));
    assert_applied(&c.submit(&key("grower"), claim("D")));
    assert_applied(&c.submit(&key("qc"), revoke_qualification(ORCHARD, "ORG-2")));
    let msg = assert_rejected(
        &c.submit(&key("grower"), claim("E")),
        &key("grower"),
        "missing_qualification",
    );
    assert_contains(&msg, &["ORG-1 is expired", "ORG-2 is revoked"]);
    // A claim needs every qualification it names.
    assert_rejected(
        &c.submit(&key("grower"), lot(&bulk(), "F", &["gap", "organic"], &[])),
        &key("grower"),
        "missing_qualification",
    );
    assert_applied(&c.submit(&key("grower"), lot(&bulk(), "G", &["gap"], &[])));
}

#[test]
fn a_category_requirement_blocks_lots_and_commissioning_until_qualified() {
    let mut c = Chain::new();
    c.commit_all(&[
        (key("grower"), product(&bulk(), "fresh fruit")),
        (key("grower"), product(&carton(), "fresh fruit")),
        (key("packer"), product(&juice(), "juice")),
    ]);
    let license = "food_production_license";

    // Only regulators set requirements.
    for who in ["qc", "field-inspector", "grower", "officer"] {
        let msg = assert_rejected(
            &c.submit(&key(who), require("fresh fruit", Some(license))),
            &key(who),
            "not_authorized",
        );
        assert_contains(&msg, &["regulator"]);
    }
    assert_eq!(
        waybill_state::credentials::requirement(&c.state, "fresh fruit").expect("reads"),
        None
    );
    assert_applied(&c.submit(&key("auditor"), require("fresh fruit", Some(license))));
    assert_eq!(
        waybill_state::credentials::requirement(&c.state, "fresh fruit").expect("reads"),
        Some(license.to_string())
    );

    // Lots of products in the category.
    let msg = assert_rejected(
        &c.submit(&key("grower"), lot(&bulk(), "L1", &[], &[])),
        &key("grower"),
        "missing_qualification",
    );
    assert_contains(&msg, &[&format!("`{license}`"), "fresh fruit", ORCHARD]);
    // EPCIS commissioning of products in the category: a harvest (quantity) and a
    // packing transformation (outputs).
    let harvest = doc(vec![object(
        &at(0, 60),
        "ADD",
        Some("commissioning"),
        &[lgtin(&bulk(), "L1")],
        Some(&farm()),
    )]);
    let msg = assert_rejected(
        &c.capture(&key("grower"), &harvest),
        &key("grower"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &["/epcisBody/eventList/0/bizStep", license, "fresh fruit"],
    );
    let packing = doc(vec![event(
        "TransformationEvent",
        &at(0, 120),
        json!({
            "inputQuantityList": [{ "epcClass": lgtin(&bulk(), "L1"), "quantity": 10, "uom": "KGM" }],
            "outputEPCList": [sgtin(&carton(), "REQ-1")],
            "bizStep": "commissioning",
            "bizLocation": { "id": loc_id(&plant()) },
        }),
    )]);
    let msg = assert_rejected(
        &c.capture(&key("packer"), &packing),
        &key("packer"),
        "invalid_epcis",
    );
    assert_contains(&msg, &["/epcisBody/eventList/0/bizStep", license, PACKING]);
    // Other steps, other categories and unregistered products are not affected.
    assert_applied(&c.capture(
        &key("storekeeper"),
        &doc(vec![object(
            &at(0, 130),
            "OBSERVE",
            Some("storing"),
            &[sgtin(&carton(), "REQ-0")],
            Some(&plant()),
        )]),
    ));
    assert_applied(&c.capture(
        &key("packer"),
        &doc(vec![object(
            &at(0, 131),
            "ADD",
            Some("commissioning"),
            &[sgtin(&juice(), "J-1")],
            Some(&plant()),
        )]),
    ));
    assert_applied(&c.capture(
        &key("grower"),
        &doc(vec![object(
            &at(0, 132),
            "ADD",
            Some("commissioning"),
            &[sgtin(&gtin("0690123400009"), "U-1")],
            Some(&farm()),
        )]),
    ));

    // Qualified: the orchard may; the packing house still may not.
    assert_applied(&c.submit(
        &key("auditor"),
        qualification(ORCHARD, license, "SC-FPL-1", "2025-01-01", "2028-12-31"),
    ));
    assert_applied(&c.submit(&key("grower"), lot(&bulk(), "L1", &[], &[])));
    assert_applied(&c.capture(&key("grower"), &harvest));
    assert_rejected(
        &c.capture(&key("packer"), &packing),
        &key("packer"),
        "invalid_epcis",
    );

    // Lifted: anyone may again.
    let msg = assert_rejected(
        &c.submit(&key("qc"), require("fresh fruit", None)),
        &key("qc"),
        "not_authorized",
    );
    assert_contains(&msg, &["regulator"]);
    assert_applied(&c.submit(&key("auditor"), require("fresh fruit", None)));
    assert_eq!(
        waybill_state::credentials::requirement(&c.state, "fresh fruit").expect("reads"),
        None
    );
    assert_applied(&c.capture(&key("packer"), &packing));
    // A requirement on one category leaves the others alone.
    assert_applied(&c.submit(&key("auditor"), require("juice", Some(license))));
    assert_applied(&c.submit(&key("grower"), lot(&bulk(), "L2", &[], &[])));
    assert_rejected(
        &c.capture(
            &key("packer"),
            &doc(vec![object(
                &at(0, 200),
                "ADD",
                Some("commissioning"),
                &[sgtin(&juice(), "J-2")],
                Some(&plant()),
            )]),
        ),
        &key("packer"),
        "invalid_epcis",
    );
}

// ---------------------------------------------------------------------------
// 4. Capture.
// ---------------------------------------------------------------------------

fn events_of(document: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(document).expect("json");
    v["epcisBody"]["eventList"]
        .as_array()
        .expect("event list")
        .clone()
}

/// The Event Hash ID of each event of `document`, computed here from the document.
fn hash_ids(document: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(document).expect("json");
    let ns = waybill_epcis::context::Namespaces::from_context(&v["@context"]);
    events_of(document)
        .iter()
        .map(|e| {
            let obj = e.as_object().expect("object");
            waybill_epcis::hash_id::event_hash_id(obj, &ns.with_event(obj)).expect("hash id")
        })
        .collect()
}

fn canonical(id: &str) -> String {
    waybill_epcis::epc::parse(id).expect("identifier").canonical
}

/// The keys under table `tag` in a write set.
fn written_in(writes: &WriteSet, tag: u8) -> usize {
    writes.keys().filter(|k| k.first() == Some(&tag)).count()
}

#[test]
fn capture_stores_every_event_of_the_demo_documents() {
    let mut c = Chain::new();
    c.set_next_time(AFTER_DEMO_MS);
    let journey = [
        ("grower", "orange/01-harvest-PJ2611A.jsonld", ORCHARD),
        ("packer", "orange/03-packing-cartons.jsonld", PACKING),
        ("packer", "orange/04-palletising.jsonld", PACKING),
    ];
    let mut expected_seq = 0u64;
    for (who, path, org_id) in journey {
        let text = demo(path);
        let originals = events_of(&text);
        let ids = hash_ids(&text);
        let run = c.capture(&key(who), &text);
        assert_applied(&run);
        assert_eq!(
            written_in(&run.writes, keys::EVENT),
            originals.len(),
            "{path}"
        );
        let rec = trace::load_capture(&c.state, &run.tx_id())
            .expect("reads")
            .expect("capture record");
        assert_eq!(rec.org, org(org_id));
        assert_eq!(rec.signer, key(who).public());
        let ctx: Value = serde_json::from_str(&rec.context).expect("context json");
        let doc_v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(ctx, doc_v["@context"], "the context is kept for export");
        assert_eq!(rec.events.len(), originals.len());
        for (i, (ce, original)) in rec.events.iter().zip(&originals).enumerate() {
            expected_seq += 1;
            assert_eq!(
                ce.seq, expected_seq,
                "{path} event {i}: seqs follow capture order"
            );
            assert!(!ce.duplicate);
            assert_eq!(ce.hash_id, ids[i]);
            let e = c.event(ce.seq);
            assert_eq!(e.hash_id(), ids[i]);
            assert_eq!(e.seq, ce.seq);
            assert_eq!(e.org, org(org_id));
            assert_eq!(e.signer, key(who).public());
            assert_eq!(e.tx_id, run.tx_id());
            assert_eq!(e.height, Height(run.height));
            assert_eq!(e.record_time_ms, c.time_ms, "recordTime is the block time");
            assert_eq!(e.event_type, original["type"].as_str().expect("type"));
            assert_eq!(e.event_time, original["eventTime"].as_str().expect("time"));
            assert_eq!(e.biz_step.as_deref(), original["bizStep"].as_str());
            assert_eq!(e.category, DataCategory::Production);
            assert!(!e.error_declaration && e.corrected_by.is_none());
            let stored: Value = serde_json::from_str(&e.json).expect("stored json");
            assert_eq!(&stored, original, "{path} event {i} is stored as captured");
        }
        assert_eq!(c.event_count(), expected_seq);
    }
    // Indexed facts, against identifiers canonicalised here.
    let harvest = c.event(1);
    assert_eq!(harvest.action.as_deref(), Some("ADD"));
    assert_eq!(
        harvest.biz_location.as_deref(),
        Some(loc_id(&farm()).as_str()),
        "urn:epc:id:sgln:6901234.00001.0 is the farm"
    );
    assert_eq!(
        harvest.event_time_ms, 1_793_608_200_000,
        "2026-11-02T16:30:00+08:00"
    );
    let lot_id = canonical("urn:epc:class:lgtin:6901234.000001.PJ2611A");
    assert_eq!(lot_id, lgtin(&bulk(), "PJ2611A"));
    assert!(
        harvest.ids.contains(&(5, lot_id.clone())),
        "{:?}",
        harvest.ids
    );
    let packing = c.event(2);
    assert_eq!(
        packing.ids.iter().filter(|(r, _)| *r == 4).count(),
        24,
        "24 cartons out"
    );
    assert!(packing.ids.contains(&(7, lot_id.clone())), "the lot in");
    let pallets = c.event(3);
    assert_eq!(
        pallets
            .ids
            .iter()
            .find(|(r, _)| *r == 1)
            .map(|(_, i)| i.clone()),
        Some(canonical("urn:epc:id:sscc:6905678.0000001101"))
    );
    assert_eq!(pallets.ids.iter().filter(|(r, _)| *r == 2).count(), 12);
    let first_carton = canonical("urn:epc:id:sgtin:6901234.000001.261103001");
    let named: Vec<u64> = trace::events_naming(&c.view(), &first_carton, 100)
        .expect("reads")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(named, vec![2, 3]);
    assert_eq!(
        trace::events_naming(&c.view(), &lot_id, 100)
            .expect("reads")
            .len(),
        2,
        "harvest and packing name the lot"
    );
}

#[test]
fn capture_is_all_or_nothing_and_names_each_offending_event() {
    let mut c = Chain::new();
    let good = object(
        &at(0, 10),
        "OBSERVE",
        Some("storing"),
        &[sscc(7)],
        Some(&plant()),
    );
    let d = doc(vec![
        good.clone(),
        object(
            &at(0, 11),
            "OBSERVE",
            Some("storing"),
            &[sscc(8)],
            Some(&unregistered()),
        ),
        object(
            &at(0, 12),
            "ADD",
            Some("commissioning"),
            &[sgtin(&carton(), "Z")],
            Some(&plant()),
        ),
        object(
            &at(0, 13),
            "OBSERVE",
            Some("shipping"),
            &[sscc(9)],
            Some(&plant()),
        ),
    ]);
    let msg = assert_rejected(
        &c.capture(&key("storekeeper"), &d),
        &key("storekeeper"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "2 of 4 events refused, nothing was stored",
            "/epcisBody/eventList/1/bizLocation/id",
            "/epcisBody/eventList/2/bizStep",
        ],
    );
    assert!(!msg.contains("/epcisBody/eventList/0"), "{msg}");
    assert!(!msg.contains("/epcisBody/eventList/3"), "{msg}");
    assert_eq!(c.event_count(), 0);
    assert!(trace::events_naming(&c.view(), &sscc(7), 10)
        .expect("reads")
        .is_empty());
    // The good events alone go in.
    let run = c.capture(&key("storekeeper"), &doc(vec![good]));
    assert_applied(&run);
    assert_eq!(c.event_count(), 1);

    // Malformed JSON.
    let msg = assert_rejected(
        &c.capture(&key("storekeeper"), "{\"type\": \"EPCISDocument\", "),
        &key("storekeeper"),
        "malformed_json",
    );
    assert_contains(&msg, &["not valid JSON"]);
    // Schema and GS1 rules: every problem with its pointer.
    let mut bad_action = object(&at(0, 20), "MOVE", Some("storing"), &[sscc(7)], None);
    bad_action["acme:ok"] = json!(true);
    let mut no_time = object(&at(0, 21), "OBSERVE", Some("storing"), &[sscc(7)], None);
    no_time.as_object_mut().expect("object").remove("eventTime");
    let bad_digit = object(
        &at(0, 22),
        "OBSERVE",
        Some("storing"),
        &["https://id.gs1.org/01/06901234000017/21/A".to_string()],
        None,
    );
    let msg = assert_rejected(
        &c.capture(
            &key("storekeeper"),
            &doc(vec![bad_action, no_time, bad_digit]),
        ),
        &key("storekeeper"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/action",
            "/epcisBody/eventList/1",
            "eventTime",
            "/epcisBody/eventList/2/epcList/0",
        ],
    );
    let mut not_a_doc = doc_value(vec![]);
    not_a_doc["type"] = json!("EPCISMasterDataDocument");
    let msg = assert_rejected(
        &c.capture(&key("storekeeper"), &not_a_doc.to_string()),
        &key("storekeeper"),
        "invalid_epcis",
    );
    assert!(!msg.is_empty());
    let msg = assert_rejected(
        &c.capture(&key("storekeeper"), &doc(vec![])),
        &key("storekeeper"),
        "invalid_epcis",
    );
    assert_contains(&msg, &["/epcisBody/eventList", "no events"]);
    assert_eq!(c.event_count(), 1, "no refused capture stored anything");
}

#[test]
fn resending_a_document_stores_nothing_new() {
    let mut c = Chain::new();
    let mut named = object(
        &at(0, 30),
        "OBSERVE",
        Some("storing"),
        &[sscc(30)],
        Some(&hub()),
    );
    named["eventID"] = json!("urn:uuid:6f1c2d9e-3b7a-4c1e-9a55-0d2f4e6b8a10");
    let events = vec![
        object(
            &at(0, 10),
            "OBSERVE",
            Some("receiving"),
            &[sscc(10)],
            Some(&hub()),
        ),
        object(
            &at(0, 20),
            "OBSERVE",
            Some("storing"),
            &[sscc(10), sscc(20)],
            Some(&hub()),
        ),
        named,
    ];
    let text = doc(events.clone());
    let first = c.capture(&key("coldstore"), &text);
    assert_applied(&first);
    let first_rec = trace::load_capture(&c.state, &first.tx_id())
        .expect("reads")
        .expect("record");
    assert_eq!(c.event_count(), 3);

    let again = c.capture(&key("coldstore"), &text);
    assert_applied(&again);
    let rec = trace::load_capture(&c.state, &again.tx_id())
        .expect("reads")
        .expect("record");
    assert_eq!(rec.events.len(), 3);
    for (a, b) in rec.events.iter().zip(&first_rec.events) {
        assert!(a.duplicate, "every event is marked duplicate");
        assert_eq!(a.seq, b.seq, "it points at the stored event");
        assert_eq!(a.hash_id, b.hash_id, "same Event Hash ID");
    }
    assert_eq!(c.event_count(), 3);
    assert_eq!(written_in(&again.writes, keys::EVENT), 0);
    assert_eq!(written_in(&again.writes, keys::EVENT_HASH), 0);
    assert!(again
        .index
        .keys()
        .all(|k| k.first() != Some(&keys::EPC_EVENT)));
    assert_eq!(
        trace::events_by_id(&c.state, "urn:uuid:6f1c2d9e-3b7a-4c1e-9a55-0d2f4e6b8a10")
            .expect("reads"),
        vec![3]
    );

    // The same events written differently (EPC URNs for Digital Links, keys in
    // another order, another eventID, other capturer) are the same events.
    let mut rewritten: Vec<Value> = Vec::new();
    for e in &events {
        let mut m = serde_json::Map::new();
        let obj = e.as_object().expect("object");
        for k in obj.keys().rev() {
            m.insert(k.clone(), obj[k].clone());
        }
        let urns: Vec<Value> = obj["epcList"]
            .as_array()
            .expect("list")
            .iter()
            .map(|id| {
                let s = id.as_str().expect("id");
                let digits = s.rsplit('/').next().expect("digits");
                // SSCC 0 6905678 SSSSSSSSS C -> urn:epc:id:sscc:6905678.0SSSSSSSSS
                json!(format!(
                    "urn:epc:id:sscc:{}.{}{}",
                    &digits[1..8],
                    &digits[0..1],
                    &digits[8..17]
                ))
            })
            .collect();
        m.insert("epcList".into(), Value::Array(urns));
        if m.contains_key("eventID") {
            m.insert(
                "eventID".into(),
                json!("urn:uuid:00000000-0000-4000-8000-000000000000"),
            );
        }
        rewritten.push(Value::Object(m));
    }
    let run = c.capture(&key("driver"), &doc(rewritten));
    assert_applied(&run);
    let rec = trace::load_capture(&c.state, &run.tx_id())
        .expect("reads")
        .expect("record");
    assert!(rec.events.iter().all(|e| e.duplicate), "{rec:?}");
    assert_eq!(
        rec.events
            .iter()
            .map(|e| e.hash_id.clone())
            .collect::<Vec<_>>(),
        first_rec
            .events
            .iter()
            .map(|e| e.hash_id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(c.event_count(), 3);

    // Twice in one document: stored once; a changed event is new.
    let new = object(
        &at(0, 40),
        "OBSERVE",
        Some("storing"),
        &[sscc(40)],
        Some(&hub()),
    );
    let mut changed = events[0].clone();
    changed["disposition"] = json!("in_progress");
    let run = c.capture(&key("coldstore"), &doc(vec![new.clone(), new, changed]));
    assert_applied(&run);
    let rec = trace::load_capture(&c.state, &run.tx_id())
        .expect("reads")
        .expect("record");
    assert_eq!(
        rec.events
            .iter()
            .map(|e| (e.seq, e.duplicate))
            .collect::<Vec<_>>(),
        vec![(4, false), (4, true), (5, false)]
    );
    assert_eq!(c.event_count(), 5);
}

#[test]
fn an_error_declaration_is_stored_and_marks_the_event_it_corrects() {
    let mut c = Chain::new();
    let eid = "urn:uuid:1b0e7e34-5f3c-4b8e-8d0e-2c6f1e9a7b01";
    let mut original = object(
        &at(0, 10),
        "OBSERVE",
        Some("storing"),
        &[sscc(50)],
        Some(&hub()),
    );
    original["eventID"] = json!(eid);
    let run = c.capture(&key("coldstore"), &doc(vec![original.clone()]));
    assert_applied(&run);
    assert_eq!(c.event_count(), 1);

    let mut declaration = original.clone();
    declaration["errorDeclaration"] = json!({
        "declarationTime": "2026-01-01T12:00:00Z",
        "reason": "incorrect_data",
    });
    let run = c.capture(&key("coldstore"), &doc(vec![declaration.clone()]));
    assert_applied(&run);
    assert_eq!(c.event_count(), 2, "the declaration is a new event");
    let decl = c.event(2);
    assert!(decl.error_declaration);
    assert_eq!(decl.event_id.as_deref(), Some(eid));
    let orig = c.event(1);
    assert_eq!(orig.corrected_by, Some(2));
    assert!(!orig.error_declaration);
    assert_eq!(
        orig.hash, decl.hash,
        "the Event Hash ID leaves out errorDeclaration"
    );
    assert_eq!(
        trace::events_by_id(&c.state, eid).expect("reads"),
        vec![1, 2]
    );
    let stored: Value = serde_json::from_str(&decl.json).expect("json");
    assert_eq!(stored, declaration);

    // Re-sent, the declaration is a duplicate of itself.
    let run = c.capture(&key("coldstore"), &doc(vec![declaration]));
    assert_applied(&run);
    assert_eq!(c.captured_seqs(&run), Vec::<u64>::new());
    assert_eq!(c.event_count(), 2);

    // An event and its declaration in one document.
    let eid2 = "urn:uuid:1b0e7e34-5f3c-4b8e-8d0e-2c6f1e9a7b02";
    let mut o2 = object(
        &at(0, 20),
        "OBSERVE",
        Some("storing"),
        &[sscc(51)],
        Some(&hub()),
    );
    o2["eventID"] = json!(eid2);
    let mut d2 = o2.clone();
    d2["errorDeclaration"] =
        json!({ "declarationTime": "2026-01-01T12:30:00Z", "reason": "did_not_occur" });
    let run = c.capture(&key("coldstore"), &doc(vec![o2, d2]));
    assert_applied(&run);
    assert_eq!(c.event(3).corrected_by, Some(4));
    assert!(c.event(4).error_declaration);

    // Naming no recorded event, or no eventID at all: refused.
    let mut unknown = object(
        &at(0, 30),
        "OBSERVE",
        Some("storing"),
        &[sscc(52)],
        Some(&hub()),
    );
    unknown["eventID"] = json!("urn:uuid:1b0e7e34-5f3c-4b8e-8d0e-2c6f1e9a7bff");
    unknown["errorDeclaration"] = json!({ "declarationTime": "2026-01-01T13:00:00Z" });
    let mut anonymous = unknown.clone();
    anonymous.as_object_mut().expect("object").remove("eventID");
    anonymous["eventTime"] = json!(at(0, 31));
    let msg = assert_rejected(
        &c.capture(&key("coldstore"), &doc(vec![unknown, anonymous])),
        &key("coldstore"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/eventID",
            "urn:uuid:1b0e7e34-5f3c-4b8e-8d0e-2c6f1e9a7bff",
            "no event with that eventID",
            "/epcisBody/errorDeclaration"
                .replace("/errorDeclaration", "/eventList/1/errorDeclaration")
                .as_str(),
            "no eventID and no event with its Event Hash ID",
        ],
    );
    assert_eq!(c.event_count(), 4);
    assert_eq!(
        c.event(1).corrected_by,
        Some(2),
        "the refused capture changed nothing"
    );
}

#[test]
fn user_extensions_are_stored_exactly_as_captured() {
    let mut c = Chain::new();
    let mut e = object(
        &at(0, 10),
        "ADD",
        Some("commissioning"),
        &[sgtin(&carton(), "EXT-1")],
        Some(&farm()),
    );
    e["acme:temperature"] = json!({ "acme:value": 3.5, "acme:uom": "CEL" });
    e["acme:tags"] = json!(["first", 1, true, null, -0.001, 12345678901234567u64]);
    e["acme:deep"] = json!({ "acme:list": [{ "acme:x": { "acme:y": [[], {}] } }] });
    e["acme:note"] = json!("冷链 ✓ \"quoted\" \\ back\nslash");
    e["ilmd"] = json!({ "cbvmda:lotNumber": "EXT", "acme:grade": "Class I", "acme:brix": 12.6 });
    e["readPoint"] = json!({ "id": loc_id(&farm()), "acme:dock": "3" });
    let text = doc(vec![e.clone()]);
    let run = c.capture(&key("grower"), &text);
    assert_applied(&run);
    let rec = c.event(c.captured_seqs(&run)[0]);
    let stored: Value = serde_json::from_str(&rec.json).expect("json");
    assert_eq!(
        stored, e,
        "every extension kept, values and nesting unchanged"
    );
    assert_eq!(
        rec.json,
        serde_json::to_string(&e).expect("json"),
        "and in the same key order"
    );
    // The demo's own extensions (ILMD and event-level) survive as well.
    let text = demo("orange/02-receiving-PJ2611A-at-plant.jsonld");
    c.set_next_time(AFTER_DEMO_MS);
    let run = c.capture(&key("storekeeper"), &text);
    assert_applied(&run);
    let rec = c.event(c.captured_seqs(&run)[0]);
    let stored: Value = serde_json::from_str(&rec.json).expect("json");
    assert_eq!(stored, events_of(&text)[0]);
    assert_eq!(stored["wb:arrivalPulpTemperature"]["wb:value"], json!(14.5));
}

#[test]
fn more_events_than_the_limit_are_refused() {
    let mut c = Chain::new();
    let events = |n: usize| -> String {
        doc((0..n)
            .map(|i| {
                object(
                    &at((i / 1440) as u32, (i % 1440) as u32),
                    "OBSERVE",
                    Some("storing"),
                    &[sscc(1000 + i as u32)],
                    None,
                )
            })
            .collect())
    };
    let msg = assert_rejected(
        &c.capture(&key("coldstore"), &events(limits::EPCIS_EVENTS_MAX + 1)),
        &key("coldstore"),
        "too_many_events",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList",
            &format!("{}", limits::EPCIS_EVENTS_MAX + 1),
            &format!("{}", limits::EPCIS_EVENTS_MAX),
        ],
    );
    assert_eq!(c.event_count(), 0);
    let run = c.capture(&key("coldstore"), &events(limits::EPCIS_EVENTS_MAX));
    assert_applied(&run);
    assert_eq!(c.event_count(), limits::EPCIS_EVENTS_MAX as u64);
}

// ---------------------------------------------------------------------------
// 5. Lineage.
// ---------------------------------------------------------------------------

/// The chain of custody of lot L1 (and, beside it, lot L2), captured event by event.
/// `seq[name]` is the seq of each named event.
struct Journey {
    chain: Chain,
    seq: BTreeMap<&'static str, u64>,
}

fn cartons(lot: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| sgtin(&carton(), &format!("{lot}-{i:03}")))
        .collect()
}

fn pallet(n: u32) -> String {
    sscc(100 + n)
}

fn journey() -> Journey {
    let mut c = Chain::new();
    c.commit_all(&[
        (key("grower"), product(&compost(), "fertilizer")),
        (key("grower"), product(&bulk(), "fresh fruit")),
        (key("grower"), product(&carton(), "fresh fruit")),
        (key("packer"), product(&juice(), "juice")),
    ]);
    c.commit_all(&[(key("grower"), lot(&compost(), "C7", &[], &[]))]);
    c.commit_all(&[
        (key("grower"), lot(&bulk(), "L1", &[], &[(compost(), "C7")])),
        (key("grower"), lot(&bulk(), "L2", &[], &[])),
    ]);
    let l1 = lgtin(&bulk(), "L1");
    let l2 = lgtin(&bulk(), "L2");
    let qty = |id: &str, kg: u32| json!([{ "epcClass": id, "quantity": kg, "uom": "KGM" }]);
    let transformation = |minute: u32, input: &str, outputs: &[String], lot: &str| {
        event(
            "TransformationEvent",
            &at(0, minute),
            json!({
                "inputQuantityList": qty(input, 15),
                "outputEPCList": outputs,
                "bizStep": "commissioning",
                "bizLocation": { "id": loc_id(&plant()) },
                "ilmd": { "cbvmda:lotNumber": lot },
            }),
        )
    };
    let aggregation =
        |minute: u32, action: &str, step: &str, parent: &str, children: &[String], loc: &Gln| {
            event(
                "AggregationEvent",
                &at(0, minute),
                json!({
                    "action": action,
                    "parentID": parent,
                    "childEPCs": children,
                    "bizStep": step,
                    "bizLocation": { "id": loc_id(loc) },
                }),
            )
        };
    let steps: Vec<(&'static str, &str, Value)> = vec![
        (
            "harvest L1",
            "grower",
            event(
                "ObjectEvent",
                &at(0, 6 * 60),
                json!({
                    "action": "ADD", "bizStep": "commissioning", "quantityList": qty(&l1, 500),
                    "bizLocation": { "id": loc_id(&farm()) },
                }),
            ),
        ),
        (
            "harvest L2",
            "grower",
            event(
                "ObjectEvent",
                &at(0, 6 * 60 + 10),
                json!({
                    "action": "ADD", "bizStep": "commissioning", "quantityList": qty(&l2, 400),
                    "bizLocation": { "id": loc_id(&farm()) },
                }),
            ),
        ),
        (
            "pack L1",
            "packer",
            transformation(8 * 60, &l1, &cartons("L1", 3), "L1"),
        ),
        (
            "pack L2",
            "packer",
            transformation(8 * 60 + 5, &l2, &cartons("L2", 2), "L2"),
        ),
        (
            "palletise P1",
            "packer",
            aggregation(
                9 * 60,
                "ADD",
                "packing",
                &pallet(1),
                &cartons("L1", 3),
                &plant(),
            ),
        ),
        (
            "palletise P2",
            "packer",
            aggregation(
                9 * 60 + 5,
                "ADD",
                "packing",
                &pallet(2),
                &cartons("L2", 2),
                &plant(),
            ),
        ),
        (
            "inspect P1",
            "officer",
            object(
                &at(0, 9 * 60 + 30),
                "OBSERVE",
                Some("inspecting"),
                &[pallet(1)],
                None,
            ),
        ),
        (
            "ship P1 P2",
            "storekeeper",
            object(
                &at(0, 10 * 60),
                "OBSERVE",
                Some("shipping"),
                &[pallet(1), pallet(2)],
                Some(&plant()),
            ),
        ),
        (
            "depalletise P1",
            "packer",
            aggregation(
                14 * 60,
                "DELETE",
                "unpacking",
                &pallet(1),
                &cartons("L1", 3),
                &dc(),
            ),
        ),
        ("deliver C1", "driver", {
            let mut e = object(
                &at(0, 15 * 60),
                "OBSERVE",
                Some("arriving"),
                &cartons("L1", 1),
                None,
            );
            e["eventID"] = json!("urn:uuid:2d1f7c4a-8e3b-4f6d-9a1c-5b7e0f3d2c91");
            e
        }),
        (
            "store empty P1",
            "storekeeper",
            object(
                &at(0, 16 * 60),
                "OBSERVE",
                Some("storing"),
                &[pallet(1)],
                Some(&dc()),
            ),
        ),
        // P2 is emptied without listing its children.
        (
            "empty P2",
            "packer",
            event(
                "AggregationEvent",
                &at(0, 13 * 60),
                json!({
                    "action": "DELETE",
                    "parentID": pallet(2),
                    "bizStep": "unpacking",
                    "bizLocation": { "id": loc_id(&dc()) },
                }),
            ),
        ),
        (
            "store empty P2",
            "storekeeper",
            object(
                &at(0, 16 * 60 + 30),
                "OBSERVE",
                Some("storing"),
                &[pallet(2)],
                Some(&dc()),
            ),
        ),
        (
            "press L1",
            "packer",
            event(
                "TransformationEvent",
                &at(0, 17 * 60),
                json!({
                    "inputQuantityList": qty(&l1, 100),
                    "outputQuantityList": [{ "epcClass": lgtin(&juice(), "J1"), "quantity": 60, "uom": "LTR" }],
                    "bizStep": "commissioning",
                    "bizLocation": { "id": loc_id(&plant()) },
                }),
            ),
        ),
    ];
    let mut seq = BTreeMap::new();
    for (name, who, e) in steps {
        let run = c.capture(&key(who), &doc(vec![e]));
        match &run.only().status {
            TxStatus::Applied => {}
            other => panic!("{name}: {other:?}"),
        }
        seq.insert(name, c.captured_seqs(&run)[0]);
    }
    Journey { chain: c, seq }
}

impl Journey {
    fn walk(&self, start: &str, d: Direction) -> Lineage {
        lineage::walk(&self.chain.view(), start, d, &mut |_| Ok(true)).expect("walks")
    }
    fn seqs(&self, names: &[&str]) -> BTreeSet<u64> {
        names.iter().map(|n| self.seq[n]).collect()
    }
}

fn event_seqs(l: &Lineage) -> BTreeSet<u64> {
    l.events.iter().map(|e| e.seq).collect()
}

fn node<'a>(l: &'a Lineage, id: &str) -> Option<&'a lineage::TraceNode> {
    l.nodes.iter().find(|n| n.id == id)
}

#[test]
fn trace_back_from_a_carton_and_forward_from_its_lot() {
    let j = journey();
    let c1 = &cartons("L1", 1)[0];
    let l1 = lgtin(&bulk(), "L1");

    let back = j.walk(c1, Direction::Back);
    assert_eq!(back.direction, Direction::Back);
    assert!(!back.truncated);
    assert_eq!(back.hidden_events, 0);
    assert_eq!(back.nodes[0].id, *c1);
    assert_eq!(back.nodes[0].depth, 0);
    let p1 = node(&back, &pallet(1)).expect("reaches the pallet");
    assert_eq!(p1.relation, Some("contained_in"));
    assert_eq!(p1.from.as_deref(), Some(c1.as_str()));
    assert_eq!(p1.via_event, Some(j.seq["palletise P1"]));
    let lot = node(&back, &l1).expect("reaches the input lot");
    assert_eq!(lot.relation, Some("made_from"));
    assert_eq!(lot.via_event, Some(j.seq["pack L1"]));
    assert_eq!(
        node(&back, &lgtin(&carton(), "L1")).and_then(|n| n.relation),
        Some("of_lot"),
        "the cartons' own lot, from the ILMD"
    );
    let compost_lot = node(&back, &lgtin(&compost(), "C7")).expect("raw material from master data");
    assert_eq!(compost_lot.relation, Some("raw_material"));
    assert_eq!(compost_lot.from.as_deref(), Some(l1.as_str()));
    assert_eq!(compost_lot.depth, 2);
    for other in [
        pallet(2),
        cartons("L2", 1)[0].clone(),
        cartons("L1", 2)[1].clone(),
        lgtin(&bulk(), "L2"),
    ] {
        assert!(
            node(&back, &other).is_none(),
            "{other} is not upstream of C1"
        );
    }
    // Exactly the pallet's events while the carton was on it: the inspection and the
    // shipment, not the empty pallet's storage after the DELETE; the lot's events up
    // to the packing, not the later pressing.
    assert_eq!(
        event_seqs(&back),
        j.seqs(&[
            "harvest L1",
            "pack L1",
            "palletise P1",
            "inspect P1",
            "ship P1 P2",
            "depalletise P1",
            "deliver C1",
        ])
    );
    let times: Vec<i64> = back.events.iter().map(|e| e.event_time_ms).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "events by eventTime"
    );

    let fwd = j.walk(&l1, Direction::Forward);
    for c in cartons("L1", 3) {
        let n = node(&fwd, &c).expect("every carton of the lot");
        assert_eq!(n.relation, Some("made_into"));
        assert_eq!(n.via_event, Some(j.seq["pack L1"]));
    }
    assert_eq!(
        node(&fwd, &pallet(1)).and_then(|n| n.relation),
        Some("packed_into")
    );
    assert_eq!(
        node(&fwd, &lgtin(&juice(), "J1")).and_then(|n| n.relation),
        Some("made_into")
    );
    for other in [
        pallet(2),
        cartons("L2", 1)[0].clone(),
        cartons("L2", 2)[1].clone(),
        lgtin(&bulk(), "L2"),
    ] {
        assert!(
            node(&fwd, &other).is_none(),
            "{other} is not downstream of L1"
        );
    }
    assert_eq!(fwd.nodes.len(), 1 + 3 + 1 + 1, "{:?}", fwd.nodes);
    let seqs = event_seqs(&fwd);
    assert!(
        !seqs.contains(&j.seq["store empty P1"]),
        "not after the cartons left"
    );
    assert!(!seqs.contains(&j.seq["palletise P2"]));
    assert!(seqs.is_superset(&j.seqs(&[
        "pack L1",
        "palletise P1",
        "ship P1 P2",
        "deliver C1",
        "press L1"
    ])));

    // A pallet emptied without naming its children: the carton left it then too.
    let d1 = &cartons("L2", 1)[0];
    let back = j.walk(d1, Direction::Back);
    assert_eq!(
        node(&back, &pallet(2)).and_then(|n| n.relation),
        Some("contained_in")
    );
    assert_eq!(
        event_seqs(&back),
        j.seqs(&["harvest L2", "pack L2", "palletise P2", "ship P1 P2"])
    );

    // From the pallet: its contents while loaded, and nothing after it was emptied.
    let from_pallet = j.walk(&pallet(1), Direction::Back);
    for c in cartons("L1", 3) {
        assert_eq!(
            node(&from_pallet, &c).and_then(|n| n.relation),
            Some("contains")
        );
    }
    assert!(node(&from_pallet, &cartons("L2", 1)[0]).is_none());
}

#[test]
fn trace_hides_what_the_reader_may_not_read_and_does_not_follow_it() {
    let mut j = journey();
    let c1 = cartons("L1", 1)[0].clone();
    let walk_as = |j: &Journey, reader: &str, start: &str, d: Direction| {
        let m = j.chain.member(&key(reader));
        let view = j.chain.view();
        let holds = lineage::walk_holds(&view, &m.org, start, d).expect("reads");
        lineage::walk(&view, start, d, &mut |r: &EventRecord| {
            waybill_state::trace::may_read_event(&view, &m, r, holds)
        })
        .expect("walks")
    };
    // A platform that never held the carton reads none of its history, though its
    // role reads production and transport: the carton's own four events are hidden,
    // and the walk goes nowhere (a competitor learns nothing from the chain).
    let l = walk_as(&j, "seller", &c1, Direction::Back);
    assert_eq!(l.nodes.len(), 1);
    assert!(l.events.is_empty());
    assert_eq!(l.hidden_events, 4);
    // Recording its own observation of the carton claims nothing: the event is its
    // own to read, the carton's history still is not (custody is handed over).
    let sale = object(
        &at(0, 18 * 60),
        "OBSERVE",
        Some("retail_selling"),
        std::slice::from_ref(&c1),
        None,
    );
    assert_applied(&j.chain.capture(&key("seller"), &doc(vec![sale])));
    let l = walk_as(&j, "seller", &c1, Direction::Back);
    assert_eq!(
        (l.events.len(), l.nodes.len()),
        (1, 1),
        "only its own event"
    );
    assert_eq!(l.hidden_events, 4);
    // The packer, which holds the carton, ships it to the platform (named as owning
    // party): now the carton's history is the platform's to read, walking back — all
    // but customs' inspection, which its role does not read.
    let mut ship = object(
        &at(0, 17 * 60 + 30),
        "OBSERVE",
        Some("shipping"),
        std::slice::from_ref(&c1),
        Some(&dc()),
    );
    ship["destinationList"] = json!([
        {"type": "owning_party", "destination": "urn:epc:id:pgln:6908001.00000"}
    ]);
    assert_applied(&j.chain.capture(&key("storekeeper"), &doc(vec![ship])));
    // Holding C1 now, it names another lot's carton beside it: that hands nothing
    // of the other carton over.
    let other = cartons("L2", 1)[0].clone();
    let both = object(
        &at(0, 18 * 60 + 5),
        "OBSERVE",
        Some("retail_selling"),
        &[c1.clone(), other.clone()],
        None,
    );
    assert_applied(&j.chain.capture(&key("seller"), &doc(vec![both])));
    let l = walk_as(&j, "seller", &other, Direction::Back);
    assert_eq!(
        l.events.len(),
        1,
        "only its own event names the other carton"
    );
    assert!(l.hidden_events > 0);
    let l = walk_as(&j, "seller", &c1, Direction::Back);
    assert_eq!(l.hidden_events, 1);
    assert!(!event_seqs(&l).contains(&j.seq["inspect P1"]));
    assert_eq!(
        event_seqs(&l).len(),
        9,
        "six events of its history, the shipment to it and its two sales"
    );
    // Walking forward from the lot it never held, it reads only what names the
    // carton it sold (the packing that made it, the pallet it rode, the sale).
    let fwd = walk_as(&j, "seller", &lgtin(&bulk(), "L1"), Direction::Forward);
    assert!(!event_seqs(&fwd).contains(&j.seq["harvest L1"]));
    assert!(fwd.hidden_events > 0);
    // Granted, it does.
    assert_applied(&j.chain.submit(
        &admin(CUSTOMS),
        Payload::GrantRead(GrantRead {
            org: org(SHOPMART),
            category: DataCategory::CustomsQuality,
            allowed: true,
        }),
    ));
    let l = walk_as(&j, "seller", &c1, Direction::Back);
    assert_eq!(l.hidden_events, 0);
    assert!(event_seqs(&l).contains(&j.seq["inspect P1"]));
    // Regulators see everything; consumers nothing, and the walk goes nowhere.
    assert_eq!(
        walk_as(&j, "auditor", &c1, Direction::Back).hidden_events,
        0
    );
    let l = walk_as(&j, "shopper", &c1, Direction::Back);
    assert_eq!(l.nodes.len(), 1);
    assert!(l.events.is_empty());
    assert_eq!(
        l.hidden_events, 7,
        "the carton's own seven events (with the shipment and the two sales)"
    );

    // A hidden aggregation is not followed: no pallet, none of its events.
    let hide = j.seq["palletise P1"];
    let l = lineage::walk(&j.chain.view(), &c1, Direction::Back, &mut |r| {
        Ok(r.seq != hide)
    })
    .expect("walks");
    assert_eq!(l.hidden_events, 1);
    assert!(node(&l, &pallet(1)).is_none());
    assert!(!event_seqs(&l).contains(&j.seq["ship P1 P2"]));
    assert!(!event_seqs(&l).contains(&j.seq["inspect P1"]));
    assert!(
        node(&l, &lgtin(&bulk(), "L1")).is_some(),
        "other edges still followed"
    );
    let hide = j.seq["pack L1"];
    let l = lineage::walk(
        &j.chain.view(),
        &lgtin(&bulk(), "L1"),
        Direction::Forward,
        &mut |r| Ok(r.seq != hide),
    )
    .expect("walks");
    assert_eq!(l.hidden_events, 1);
    assert!(cartons("L1", 3).iter().all(|c| node(&l, c).is_none()));
    assert!(node(&l, &pallet(1)).is_none());
}

#[test]
fn trace_skips_corrected_events() {
    let mut j = journey();
    let c1 = cartons("L1", 1)[0].clone();
    // The carrier declares its delivery of C1 in error.
    let delivered = j.chain.event(j.seq["deliver C1"]);
    let mut declaration: Value = serde_json::from_str(&delivered.json).expect("json");
    declaration["errorDeclaration"] =
        json!({ "declarationTime": "2026-01-01T18:00:00Z", "reason": "did_not_occur" });
    let run = j.chain.capture(&key("driver"), &doc(vec![declaration]));
    assert_applied(&run);
    let decl = j.chain.captured_seqs(&run)[0];
    assert_eq!(j.chain.event(j.seq["deliver C1"]).corrected_by, Some(decl));
    let l = j.walk(&c1, Direction::Back);
    assert_eq!(l.corrected_events, 2, "the delivery and its declaration");
    assert!(!event_seqs(&l).contains(&j.seq["deliver C1"]));
    assert!(!event_seqs(&l).contains(&decl));
    assert!(event_seqs(&l).contains(&j.seq["pack L1"]));
}

// ---------------------------------------------------------------------------
// 6. Audit trail.
// ---------------------------------------------------------------------------

/// The audit entries of a subject, in block order, from `height` on: the derived
/// index lists (height, transaction index); each entry is rebuilt from the block.
fn audit_of(c: &Chain, kind: u8, subject: &[u8], from_height: u64) -> Vec<AuditEntry> {
    let prefix = keys::audit_of(kind, subject);
    waybill_state::index::all_entries(&c.index, &prefix)
        .expect("the index reads")
        .into_iter()
        .filter(|(h, _)| *h >= from_height)
        .map(|(h, i)| {
            let (time_ms, txs, receipts) = &c.blocks[&h];
            let place = waybill_state::block::TxPlace {
                height: Height(h),
                time_ms: *time_ms,
                receipt: &receipts[i as usize],
            };
            waybill_state::block::audit_entry(&c.state, place, &txs[i as usize], (kind, subject))
                .expect("the state reads")
        })
        .collect()
}

fn outcomes(entries: &[AuditEntry]) -> Vec<(u64, TxId, &str, &str)> {
    entries
        .iter()
        .map(|e| (e.height.0, e.tx_id, e.action.as_str(), e.outcome.as_str()))
        .collect()
}

#[test]
fn every_transaction_leaves_an_audit_trail() {
    let mut c = Chain::new();
    let start = c.height + 1;
    // One block: two applied, two rejected.
    let txs = c.sign_all(&[
        (key("grower"), product(&bulk(), "fresh fruit")),
        (key("grower"), lot(&bulk(), "A1", &[], &[])),
        (key("driver"), lot(&bulk(), "A2", &[], &[])),
        (key("grower"), lot(&compost(), "A3", &[], &[])),
    ]);
    let run1 = c.commit(&txs);
    let ids1: Vec<TxId> = txs.iter().map(SignedTx::id).collect();
    let status: Vec<String> = run1
        .results
        .iter()
        .map(|r| match &r.as_ref().expect("in block").status {
            TxStatus::Applied => "applied".to_string(),
            TxStatus::Rejected { code, .. } => format!("rejected: {code}"),
        })
        .collect();
    assert_eq!(
        status,
        [
            "applied",
            "applied",
            "rejected: not_authorized",
            "rejected: unknown_product"
        ]
    );
    let h1 = run1.height;

    // Captures: one naming cartons, one naming only a pallet, one refused.
    let named = c.capture(
        &key("packer"),
        &doc(vec![object(
            &at(0, 1),
            "ADD",
            Some("commissioning"),
            &cartons("AU", 2),
            Some(&plant()),
        )]),
    );
    assert_applied(&named);
    let pallet_only = c.capture(
        &key("storekeeper"),
        &doc(vec![object(
            &at(0, 2),
            "OBSERVE",
            Some("storing"),
            &[pallet(9)],
            Some(&plant()),
        )]),
    );
    assert_applied(&pallet_only);
    let refused = c.capture(
        &key("driver"),
        &doc(vec![object(
            &at(0, 3),
            "ADD",
            Some("commissioning"),
            &cartons("AX", 1),
            None,
        )]),
    );
    assert_rejected(&refused, &key("driver"), "invalid_epcis");

    // Per signer.
    let grower = audit_of(&c, subject::MEMBER, &key("grower").public().0, start);
    assert_eq!(
        outcomes(&grower),
        (vec![
            (h1, ids1[0], "register_product", "applied"),
            (h1, ids1[1], "register_lot", "applied"),
            (h1, ids1[3], "register_lot", "rejected: unknown_product"),
        ])
    );
    for e in &grower {
        assert_eq!(e.signer, key("grower").public());
        assert_eq!(e.org, Some(org(ORCHARD)));
        assert_eq!(e.time_ms, T0 + h1 * 1_000);
    }
    assert!(grower
        .iter()
        .any(|e| e.summary.contains("registered lot A1")));
    let driver = audit_of(&c, subject::MEMBER, &key("driver").public().0, start);
    assert_eq!(
        outcomes(&driver),
        vec![
            (h1, ids1[2], "register_lot", "rejected: not_authorized"),
            (
                refused.height,
                refused.tx_id(),
                "capture_epcis",
                "rejected: invalid_epcis"
            ),
        ]
    );
    let packer = audit_of(&c, subject::MEMBER, &key("packer").public().0, start);
    assert_eq!(
        outcomes(&packer),
        vec![(named.height, named.tx_id(), "capture_epcis", "applied")]
    );

    // Per organization: every member's transactions.
    assert_eq!(
        outcomes(&audit_of(&c, subject::ORG, ORCHARD.as_bytes(), start)),
        outcomes(&grower)
    );
    assert_eq!(
        outcomes(&audit_of(&c, subject::ORG, COLDCHAIN.as_bytes(), start)),
        outcomes(&driver)
    );
    assert_eq!(
        outcomes(&audit_of(&c, subject::ORG, PACKING.as_bytes(), start)),
        vec![
            (named.height, named.tx_id(), "capture_epcis", "applied"),
            (
                pallet_only.height,
                pallet_only.tx_id(),
                "capture_epcis",
                "applied"
            ),
        ]
    );
    // The setup left entries too: the admins' registrations at height 1.
    let admin_entries = audit_of(&c, subject::MEMBER, &admin(ORCHARD).public().0, 0);
    assert_eq!(outcomes(&admin_entries).len(), 1);
    assert_eq!(admin_entries[0].action, "register_member");
    assert_eq!(admin_entries[0].height, Height(1));

    // Per product: applied product, lot and capture transactions only.
    let bulk_entries = audit_of(&c, subject::PRODUCT, bulk().as_str().as_bytes(), 0);
    assert_eq!(
        outcomes(&bulk_entries),
        (vec![
            (h1, ids1[0], "register_product", "applied"),
            (h1, ids1[1], "register_lot", "applied"),
        ])
    );
    assert!(audit_of(&c, subject::PRODUCT, compost().as_str().as_bytes(), 0).is_empty());
    let carton_entries = audit_of(&c, subject::PRODUCT, carton().as_str().as_bytes(), 0);
    assert_eq!(
        outcomes(&carton_entries),
        vec![(named.height, named.tx_id(), "capture_epcis", "applied")]
    );
    assert_eq!(carton_entries[0].org, Some(org(PACKING)));
    assert_contains(
        &carton_entries[0].summary,
        &["1 EPCIS event", carton().as_str()],
    );
}

// ---------------------------------------------------------------------------
// 7. Determinism.
// ---------------------------------------------------------------------------

#[test]
fn the_same_block_on_the_same_state_writes_the_same() {
    let mut j = journey();
    // The journey itself (fifteen blocks, a dozen captures) replays identically.
    let replay = journey();
    assert_eq!(replay.chain.state_hash, j.chain.state_hash);
    assert_eq!(replay.chain.state, j.chain.state);
    let c = &mut j.chain;
    // The block below captures demo documents: its time is after their events.
    c.set_next_time(AFTER_DEMO_MS);
    assert_applied(&c.submit(
        &key("qc"),
        qualification(ORCHARD, "organic", "ORG-D", "2026-01-01", "2026-12-31"),
    ));
    let delivered = c.event(j.seq["deliver C1"]);
    let mut declaration: Value = serde_json::from_str(&delivered.json).expect("json");
    declaration["errorDeclaration"] = json!({ "declarationTime": "2026-01-01T18:00:00Z" });
    let fresh = doc(vec![
        object(
            &at(1, 10),
            "OBSERVE",
            Some("storing"),
            &[pallet(1), pallet(2)],
            Some(&hub()),
        ),
        event(
            "AggregationEvent",
            &at(1, 20),
            json!({ "action": "ADD", "parentID": pallet(3), "childEPCs": cartons("L2", 2), "bizStep": "loading" }),
        ),
    ]);
    let items = vec![
        (key("coldstore"), capture(&fresh)),
        (key("coldstore"), capture(&fresh)),
        (key("driver"), capture(&doc(vec![declaration]))),
        (
            key("packer"),
            capture(&demo("orange/04-palletising.jsonld")),
        ),
        (
            key("driver"),
            capture(&doc(vec![object(
                &at(1, 30),
                "ADD",
                Some("commissioning"),
                &[pallet(4)],
                None,
            )])),
        ),
        (key("grower"), lot(&bulk(), "ORG-LOT", &["organic"], &[])),
        (
            admin(CUSTOMS),
            Payload::GrantRead(GrantRead {
                org: org(SHOPMART),
                category: DataCategory::CustomsQuality,
                allowed: true,
            }),
        ),
        (
            key("auditor"),
            require("juice", Some("food_production_license")),
        ),
    ];
    let txs = c.sign_all(&items);
    let a = c.execute(&txs);
    let b = c.execute(&txs);
    assert_eq!(a, b, "same writes, same receipts");
    assert_eq!(
        next_state_hash(&c.state_hash, &a.writes, &a.receipts),
        next_state_hash(&c.state_hash, &b.writes, &b.receipts)
    );
    let applied = a
        .receipts
        .iter()
        .filter(|r| r.status == TxStatus::Applied)
        .count();
    assert_eq!(applied, items.len() - 1, "{:?}", a.receipts);
    assert!(
        written_in(&a.writes, keys::EVENT) >= 4,
        "events were written"
    );
    // A copy of the state gives the same result too.
    let copy = c.state.clone();
    let again = run_block(&copy, c.next_ctx(), &txs);
    assert_eq!(again, a);
    // Committed, the next block sees the first one's effects: the re-sent capture
    // was a duplicate within the block, and the declaration corrected the delivery.
    let run = c.commit(&txs);
    assert_eq!(run, a);
    let second = trace::load_capture(&c.state, &txs[1].id())
        .expect("reads")
        .expect("record");
    assert!(second.events.iter().all(|e| e.duplicate));
    assert!(c.event(j.seq["deliver C1"]).corrected_by.is_some());
}

// ---------------------------------------------------------------------------
// Found while writing these tests.
// ---------------------------------------------------------------------------

/// An organization may declare in error only the events it captured itself: otherwise
/// any member with write authority could void a competitor's records (and so hide them
/// from every trace) by naming their eventID.
#[test]
fn only_the_capturing_organization_declares_its_events_in_error() {
    let mut c = Chain::new();
    let eid = "urn:uuid:9c3e1a7b-4d2f-4e8a-b6c1-7f0e2d5a9b34";
    let mut harvest = object(
        &at(0, 10),
        "ADD",
        Some("commissioning"),
        &[lgtin(&bulk(), "H9")],
        None,
    );
    harvest["eventID"] = json!(eid);
    assert_applied(&c.capture(&key("grower"), &doc(vec![harvest.clone()])));
    let mut declaration = harvest.clone();
    declaration["errorDeclaration"] =
        json!({ "declarationTime": "2026-01-01T12:00:00Z", "reason": "did_not_occur" });
    // The packing house may write production data, but this harvest is not its own.
    let msg = assert_rejected(
        &c.capture(&key("packer"), &doc(vec![declaration.clone()])),
        &key("packer"),
        "event_id_taken",
    );
    assert_contains(&msg, &["/epcisBody/eventList/0/eventID", eid, ORCHARD]);
    assert_eq!(c.event(1).corrected_by, None);
    assert_eq!(c.event_count(), 1);
    // The orchard may.
    assert_applied(&c.capture(&key("grower"), &doc(vec![declaration])));
    assert_eq!(c.event(1).corrected_by, Some(2));
}

#[test]
fn product_audit_entries_name_the_signers_organization() {
    let mut c = Chain::new();
    let run = c.submit(&key("grower"), product(&bulk(), "fresh fruit"));
    assert_applied(&run);
    let entries = audit_of(&c, subject::PRODUCT, bulk().as_str().as_bytes(), 0);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].signer, key("grower").public());
    assert_eq!(entries[0].org, Some(org(ORCHARD)));
}

#[test]
fn lot_of_decodes_percent_escapes_and_never_panics() {
    let g = bulk();
    assert_eq!(
        trace::lot_of(&format!("https://id.gs1.org/01/{g}/10/A%2BB%25")),
        Some((g.as_str().to_string(), "A+B%".to_string()))
    );
    assert_eq!(
        trace::lot_of(&format!("https://id.gs1.org/01/{g}/21/S1")),
        None
    );
    // Not canonical, but a public function must not panic on it.
    for odd in ["%", "%4", "%zz", "%aé", "%é", "a%"] {
        let got = trace::lot_of(&format!("https://id.gs1.org/01/{g}/10/{odd}"));
        assert!(got.is_some(), "{odd}");
    }
}

// ---------------------------------------------------------------------------
// Conformance: the GS1 Event Hash ID vectors, captured through transactions.
// ---------------------------------------------------------------------------

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

#[test]
fn captured_events_carry_the_reference_event_hash_ids() {
    let mut c = Chain::new();
    let dir = std::path::Path::new(CONFORMANCE).join("epcis/event-hash-id");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonld"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the vectors are there");
    // The example location some of them use, registered by its prefix's owner.
    let example = gln("001234511111");
    assert_applied(&c.submit(&admin(EVERY), location(&example, "GS1 example site")));
    let capturer = admin(EVERY);
    let mut checked = 0;
    for path in files {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("read");
        let expected: Vec<String> = std::fs::read_to_string(path.with_extension("hashes"))
            .expect("hashes")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if text.contains("ignoreFields") {
            // The two events differ only in the fields the document ignores: one event,
            // the second a duplicate, both with the vector's ID.
            assert_eq!(expected.len(), 2);
            assert_eq!(expected[0], expected[1]);
        }
        let mut corrects = None;
        if text.contains("errorDeclaration") {
            // It corrects an event this chain never recorded: refused ...
            let msg = assert_rejected(&c.capture(&capturer, &text), &capturer, "invalid_epcis");
            assert_contains(
                &msg,
                &["/eventID", "no event with that eventID is recorded"],
            );
            // ... until the event it corrects is captured; both have the vector's ID.
            let mut original: Value = serde_json::from_str(&text).expect("json");
            for e in original["epcisBody"]["eventList"]
                .as_array_mut()
                .expect("events")
            {
                e.as_object_mut().expect("event").remove("errorDeclaration");
            }
            let first = c.capture(&capturer, &original.to_string());
            assert_applied(&first);
            let seq = c.captured_seqs(&first)[0];
            assert_eq!(c.event(seq).hash_id(), expected[0], "{name}: the original");
            corrects = Some(seq);
        }
        let run = c.capture(&capturer, &text);
        match &run.only().status {
            TxStatus::Applied => {}
            other => panic!("{name}: {other:?}"),
        }
        let rec = trace::load_capture(&c.state, &run.tx_id())
            .expect("reads")
            .expect("record");
        let got: Vec<String> = rec.events.iter().map(|e| e.hash_id.clone()).collect();
        assert_eq!(got, expected, "{name}");
        for e in rec.events.iter().filter(|e| !e.duplicate) {
            assert_eq!(c.event(e.seq).hash_id(), e.hash_id, "{name}");
        }
        if let Some(original) = corrects {
            assert_eq!(c.event(original).corrected_by, Some(rec.events[0].seq));
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked} documents checked");
}

// ---------------------------------------------------------------------------
// 7. Complete histories: subject chains and the heads tree.
// ---------------------------------------------------------------------------

/// Every subject's records form a chain from its head back to its first record through
/// the `prev` links — the same records the identifier index lists, none skipped, none
/// extra — and the heads tree in state has the root of the set of heads, recomputed
/// from scratch.
#[test]
fn every_subject_chain_is_complete_and_the_heads_tree_commits_to_the_heads() {
    use waybill_state::open;
    use waybill_types::smt;
    let j = journey();
    let state = &j.chain.state;
    let heads: Vec<(String, open::Head)> = state
        .iter()
        .filter(|(k, _)| k.first() == Some(&keys::HEAD))
        .map(|(k, _)| {
            let s = String::from_utf8(k[1..].to_vec()).expect("utf-8 subject");
            let h = open::load_head(state, &s).expect("reads").expect("head");
            (s, h)
        })
        .collect();
    assert!(heads.len() >= 10, "{} subjects", heads.len());
    for (s, head) in &heads {
        // The chain, newest first, by the links.
        let mut chain = Vec::new();
        let mut at = Some((head.height, u64::from(head.index)));
        while let Some((h, i)) = at {
            let bytes = state
                .get(&keys::open(h, u32::try_from(i).expect("index")))
                .unwrap_or_else(|| panic!("{s}: record {h}/{i} is stored"));
            if chain.is_empty() {
                assert_eq!(
                    waybill_types::merkle::leaf_hash(bytes),
                    head.leaf,
                    "{s}: the head names its record's leaf"
                );
            }
            let rec: Value = serde_json::from_slice(bytes).expect("json");
            let prev = rec["prev"]
                .get(s.as_str())
                .unwrap_or_else(|| panic!("{s}: {rec}"));
            chain.push((h, i));
            at = prev.as_array().map(|a| {
                let p = (a[0].as_u64().expect("h"), a[1].as_u64().expect("i"));
                assert!(p < (h, i), "{s}: links go back");
                p
            });
        }
        // The index of records naming the subject, oldest first.
        let prefix = keys::open_of(s);
        let mut indexed: Vec<(u64, u64)> =
            waybill_state::index::all_entries(&j.chain.index, &prefix)
                .expect("the index reads")
                .into_iter()
                .map(|(h, i)| (h, u64::from(i)))
                .collect();
        indexed.reverse();
        assert_eq!(chain, indexed, "{s}: the chain is every record naming it");
    }
    // The heads tree: rebuilt from the heads alone, same root.
    #[derive(Default)]
    struct Mem(BTreeMap<(usize, [u8; 32]), smt::Node>);
    impl smt::NodeStore for Mem {
        type Error = std::convert::Infallible;
        fn get(&self, d: usize, p: &[u8; 32]) -> Result<Option<smt::Node>, Self::Error> {
            Ok(self.0.get(&(d, *p)).copied())
        }
        fn put(&mut self, d: usize, p: &[u8; 32], n: Option<smt::Node>) {
            match n {
                Some(n) => self.0.insert((d, *p), n),
                None => self.0.remove(&(d, *p)),
            };
        }
    }
    let mut entries: Vec<([u8; 32], [u8; 32])> = heads
        .iter()
        .map(|(s, h)| (smt::subject_key(s), h.value()))
        .collect();
    entries.sort();
    let mut fresh = Mem::default();
    let Ok(root) = smt::update(&mut fresh, &entries);
    assert_eq!(
        open::heads_root(state, &WriteSet::new()).expect("reads").0,
        root
    );
    // Every head proves against it; an unknown subject proves absent.
    for (s, h) in &heads {
        let p = open::prove_head(state, s).expect("reads");
        assert_eq!(
            smt::verify(&root, &smt::subject_key(s), &p),
            Ok(Some(h.value()))
        );
    }
    let p =
        open::prove_head(state, "https://id.gs1.org/01/06901234999990/21/nobody").expect("reads");
    assert_eq!(
        smt::verify(
            &root,
            &smt::subject_key("https://id.gs1.org/01/06901234999990/21/nobody"),
            &p
        ),
        Ok(None)
    );
}

/// A block that publishes nothing leaves the heads tree as it was; one that does
/// moves exactly the heads of the subjects it names.
#[test]
fn heads_move_only_for_the_subjects_a_block_names() {
    use waybill_state::open;
    let mut j = journey();
    let before = open::heads_root(&j.chain.state, &WriteSet::new()).expect("reads");
    let run = j.chain.commit(&[]);
    assert!(run.writes.is_empty());
    assert_eq!(
        open::heads_root(&j.chain.state, &WriteSet::new()).expect("reads"),
        before
    );
    let item = sgtin(&carton(), "L1-001");
    let item_dl = canonical(&item);
    let head_before = open::load_head(&j.chain.state, &item_dl)
        .expect("reads")
        .expect("head");
    j.chain.set_next_time(T0 + 10 * DAY_MS);
    let run = j.chain.capture(
        &key("coldstore"),
        &doc(vec![object(
            &at(9, 0),
            "OBSERVE",
            Some("storing"),
            std::slice::from_ref(&item),
            Some(&hub()),
        )]),
    );
    assert_applied(&run);
    let moved: Vec<String> = run
        .writes
        .keys()
        .filter(|k| k.first() == Some(&keys::HEAD))
        .map(|k| String::from_utf8(k[1..].to_vec()).expect("utf-8"))
        .collect();
    assert_eq!(moved, vec![item_dl.clone()]);
    let head = open::load_head(&j.chain.state, &item_dl)
        .expect("reads")
        .expect("head");
    assert!((head.height, head.index) > (head_before.height, head_before.index));
    assert_ne!(
        open::heads_root(&j.chain.state, &WriteSet::new()).expect("reads"),
        before
    );
}

// ---------------------------------------------------------------------------
// Issue 12: Event Hash ID collisions, eventID reuse, event time bounds.
// ---------------------------------------------------------------------------

/// A transport event (no business location to check) naming one pallet.
fn stored(minute: u32, pallet: u32) -> Value {
    object(
        &at(0, minute),
        "OBSERVE",
        Some("storing"),
        &[sscc(pallet)],
        None,
    )
}

fn with_event_id(mut e: Value, eid: &str) -> Value {
    e["eventID"] = json!(eid);
    e
}

fn declared_in_error(mut e: Value) -> Value {
    e["errorDeclaration"] =
        json!({ "declarationTime": "2026-01-01T00:30:00Z", "reason": "incorrect_data" });
    e
}

fn capture_record(c: &Chain, run: &BlockRun) -> trace::CaptureRecord {
    trace::load_capture(&c.state, &run.tx_id())
        .expect("reads")
        .expect("capture record")
}

/// Two events that differ only in a numeric-looking extension string (or a number
/// beyond what an f64 holds) are two events, not a duplicate.
#[test]
fn events_differing_only_in_a_numeric_extension_are_two_events() {
    let mut c = Chain::new();
    let weighed = |ticket: Value| {
        let mut e = stored(10, 90);
        e["acme:weighTicket"] = ticket;
        e
    };
    let text = doc(vec![
        weighed(json!("340123450000000017")),
        weighed(json!("340123450000000024")),
    ]);
    let run = c.capture(&key("coldstore"), &text);
    assert_applied(&run);
    let rec = capture_record(&c, &run);
    assert!(rec.events.iter().all(|e| !e.duplicate), "{rec:?}");
    assert_ne!(rec.events[0].hash_id, rec.events[1].hash_id);
    assert_eq!(c.event_count(), 2);

    // Numbers beyond u64 and f64, written into the JSON text.
    let text = doc(vec![weighed(json!("TICKET-A")), weighed(json!("TICKET-B"))])
        .replace("\"TICKET-A\"", "340123450000000000017")
        .replace("\"TICKET-B\"", "340123450000000000024");
    let run = c.capture(&key("coldstore"), &text);
    assert_applied(&run);
    let rec = capture_record(&c, &run);
    assert!(rec.events.iter().all(|e| !e.duplicate), "{rec:?}");
    assert_ne!(rec.events[0].hash_id, rec.events[1].hash_id);
    // Stored as written, so that the exported event hashes to its ID again.
    let stored_json = &c.event(rec.events[1].seq).json;
    assert!(
        stored_json.contains("\"acme:weighTicket\":340123450000000000024"),
        "{stored_json}"
    );
    assert_eq!(c.event_count(), 4);
}

/// A document's `ignoreFields` is honoured: events differing only in the fields it
/// names are one event.
#[test]
fn ignore_fields_are_honoured_at_capture() {
    let mut c = Chain::new();
    let mut value = doc_value(vec![
        {
            let mut e = stored(10, 91);
            e["acme:captureID"] = json!("cc90bbe4-1");
            e
        },
        {
            let mut e = stored(10, 91);
            e["acme:captureID"] = json!("cc90bbe4-2");
            e
        },
    ]);
    value["acme:ignoreFields"] = json!(["acme:captureID"]);
    let run = c.capture(&key("coldstore"), &value.to_string());
    assert_applied(&run);
    let rec = capture_record(&c, &run);
    assert_eq!(
        rec.events
            .iter()
            .map(|e| (e.seq, e.duplicate))
            .collect::<Vec<_>>(),
        [(1, false), (1, true)]
    );
    assert_eq!(rec.events[0].hash_id, rec.events[1].hash_id);
    // The stored event keeps the ignored field.
    assert!(c.event(1).json.contains("cc90bbe4-1"));
    assert_eq!(c.event_count(), 1);
}

#[test]
fn an_event_id_belongs_to_the_organization_that_first_captured_it() {
    let mut c = Chain::new();
    let eid = "urn:uuid:4a1f0c2e-6b3d-4f8a-9c7e-1d2b3a4c5e01";
    let original = with_event_id(stored(10, 60), eid);
    let run = c.capture(&key("coldstore"), &doc(vec![original.clone()]));
    assert_applied(&run);
    let seq = c.captured_seqs(&run)[0];
    let hash_id = c.event(seq).hash_id();

    // The same organization (another of its members) sends the same event: a
    // duplicate, reported as such.
    let run = c.capture(&key("driver"), &doc(vec![original.clone()]));
    assert_applied(&run);
    assert_eq!(
        capture_record(&c, &run).events,
        [trace::CapturedEvent {
            seq,
            duplicate: true,
            hash_id: hash_id.clone(),
        }]
    );

    // The same organization, another event under that eventID: refused.
    let other = with_event_id(stored(11, 60), eid);
    let msg = assert_rejected(
        &c.capture(&key("coldstore"), &doc(vec![other.clone()])),
        &key("coldstore"),
        "event_id_taken",
    );
    assert_contains(
        &msg,
        &["/epcisBody/eventList/0/eventID", eid, COLDCHAIN, &hash_id],
    );

    // Another organization: refused, for another event and for the very same one.
    for e in [other, original.clone()] {
        let msg = assert_rejected(
            &c.capture(&key("storekeeper"), &doc(vec![e])),
            &key("storekeeper"),
            "event_id_taken",
        );
        assert_contains(&msg, &["/epcisBody/eventList/0/eventID", eid, COLDCHAIN]);
    }
    // Nor may it take the event's Event Hash ID as its own eventID.
    let msg = assert_rejected(
        &c.capture(
            &key("storekeeper"),
            &doc(vec![with_event_id(stored(12, 61), &hash_id)]),
        ),
        &key("storekeeper"),
        "event_id_taken",
    );
    assert_contains(&msg, &[&hash_id, COLDCHAIN]);
    // GET /epcis/events/{eventID} finds the one event.
    assert_eq!(trace::events_by_id(&c.state, eid).expect("reads"), [seq]);
    assert_eq!(c.event_count(), 1);

    // Twice in one document: the second is refused, by its pointer.
    let eid2 = "urn:uuid:4a1f0c2e-6b3d-4f8a-9c7e-1d2b3a4c5e02";
    let msg = assert_rejected(
        &c.capture(
            &key("coldstore"),
            &doc(vec![
                with_event_id(stored(20, 62), eid2),
                with_event_id(stored(21, 62), eid2),
            ]),
        ),
        &key("coldstore"),
        "event_id_taken",
    );
    assert_contains(&msg, &["/epcisBody/eventList/1/eventID", eid2]);
    assert!(!msg.contains("/eventList/0/"), "{msg}");
    // With another problem in the document, the code is the general one; both are named.
    let mut elsewhere = stored(22, 63);
    elsewhere["bizLocation"] = json!({ "id": loc_id(&unregistered()) });
    let msg = assert_rejected(
        &c.capture(
            &key("coldstore"),
            &doc(vec![with_event_id(stored(11, 60), eid), elsewhere]),
        ),
        &key("coldstore"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/eventID",
            "/epcisBody/eventList/1/bizLocation/id",
        ],
    );

    // Error declarations: another organization's is refused ...
    let declaration = declared_in_error(original);
    let msg = assert_rejected(
        &c.capture(&key("storekeeper"), &doc(vec![declaration.clone()])),
        &key("storekeeper"),
        "event_id_taken",
    );
    assert_contains(
        &msg,
        &["/epcisBody/eventList/0/eventID", eid, COLDCHAIN, "in error"],
    );
    assert_eq!(c.event(seq).corrected_by, None);
    // ... the capturer's is stored and marks the event ...
    let run = c.capture(&key("driver"), &doc(vec![declaration.clone()]));
    assert_applied(&run);
    let decl = c.captured_seqs(&run)[0];
    assert_eq!(c.event(seq).corrected_by, Some(decl));
    assert_eq!(
        trace::events_by_id(&c.state, eid).expect("reads"),
        [seq, decl]
    );
    // ... and a regulator's too, as the authority matrix allows.
    let eid3 = "urn:uuid:4a1f0c2e-6b3d-4f8a-9c7e-1d2b3a4c5e03";
    let third = with_event_id(stored(30, 64), eid3);
    let run = c.capture(&key("coldstore"), &doc(vec![third.clone()]));
    assert_applied(&run);
    let third_seq = c.captured_seqs(&run)[0];
    // Not the regulator's inspector: correcting others is the regulator role's.
    let msg = assert_rejected(
        &c.capture(
            &key("field-inspector"),
            &doc(vec![declared_in_error(third.clone())]),
        ),
        &key("field-inspector"),
        "invalid_epcis",
    );
    assert_contains(&msg, &["/epcisBody/eventList/0/bizStep", "may not write"]);
    let run = c.capture(&key("auditor"), &doc(vec![declared_in_error(third)]));
    assert_applied(&run);
    let by_regulator = c.captured_seqs(&run)[0];
    assert_eq!(c.event(third_seq).corrected_by, Some(by_regulator));
    assert_eq!(c.event(by_regulator).org, org(REGULATOR));
    assert!(c.event(by_regulator).error_declaration);
}

/// Two captures of one eventID in the same block: block order decides.
#[test]
fn two_captures_of_one_event_id_in_a_block_the_first_wins() {
    let c = Chain::new();
    let eid = "urn:uuid:7e2d1c0b-5a4f-4e3d-8c2b-1a0f9e8d7c01";
    let a = capture(&doc(vec![with_event_id(stored(10, 70), eid)]));
    let b = capture(&doc(vec![with_event_id(stored(11, 71), eid)]));
    for (first, second) in [
        (
            (key("coldstore"), a.clone()),
            (key("storekeeper"), b.clone()),
        ),
        ((key("storekeeper"), b), (key("coldstore"), a.clone())),
    ] {
        let txs = c.sign_all(&[first.clone(), second.clone()]);
        let run = c.execute(&txs);
        let status = |i: usize| {
            run.results[i]
                .as_ref()
                .expect("belongs in the block")
                .status
                .clone()
        };
        assert_eq!(status(0), TxStatus::Applied);
        match status(1) {
            TxStatus::Rejected { code, message } => {
                assert_eq!(code, "event_id_taken");
                assert_contains(&message, &[eid]);
            }
            other => panic!("the second capture must be refused: {other:?}"),
        }
    }
    // The same organization sending the same event twice in a block: a duplicate.
    let txs = c.sign_all(&[(key("coldstore"), a.clone()), (key("driver"), a)]);
    let run = c.execute(&txs);
    for r in &run.results {
        assert_eq!(r.as_ref().expect("in the block").status, TxStatus::Applied);
    }
}

/// eventTime (and declaration and sensor times) from 1970-01-01 to one day past the
/// block time: at each limit and one millisecond past it.
#[test]
fn event_times_lie_between_1970_and_a_day_after_the_block() {
    use waybill_epcis::time::format_ms;
    let mut c = Chain::new();
    let day = DAY_MS as i64;
    let at_ms = |ms: i64, pallet: u32| {
        object(
            &format_ms(ms),
            "OBSERVE",
            Some("storing"),
            &[sscc(pallet)],
            None,
        )
    };
    let block_time = |c: &Chain| c.next_ctx().time_ms as i64;

    let late = block_time(&c) + day + 1;
    let msg = assert_rejected(
        &c.capture(
            &key("coldstore"),
            &doc(vec![stored(1, 80), at_ms(late, 81)]),
        ),
        &key("coldstore"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/1/eventTime",
            &format_ms(late),
            "after the allowed range 1970-01-01T00:00:00.000Z to",
            &format_ms(late - 1),
        ],
    );
    let limit = block_time(&c) + day;
    assert_applied(&c.capture(&key("coldstore"), &doc(vec![at_ms(limit, 82)])));

    let msg = assert_rejected(
        &c.capture(&key("coldstore"), &doc(vec![at_ms(-1, 83)])),
        &key("coldstore"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/eventTime",
            "1969-12-31T23:59:59.999Z",
            "before",
        ],
    );
    assert_applied(&c.capture(&key("coldstore"), &doc(vec![at_ms(0, 84)])));

    // A declaration dated in the future, a sensor reading from before 1970.
    let mut declaration = at_ms(0, 84);
    declaration["errorDeclaration"] =
        json!({ "declarationTime": format_ms(block_time(&c) + day + 1) });
    let mut reading = stored(2, 85);
    reading["sensorElementList"] = json!([{
        "sensorReport": [{ "type": "Temperature", "value": 4.5, "uom": "CEL",
                           "time": "1969-07-20T20:17:40Z" }]
    }]);
    let msg = assert_rejected(
        &c.capture(&key("coldstore"), &doc(vec![declaration, reading])),
        &key("coldstore"),
        "invalid_epcis",
    );
    assert_contains(
        &msg,
        &[
            "/epcisBody/eventList/0/errorDeclaration/declarationTime",
            "/epcisBody/eventList/1/sensorElementList/0/sensorReport/0/time",
        ],
    );
    assert_eq!(c.event_count(), 2);
}

// ---------------------------------------------------------------------------
// A failed state read is a fault of the node, never a transaction's outcome.
// ---------------------------------------------------------------------------

/// Every read a transaction makes is failed in turn: each time, the transaction is
/// refused as a state fault (the node halts), never recorded as rejected or applied.
/// Covers the location check of captures, which once turned a read error into a
/// `state_error` rejection.
#[test]
fn a_failed_state_read_halts_the_block_and_never_becomes_a_rejection() {
    let mut c = Chain::new();
    c.commit_all(&[
        (key("grower"), product(&bulk(), "fresh fruit")),
        (
            key("auditor"),
            qualification(ORCHARD, "organic", "ORG-1", "2026-01-01", "2027-12-31"),
        ),
        (key("grower"), lot(&bulk(), "FAULT-0", &[], &[])),
    ]);
    let harvest = doc(vec![object(
        &at(0, 1),
        "ADD",
        Some("commissioning"),
        &[sgtin(&bulk(), "F-1")],
        Some(&farm()),
    )]);
    let seal_keys = seal_keys_for_recipients(&mut c);
    let cases: Vec<(&str, SecretKey, Payload)> = vec![
        ("capture at a location", key("grower"), capture(&harvest)),
        (
            "lot with a claim",
            key("grower"),
            lot(&bulk(), "FAULT-1", &["organic"], &[]),
        ),
        (
            "lot status",
            key("auditor"),
            Payload::SetLotStatus(waybill_types::payload::SetLotStatus {
                gtin: bulk(),
                lot: "FAULT-0".into(),
                status: waybill_types::payload::LotStatus::Quarantined,
                reason: "sampled".into(),
            }),
        ),
        (
            "location",
            key("grower"),
            location(&gln("690123400077"), "Shed"),
        ),
        (
            "delegation",
            key("grower"),
            delegate(&farm(), PACKING, true),
        ),
        (
            "encryption key",
            admin(ORCHARD),
            Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey {
                version: 2,
                key: waybill_types::seal::SealPublicKey([9; 32]),
            }),
        ),
        (
            "capture with a sealed field",
            key("grower"),
            capture(&doc(vec![sealed_event(
                "FAULT-S",
                "urn:uuid:00000000-0000-4000-8000-00000000fa17",
                "urn:uuid:00000000-0000-4000-8000-00000000fa17",
                "acme:price",
                &seal_keys
                    .iter()
                    .map(|(o, k)| (*o, 1, k.public()))
                    .collect::<Vec<_>>(),
            )])),
        ),
    ];
    for (what, k, payload) in cases {
        let tx = c.sign_all(&[(k, payload)]).remove(0);
        let baseline = c.execute(std::slice::from_ref(&tx));
        assert!(
            matches!(baseline.only().status, TxStatus::Applied),
            "{what}: applies on a sound store: {:?}",
            baseline.only()
        );
        let mut faults = 0;
        for fail_at in 0..10_000 {
            let f = Faulty::new(&c.state, fail_at);
            let Ok(mut ex) = Execution::begin(&f, c.next_ctx()) else {
                continue; // the start of the block read it: the block stops there
            };
            let result = ex.apply(&tx, tx.id()).cloned();
            if f.reads.get() <= fail_at {
                assert_eq!(result.as_ref(), baseline.results[0].as_ref(), "{what}");
                break;
            }
            faults += 1;
            assert!(
                matches!(result, Err(TxInvalid::State(_))),
                "{what}: read {fail_at} failed, yet the transaction came out {result:?}"
            );
        }
        assert!(faults > 0, "{what}: the transaction reads state");
    }
}

// ---------------------------------------------------------------------------
// Sealed fields in captured events.
// ---------------------------------------------------------------------------

fn register_seal_key(version: u32, key: waybill_types::seal::SealPublicKey) -> Payload {
    Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey { version, key })
}

/// Encryption keys (version 1) registered for the orchard, the platform and both
/// regulators (`sichuan-regulator`, and `every-role`, which holds every role): the
/// recipients the rule asks of a price the orchard seals for the platform.
fn seal_keys_for_recipients(
    c: &mut Chain,
) -> Vec<(&'static str, waybill_types::seal::SealSecretKey)> {
    [ORCHARD, SHOPMART, REGULATOR, EVERY]
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let secret = waybill_types::seal::SealSecretKey([40 + i as u8; 32]);
            assert_applied(&c.submit(&admin(o), register_seal_key(1, secret.public())));
            (o, secret)
        })
        .collect()
}

/// A commissioning event at the farm with `eventID` `id` and a price sealed for
/// `recipients` (organization, key version, key) as if it stood at `/acme:price` of
/// the event with record id `sealed_for`; then moved to `/{stands_at}`.
fn sealed_event(
    serial: &str,
    id: &str,
    sealed_for: &str,
    stands_at: &str,
    recipients: &[(&str, u32, waybill_types::seal::SealPublicKey)],
) -> Value {
    use waybill_types::seal::{seal_at, Place, Recipient};
    let mut e = object(
        &at(0, 1),
        "ADD",
        Some("commissioning"),
        &[sgtin(&bulk(), serial)],
        Some(&farm()),
    );
    e["eventID"] = json!(id);
    // The platform that bought it and the packer that holds it are its parties.
    e["destinationList"] = json!([
        {"type": "owning_party", "destination": "urn:epc:id:pgln:6908001.00000"},
        {"type": "possessing_party", "destination": "urn:epc:id:pgln:6905678.00000"},
    ]);
    e["acme:price"] = json!({"amount": "12.50", "currency": "CNY"});
    let to: Vec<Recipient> = recipients
        .iter()
        .map(|(o, kv, key)| Recipient {
            org: org(o),
            kv: *kv,
            key: *key,
        })
        .collect();
    seal_at(
        &mut e,
        &Place {
            chain_id: CHAIN,
            record: sealed_for,
            field: "/acme:price",
            category: DataCategory::Financial,
        },
        &to,
        &mut rand_core::OsRng,
    )
    .expect("seals");
    if stands_at != "acme:price" {
        let v = e["acme:price"].take();
        e.as_object_mut().expect("object").remove("acme:price");
        e[stands_at] = v;
    }
    e
}

/// The capture contract takes a sealed field wrapped for each recipient's current key,
/// and refuses — `sealed_field`, naming the event and the field, storing nothing — one
/// wrapped for a superseded key version or for an organization with no key, one in an
/// event without an eventID, and a malformed one. What is stored is the ciphertext,
/// which the recipients open. One sealed for another event or field is taken (the
/// contract holds no key to tell) and opens for nobody: the associated data binds
/// the record and the pointer where it stands.
#[test]
fn sealed_fields_must_use_current_keys_and_open_only_where_sealed() {
    use waybill_types::seal::{OrgSecret, SealSecretKey, Sealed};
    let mut c = Chain::new();
    let mut secrets = Vec::new();
    let mut public = std::collections::HashMap::new();
    for (o, v) in [
        (ORCHARD, 1u32),
        (ORCHARD, 2),
        (PACKING, 1),
        (SHOPMART, 1),
        (CUSTOMS, 1),
        (REGULATOR, 1),
        (EVERY, 1),
    ] {
        let secret = SealSecretKey([v as u8 + o.len() as u8; 32]);
        let key = secret.public();
        assert_applied(&c.submit(&admin(o), register_seal_key(v, key)));
        public.insert((o, v), key);
        secrets.push(OrgSecret {
            org: org(o),
            kv: v,
            secret,
        });
    }
    // The capturer, the platform named as the event's owning party (a financier: it
    // reads financial data), and every regulator.
    let current: Vec<_> = [(ORCHARD, 2), (SHOPMART, 1), (REGULATOR, 1), (EVERY, 1)]
        .into_iter()
        .map(|(o, v)| (o, v, public[&(o, v)]))
        .collect();
    let with = |extra: (&'static str, u32)| {
        let mut r = current.clone();
        r.push((
            extra.0,
            extra.1,
            public.get(&extra).copied().unwrap_or(public[&(PACKING, 1)]),
        ));
        r
    };
    let id = |n: u32| format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
    let old_version = {
        let mut r = current.clone();
        r[0] = (ORCHARD, 1, public[&(ORCHARD, 1)]);
        r
    };
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "an old key version",
            sealed_event("SF-1", &id(1), &id(1), "acme:price", &old_version),
            vec![
                "/epcisBody/eventList/0/acme:price",
                "key version 1",
                "current version is 2",
            ],
        ),
        (
            "an organization with no key",
            sealed_event("SF-2", &id(2), &id(2), "acme:price", &with((COLDCHAIN, 1))),
            vec!["coldchain-express", "registered no encryption key"],
        ),
        (
            "an event without an eventID",
            {
                let mut e = sealed_event("SF-3", &id(3), &id(3), "acme:price", &current);
                e.as_object_mut().expect("an event").remove("eventID");
                e
            },
            vec!["/epcisBody/eventList/0/acme:price", "needs an eventID"],
        ),
        (
            "malformed",
            {
                let mut e = sealed_event("SF-5", &id(5), &id(5), "acme:price", &current);
                e["acme:price"]["wb:sealed"]["nonce"] = json!("AAAA");
                e
            },
            vec!["the nonce has 3 bytes"],
        ),
        (
            "a regulator left out",
            sealed_event("SF-7", &id(7), &id(7), "acme:price", &current[..3]),
            vec!["not sealed for regulator `every-role`"],
        ),
        (
            "an organization that is no party to the event",
            sealed_event("SF-8", &id(8), &id(8), "acme:price", &with((CUSTOMS, 1))),
            vec!["sealed for `chengdu-customs`, which is not a party to this event"],
        ),
        (
            "a party whose roles do not read the field's category",
            sealed_event("SF-9", &id(9), &id(9), "acme:price", &with((PACKING, 1))),
            vec!["sealed for `chengdu-packing`, whose roles do not read financial data"],
        ),
    ];
    for (what, event, says) in cases {
        let before = c.event_count();
        let run = c.capture(&key("grower"), &doc(vec![event]));
        let msg = assert_rejected(&run, &key("grower"), "sealed_field");
        assert_contains(&msg, &says);
        assert_eq!(c.event_count(), before, "{what}: nothing stored");
    }
    // Sealed for the current keys, where it stands: taken, stored as ciphertext.
    let good = sealed_event("SF-6", &id(6), &id(6), "acme:price", &current);
    let run = c.capture(&key("grower"), &doc(vec![good]));
    assert_applied(&run);
    let seq = c.captured_seqs(&run)[0];
    let stored: Value = serde_json::from_str(&c.event(seq).json).expect("stored JSON");
    assert!(!stored.to_string().contains("12.50"));
    let sealed = Sealed::from_json(&stored["acme:price"], &id(6), "/acme:price")
        .expect("a sealed field")
        .expect("well formed");
    let opened = sealed.open(CHAIN, &secrets).expect("a recipient opens it");
    assert_eq!(opened.value, json!({"amount": "12.50", "currency": "CNY"}));
    // Sealed for another event, or standing at another field: taken, opened by none.
    for (serial, n, sealed_for, stands_at) in [
        ("SF-10", 10, 99, "acme:price"),
        ("SF-11", 11, 11, "acme:cost"),
    ] {
        let moved = sealed_event(serial, &id(n), &id(sealed_for), stands_at, &current);
        let run = c.capture(&key("grower"), &doc(vec![moved]));
        assert_applied(&run);
        let seq = c.captured_seqs(&run)[0];
        let stored: Value = serde_json::from_str(&c.event(seq).json).expect("stored JSON");
        let field = format!("/{stands_at}");
        let sealed = Sealed::from_json(&stored[stands_at], &id(n), &field)
            .expect("a sealed field")
            .expect("well formed");
        assert!(matches!(
            sealed.open(CHAIN, &secrets),
            Err(waybill_types::seal::SealError::WrapDoesNotOpen { .. })
        ));
    }
    // The open tier publishes the event's screened facts, never a sealed field.
    let published: Vec<String> = run
        .writes
        .iter()
        .filter(|(k, _)| k.first() == Some(&keys::OPEN))
        .filter_map(|(_, v)| v.as_ref())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(!published.is_empty(), "the commissioning is published");
    for record in published {
        assert!(
            !record.contains("wb:sealed") && !record.contains(&sealed.ct),
            "{record}"
        );
    }
}

/// A sealed price's recipients after capture: the state × action × signer matrix of
/// adding wraps (`add_seal_wraps`) and complaining of one (`complain_seal_wrap`),
/// every cell asserted. The field is the orchard's price, sealed for the orchard and
/// both regulators; the event names the platform (a financier) and the packer as
/// parties. States: the platform is no recipient; a recipient (a wrap added); it
/// complained its wrap does not open; a new wrap settled the complaint.
#[test]
fn sealed_field_recipients_after_capture_matrix() {
    use waybill_state::trace::wraps::{field_after_capture, find_sealed};
    use waybill_types::payload::{AddSealWraps, ComplainSealWrap};
    use waybill_types::seal::{OrgSecret, Recipient, SealSecretKey};
    const RECORD: &str = "urn:uuid:5a0c6e1d-2b3f-4a7c-8d9e-0f1a2b3c4d5e";
    const FIELD: &str = "/acme:price";
    let secrets: Vec<(&str, SealSecretKey)> =
        [ORCHARD, SHOPMART, REGULATOR, EVERY, PACKING, CUSTOMS]
            .into_iter()
            .enumerate()
            .map(|(i, o)| (o, SealSecretKey([60 + i as u8; 32])))
            .collect();
    let secret_of = |o: &str| -> OrgSecret {
        let s = &secrets.iter().find(|(x, _)| *x == o).expect("known").1;
        OrgSecret {
            org: org(o),
            kv: 1,
            secret: s.clone(),
        }
    };
    let recipient = |o: &str| Recipient {
        org: org(o),
        kv: 1,
        key: secret_of(o).secret.public(),
    };
    // The chain in a state: 0 no recipient, 1 recipient, 2 complained, 3 settled.
    let build = |state: u8| -> Chain {
        let mut c = Chain::new();
        for (o, s) in &secrets {
            assert_applied(&c.submit(&admin(o), register_seal_key(1, s.public())));
        }
        let to: Vec<_> = [ORCHARD, REGULATOR, EVERY]
            .iter()
            .map(|o| (*o, 1, secret_of(o).secret.public()))
            .collect();
        let e = sealed_event("RW-1", RECORD, RECORD, "acme:price", &to);
        assert_applied(&c.capture(&key("grower"), &doc(vec![e])));
        let add_platform = |c: &mut Chain| {
            let (_, sealed) = find_sealed(&c.state, RECORD, FIELD)
                .expect("reads")
                .expect("sealed");
            let w = sealed
                .rewrap(
                    CHAIN,
                    &[secret_of(ORCHARD)],
                    &recipient(SHOPMART),
                    &mut rand_core::OsRng,
                )
                .expect("the orchard opens and re-wraps");
            assert_applied(&c.submit(
                &key("grower"),
                Payload::AddSealWraps(AddSealWraps {
                    record: RECORD.into(),
                    field: FIELD.into(),
                    wraps: vec![w],
                }),
            ));
        };
        if state >= 1 {
            add_platform(&mut c);
        }
        if state >= 2 {
            assert_applied(&c.submit(
                &key("seller"),
                Payload::ComplainSealWrap(ComplainSealWrap {
                    record: RECORD.into(),
                    field: FIELD.into(),
                    reason: "does not open with version 1".into(),
                }),
            ));
        }
        if state >= 3 {
            add_platform(&mut c);
        }
        c
    };
    // A wrap for `o` made with a throwaway data key: the contract cannot tell (only
    // the recipient can, and complains); what it checks is who and which version.
    let wrap_for = |c: &Chain, o: &str| {
        let (_, sealed) = find_sealed(&c.state, RECORD, FIELD)
            .expect("reads")
            .expect("sealed");
        sealed
            .rewrap(
                CHAIN,
                &[secret_of(ORCHARD)],
                &recipient(o),
                &mut rand_core::OsRng,
            )
            .expect("re-wraps")
    };
    let actions = ["add platform", "add packer", "add customs", "complain"];
    let signers = ["grower", "seller", "auditor", "packer", "shopper"];
    let recipient_in = |state: u8, signer: &str| match signer {
        "grower" | "auditor" => true,
        "seller" => state >= 1,
        _ => false,
    };
    let expected = |state: u8, action: &str, signer: &str| -> &'static str {
        if !recipient_in(state, signer) {
            return "not_authorized";
        }
        match action {
            // A recipient already, unless its complaint is open.
            "add platform" => {
                if state == 1 || state == 3 {
                    "sealed_field"
                } else {
                    "applied"
                }
            }
            // The packer does not read financial data; customs is no party.
            "add packer" | "add customs" => "sealed_field",
            _ => {
                if state == 2 && signer == "seller" {
                    "duplicate"
                } else {
                    "applied"
                }
            }
        }
    };
    let mut cells = 0;
    for state in 0..4u8 {
        for action in actions {
            for signer in signers {
                let mut c = build(state);
                let payload = match action {
                    "complain" => Payload::ComplainSealWrap(ComplainSealWrap {
                        record: RECORD.into(),
                        field: FIELD.into(),
                        reason: "HPKE open failed".into(),
                    }),
                    a => {
                        let o = match a {
                            "add platform" => SHOPMART,
                            "add packer" => PACKING,
                            _ => CUSTOMS,
                        };
                        let w = wrap_for(&c, o);
                        Payload::AddSealWraps(AddSealWraps {
                            record: RECORD.into(),
                            field: FIELD.into(),
                            wraps: vec![w],
                        })
                    }
                };
                let run = c.submit(&key(signer), payload);
                let want = expected(state, action, signer);
                if want == "applied" {
                    assert_applied(&run);
                } else {
                    let msg = assert_rejected(&run, &key(signer), want);
                    let says = match (want, action) {
                        ("sealed_field", "add packer") => "whose roles do not read financial data",
                        ("sealed_field", "add customs") => "which is not a party to this event",
                        ("sealed_field", _) => "is a recipient already",
                        ("duplicate", _) => "waits for a new wrap",
                        _ => "not a recipient",
                    };
                    assert!(
                        msg.contains(says),
                        "state {state}, {action}, {signer}: {msg}"
                    );
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 4 * 4 * 5);

    // What the states leave: the platform opens the price through its added wrap;
    // the complaint is kept, settled.
    let c = build(3);
    let after = field_after_capture(&c.view(), RECORD, FIELD).expect("reads");
    assert_eq!(after.added_wraps.len(), 1);
    assert_eq!(after.complaints.len(), 1);
    assert!(after.complaints[0].settled_at.is_some() && !after.flagged());
    let (_, mut sealed) = find_sealed(&c.state, RECORD, FIELD)
        .expect("reads")
        .expect("sealed");
    assert!(
        sealed.open(CHAIN, &[secret_of(SHOPMART)]).is_err(),
        "not in the original wraps"
    );
    sealed
        .wraps
        .extend(after.added_wraps.iter().map(|a| a.wrap.clone()));
    let opened = sealed
        .open(CHAIN, &[secret_of(SHOPMART)])
        .expect("the platform opens it");
    assert_eq!(opened.value, json!({"amount": "12.50", "currency": "CNY"}));
    let c = build(2);
    assert!(field_after_capture(&c.view(), RECORD, FIELD)
        .expect("reads")
        .flagged());
    // No such field.
    let mut c = build(0);
    let run = c.submit(
        &key("grower"),
        Payload::ComplainSealWrap(ComplainSealWrap {
            record: RECORD.into(),
            field: "/acme:cost".into(),
            reason: "x".into(),
        }),
    );
    assert!(assert_rejected(&run, &key("grower"), "sealed_field")
        .contains("no sealed field /acme:cost"));
}

/// Erasure: the state × action × signer matrix of `erase_sealed`, `record_purge` and
/// adding a recipient to an erasable field (`add_seal_wraps`), every cell asserted.
/// Two prices the orchard captured, sealed for the orchard and both regulators: one
/// erasable (detached), one inline. States: 0 captured; 1 the erasable one erased; 2
/// the validator's node recorded its purge. Signers: the capturer's member, a
/// regulator, the platform (a party, not yet a recipient), a carrier, a consumer, and
/// the validator's key (no member).
#[test]
fn erasure_matrix() {
    use waybill_state::trace::erasure::{load_erasure, purges};
    use waybill_types::payload::{AddSealWraps, EraseSealed, RecordPurge};
    use waybill_types::seal::{OrgSecret, Recipient, Sealed};
    const DETACHED: &str = "urn:uuid:7d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5e";
    const INLINE: &str = "urn:uuid:7d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5f";
    const FIELD: &str = "/acme:price";
    // The chain in `state`, with the erasable field whole (as its capturer made it)
    // and the platform's key.
    let build = |state: u8| -> (Chain, Sealed, OrgSecret, Recipient) {
        let mut c = Chain::new();
        let keys = seal_keys_for_recipients(&mut c);
        let secret = |o: &str| OrgSecret {
            org: org(o),
            kv: 1,
            secret: keys.iter().find(|(x, _)| *x == o).expect("known").1.clone(),
        };
        let to: Vec<_> = [ORCHARD, REGULATOR, EVERY]
            .iter()
            .map(|o| (*o, 1, secret(o).secret.public()))
            .collect();
        let mut erasable = sealed_event("ER-1", DETACHED, DETACHED, "acme:price", &to);
        let whole = Sealed::from_json(&erasable["acme:price"], DETACHED, FIELD)
            .expect("sealed")
            .expect("well formed");
        erasable["acme:price"] = whole.clone().detach().0.to_json();
        let inline = sealed_event("ER-2", INLINE, INLINE, "acme:price", &to);
        assert_applied(&c.capture(&key("grower"), &doc(vec![erasable, inline])));
        if state >= 1 {
            assert_applied(&c.submit(&key("grower"), erase(DETACHED)));
        }
        if state >= 2 {
            assert_applied(&c.submit(&key("validator"), purge()));
        }
        let platform = Recipient {
            org: org(SHOPMART),
            kv: 1,
            key: secret(SHOPMART).secret.public(),
        };
        (c, whole, secret(ORCHARD), platform)
    };
    fn erase(record: &str) -> Payload {
        Payload::EraseSealed(EraseSealed {
            record: record.into(),
            field: FIELD.into(),
            reason: "the data subject asked".into(),
        })
    }
    fn purge() -> Payload {
        Payload::RecordPurge(RecordPurge {
            record: DETACHED.into(),
            field: FIELD.into(),
        })
    }
    let actions = [
        "erase erasable",
        "erase inline",
        "record purge",
        "add platform",
    ];
    let signers = [
        "grower",
        "auditor",
        "seller",
        "driver",
        "shopper",
        "validator",
    ];
    // The outcome: a receipt's status, or `invalid` (not admitted into a block).
    let expected = |state: u8, action: &str, signer: &str| -> (&'static str, &'static str) {
        let validator = signer == "validator";
        match action {
            "record purge" if !validator => ("invalid", "is no validator"),
            "record purge" => match state {
                0 => ("sealed_field", "was not erased"),
                1 => ("applied", ""),
                _ => ("duplicate", "is recorded already"),
            },
            _ if validator => ("invalid", "is not a registered member"),
            "erase inline" => ("sealed_field", "was sealed inline"),
            // Only a recipient holds the data key to wrap; an erased field takes none.
            "add platform" if !matches!(signer, "grower" | "auditor") => {
                ("not_authorized", "is not a recipient")
            }
            "add platform" if state == 0 => ("applied", ""),
            "add platform" => ("sealed_field", "the field was erased"),
            _ if !matches!(signer, "grower" | "auditor") => ("not_authorized", "neither recorded"),
            _ if state == 0 => ("applied", ""),
            _ => ("duplicate", "was erased at height"),
        }
    };
    let mut cells = 0;
    for state in 0..3u8 {
        for action in actions {
            for signer in signers {
                let (mut c, whole, orchard, platform) = build(state);
                let payload = match action {
                    "erase erasable" => erase(DETACHED),
                    "erase inline" => erase(INLINE),
                    "record purge" => purge(),
                    _ => Payload::AddSealWraps(AddSealWraps {
                        record: DETACHED.into(),
                        field: FIELD.into(),
                        wraps: vec![whole
                            .rewrap(CHAIN, &[orchard], &platform, &mut rand_core::OsRng)
                            .expect("the orchard re-wraps")],
                    }),
                };
                let run = c.submit(&key(signer), payload);
                let (want, says) = expected(state, action, signer);
                let at = format!("state {state}, {action}, {signer}");
                match want {
                    "applied" => assert_applied(&run),
                    "invalid" => {
                        assert_eq!(run.results.len(), 1);
                        match &run.results[0] {
                            Err(e) if e.code() == "unknown_signer" => {
                                assert!(e.to_string().contains(says), "{at}: {e}");
                            }
                            other => panic!("{at}: expected unknown_signer, got {other:?}"),
                        }
                    }
                    code => {
                        let msg = assert_rejected(&run, &key(signer), code);
                        assert!(msg.contains(says), "{at}: {msg}");
                    }
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 3 * 4 * 6);

    // What the states leave: the erasure names its capturer; the purge its validator
    // and organization; the inline price is neither.
    let (c, ..) = build(2);
    let e = load_erasure(&c.state, DETACHED, FIELD)
        .expect("reads")
        .expect("erased");
    assert_eq!((e.by, e.height), (org(ORCHARD), Height(c.height - 1)));
    let p = purges(&c.state, DETACHED, FIELD).expect("reads");
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].validator, p[0].org.clone()),
        (key("validator").public(), org(REGULATOR))
    );
    assert!(load_erasure(&c.state, INLINE, FIELD)
        .expect("reads")
        .is_none());
}
