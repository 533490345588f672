//! Tests of the deterministic state machine through its public API: identity,
//! replay protection (nonces, expiry, replay ids), catalog, determinism, the access matrix, and a property test
//! over random transaction sequences.
//!
//! Everything runs on a small in-memory model chain: genesis writes applied to a
//! `BTreeMap`, blocks executed with [`Execution`], their write sets applied
//! (`None` deletes) and the state hash chained with [`next_state_hash`].

use waybill_types::payload::{
    RegisterLot, RegisterMember, RegisterProduct, RevokeMember, SetMemberRoles,
};

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use waybill_gs1::{with_check_digit, Gln, Gtin};
use waybill_state::access::{any_may_write, may_read, may_write, DataCategory};
use waybill_state::catalog::{load_lot, load_product};
use waybill_state::identity::{load_member, load_org, Member, MemberStatus};
use waybill_state::{
    apply_genesis, genesis_state_hash, keys, next_state_hash, write_set_digest, BlockContext,
    Execution, TxInvalid, WriteSet,
};
use waybill_types::tx::TX_VERSION;
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, Hash, Height, OrgId, Payload, PublicKey,
    Receipt, Role, SecretKey, SignedTx, Transaction, TxStatus,
};

// ---------------------------------------------------------------------------
// Fixture: a four-organization consortium.
// ---------------------------------------------------------------------------

const CHAIN: &str = "waybill-test";
const GENESIS_TIME_MS: u64 = 1_767_225_600_000;

type State = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(label: &str) -> SecretKey {
    SecretKey::from_label(label)
}

fn pk(label: &str) -> PublicKey {
    key(label).public()
}

fn org(id: &str) -> OrgId {
    OrgId::new(id).expect("test org id is valid")
}

/// A GTIN from its 13 data digits (the check digit is computed).
fn gtin(data13: &str) -> Gtin {
    with_check_digit(data13)
        .expect("digits")
        .parse()
        .expect("valid GTIN")
}

/// A GLN from its 12 data digits.
fn gln(data12: &str) -> Gln {
    with_check_digit(data12)
        .expect("digits")
        .parse()
        .expect("valid GLN")
}

/// Orchard owns company prefix 6901234.
fn orchard_gtin() -> Gtin {
    gtin("0690123400001")
}

/// Packer owns company prefix 6909999.
fn packer_gtin() -> Gtin {
    gtin("0690999900002")
}

/// Nobody owns company prefix 4000000.
fn unowned_gtin() -> Gtin {
    gtin("0400000000001")
}

/// - `orchard`: producer, processor, carrier; prefix 6901234.
/// - `freight`: carrier, warehouse; no prefix.
/// - `packer`: processor, producer; prefix 6909999.
/// - `bazaar`: every role; prefix 6905555.
///
/// Roles are listed unsorted on purpose: genesis must sort them.
fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: GENESIS_TIME_MS,
        organizations: vec![
            GenesisOrganization {
                id: org("orchard"),
                name: "Sichuan Orchard".into(),
                admin: pk("orchard-admin"),
                roles: vec![Role::Carrier, Role::Producer, Role::Processor],
                company_prefixes: vec!["6901234".into()],
            },
            GenesisOrganization {
                id: org("freight"),
                name: "Yangtze Freight".into(),
                admin: pk("freight-admin"),
                roles: vec![Role::Warehouse, Role::Carrier],
                company_prefixes: vec![],
            },
            GenesisOrganization {
                id: org("packer"),
                name: "Chengdu Packing".into(),
                admin: pk("packer-admin"),
                roles: vec![Role::Processor, Role::Producer],
                company_prefixes: vec!["6909999".into()],
            },
            GenesisOrganization {
                id: org("bazaar"),
                name: "Everything Bazaar".into(),
                admin: pk("bazaar-admin"),
                roles: Role::ALL.iter().rev().copied().collect(),
                company_prefixes: vec!["6905555".into()],
            },
        ],
        validators: vec![GenesisValidator {
            org: org("orchard"),
            public_key: pk("validator-0"),
            voting_power: 1,
        }],
    }
}

/// Expiry of the test transactions: 12 hours after genesis, within the replay window
/// of every block these tests make.
const EXPIRES_AT_MS: u64 = GENESIS_TIME_MS + 12 * 3_600_000;

/// A transaction from `k` with nonce `nonce`, expiring at [`EXPIRES_AT_MS`].
fn signed(k: &SecretKey, nonce: u64, payload: Payload) -> SignedTx {
    signed_until(k, nonce, EXPIRES_AT_MS, payload)
}

fn signed_until(k: &SecretKey, nonce: u64, expires_at_ms: u64, payload: Payload) -> SignedTx {
    Transaction {
        version: TX_VERSION,
        chain_id: CHAIN.into(),
        signer: k.public(),
        nonce,
        expires_at_ms,
        payload,
    }
    .sign(k)
}

/// A nonce no other transaction of these tests uses.
fn fresh_nonce() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 40);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The state key under which `tx`'s replay id is kept until it expires.
fn replay_key(tx: &SignedTx) -> Vec<u8> {
    keys::replay(tx.tx.expires_at_ms, &tx.tx.replay_id())
}

fn reg_member(member: &SecretKey, roles: &[Role]) -> Payload {
    Payload::RegisterMember(RegisterMember {
        member: member.public(),
        name: "Li Wei, harvest team".into(),
        roles: roles.to_vec(),
    })
}

fn set_roles(member: &SecretKey, roles: &[Role]) -> Payload {
    Payload::SetMemberRoles(SetMemberRoles {
        member: member.public(),
        roles: roles.to_vec(),
    })
}

fn revoke(member: &SecretKey, reason: &str) -> Payload {
    Payload::RevokeMember(RevokeMember {
        member: member.public(),
        reason: reason.into(),
    })
}

fn product(g: &Gtin) -> Payload {
    Payload::RegisterProduct(RegisterProduct {
        gtin: g.clone(),
        name: "Navel oranges, 5 kg carton".into(),
        brand: "Orchard".into(),
        category: "fresh fruit".into(),
        origin_country: "CN".into(),
    })
}

fn lot(g: &Gtin, lot: &str) -> Payload {
    Payload::RegisterLot(RegisterLot {
        gtin: g.clone(),
        lot: lot.into(),
        origin_gln: Some(gln("690123400001")),
        produced_on: "2026-11-20".into(),
        quantity: 800,
        unit: "kg".into(),
        inputs: vec![],
        raw_materials: vec![],
        claims: vec![],
    })
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

fn block_time(height: u64) -> u64 {
    GENESIS_TIME_MS + height * 1_000
}

/// The outcome of executing one block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BlockRun {
    /// One result per transaction offered, in order.
    results: Vec<Result<Receipt, TxInvalid>>,
    writes: WriteSet,
    /// The derived index rows (audit trail, open-tier identifier index).
    index: waybill_state::index::Index,
    receipts: Vec<Receipt>,
    /// The replay-id key of each transaction offered, in order.
    replay_keys: Vec<Vec<u8>>,
}

impl BlockRun {
    fn only(&self) -> &Result<Receipt, TxInvalid> {
        assert_eq!(self.results.len(), 1, "one transaction was offered");
        &self.results[0]
    }

    /// Keys written, other than the audit trail's (every transaction, applied or
    /// rejected, leaves audit entries; see [`BlockRun::audit_keys`]) and the open
    /// tier's (published facts; tested in `open_tier.rs`).
    fn write_keys(&self) -> BTreeSet<Vec<u8>> {
        self.writes
            .keys()
            .filter(|k| !is_trail(k))
            .cloned()
            .collect()
    }

    /// The audit-trail rows written (derived index rows, not state).
    fn audit_keys(&self) -> BTreeSet<Vec<u8>> {
        self.index
            .keys()
            .filter(|k| k.first() == Some(&keys::AUDIT))
            .cloned()
            .collect()
    }
}

fn run_block(state: &State, ctx: BlockContext, txs: &[SignedTx]) -> BlockRun {
    let mut ex = Execution::begin(state, ctx).expect("the in-memory state reads");
    let results = txs.iter().map(|t| ex.apply(t, t.id()).cloned()).collect();
    let out = ex.finish().expect("the in-memory state reads");
    // The encoding made once at the end of execution is the stored form and hashes
    // as the state hash's definition says.
    assert_eq!(
        out.encoded_writes(),
        waybill_state::encode_write_set(&out.writes).as_slice()
    );
    let prev = waybill_types::Hash([7; 32]);
    assert_eq!(
        out.state_hash_after(&prev),
        next_state_hash(&prev, &out.writes, &out.receipts)
    );
    BlockRun {
        results,
        writes: out.writes,
        index: out.index,
        receipts: out.receipts,
        replay_keys: txs.iter().map(replay_key).collect(),
    }
}

#[derive(Clone)]
struct Chain {
    state: State,
    height: u64,
    state_hash: Hash,
}

impl Chain {
    fn new() -> Chain {
        let genesis = genesis();
        genesis.check().expect("the test genesis is valid");
        Chain::with_genesis(&genesis)
    }

    /// A chain from `genesis`, whether or not it passes [`Genesis::check`].
    fn with_genesis(genesis: &Genesis) -> Chain {
        let writes = apply_genesis(genesis);
        let mut state = State::new();
        apply_writes(&mut state, &writes);
        Chain {
            state,
            height: 0,
            state_hash: genesis_state_hash(genesis, &writes),
        }
    }

    fn next_ctx(&self) -> BlockContext {
        let height = self.height + 1;
        BlockContext {
            chain_id: CHAIN.into(),
            height: Height(height),
            time_ms: block_time(height),
        }
    }

