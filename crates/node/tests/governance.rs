//! Governance on a ledger: admitting an organization with a validator needs more
//! than half of the organizations' admins; the validator set changes exactly
//! `VALIDATOR_CHANGE_DELAY_BLOCKS` later, certificates from then on need the new
//! validator, and the whole chain still verifies. Removing a validator works alike.

use waybill_types::payload::{ApproveGovernance, ProposeGovernance, RegisterMember};

use std::sync::Arc;

use waybill_client::sign;
use waybill_node::app::Application;
use waybill_node::Shared;
use waybill_state::governance::{
    load_proposal, validator_set_at, ProposalStatus, VALIDATOR_CHANGE_DELAY_BLOCKS,
};
use waybill_store::verify::verify_full;
use waybill_testkit::{test_genesis, TestChain};
use waybill_types::block::validators_hash;
use waybill_types::{GovernanceAction, Height, OrgId, Payload, Receipt, Role, SecretKey, TxStatus};

struct Admins {
    keys: Vec<SecretKey>,
}

impl Admins {
    fn tx(&mut self, i: usize, chain_id: &str, p: Payload) -> Vec<u8> {
        sign(&self.keys[i], chain_id, p).encode()
    }
}

fn submit_and_commit(chain: &mut TestChain, shared: &Shared, tx: Vec<u8>) -> (Height, Receipt) {
    let id = waybill_types::SignedTx::id_of(&tx);
    for r in waybill_node::ledger::submit_batch(shared, vec![tx]) {
        r.expect("admitted");
    }
    let h = chain.commit_block().expect("commits");
    let loc = shared
        .store
        .tx_location(&id)
        .expect("reads")
        .expect("committed");
    let receipt = shared
        .store
        .receipts(loc.height)
        .expect("reads")
        .expect("stored")[loc.index as usize]
        .clone();
    (h, receipt)
}

fn rejected_code(r: &Receipt) -> &str {
    match &r.status {
        TxStatus::Rejected { code, .. } => code,
        TxStatus::Applied => "applied",
    }
}

/// A three-organization chain whose admins govern, one validator run by the first.
struct Gov {
    chain: TestChain,
    shared: Arc<Shared>,
    admins: Admins,
    chain_id: String,
    validator: SecretKey,
}

impl Gov {
    fn new() -> Gov {
        let keys: Vec<SecretKey> = (0..3)
            .map(|i| SecretKey::from_label(&format!("gov admin {i}")))
            .collect();
        let validator = SecretKey::from_label("gov validator 0");
        let genesis = test_genesis(
            &[
                ("orchard", &[Role::Producer], &["6901234"], &keys[0]),
                ("packer", &[Role::Processor], &["6905678"], &keys[1]),
                ("carrier", &[Role::Carrier], &[], &keys[2]),
            ],
            &validator,
        );
        let chain_id = genesis.chain_id.clone();
        let chain = TestChain::new(genesis, validator.clone());
        let shared = chain.shared();
        Gov {
            chain,
            shared,
            admins: Admins { keys },
            chain_id,
            validator,
        }
    }

    /// Submit signed bytes and commit them in a block of their own.
    fn commit(&mut self, tx: Vec<u8>) -> (Height, Receipt) {
        submit_and_commit(&mut self.chain, &self.shared, tx)
    }

    /// Admin `i` signs `p`, committed in a block of its own.
    fn by_admin(&mut self, i: usize, p: Payload) -> (Height, Receipt) {
        let tx = self.admins.tx(i, &self.chain_id, p);
        self.commit(tx)
    }

    /// Admin `i` approves proposal `proposal`.
    fn approve(&mut self, i: usize, proposal: u64) -> (Height, Receipt) {
        self.by_admin(
            i,
            Payload::ApproveGovernance(ApproveGovernance { proposal }),
        )
    }

    /// Commit empty blocks until `height` is committed.
    fn commit_through(&mut self, height: u64) {
        while self.chain.ledger.committed_height().0 < height {
            self.chain.commit_block().expect("commits");
        }
    }
}

fn propose(action: GovernanceAction, reason: &str) -> Payload {
    Payload::ProposeGovernance(ProposeGovernance {
        action,
        reason: reason.into(),
    })
}