    /// Execute `txs` as the next block without committing it.
    fn execute(&self, txs: &[SignedTx]) -> BlockRun {
        run_block(&self.state, self.next_ctx(), txs)
    }

    /// Execute `txs` as the next block and commit its writes.
    fn commit(&mut self, txs: &[SignedTx]) -> BlockRun {
        let run = self.execute(txs);
        apply_writes(&mut self.state, &run.writes);
        self.state_hash = next_state_hash(&self.state_hash, &run.writes, &run.receipts);
        self.height += 1;
        run
    }

    /// Replay ids kept in state (transactions committed and not yet expired).
    fn n_replay_ids(&self) -> usize {
        self.state
            .keys()
            .filter(|k| k.first() == Some(&keys::REPLAY))
            .count()
    }

    /// A transaction from `k` with a fresh nonce.
    fn tx(&self, k: &SecretKey, payload: Payload) -> SignedTx {
        signed(k, fresh_nonce(), payload)
    }

    /// Commit a one-transaction block.
    fn submit(&mut self, k: &SecretKey, payload: Payload) -> BlockRun {
        let tx = self.tx(k, payload);
        self.commit(&[tx])
    }

    fn member(&self, k: &SecretKey) -> Member {
        load_member(&self.state, &k.public())
            .expect("state reads")
            .expect("is a member")
    }
}

#[track_caller]
fn assert_applied(run: &BlockRun) {
    match run.only() {
        Ok(Receipt {
            status: TxStatus::Applied,
            ..
        }) => {}
        other => panic!("expected Applied, got {other:?}"),
    }
    assert_eq!(run.receipts.len(), 1);
}

/// Asserts a one-transaction block was rejected with `code`, and that it wrote
/// nothing but the transaction's replay id. Returns the message.
#[track_caller]
fn assert_rejected(run: &BlockRun, signer: &SecretKey, code: &str) -> String {
    let message = match run.only() {
        Ok(Receipt {
            status: TxStatus::Rejected { code: c, message },
            ..
        }) => {
            assert_eq!(c, code, "rejection code (message: {message})");
            assert!(
                waybill_types::reject::RejectCode::from_wire(c).is_some(),
                "`{c}` is a documented RejectCode"
            );
            message.clone()
        }
        other => panic!("expected Rejected({code}), got {other:?}"),
    };
    assert_eq!(run.receipts.len(), 1);
    assert_eq!(
        run.write_keys(),
        BTreeSet::from([run.replay_keys[0].clone()]),
        "a rejected transaction writes only its replay id"
    );
    let member_prefix = keys::audit_of(b'm', &signer.public().0);
    assert!(
        run.audit_keys()
            .iter()
            .any(|k| k.starts_with(&member_prefix)),
        "a rejected transaction is on the signer's audit trail"
    );
    assert!(!message.is_empty(), "a rejection explains itself");
    message
}

// ---------------------------------------------------------------------------
// Genesis.
// ---------------------------------------------------------------------------

#[test]
fn genesis_writes_orgs_admins_and_hash() {
    let g = genesis();
    let writes = apply_genesis(&g);
    assert_eq!(
        writes,
        apply_genesis(&g),
        "genesis writes are deterministic"
    );
    // Governance: the organization list, the validator set in force from height 1,
    // and the list of heights at which sets take effect.
    let meta = |name: &str| [&[keys::META][..], name.as_bytes()].concat();
    let mut expected = BTreeSet::from([
        keys::genesis_hash(),
        meta("org_ids"),
        meta("vset_heights"),
        [&[keys::VALIDATOR_SET][..], &1u64.to_be_bytes()].concat(),
    ]);
    for o in &g.organizations {
        expected.insert(keys::org(&o.id));
        expected.insert(keys::member(&o.admin));
        expected.insert(keys::org_member(&o.id, &o.admin));
    }
    assert_eq!(writes.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(
        writes.values().all(Option::is_some),
        "genesis deletes nothing"
    );
    assert_eq!(
        writes.get(&keys::genesis_hash()),
        Some(&Some(g.hash().0.to_vec()))
    );

    let chain = Chain::new();
    assert_eq!(chain.state_hash, genesis_state_hash(&g, &writes));
    let o = load_org(&chain.state, &org("orchard"))
        .expect("reads")
        .expect("orchard exists");
    assert_eq!(
        o.roles,
        vec![Role::Producer, Role::Processor, Role::Carrier]
    );
    assert_eq!(o.admin, pk("orchard-admin"));
    assert_eq!(o.company_prefixes, vec!["6901234".to_string()]);
    assert_eq!(o.joined_at, Height(0));

    let admin = chain.member(&key("orchard-admin"));
    assert!(admin.admin);
    assert!(admin.is_active());
    assert_eq!(admin.org, org("orchard"));
    assert_eq!(
        admin.roles, o.roles,
        "the admin holds every role of its org"
    );
    assert_eq!(admin.registered_at, Height(0));
    assert_eq!(admin.registered_by, pk("orchard-admin"));
    assert_eq!(chain.n_replay_ids(), 0);
}

#[test]
fn empty_block_writes_nothing_but_advances_the_state_hash() {
    let mut chain = Chain::new();
    let before = chain.state_hash;
    let state_before = chain.state.clone();
    let run = chain.commit(&[]);
    assert!(run.writes.is_empty() && run.receipts.is_empty());
    assert_eq!(chain.state, state_before);
    assert_ne!(chain.state_hash, before);
    assert_eq!(
        chain.state_hash,
        next_state_hash(&before, &WriteSet::new(), &[])
    );
}

// ---------------------------------------------------------------------------
// 1. Identity.
// ---------------------------------------------------------------------------

#[test]
fn admin_registers_member_with_sorted_roles() {
    let mut chain = Chain::new();
    chain.commit(&[]); // height 1: so that registered_at is 2
    let admin = key("orchard-admin");
    let picker = key("orchard-picker");
    let run = chain.submit(
        &admin,
        reg_member(&picker, &[Role::Processor, Role::Producer]),
    );
    assert_applied(&run);
    assert_eq!(
        run.write_keys(),
        BTreeSet::from([
            keys::member(&picker.public()),
            keys::org_member(&org("orchard"), &picker.public()),
            run.replay_keys[0].clone(),
        ])
    );
    assert_eq!(
        run.writes
            .get(&keys::org_member(&org("orchard"), &picker.public())),
        Some(&Some(Vec::new())),
        "the membership index entry is empty"
    );

    let m = chain.member(&picker);
    assert_eq!(m.key, picker.public());
    assert_eq!(m.org, org("orchard"));
    assert_eq!(m.name, "Li Wei, harvest team");
    assert_eq!(m.roles, vec![Role::Producer, Role::Processor], "sorted");
    assert!(!m.admin);
    assert_eq!(m.status, MemberStatus::Active);
    assert_eq!(m.registered_at, Height(2));
    assert_eq!(m.registered_by, admin.public());
    assert_eq!(chain.n_replay_ids(), 1);
}

#[test]
fn identity_rejections() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let picker = key("orchard-picker");
    let trucker = key("freight-driver");
    assert_applied(&chain.submit(&admin, reg_member(&picker, &[Role::Producer])));
    assert_applied(&chain.submit(
        &key("freight-admin"),
        reg_member(&trucker, &[Role::Carrier]),
    ));

    // A member that is not an admin cannot register members.
    let run = chain.submit(&picker, reg_member(&key("newcomer"), &[Role::Producer]));
    assert_rejected(&run, &picker, "not_admin");
    assert!(load_member(&chain.state, &pk("newcomer"))
        .expect("reads")
        .is_none());

    // Orchard may not grant customs, alone or alongside an allowed role.
    for roles in [&[Role::Customs][..], &[Role::Producer, Role::Customs][..]] {
        let run = chain.submit(&admin, reg_member(&key("newcomer"), roles));
        let msg = assert_rejected(&run, &admin, "role_not_allowed");
        assert!(msg.contains("customs"), "{msg}");
    }

    // Existing keys: a member of this org, another org's member, another org's admin.
    for existing in [&picker, &trucker, &key("freight-admin"), &admin] {
        let run = chain.submit(&admin, reg_member(existing, &[Role::Producer]));
        assert_rejected(&run, &admin, "already_registered");
    }
    assert_eq!(chain.member(&trucker).org, org("freight"), "unchanged");

    // Acting on another organization's member.
    let before = chain.member(&trucker);
    let run = chain.submit(&admin, set_roles(&trucker, &[Role::Producer]));
    assert_rejected(&run, &admin, "not_authorized");
    let run = chain.submit(&admin, revoke(&trucker, "poaching"));
    assert_rejected(&run, &admin, "not_authorized");
    let run = chain.submit(&admin, revoke(&key("freight-admin"), "hostile"));
    assert_rejected(&run, &admin, "not_authorized");
    assert_eq!(chain.member(&trucker), before);

    // Roles or revocation of a key that is not a member.
    let run = chain.submit(&admin, set_roles(&key("nobody"), &[Role::Producer]));
    assert_rejected(&run, &admin, "unknown_member");
    let run = chain.submit(&admin, revoke(&key("nobody"), "who?"));
    assert_rejected(&run, &admin, "unknown_member");

    // Every transaction above, applied or rejected, left its replay id: 2
    // registrations + 12 rejections.
    assert_eq!(chain.n_replay_ids(), 14);
}

#[test]
fn set_roles_then_revoke() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let picker = key("orchard-picker");
    assert_applied(&chain.submit(&admin, reg_member(&picker, &[Role::Producer])));
    let registered = chain.member(&picker);

    // A producer may register a product.
    assert_applied(&chain.submit(&picker, product(&orchard_gtin())));

    let run = chain.submit(
        &admin,
        set_roles(&picker, &[Role::Carrier, Role::Processor]),
    );
    assert_applied(&run);
    assert_eq!(
        run.write_keys(),
        BTreeSet::from([keys::member(&picker.public()), run.replay_keys[0].clone()])
    );
    let m = chain.member(&picker);
    assert_eq!(m.roles, vec![Role::Processor, Role::Carrier], "sorted");
    assert_eq!(
        Member {
            roles: registered.roles.clone(),
            ..m.clone()
        },
        registered,
        "only the roles changed"
    );

    // A role the org may not grant leaves the roles as they were.
    let run = chain.submit(&admin, set_roles(&picker, &[Role::Regulator]));
    assert_rejected(&run, &admin, "role_not_allowed");
    assert_eq!(chain.member(&picker).roles, m.roles);

    // Roles take effect: a carrier-only member cannot write production data.
    assert_applied(&chain.submit(&admin, set_roles(&picker, &[Role::Carrier])));
    let run = chain.submit(&picker, lot(&orchard_gtin(), "L1"));
    assert_rejected(&run, &picker, "not_authorized");

    // Revoke.
    let revoke_height = chain.height + 1;
    let run = chain.submit(&admin, revoke(&picker, "left the company"));
    assert_applied(&run);
    assert_eq!(
        run.write_keys(),
        BTreeSet::from([keys::member(&picker.public()), run.replay_keys[0].clone()])
    );
    let m = chain.member(&picker);
    assert_eq!(
        m.status,
        MemberStatus::Revoked {
            at: Height(revoke_height),
            reason: "left the company".into()
        }
    );
    assert!(!m.is_active());
    assert_eq!(m.roles, vec![Role::Carrier], "revocation keeps the roles");

    // The revoked member's key is still a member record, so its transactions still
    // get into blocks -- as rejections, each keeping its replay id.
    let ids_before = chain.n_replay_ids();
    for payload in [
        product(&gtin("0690123400002")),
        lot(&orchard_gtin(), "L2"),
        reg_member(&key("newcomer"), &[Role::Producer]),
    ] {
        let run = chain.submit(&picker, payload);
        let msg = assert_rejected(&run, &picker, "member_revoked");
        assert!(msg.contains("left the company"), "{msg}");
    }
    assert_eq!(chain.n_replay_ids(), ids_before + 3);

    // Nothing more can be done to a revoked member.
    let run = chain.submit(&admin, revoke(&picker, "again"));
    assert_rejected(&run, &admin, "member_revoked");
    let run = chain.submit(&admin, set_roles(&picker, &[Role::Producer]));
    assert_rejected(&run, &admin, "member_revoked");
    let run = chain.submit(&admin, reg_member(&picker, &[Role::Producer]));
    assert_rejected(&run, &admin, "already_registered");
    assert_eq!(chain.member(&picker), m);
}

#[test]
fn admins_cannot_be_revoked_by_a_member_transaction() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let run = chain.submit(&admin, revoke(&admin, "self-destruct"));
    assert_rejected(&run, &admin, "cannot_revoke_admin");
    let m = chain.member(&admin);
    assert!(m.admin && m.is_active());
}

#[test]
fn unknown_signer_is_invalid_and_writes_nothing() {
    let mut chain = Chain::new();
    let stranger = key("stranger");
    let run = chain.execute(&[signed(
        &stranger,
        1,
        reg_member(&key("x"), &[Role::Producer]),
    )]);
    assert_eq!(
        run.only(),
        &Err(TxInvalid::UnknownSigner {
            signer: stranger.public()
        })
    );
    assert!(run.writes.is_empty() && run.receipts.is_empty());

    // A key becomes a signer in the same block that registers it.
    let admin = key("orchard-admin");
    let newcomer = key("newcomer");
    let txs = [
        signed(&newcomer, 1, product(&orchard_gtin())),
        chain.tx(&admin, reg_member(&newcomer, &[Role::Producer])),
        signed(&newcomer, 1, product(&orchard_gtin())),
    ];
    let run = chain.commit(&txs);
    assert!(matches!(
        run.results[0],
        Err(TxInvalid::UnknownSigner { .. })
    ));
    assert!(matches!(
        run.results[1],
        Ok(Receipt {
            status: TxStatus::Applied,
            ..
        })
    ));
    assert!(matches!(
        run.results[2],
        Ok(Receipt {
            status: TxStatus::Applied,
            ..
        })
    ));
    assert_eq!(run.receipts.len(), 2);
    assert_eq!(run.receipts[1].tx_id, txs[2].id());
}

/// Reads of committed state are cached for the block, beneath the block's own
/// writes: a member that signs, is revoked, and signs again in one block is refused
/// the second time, though its record was read (and cached) before the revocation.
#[test]
fn a_member_revoked_mid_block_is_refused_later_in_that_block() {
    let mut chain = Chain::new();
    let worker = key("worker");
    chain.commit(&[chain.tx(
        &key("orchard-admin"),
        reg_member(&worker, &[Role::Producer]),
    )]);
    let txs = [
        signed(&worker, 1, product(&orchard_gtin())),
        chain.tx(&key("orchard-admin"), revoke(&worker, "left the company")),
        signed(&worker, 2, lot(&orchard_gtin(), "L1")),
    ];
    let run = chain.commit(&txs);
    let statuses: Vec<&TxStatus> = run.receipts.iter().map(|r| &r.status).collect();
    assert_eq!(statuses[0], &TxStatus::Applied);
    assert_eq!(statuses[1], &TxStatus::Applied);
    assert!(
        matches!(statuses[2], TxStatus::Rejected { code, .. } if code == "member_revoked"),
        "{statuses:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. Replay protection: nonces, expiry, replay ids.
// ---------------------------------------------------------------------------

/// Two processes holding one member key sign at once, each with its own random
/// nonce, asking nothing of the ledger: both transactions commit, in one block or in
/// two, in either order. (With the strict per-signer sequence this replaced, the
/// second of two transactions signed from the same state was refused.)
#[test]
fn one_key_signing_in_two_processes_commits_both() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let scanner_a = signed(
        &admin,
        0x5eed_0001,
        reg_member(&key("m1"), &[Role::Producer]),
    );
    let scanner_b = signed(
        &admin,
        0x5eed_0002,
        reg_member(&key("m2"), &[Role::Producer]),
    );
    for order in [[&scanner_a, &scanner_b], [&scanner_b, &scanner_a]] {
        let run = chain.execute(&[order[0].clone(), order[1].clone()]);
        assert_eq!(run.receipts.len(), 2);
        assert!(run.receipts.iter().all(|r| r.status == TxStatus::Applied));
    }
    // In two blocks, the later-signed first.
    assert_applied(&chain.commit(std::slice::from_ref(&scanner_b)));
    assert_applied(&chain.commit(std::slice::from_ref(&scanner_a)));
    assert!(load_member(&chain.state, &pk("m1"))
        .expect("reads")
        .is_some());
    assert!(load_member(&chain.state, &pk("m2"))
        .expect("reads")
        .is_some());
    // The same payload with another nonce is another transaction.
    let again = chain.tx(&admin, reg_member(&key("m1"), &[Role::Producer]));
    assert_rejected(&chain.commit(&[again]), &admin, "already_registered");
}

#[test]
fn a_transaction_is_taken_once_in_the_block_and_after() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let tx = chain.tx(&admin, reg_member(&key("m1"), &[Role::Producer]));
    let replay_id = tx.tx.replay_id();
    let run = chain.commit(&[tx.clone(), tx.clone()]);
    assert!(run.results[0].is_ok());
    assert_eq!(
        run.results[1],
        Err(TxInvalid::Replayed {
            signer: admin.public(),
            replay_id
        }),
        "the replay in the same block is seen through the block's own writes"
    );
    assert_eq!(run.receipts.len(), 1);
    assert_eq!(
        chain.state.get(&replay_key(&tx)),
        Some(&Vec::new()),
        "the replay id is kept under its expiry"
    );
    for _ in 0..3 {
        chain.commit(&[]);
        assert_eq!(
            chain.execute(std::slice::from_ref(&tx)).only(),
            &Err(TxInvalid::Replayed {
                signer: admin.public(),
                replay_id
            })
        );
    }
    // A second signature over the same content is the same transaction: the replay id
    // is over what is signed, not over the signature bytes.
    let mut resigned = tx.clone();
    resigned.signature = waybill_types::keys::Signature([9; 64]);
    assert_eq!(resigned.tx.replay_id(), replay_id);
    assert_ne!(resigned.id(), tx.id());
}

#[test]
fn expiry_must_lie_after_the_block_and_within_the_window() {
    let chain = Chain::new();
    let admin = key("orchard-admin");
    let t = chain.next_ctx().time_ms;
    let window = waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX;
    let at = |expires_at_ms: u64| {
        let tx = signed_until(
            &admin,
            fresh_nonce(),
            expires_at_ms,
            reg_member(&key("m1"), &[Role::Producer]),
        );
        chain.execute(&[tx]).only().clone()
    };
    for exp in [t - 1, t] {
        assert_eq!(
            at(exp),
            Err(TxInvalid::Expired {
                signer: admin.public(),
                expires_at_ms: exp,
                block_time_ms: t
            }),
            "expiry {exp} at block time {t}"
        );
    }
    assert!(at(t + 1).is_ok(), "one ms after the block is in time");
    assert!(at(t + window).is_ok(), "the far end of the window is in");
    assert_eq!(
        at(t + window + 1),
        Err(TxInvalid::ExpiryTooFar {
            signer: admin.public(),
            expires_at_ms: t + window + 1,
            block_time_ms: t,
            window_ms: window
        })
    );
    let err = at(t).expect_err("expired");
    assert!(err.to_string().contains("sign it again"), "{err}");
}