#[test]
fn admitting_an_organization_with_a_validator_needs_a_majority_and_takes_effect_later() {
    let mut g = Gov::new();
    let new_admin = SecretKey::from_label("customs admin");
    let new_validator = SecretKey::from_label("customs validator");
    g.chain.extra_signers.push(new_validator.clone());
    let action = GovernanceAction::AdmitOrganization {
        id: OrgId::new("customs").expect("id"),
        name: "Chengdu Customs".into(),
        admin: new_admin.public(),
        roles: vec![Role::Customs, Role::Inspector],
        company_prefixes: vec![],
        validator: Some((new_validator.public(), 1)),
    };
    only_admins_propose(&mut g, &action);
    let h_proposed = one_approval_of_three_is_not_a_majority(&mut g, action);
    let h_exec = the_second_approval_admits_the_organization(&mut g, h_proposed, &new_admin);
    let effective = the_new_validator_signs_from_the_delay_on(&mut g, h_exec, &new_validator);
    a_validator_is_removed_alike_but_never_the_last(&mut g, new_admin, &new_validator);

    // The whole chain, across both validator-set changes, verifies.
    let report = verify_full(&g.shared.store).expect("chain verifies");
    assert!(report.to.0 > effective);
}

/// A member who is not an admin cannot propose.
fn only_admins_propose(g: &mut Gov, action: &GovernanceAction) {
    let member = SecretKey::from_label("gov member");
    g.by_admin(
        0,
        Payload::RegisterMember(RegisterMember {
            member: member.public(),
            name: "grower".into(),
            roles: vec![Role::Producer],
        }),
    );
    let tx = sign(&member, &g.chain_id, propose(action.clone(), "r")).encode();
    let (_, r) = g.commit(tx);
    assert_eq!(rejected_code(&r), "not_admin");
}

/// One of three organizations proposes: not yet a majority. The same organization
/// cannot approve twice; an unknown proposal is refused. The proposal's height.
fn one_approval_of_three_is_not_a_majority(g: &mut Gov, action: GovernanceAction) -> Height {
    let (h_proposed, r) = g.by_admin(0, propose(action, "customs joins the consortium"));
    assert_eq!(r.status, TxStatus::Applied);
    let snap = g.shared.store.snapshot().expect("snapshot");
    let p = load_proposal(&snap, 1).expect("reads").expect("proposal 1");
    assert_eq!(p.status, ProposalStatus::Open);
    assert!(
        waybill_state::identity::load_org(&snap, &OrgId::new("customs").expect("id"))
            .expect("reads")
            .is_none()
    );
    drop(snap);
    assert_eq!(rejected_code(&g.approve(0, 1).1), "already_approved");
    assert_eq!(rejected_code(&g.approve(1, 9).1), "unknown_proposal");
    h_proposed
}

/// The second organization approves: 2 of 3 is a majority; carried out in that block.
/// The third approval comes too late. The height it was carried out at.
fn the_second_approval_admits_the_organization(
    g: &mut Gov,
    h_proposed: Height,
    new_admin: &SecretKey,
) -> Height {
    let (h_exec, r) = g.approve(1, 1);
    assert_eq!(r.status, TxStatus::Applied);
    assert!(h_exec > h_proposed);
    let snap = g.shared.store.snapshot().expect("snapshot");
    assert_eq!(
        load_proposal(&snap, 1).expect("reads").expect("p").status,
        ProposalStatus::Executed { at: h_exec }
    );
    let org = waybill_state::identity::load_org(&snap, &OrgId::new("customs").expect("id"))
        .expect("reads")
        .expect("admitted");
    assert_eq!(org.joined_at, h_exec);
    assert!(
        waybill_state::identity::load_member(&snap, &new_admin.public())
            .expect("reads")
            .expect("admin")
            .admin
    );
    drop(snap);
    assert_eq!(rejected_code(&g.approve(2, 1).1), "proposal_closed");
    h_exec
}