/// A replay id is kept until its expiry passes, then removed at the start of the
/// first block whose time reaches it; the transaction is then refused by its expiry,
/// so it can never be taken again.
#[test]
fn replay_ids_are_removed_when_they_expire_and_the_tx_stays_refused() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    // Block 1 runs at block_time(1); expire 2.5 blocks later.
    let exp = block_time(1) + 2_500;
    let tx = signed_until(
        &admin,
        fresh_nonce(),
        exp,
        reg_member(&key("m1"), &[Role::Producer]),
    );
    assert_applied(&chain.commit(std::slice::from_ref(&tx)));
    chain.commit(&[]); // block 2: exp is still ahead
    let run = chain.commit(&[]); // block 3: exp is still ahead (t = exp - 500)
    assert!(run.writes.is_empty(), "nothing expired yet");
    assert!(chain.state.contains_key(&replay_key(&tx)));
    let run = chain.commit(&[]); // block 4: t = exp + 500
    assert_eq!(
        run.writes,
        WriteSet::from([(replay_key(&tx), None)]),
        "the expired replay id is removed, and nothing else"
    );
    assert_eq!(chain.n_replay_ids(), 0);
    assert!(matches!(
        chain.execute(std::slice::from_ref(&tx)).only(),
        Err(TxInvalid::Expired { .. })
    ));
}

/// At most `REPLAY_IDS_EXPIRED_PER_BLOCK_MAX` expired ids go per block, oldest
/// first; the rest go in the next block. Every replica removes the same ones.
#[test]
fn expired_replay_ids_are_removed_oldest_first_with_a_cap_per_block() {
    let max = waybill_types::limits::REPLAY_IDS_EXPIRED_PER_BLOCK_MAX;
    let mut chain = Chain::new();
    let t = chain.next_ctx().time_ms;
    let id = |i: u64| waybill_types::sha256(&i.to_be_bytes());
    // max + 5 expired ids (expiries t - n .. t), and 3 that live for hours yet.
    let n_expired = max as u64 + 5;
    for i in 0..n_expired {
        chain
            .state
            .insert(keys::replay(t - n_expired + i, &id(i)), Vec::new());
    }
    for i in 0..3 {
        chain.state.insert(
            keys::replay(t + 3_600_000 + i, &id(1_000_000 + i)),
            Vec::new(),
        );
    }
    let run = chain.commit(&[]);
    assert_eq!(run.writes.len(), max);
    assert!(run.writes.values().all(Option::is_none));
    // The oldest went; the 5 newest expired ones and the live ones are left.
    assert!(!chain
        .state
        .contains_key(&keys::replay(t - n_expired, &id(0))));
    assert_eq!(chain.n_replay_ids(), 5 + 3);
    let run = chain.commit(&[]);
    assert_eq!(run.writes.len(), 5, "the rest go in the next block");
    assert_eq!(chain.n_replay_ids(), 3);
}

#[test]
fn a_rejected_transaction_keeps_its_replay_id() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let tx = signed(&admin, 1, reg_member(&key("m"), &[Role::Customs]));
    let run = chain.commit(std::slice::from_ref(&tx));
    assert_rejected(&run, &admin, "role_not_allowed");
    assert_eq!(run.writes.get(&replay_key(&tx)), Some(&Some(Vec::new())));
    assert!(matches!(
        chain.execute(std::slice::from_ref(&tx)).only(),
        Err(TxInvalid::Replayed { .. })
    ));
    // The same nonce with another payload is another transaction.
    assert_applied(&chain.commit(&[signed(&admin, 1, reg_member(&key("m"), &[Role::Producer]))]));
}

/// Invalid transactions in the middle of a block change nothing: the block with them
/// equals the block without them.
#[test]
fn invalid_transactions_leave_no_trace_in_the_block() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let committed = chain.tx(&admin, reg_member(&key("m1"), &[Role::Producer]));
    assert_applied(&chain.commit(std::slice::from_ref(&committed)));
    let t = chain.next_ctx().time_ms;
    let picker = key("picker");
    let ok_a = chain.tx(&admin, reg_member(&picker, &[Role::Producer]));
    let ok_b = chain.tx(&picker, product(&orchard_gtin()));
    let expired = signed_until(
        &admin,
        fresh_nonce(),
        t,
        reg_member(&key("m2"), &[Role::Producer]),
    );
    let too_far = signed_until(
        &admin,
        fresh_nonce(),
        t + waybill_types::limits::TX_EXPIRY_WINDOW_MS_MAX + 1,
        reg_member(&key("m2"), &[Role::Producer]),
    );
    let stranger = chain.tx(&key("stranger"), product(&orchard_gtin()));
    let with = chain.execute(&[
        ok_a.clone(),
        committed.clone(),
        expired,
        too_far,
        stranger,
        ok_a.clone(),
        ok_b.clone(),
    ]);
    let without = chain.execute(&[ok_a.clone(), ok_b.clone()]);
    assert!(with.results[0].is_ok() && with.results[6].is_ok());
    assert!(matches!(with.results[1], Err(TxInvalid::Replayed { .. })));
    assert!(matches!(with.results[2], Err(TxInvalid::Expired { .. })));
    assert!(matches!(
        with.results[3],
        Err(TxInvalid::ExpiryTooFar { .. })
    ));
    assert!(matches!(
        with.results[4],
        Err(TxInvalid::UnknownSigner { .. })
    ));
    assert!(matches!(with.results[5], Err(TxInvalid::Replayed { .. })));
    assert_eq!(with.writes, without.writes);
    assert_eq!(with.receipts, without.receipts);
    assert_eq!(
        write_set_digest(&with.writes),
        write_set_digest(&without.writes)
    );
}

#[test]
fn stateless_failures_are_invalid_not_rejected() {
    let chain = Chain::new();
    let admin = key("orchard-admin");
    let wrong_chain = Transaction {
        version: TX_VERSION,
        chain_id: "another-chain".into(),
        signer: admin.public(),
        nonce: 1,
        expires_at_ms: EXPIRES_AT_MS,
        payload: product(&orchard_gtin()),
    }
    .sign(&admin);
    let zero_quantity = signed(
        &admin,
        1,
        Payload::RegisterLot(RegisterLot {
            gtin: orchard_gtin(),
            lot: "L1".into(),
            origin_gln: None,
            produced_on: "2026-11-20".into(),
            quantity: 0,
            unit: "kg".into(),
            inputs: vec![],
            raw_materials: vec![],
            claims: vec![],
        }),
    );
    let no_roles = signed(&admin, 1, reg_member(&key("m"), &[]));
    let dup_roles = signed(
        &admin,
        1,
        reg_member(&key("m"), &[Role::Producer, Role::Producer]),
    );
    let bad_country = signed(
        &admin,
        1,
        Payload::RegisterProduct(RegisterProduct {
            gtin: orchard_gtin(),
            name: "x".into(),
            brand: "x".into(),
            category: "x".into(),
            origin_country: "cn".into(),
        }),
    );
    // Stateless checks come first: an unknown signer with a bad payload is Stateless.
    let stranger_bad = signed(&key("stranger"), 1, reg_member(&key("m"), &[]));
    for tx in [
        wrong_chain,
        zero_quantity,
        no_roles,
        dup_roles,
        bad_country,
        stranger_bad,
    ] {
        let run = chain.execute(std::slice::from_ref(&tx));
        assert!(
            matches!(run.only(), Err(TxInvalid::Stateless(_))),
            "{:?}: {:?}",
            tx.tx.payload,
            run.only()
        );
        assert!(run.writes.is_empty() && run.receipts.is_empty());
    }
}

// ---------------------------------------------------------------------------
// 3. Catalog.
// ---------------------------------------------------------------------------

#[test]
fn catalog_products_and_lots() {
    let mut chain = Chain::new();
    let orchard = key("orchard-admin");
    let carrier = key("freight-admin");
    let packer = key("packer-admin");
    let driver = key("orchard-driver");
    let line = key("orchard-line");
    assert_applied(&chain.submit(&orchard, reg_member(&driver, &[Role::Carrier])));
    assert_applied(&chain.submit(&orchard, reg_member(&line, &[Role::Processor])));
    let g = orchard_gtin();

    // A carrier cannot record a product or a harvest, whether or not the product exists.
    let run = chain.submit(&carrier, product(&g));
    assert_rejected(&run, &carrier, "not_authorized");
    let run = chain.submit(&carrier, lot(&g, "L1"));
    assert_rejected(&run, &carrier, "not_authorized");

    // A producer registers under its own prefix.
    let h = chain.height + 1;
    let tx = chain.tx(&orchard, product(&g));
    let run = chain.commit(std::slice::from_ref(&tx));
    assert_applied(&run);
    assert_eq!(
        run.write_keys(),
        BTreeSet::from([keys::product(&g), run.replay_keys[0].clone()])
    );
    let p = load_product(&chain.state, &g)
        .expect("reads")
        .expect("registered");
    assert_eq!(p.gtin, g);
    assert_eq!(p.owner, org("orchard"));
    assert_eq!(p.registered_by, orchard.public());
    assert_eq!(p.registered_at, Height(h));
    assert_eq!(p.registered_time_ms, block_time(h));
    assert_eq!(p.tx_id, tx.id());
    assert_eq!(p.name, "Navel oranges, 5 kg carton");
    assert_eq!(p.origin_country, "CN");

    // The indicator digit of a GTIN-14 is not part of the company prefix.
    assert_applied(&chain.submit(&orchard, product(&gtin("1690123400001"))));

    // Outside the org's prefixes: unowned, and another org's.
    for foreign in [unowned_gtin(), packer_gtin(), gtin("0690123500001")] {
        let run = chain.submit(&orchard, product(&foreign));
        assert_rejected(&run, &orchard, "prefix_not_owned");
        assert!(load_product(&chain.state, &foreign)
            .expect("reads")
            .is_none());
    }
    // A carrier of the owning org still may not write production data.
    let run = chain.submit(&driver, lot(&g, "L1"));
    assert_rejected(&run, &driver, "not_authorized");

    // Duplicate product (even from the org that owns it).
    let run = chain.submit(&orchard, product(&g));
    assert_rejected(&run, &orchard, "duplicate");
    assert_eq!(
        load_product(&chain.state, &g).expect("reads"),
        Some(p),
        "unchanged"
    );

    // Lots.
    let run = chain.submit(&orchard, lot(&gtin("0690123400099"), "L1"));
    assert_rejected(&run, &orchard, "unknown_product");

    let run = chain.submit(&packer, lot(&g, "L1"));
    assert_rejected(&run, &packer, "not_authorized");

    let h = chain.height + 1;
    let tx = chain.tx(&line, lot(&g, "L1"));
    let run = chain.commit(std::slice::from_ref(&tx));
    assert_applied(&run);
    assert_eq!(
        run.write_keys(),
        BTreeSet::from([keys::lot(&g, "L1"), run.replay_keys[0].clone()])
    );
    let l = load_lot(&chain.state, &g, "L1")
        .expect("reads")
        .expect("registered");
    assert_eq!(l.owner, org("orchard"));
    assert_eq!(l.registered_by, line.public());
    assert_eq!(l.registered_at, Height(h));
    assert_eq!(l.registered_time_ms, block_time(h));
    assert_eq!(l.tx_id, tx.id());
    assert_eq!(l.quantity, 800);
    assert_eq!(l.origin_gln, Some(gln("690123400001")));

    let run = chain.submit(&orchard, lot(&g, "L1"));
    assert_rejected(&run, &orchard, "duplicate");
    assert_eq!(
        load_lot(&chain.state, &g, "L1").expect("reads"),
        Some(l),
        "unchanged"
    );

    // Same lot number under another product is a different lot.
    assert_applied(&chain.submit(&orchard, lot(&gtin("1690123400001"), "L1")));
    // Lot numbers are case-sensitive.
    assert_applied(&chain.submit(&orchard, lot(&g, "l1")));
}

#[test]
fn overlapping_company_prefixes_are_refused_at_genesis() {
    let mut g = genesis();
    g.organizations[2].company_prefixes = vec!["690123".into()]; // packer, inside orchard's 6901234
                                                                 // What the overlap allows: packer takes a GTIN under orchard's prefix first.
    let mut chain = Chain::with_genesis(&g);
    assert_applied(&chain.submit(&key("packer-admin"), product(&orchard_gtin())));
    let orchard = key("orchard-admin");
    assert_rejected(
        &chain.submit(&orchard, product(&orchard_gtin())),
        &orchard,
        "duplicate",
    );
    assert!(
        g.check().is_err(),
        "genesis accepted overlapping company prefixes 6901234 (orchard) and 690123 (packer)"
    );
}

#[test]
fn only_production_writers_register_products_role_by_role() {
    let mut chain = Chain::new();
    let admin = key("bazaar-admin");
    for (i, role) in Role::ALL.iter().enumerate() {
        let member = key(&format!("bazaar-{}", role.name()));
        assert_applied(&chain.submit(&admin, reg_member(&member, &[*role])));
        let g = gtin(&format!("06905555000{i:02}"));
        let run = chain.submit(&member, product(&g));
        if intended_cell(*role, DataCategory::Production) == 'W' {
            assert_applied(&run);
        } else {
            let msg = assert_rejected(&run, &member, "not_authorized");
            assert!(msg.contains(role.name()), "{msg}");
        }
    }
}

// ---------------------------------------------------------------------------
// 4. Determinism.
// ---------------------------------------------------------------------------

fn busy_block(chain: &Chain) -> Vec<SignedTx> {
    let orchard = key("orchard-admin");
    let picker = key("orchard-picker");
    vec![
        chain.tx(&orchard, reg_member(&picker, &[Role::Producer])),
        signed(&picker, 1, product(&orchard_gtin())),
        signed(&picker, 2, lot(&orchard_gtin(), "L1")),
        chain.tx(&key("freight-admin"), product(&orchard_gtin())),
        chain.tx(&key("packer-admin"), product(&packer_gtin())),
        signed(&picker, 3, lot(&orchard_gtin(), "L1")),
    ]
}

#[test]
fn same_block_same_state_same_result() {
    let chain = Chain::new();
    let txs = busy_block(&chain);
    let first = chain.execute(&txs);
    let second = chain.execute(&txs);
    assert_eq!(first, second);
    assert_eq!(
        codec_bytes(&first.writes),
        codec_bytes(&second.writes),
        "byte-identical write sets"
    );
    assert_eq!(first.receipts.len(), txs.len());
    let statuses: Vec<&str> = first
        .receipts
        .iter()
        .map(|r| match &r.status {
            TxStatus::Applied => "applied",
            TxStatus::Rejected { code, .. } => code.as_str(),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "applied",
            "applied",
            "applied",
            "not_authorized",
            "applied",
            "duplicate"
        ]
    );
    let ids: Vec<_> = txs.iter().map(SignedTx::id).collect();
    let receipt_ids: Vec<_> = first.receipts.iter().map(|r| r.tx_id).collect();
    assert_eq!(receipt_ids, ids, "receipts are in transaction order");

    let (mut a, mut b) = (chain.clone(), chain.clone());
    a.commit(&txs);
    b.commit(&txs);
    assert_eq!(a.state, b.state);
    assert_eq!(a.state_hash, b.state_hash);
}

fn codec_bytes(w: &WriteSet) -> Vec<u8> {
    waybill_state::encode_record(&w.iter().collect::<Vec<_>>())
}

#[test]
fn different_order_different_outcome_different_hash() {
    let mut chain = Chain::new();
    let admin = key("orchard-admin");
    let picker = key("orchard-picker");
    assert_applied(&chain.submit(&admin, reg_member(&picker, &[Role::Producer])));
    let make = chain.tx(&picker, product(&orchard_gtin()));
    let fire = chain.tx(&admin, revoke(&picker, "left"));

    // The product first: both apply.
    let (mut a, mut b) = (chain.clone(), chain.clone());
    let ra = a.commit(&[make.clone(), fire.clone()]);
    assert!(ra.receipts.iter().all(|r| r.status == TxStatus::Applied));
    assert!(load_product(&a.state, &orchard_gtin())
        .expect("reads")
        .is_some());
    // The revocation first: the product is rejected.
    let rb = b.commit(&[fire.clone(), make.clone()]);
    assert_eq!(rb.receipts[0].status, TxStatus::Applied);
    assert!(matches!(
        &rb.receipts[1].status,
        TxStatus::Rejected { code, .. } if code == "member_revoked"
    ));
    assert!(load_product(&b.state, &orchard_gtin())
        .expect("reads")
        .is_none());
    assert_ne!(ra.writes, rb.writes);
    assert_ne!(a.state_hash, b.state_hash);

    // Within one signer, order matters as between signers: a lot before its
    // product is rejected, after it applied; both orders are valid blocks.
    let second = chain.tx(&picker, lot(&orchard_gtin(), "L1"));
    let swapped = chain.execute(&[second.clone(), make.clone()]);
    assert!(swapped.results.iter().all(Result::is_ok));
    assert!(matches!(
        &swapped.receipts[0].status,
        TxStatus::Rejected { code, .. } if code == "unknown_product"
    ));
    let straight = chain.execute(&[make, second]);
    assert!(straight
        .receipts
        .iter()
        .all(|r| r.status == TxStatus::Applied));
    assert_ne!(swapped.writes, straight.writes);
}

/// The state hash commits to the write set and to each transaction's outcome (its
/// rejection code), not to receipts' messages: two orders whose outcomes differ only
/// in *which* rejection a transaction got write the same records, yet hash apart.
/// The audit trail is a derived index outside the state.
#[test]
fn state_hash_covers_writes_and_rejection_codes() {
    let chain = Chain::new();
    let reg = chain.tx(&key("orchard-admin"), product(&orchard_gtin()));
    let foreign_lot = chain.tx(&key("packer-admin"), lot(&orchard_gtin(), "L1"));
    let (mut b, mut c) = (chain.clone(), chain.clone());
    let rb = b.commit(&[foreign_lot.clone(), reg.clone()]);
    let rc = c.commit(&[reg, foreign_lot]);
    assert!(matches!(
        &rb.receipts[0].status,
        TxStatus::Rejected { code, .. } if code == "unknown_product"
    ));
    assert!(matches!(
        &rc.receipts[1].status,
        TxStatus::Rejected { code, .. } if code == "not_authorized"
    ));
    assert_ne!(rb.receipts, rc.receipts);
    assert_eq!(rb.write_keys(), rc.write_keys());
    assert_eq!(rb.writes, rc.writes, "the audit trail is not in the state");
    assert!(rb
        .writes
        .keys()
        .all(|k| !waybill_state::index::is_derived(k)));
    assert_eq!(rb.audit_keys(), rc.audit_keys());
    assert_ne!(
        rb.index, rc.index,
        "the trails list the transactions in block order"
    );
    assert_ne!(b.state_hash, c.state_hash, "the rejection codes differ");

    // Messages are prose: rewording one changes no hash; another code does.
    let mut reworded = rb.receipts.clone();
    let mut recoded = rb.receipts.clone();
    let TxStatus::Rejected { message, .. } = &mut reworded[0].status else {
        panic!("the first transaction was rejected")
    };
    message.push_str(" (reworded)");
    recoded[0].status = TxStatus::Rejected {
        code: "not_authorized".into(),
        message: message.clone(),
    };
    let digest = waybill_state::outcomes_digest;
    assert_eq!(digest(&rb.receipts), digest(&reworded));
    assert_ne!(digest(&rb.receipts), digest(&recoded));
}