/// The new validator joins exactly VALIDATOR_CHANGE_DELAY_BLOCKS after the approving
/// block: the header commits to the new set, certificates from then on carry both
/// signatures, and one without the new validator no longer proves finality. The
/// height the change took effect at.
fn the_new_validator_signs_from_the_delay_on(
    g: &mut Gov,
    h_exec: Height,
    new_validator: &SecretKey,
) -> u64 {
    let effective = h_exec.0 + VALIDATOR_CHANGE_DELAY_BLOCKS;
    g.commit_through(effective + 1);
    let snap = g.shared.store.snapshot().expect("snapshot");
    let before = validator_set_at(&snap, Height(effective - 1)).expect("set");
    let after = validator_set_at(&snap, Height(effective)).expect("set");
    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 2);
    assert!(after.iter().any(|v| v.public_key == new_validator.public()));
    drop(snap);
    let store = &g.shared.store;
    let b = store
        .block(Height(effective))
        .expect("reads")
        .expect("block");
    let set = g.chain.ledger.validator_set(Height(effective));
    assert_eq!(b.header.validators_hash, validators_hash(&set));
    let cert = store
        .certificate(Height(effective))
        .expect("reads")
        .expect("certificate");
    assert_eq!(
        cert.signatures.len(),
        2,
        "from then on both validators sign"
    );
    let cert_before = store
        .certificate(Height(effective - 1))
        .expect("reads")
        .expect("certificate");
    assert_eq!(cert_before.signatures.len(), 1);
    // A certificate without the new validator no longer proves finality (1 of 2 power).
    let only_old = waybill_types::CommitCertificate {
        signatures: cert
            .signatures
            .iter()
            .filter(|s| s.validator == g.validator.public())
            .cloned()
            .collect(),
        ..cert.clone()
    };
    assert!(only_old
        .verify(&g.chain.genesis.chain_id, Height(effective), b.hash(), &set)
        .is_err());
    effective
}

/// Removing a validator: the new organization's admin proposes, two approve; the set
/// shrinks after the delay. The last validator cannot be removed.
fn a_validator_is_removed_alike_but_never_the_last(
    g: &mut Gov,
    new_admin: SecretKey,
    new_validator: &SecretKey,
) {
    let mut new_admins = Admins {
        keys: vec![new_admin],
    };
    let remove = GovernanceAction::RemoveValidator {
        public_key: new_validator.public(),
    };
    let tx = new_admins.tx(
        0,
        &g.chain_id,
        propose(remove, "customs stops running a node"),
    );
    assert_eq!(g.commit(tx).1.status, TxStatus::Applied);
    let (h_removed, r) = g.approve(2, 2);
    assert_eq!(
        r.status,
        TxStatus::Applied,
        "2 of 4 is not a majority yet: {r:?}"
    );
    let (h_removed2, r) = g.approve(1, 2);
    assert_eq!(r.status, TxStatus::Applied);
    assert!(h_removed2 > h_removed);
    let snap = g.shared.store.snapshot().expect("snapshot");
    assert_eq!(
        load_proposal(&snap, 2).expect("reads").expect("p").status,
        ProposalStatus::Executed { at: h_removed2 }
    );
    drop(snap);
    g.commit_through(h_removed2.0 + VALIDATOR_CHANGE_DELAY_BLOCKS + 1);
    assert_eq!(
        g.chain
            .ledger
            .validator_set(Height(h_removed2.0 + VALIDATOR_CHANGE_DELAY_BLOCKS))
            .len(),
        1
    );
    // The last validator cannot be removed.
    let last = GovernanceAction::RemoveValidator {
        public_key: g.validator.public(),
    };
    assert_eq!(
        rejected_code(&g.by_admin(0, propose(last, "r")).1),
        "last_validator"
    );
}