/// The write set's digest is streamed into the hasher and its stored form encoded
/// once; both are the borsh encoding of the ordered list of (key, value or none).
#[test]
fn write_set_digest_and_stored_form_are_the_listed_encoding() {
    let mut w = WriteSet::new();
    w.insert(vec![2, 1], Some(vec![9; 300]));
    w.insert(vec![1], None);
    w.insert(vec![3], Some(Vec::new()));
    let list: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = w.iter().collect();
    let listed = waybill_types::codec::encode(&list);
    assert_eq!(waybill_state::encode_write_set(&w), listed);
    assert_eq!(write_set_digest(&w), waybill_types::sha256(&listed));
    assert_eq!(
        write_set_digest(&WriteSet::new()),
        waybill_types::sha256(&0u32.to_le_bytes())
    );
}

#[test]
fn state_hash_depends_on_every_write() {
    let prev = Hash([7; 32]);
    let mut w = WriteSet::new();
    w.insert(vec![1], Some(vec![1]));
    let base = next_state_hash(&prev, &w, &[]);
    let mut changed_value = w.clone();
    changed_value.insert(vec![1], Some(vec![2]));
    let mut deleted = w.clone();
    deleted.insert(vec![1], None);
    let mut extra = w.clone();
    extra.insert(vec![2], Some(vec![]));
    let hashes = BTreeSet::from([
        base,
        next_state_hash(&prev, &changed_value, &[]),
        next_state_hash(&prev, &deleted, &[]),
        next_state_hash(&prev, &extra, &[]),
        next_state_hash(&Hash([8; 32]), &w, &[]),
        next_state_hash(&prev, &WriteSet::new(), &[]),
    ]);
    assert_eq!(hashes.len(), 6);
}

// ---------------------------------------------------------------------------
// 5. Access matrix.
// ---------------------------------------------------------------------------

/// The authority matrix, cell by cell. `W`: writes (and therefore reads); `R`: reads
/// only; `-`: neither. Columns follow [`DataCategory::ALL`]:
/// production, platform_transactions, customs_quality, transport, financial.
const MATRIX: [(Role, &str); 11] = [
    (Role::Producer, "W R R R -"),
    (Role::Processor, "W R R R -"),
    (Role::Warehouse, "R R - W -"),
    (Role::Carrier, "R R - W -"),
    (Role::Platform, "R W - R -"),
    (Role::Customs, "R - W R -"),
    (Role::Inspector, "R - W - -"),
    (Role::Regulator, "R R R R R"),
    (Role::Financier, "- - - - W"),
    (Role::Consumer, "- - - - -"),
    (Role::PaymentProvider, "- - - - W"),
];

/// Cells that once disagreed with [`MATRIX`] (regression: platforms could write
/// and so read financial data).
const KNOWN_BUG_CELLS: [(Role, DataCategory); 1] = [(Role::Platform, DataCategory::Financial)];

fn intended_cell(role: Role, category: DataCategory) -> char {
    let (_, row) = MATRIX
        .iter()
        .find(|(r, _)| *r == role)
        .expect("every role has a row");
    let col = DataCategory::ALL
        .iter()
        .position(|c| *c == category)
        .expect("every category has a column");
    row.split_whitespace()
        .nth(col)
        .and_then(|s| s.chars().next())
        .expect("row has a cell per category")
}

#[test]
fn access_matrix_cell_by_cell() {
    assert_eq!(
        MATRIX.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        Role::ALL.to_vec(),
        "one row per role, in order"
    );
    let mut checked = 0;
    for (role, row) in MATRIX {
        assert_eq!(row.split_whitespace().count(), DataCategory::ALL.len());
        for category in DataCategory::ALL {
            let cell = intended_cell(role, category);
            assert!(matches!(cell, 'W' | 'R' | '-'), "bad cell {cell:?}");
            assert_eq!(
                may_write(role, category),
                cell == 'W',
                "may_write({role:?}, {category:?})"
            );
            assert_eq!(
                may_read(role, category),
                cell != '-',
                "may_read({role:?}, {category:?})"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 55);
}

#[test]
fn access_matrix_known_bug_cells() {
    for (role, category) in KNOWN_BUG_CELLS {
        let cell = intended_cell(role, category);
        assert_eq!(
            may_write(role, category),
            cell == 'W',
            "may_write({role:?}, {category:?})"
        );
        assert_eq!(
            may_read(role, category),
            cell != '-',
            "may_read({role:?}, {category:?})"
        );
    }
}

#[test]
fn access_matrix_invariants() {
    for category in DataCategory::ALL {
        assert!(may_read(Role::Regulator, category));
        assert!(!may_write(Role::Regulator, category));
        assert!(
            !may_read(Role::Consumer, category),
            "consumers read nothing of the consortium tier"
        );
        assert!(!may_write(Role::Consumer, category));
        assert!(
            Role::ALL.iter().any(|r| may_write(*r, category)),
            "{category:?} has a writer"
        );
        for role in Role::ALL {
            if may_write(role, category) {
                assert!(
                    may_read(role, category),
                    "{role:?} writes but cannot read {category:?}"
                );
            }
        }
    }
    assert!(!any_may_write(&[], DataCategory::Production));
    assert!(!any_may_write(
        &[Role::Carrier, Role::Regulator],
        DataCategory::Production
    ));
    assert!(any_may_write(
        &[Role::Carrier, Role::Processor],
        DataCategory::Production
    ));
}

// ---------------------------------------------------------------------------
// 6. Property test: random transaction sequences.
// ---------------------------------------------------------------------------

/// Signers the generator picks from; the last is never registered at setup.
const SIGNERS: [&str; 9] = [
    "orchard-admin",
    "orchard-picker",
    "orchard-driver",
    "freight-admin",
    "freight-driver",
    "packer-admin",
    "packer-line",
    "bazaar-admin",
    "stranger",
];
/// Keys a payload may name: every signer plus two fresh keys.
const TARGETS: [&str; 11] = [
    "orchard-admin",
    "orchard-picker",
    "orchard-driver",
    "freight-admin",
    "freight-driver",
    "packer-admin",
    "packer-line",
    "bazaar-admin",
    "stranger",
    "newcomer-1",
    "newcomer-2",
];
const ROLE_SETS: [&[Role]; 8] = [
    &[Role::Producer],
    &[Role::Carrier],
    &[Role::Processor, Role::Producer],
    &[Role::Warehouse],
    &[Role::Customs],
    &[Role::Regulator],
    &[],                               // stateless failure
    &[Role::Producer, Role::Producer], // stateless failure
];
/// 13 data digits: orchard, orchard with indicator 1, packer, bazaar, nobody.
const GTINS: [&str; 5] = [
    "0690123400001",
    "1690123400001",
    "0690999900002",
    "0690555500003",
    "0400000000001",
];
const LOTS: [&str; 2] = ["L1", "L2"];

#[derive(Debug, Clone)]
enum Op {
    RegisterMember {
        target: usize,
        roles: usize,
    },
    SetRoles {
        target: usize,
        roles: usize,
    },
    Revoke {
        target: usize,
    },
    Product {
        gtin: usize,
    },
    Lot {
        gtin: usize,
        lot: usize,
        quantity: u64,
    },
}

impl Op {
    fn payload(&self) -> Payload {
        match *self {
            Op::RegisterMember { target, roles } => {
                reg_member(&key(TARGETS[target]), ROLE_SETS[roles])
            }
            Op::SetRoles { target, roles } => set_roles(&key(TARGETS[target]), ROLE_SETS[roles]),
            Op::Revoke { target } => revoke(&key(TARGETS[target]), "property test"),
            Op::Product { gtin: g } => product(&gtin(GTINS[g])),
            Op::Lot {
                gtin: g,
                lot: l,
                quantity,
            } => Payload::RegisterLot(RegisterLot {
                gtin: gtin(GTINS[g]),
                lot: LOTS[l].into(),
                origin_gln: None,
                produced_on: "2026-11-20".into(),
                quantity,
                unit: "kg".into(),
                inputs: vec![],
                raw_materials: vec![],
                claims: vec![],
            }),
        }
    }
}

/// Which transaction a step offers.
#[derive(Debug, Clone, Copy)]
enum Offer {
    /// A new transaction (its nonce is the step's index).
    Fresh,
    /// Exactly the transaction offered this many steps before (a replay if that one
    /// was taken).
    Again(usize),
    /// A new transaction whose expiry is the block's time (too late).
    Expired,
}

#[derive(Debug, Clone)]
struct Step {
    signer: usize,
    op: Op,
    offer: Offer,
    /// Close the block after this step.
    end_block: bool,
}

/// Indices into [`SIGNERS`] of the organization admins.
const ADMINS: [usize; 4] = [0, 3, 5, 7];
/// Indices into [`SIGNERS`] of members holding a production role.
const PRODUCERS: [usize; 5] = [0, 1, 5, 6, 7];

/// A signer: mostly one of `likely`, sometimes anyone (including the stranger).
fn signer_strategy(likely: &'static [usize]) -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => proptest::sample::select(likely),
        1 => 0..SIGNERS.len(),
    ]
}

/// An index into [`ROLE_SETS`]: mostly stateless-valid sets.
fn roles_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![9 => 0..6usize, 1 => 6..ROLE_SETS.len()]
}

/// An index into [`GTINS`], weighted towards orchard's.
fn gtin_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![5 => 0..2usize, 2 => 2..4usize, 1 => Just(4usize)]
}