/// Regression (issue 12): governance took any voting power up to 2^64−1 and every
/// node halted at the effective height. Power over the cap is refused at submission
/// (it never reaches a block), the last validator cannot be removed, and power at
/// the cap is taken.
#[test]
fn validator_changes_that_would_halt_the_chain_are_refused() {
    let keys: Vec<SecretKey> = (0..2)
        .map(|i| SecretKey::from_label(&format!("cap admin {i}")))
        .collect();
    let validator = SecretKey::from_label("cap validator 0");
    let genesis = test_genesis(
        &[
            ("orchard", &[Role::Producer], &["6901234"], &keys[0]),
            ("packer", &[Role::Processor], &["6905678"], &keys[1]),
        ],
        &validator,
    );
    let chain_id = genesis.chain_id.clone();
    let mut chain = TestChain::new(genesis, validator.clone());
    let shared = chain.shared();
    let orchard = OrgId::new("orchard").expect("id");
    let cap = waybill_types::limits::VOTING_POWER_MAX;
    // Power over the cap: refused with a clear message.
    for action in over_cap_actions(&orchard, &validator) {
        let tx = sign(&keys[0], &chain_id, propose(action.clone(), "test")).encode();
        let r = waybill_node::ledger::submit_batch(&shared, vec![tx]).remove(0);
        let err = r.expect_err("over the cap is refused");
        assert_eq!(err.code(), "invalid_tx", "{action:?}: {err}");
        assert!(
            err.to_string().contains(&format!("1 to {cap}")),
            "names the cap: {err}"
        );
    }
    let mut admins = Admins { keys };
    // The last validator cannot be removed.
    let tx = admins.tx(
        0,
        &chain_id,
        propose(
            GovernanceAction::RemoveValidator {
                public_key: validator.public(),
            },
            "test",
        ),
    );
    let (_, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(rejected_code(&r), "last_validator", "{r:?}");
    // At the cap it is taken.
    let tx = admins.tx(
        0,
        &chain_id,
        propose(
            GovernanceAction::SetValidator {
                org: orchard.clone(),
                public_key: validator.public(),
                voting_power: cap,
            },
            "test",
        ),
    );
    let (_, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(r.status, TxStatus::Applied, "{r:?}");
}

/// One past the cap and the u64 maximum, for a new and an existing validator, and an
/// organization admitted with such a validator.
fn over_cap_actions(orchard: &OrgId, validator: &SecretKey) -> [GovernanceAction; 3] {
    let cap = waybill_types::limits::VOTING_POWER_MAX;
    let newcomer = SecretKey::from_label("cap newcomer");
    [
        GovernanceAction::SetValidator {
            org: orchard.clone(),
            public_key: newcomer.public(),
            voting_power: cap + 1,
        },
        GovernanceAction::SetValidator {
            org: orchard.clone(),
            public_key: validator.public(),
            voting_power: u64::MAX,
        },
        GovernanceAction::AdmitOrganization {
            id: OrgId::new("customs").expect("id"),
            name: "Customs".into(),
            admin: SecretKey::from_label("cap customs admin").public(),
            roles: vec![Role::Customs],
            company_prefixes: vec![],
            validator: Some((newcomer.public(), u64::MAX / 2)),
        },
    ]
}

/// The total power of the largest set at the cap fits the engine's arithmetic, and a
/// certificate over powers whose sum overflows u64 is refused, not saturated.
#[test]
fn the_voting_power_cap_keeps_totals_in_range_and_overflow_is_refused() {
    use waybill_types::block::{CommitCertificate, CommitSignature, ValidatorInfo};
    use waybill_types::limits::{VALIDATORS_MAX, VOTING_POWER_MAX};
    let total = (VALIDATORS_MAX as u64)
        .checked_mul(VOTING_POWER_MAX)
        .expect("the largest total fits u64");
    assert!(total <= waybill_node::consensus::context::MAX_TOTAL_VOTING_POWER);

    let keys: Vec<SecretKey> = (0..2)
        .map(|i| SecretKey::from_label(&format!("overflow {i}")))
        .collect();
    let set: Vec<ValidatorInfo> = keys
        .iter()
        .map(|k| ValidatorInfo {
            public_key: k.public(),
            voting_power: u64::MAX - 1,
        })
        .collect();
    let hash = waybill_types::sha256(b"block");
    let cert = CommitCertificate {
        height: Height(1),
        round: 0,
        block_hash: hash,
        signatures: vec![CommitSignature::sign(&keys[0], "c", Height(1), 0, hash)],
    };
    let err = cert
        .verify("c", Height(1), hash, &set)
        .expect_err("an overflowing set is refused");
    assert!(err.to_string().contains("overflow"), "{err}");
}