/// A signer and what it asks for.
fn op_strategy() -> impl Strategy<Value = (usize, Op)> {
    let targets = 0..TARGETS.len();
    prop_oneof![
        2 => (signer_strategy(&ADMINS), targets.clone(), roles_strategy())
            .prop_map(|(s, target, roles)| (s, Op::RegisterMember { target, roles })),
        2 => (signer_strategy(&ADMINS), targets.clone(), roles_strategy())
            .prop_map(|(s, target, roles)| (s, Op::SetRoles { target, roles })),
        1 => (signer_strategy(&ADMINS), targets).prop_map(|(s, target)| (s, Op::Revoke { target })),
        3 => (signer_strategy(&PRODUCERS), gtin_strategy())
            .prop_map(|(s, gtin)| (s, Op::Product { gtin })),
        4 => (
            signer_strategy(&PRODUCERS),
            gtin_strategy(),
            0..LOTS.len(),
            prop_oneof![12 => 1u64..1_000, 1 => Just(0u64)]
        )
            .prop_map(|(s, gtin, lot, quantity)| (s, Op::Lot { gtin, lot, quantity })),
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (
        op_strategy(),
        prop_oneof![
            12 => Just(Offer::Fresh),
            3 => (1usize..6).prop_map(Offer::Again),
            1 => Just(Offer::Expired),
        ],
        proptest::bool::weighted(0.25),
    )
        .prop_map(|((signer, op), offer, end_block)| Step {
            signer,
            op,
            offer,
            end_block,
        })
}

/// Genesis plus one block registering the non-admin members of [`SIGNERS`].
fn setup_chain() -> Chain {
    // Nonces apart from the simulation's (its step indexes), fixed so that every run
    // of the setup makes the same transactions.
    let mut chain = Chain::new();
    let txs = [
        signed(
            &key("orchard-admin"),
            1_000_001,
            reg_member(&key("orchard-picker"), &[Role::Producer]),
        ),
        signed(
            &key("orchard-admin"),
            1_000_002,
            reg_member(&key("orchard-driver"), &[Role::Carrier]),
        ),
        signed(
            &key("freight-admin"),
            1_000_003,
            reg_member(&key("freight-driver"), &[Role::Carrier]),
        ),
        signed(
            &key("packer-admin"),
            1_000_004,
            reg_member(&key("packer-line"), &[Role::Processor]),
        ),
    ];
    let run = chain.commit(&txs);
    assert!(
        run.receipts.len() == txs.len()
            && run.receipts.iter().all(|r| r.status == TxStatus::Applied),
        "{run:?}"
    );
    chain
}

/// What one simulation produced.
#[derive(Debug, PartialEq, Eq)]
struct Sim {
    state_hash: Hash,
    /// The transactions each committed block contains, and its run.
    blocks: Vec<(Vec<SignedTx>, WriteSet, Vec<Receipt>)>,
    /// Receipts per signer.
    receipts: BTreeMap<PublicKey, u64>,
    chain_state: State,
    /// Replay ids kept in state at the end.
    replay_ids_after: usize,
}

/// Keys whose value differs between two write sets.
/// Audit-trail, open-tier and open-tier bookkeeping keys (subject heads and the
/// heads tree).
fn is_trail(k: &[u8]) -> bool {
    matches!(
        k.first(),
        Some(&keys::AUDIT)
            | Some(&keys::OPEN)
            | Some(&keys::OPEN_BY_ID)
            | Some(&keys::HEAD)
            | Some(&keys::SMT)
    ) || k == keys::meta("open_next").as_slice()
}

fn changed_keys(before: &WriteSet, after: &WriteSet) -> BTreeSet<Vec<u8>> {
    before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// Runs `steps` on the setup chain. Each step is offered to the block being built:
/// the block's accepted prefix is re-executed on a fresh [`Execution`], then the new
/// transaction, so that the write set before and after it can be compared.
fn simulate(steps: &[Step]) -> Result<Sim, TestCaseError> {
    let mut chain = setup_chain();
    let mut receipts: BTreeMap<PublicKey, u64> = BTreeMap::new();
    let mut blocks = Vec::new();
    let mut accepted: Vec<SignedTx> = Vec::new();
    let mut before: (WriteSet, Vec<Receipt>) = (WriteSet::new(), Vec::new());
    let mut offered: Vec<SignedTx> = Vec::new();
    let mut taken: BTreeSet<Hash> = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        let signer = key(SIGNERS[step.signer]);
        let ctx = chain.next_ctx();
        let mut ex = Execution::begin(&chain.state, ctx.clone()).expect("state reads");
        for t in &accepted {
            prop_assert!(ex.apply(t, t.id()).is_ok(), "an accepted tx re-applies");
        }
        let nonce = i as u64;
        let stx = match step.offer {
            Offer::Again(back) if back <= offered.len() => offered[offered.len() - back].clone(),
            Offer::Expired => signed_until(&signer, nonce, ctx.time_ms, step.op.payload()),
            _ => signed(&signer, nonce, step.op.payload()),
        };
        offered.push(stx.clone());
        let spk = stx.tx.signer;
        let is_member = ex.get(&keys::member(&spk)).expect("state reads").is_some();
        let expired = stx.tx.expires_at_ms <= ctx.time_ms;
        let replayed = taken.contains(&stx.tx.replay_id());
        let stateless_ok = stx.check_stateless(CHAIN).is_ok();
        let id = stx.id();
        let result = ex.apply(&stx, id).cloned();
        let out = ex.finish().expect("the in-memory state reads");
        let (ws, rc) = (out.writes, out.receipts);
        match result {
            Ok(receipt) => {
                prop_assert!(
                    stateless_ok && is_member && !expired && !replayed,
                    "accepted a tx that should be invalid: {step:?} -> {receipt:?}"
                );
                prop_assert_eq!(rc.len(), before.1.len() + 1, "one receipt pushed");
                prop_assert_eq!(&rc[..before.1.len()], &before.1[..]);
                prop_assert_eq!(rc.last(), Some(&receipt));
                prop_assert_eq!(receipt.tx_id, id);
                prop_assert_eq!(ws.get(&replay_key(&stx)), Some(&Some(Vec::new())));
                let changed = changed_keys(&before.0, &ws);
                prop_assert!(changed.contains(&replay_key(&stx)));
                match &receipt.status {
                    TxStatus::Rejected { .. } => prop_assert_eq!(
                        changed
                            .iter()
                            .filter(|k| k.first() != Some(&keys::AUDIT))
                            .count(),
                        1,
                        "a rejection changes only the replay id (and the audit trail): {:?}",
                        receipt
                    ),
                    TxStatus::Applied => {
                        // A transaction writes its own replay id and domain records,
                        // never organizations or chain records.
                        for k in &changed {
                            prop_assert!(
                                *k == replay_key(&stx)
                                    || is_trail(k)
                                    || [
                                        keys::MEMBER,
                                        keys::ORG_MEMBER,
                                        keys::PRODUCT,
                                        keys::LOT,
                                        keys::AUDIT
                                    ]
                                    .contains(&k[0]),
                                "{step:?} wrote key {k:?}"
                            );
                        }
                    }
                }
                *receipts.entry(spk).or_default() += 1;
                taken.insert(stx.tx.replay_id());
                accepted.push(stx);
                before = (ws, rc);
            }
            Err(e) => {
                prop_assert_eq!(&ws, &before.0, "an invalid tx wrote something: {:?}", e);
                prop_assert_eq!(&rc, &before.1, "an invalid tx pushed a receipt: {:?}", e);
                if !stateless_ok {
                    prop_assert!(matches!(e, TxInvalid::Stateless(_)), "{e:?}");
                } else if !is_member {
                    prop_assert_eq!(e, TxInvalid::UnknownSigner { signer: spk });
                } else if expired {
                    prop_assert_eq!(
                        e,
                        TxInvalid::Expired {
                            signer: spk,
                            expires_at_ms: stx.tx.expires_at_ms,
                            block_time_ms: ctx.time_ms
                        }
                    );
                } else if replayed {
                    prop_assert_eq!(
                        e,
                        TxInvalid::Replayed {
                            signer: spk,
                            replay_id: stx.tx.replay_id()
                        }
                    );
                } else {
                    prop_assert!(false, "a valid tx was refused: {step:?} -> {e:?}");
                }
            }
        }
        if step.end_block || i + 1 == steps.len() {
            let run = chain.commit(&accepted);
            prop_assert!(run.results.iter().all(Result::is_ok));
            prop_assert_eq!(&run.writes, &before.0, "the block equals its prefixes");
            prop_assert_eq!(&run.receipts, &before.1);
            blocks.push((std::mem::take(&mut accepted), run.writes, run.receipts));
            before = (WriteSet::new(), Vec::new());
        }
    }
    let replay_ids_after = chain.n_replay_ids();
    for id in &taken {
        prop_assert!(
            chain
                .state
                .keys()
                .any(|k| k.first() == Some(&keys::REPLAY) && k.ends_with(&id.0)),
            "every transaction taken keeps its replay id"
        );
    }
    Ok(Sim {
        state_hash: chain.state_hash,
        blocks,
        receipts,
        chain_state: chain.state,
        replay_ids_after,
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_transaction_sequences(steps in vec(step_strategy(), 1..60)) {
        let first = simulate(&steps)?;

        // (d) one replay id per receipt, kept (nothing expires within the test).
        let setup = setup_chain();
        let n_receipts: u64 = first.receipts.values().sum();
        prop_assert_eq!(
            first.replay_ids_after as u64,
            setup.n_replay_ids() as u64 + n_receipts
        );

        // (c) the same sequence from genesis gives the same everything.
        let second = simulate(&steps)?;
        prop_assert_eq!(&first, &second);

        // Replaying the committed blocks, as a validator would, reproduces them.
        let mut replay = setup_chain();
        for (txs, writes, receipts) in &first.blocks {
            let run = replay.commit(txs);
            prop_assert!(run.results.iter().all(Result::is_ok));
            prop_assert_eq!(&run.writes, writes);
            prop_assert_eq!(&run.receipts, receipts);
        }
        prop_assert_eq!(replay.state_hash, first.state_hash);
        prop_assert_eq!(&replay.state, &first.chain_state);
    }
}

// ---------------------------------------------------------------------------
// Encryption keys (sealed fields).
// ---------------------------------------------------------------------------

fn seal_key(byte: u8, version: u32) -> Payload {
    Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey {
        version,
        key: waybill_types::seal::SealPublicKey([byte; 32]),
    })
}

/// Every (state of an organization's keys, action, signer) cell of `register_seal_key`:
/// states — no key, at version 1, at version 2; actions — register the next version,
/// the same version again, one version too far, an earlier key again; signers — the
/// organization's admin, one of its members, a revoked member, another organization's
/// admin (who acts for its own organization).
#[test]
fn seal_key_registration_matrix() {
    use waybill_state::privacy::{current_seal_key, current_seal_key_version, seal_keys};
    #[derive(Clone, Copy, Debug)]
    enum Signer {
        Admin,
        Member,
        Revoked,
        OtherAdmin,
    }
    #[derive(Clone, Copy, Debug)]
    enum Action {
        Next,
        Same,
        Skip,
        OldKey,
    }
    let orchard = org("orchard");
    for at in 0..=2u32 {
        for action in [Action::Next, Action::Same, Action::Skip, Action::OldKey] {
            for signer in [
                Signer::Admin,
                Signer::Member,
                Signer::Revoked,
                Signer::OtherAdmin,
            ] {
                let cell = format!("at v{at}, {action:?}, by {signer:?}");
                let mut chain = Chain::new();
                let admin = key("orchard-admin");
                let (member, gone) = (key("orchard-keeper"), key("orchard-gone"));
                assert_applied(&chain.submit(&admin, reg_member(&member, &[Role::Producer])));
                assert_applied(&chain.submit(&admin, reg_member(&gone, &[Role::Producer])));
                assert_applied(&chain.submit(&admin, revoke(&gone, "left")));
                for v in 1..=at {
                    assert_applied(&chain.submit(&admin, seal_key(v as u8, v)));
                }
                let (version, byte) = match action {
                    Action::Next => (at + 1, 10 + at as u8),
                    Action::Same => (at, 20),
                    Action::Skip => (at + 2, 30),
                    // The key of version 1, registered again as the next version.
                    Action::OldKey => (at + 1, 1),
                };
                let k = match signer {
                    Signer::Admin => admin.clone(),
                    Signer::Member => member.clone(),
                    Signer::Revoked => gone.clone(),
                    Signer::OtherAdmin => key("freight-admin"),
                };
                let tx = chain.tx(&k, seal_key(byte, version));
                let run = chain.commit(std::slice::from_ref(&tx));
                let want: Result<(), &str> = match (signer, action) {
                    // Version 0 fails the stateless check: not a transaction at all.
                    (_, Action::Same) if at == 0 => Err("invalid"),
                    (Signer::Revoked, _) => Err("member_revoked"),
                    (Signer::Member, _) => Err("not_admin"),
                    // freight has no key: its next version is 1.
                    (Signer::OtherAdmin, _) if version == 1 => Ok(()),
                    (Signer::OtherAdmin, _) => Err("seal_key_version"),
                    (Signer::Admin, Action::Next) => Ok(()),
                    (Signer::Admin, Action::OldKey) if at == 0 => Ok(()),
                    (Signer::Admin, Action::OldKey) => Err("duplicate"),
                    (Signer::Admin, Action::Same | Action::Skip) => Err("seal_key_version"),
                };
                let owner = match signer {
                    Signer::OtherAdmin => org("freight"),
                    _ => orchard.clone(),
                };
                match want {
                    Ok(()) => {
                        assert_applied(&run);
                        let current = current_seal_key(&chain.state, &owner)
                            .expect("reads")
                            .unwrap_or_else(|| panic!("{cell}: a current key"));
                        assert_eq!(
                            (current.version, current.key.0[0]),
                            (version, byte),
                            "{cell}"
                        );
                        assert_eq!(current.registered_at, Height(chain.height), "{cell}");
                    }
                    Err("invalid") => {
                        assert!(
                            run.only().is_err(),
                            "{cell}: not a transaction, got {:?}",
                            run.only()
                        );
                    }
                    Err(code) => {
                        let message = assert_rejected(&run, &k, code);
                        assert!(!message.is_empty(), "{cell}");
                    }
                }
                // The organization's keys are exactly those applied, oldest first.
                let expect_orchard = at
                    + u32::from(
                        matches!(signer, Signer::Admin)
                            && (matches!(action, Action::Next)
                                || (matches!(action, Action::OldKey) && at == 0)),
                    );
                assert_eq!(
                    current_seal_key_version(&chain.state, &orchard).expect("reads"),
                    expect_orchard,
                    "{cell}"
                );
                let versions: Vec<u32> = seal_keys(&chain.state, &orchard)
                    .expect("reads")
                    .iter()
                    .map(|k| k.version)
                    .collect();
                assert_eq!(versions, (1..=expect_orchard).collect::<Vec<_>>(), "{cell}");
            }
        }
    }
}

/// A rotation in the same block as the first key sees it: versions 1 and 2 in one
/// block both apply; a second version 2 later in the block is refused.
#[test]
fn seal_keys_rotate_within_one_block() {
    let mut chain = Chain::new();
    let admin = key("packer-admin");
    let txs = [
        chain.tx(&admin, seal_key(1, 1)),
        chain.tx(&admin, seal_key(2, 2)),
        chain.tx(&admin, seal_key(3, 2)),
    ];
    let run = chain.commit(&txs);
    let codes: Vec<String> = run
        .results
        .iter()
        .map(|r| match &r.as_ref().expect("valid").status {
            TxStatus::Applied => "applied".into(),
            TxStatus::Rejected { code, .. } => code.clone(),
        })
        .collect();
    assert_eq!(codes, ["applied", "applied", "seal_key_version"]);
    let current = waybill_state::privacy::current_seal_key(&chain.state, &org("packer"))
        .expect("reads")
        .expect("a key");
    assert_eq!((current.version, current.key.0[0]), (2, 2));
}

// ---------------------------------------------------------------------------
// Lot status: quarantine and recall.
// ---------------------------------------------------------------------------

fn set_lot_status(g: &Gtin, lot: &str, status: waybill_types::payload::LotStatus) -> Payload {
    Payload::SetLotStatus(waybill_types::payload::SetLotStatus {
        gtin: g.clone(),
        lot: lot.into(),
        status,
        reason: "inspection report CIQ-2026-0412".into(),
    })
}

/// Every (status before, status asked for, signer) cell: inspectors and regulators set
/// any lot's status, nobody else does; a recall is final; asking for the status a lot
/// has is refused; a rejection writes nothing.
#[test]
fn lot_status_matrix_state_by_action_by_role() {
    use waybill_state::lot_status::lot_status;
    use waybill_types::payload::LotStatus::{self, Quarantined, Recalled, Released};
    let mut base = Chain::new();
    for (label, roles) in [
        ("lot-inspector", vec![Role::Inspector]),
        ("lot-regulator", vec![Role::Regulator]),
        ("lot-platform", vec![Role::Platform]),
    ] {
        assert_applied(&base.submit(&key("bazaar-admin"), reg_member(&key(label), &roles)));
    }
    let g = orchard_gtin();
    assert_applied(&base.submit(&key("orchard-admin"), product(&g)));
    assert_applied(&base.submit(&key("orchard-admin"), lot(&g, "PJ-9")));
    let run = base.submit(
        &key("lot-regulator"),
        set_lot_status(&g, "NO-SUCH", Recalled),
    );
    assert_rejected(&run, &key("lot-regulator"), "unknown_lot");
    let signers = [
        "lot-inspector",
        "lot-regulator",
        "lot-platform",
        "orchard-admin",
    ];
    let all = [Released, Quarantined, Recalled];
    let mut applied = 0;
    for before in all {
        let mut start = base.clone();
        if before != Released {
            assert_applied(
                &start.submit(&key("lot-regulator"), set_lot_status(&g, "PJ-9", before)),
            );
        }
        assert_eq!(lot_status(&start.state, &g, "PJ-9").expect("reads"), before);
        for asked in all {
            for who in signers {
                let mut c = start.clone();
                let run = c.submit(&key(who), set_lot_status(&g, "PJ-9", asked));
                let may = matches!(who, "lot-inspector" | "lot-regulator");
                let want: Option<&str> = if !may {
                    Some("not_authorized")
                } else if before == Recalled {
                    Some("lot_recalled")
                } else if before == asked {
                    Some("lot_status_unchanged")
                } else {
                    None
                };
                let now: LotStatus = lot_status(&c.state, &g, "PJ-9").expect("reads");
                match want {
                    Some(code) => {
                        assert_rejected(&run, &key(who), code);
                        assert_eq!(now, before, "{before:?} × {asked:?} × {who}");
                    }
                    None => {
                        assert_applied(&run);
                        assert_eq!(now, asked, "{before:?} × {asked:?} × {who}");
                        applied += 1;
                    }
                }
            }
        }
    }
    // released → quarantined, recalled; quarantined → released, recalled: by 2 signers.
    assert_eq!(applied, 8);
}
