//! Governance on a ledger: admitting an organization with a validator needs more
//! than half of the organizations' admins; the validator set changes exactly
//! `VALIDATOR_CHANGE_DELAY_BLOCKS` later, certificates from then on need the new
//! validator, and the whole chain still verifies. Removing a validator works alike.

use waybill_types::payload::{ApproveGovernance, ProposeGovernance, RegisterMember};

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

#[test]
fn admitting_an_organization_with_a_validator_needs_a_majority_and_takes_effect_later() {
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
    let mut chain = TestChain::new(genesis, validator.clone());
    let shared = chain.shared();
    let mut admins = Admins { keys };
    let new_admin = SecretKey::from_label("customs admin");
    let new_validator = SecretKey::from_label("customs validator");
    chain.extra_signers.push(new_validator.clone());
    let action = GovernanceAction::AdmitOrganization {
        id: OrgId::new("customs").expect("id"),
        name: "Chengdu Customs".into(),
        admin: new_admin.public(),
        roles: vec![Role::Customs, Role::Inspector],
        company_prefixes: vec![],
        validator: Some((new_validator.public(), 1)),
    };

    // A member who is not an admin cannot propose.
    let member = SecretKey::from_label("gov member");
    let p = Payload::RegisterMember(RegisterMember {
        member: member.public(),
        name: "grower".into(),
        roles: vec![Role::Producer],
    });
    let tx = admins.tx(0, &chain_id, p);
    submit_and_commit(&mut chain, &shared, tx);
    let tx = sign(
        &member,
        &chain_id,
        Payload::ProposeGovernance(ProposeGovernance {
            action: action.clone(),
            reason: "r".into(),
        }),
    )
    .encode();
    let (_, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(rejected_code(&r), "not_admin");

    // One of three organizations proposes: not yet a majority.
    let tx = admins.tx(
        0,
        &chain_id,
        Payload::ProposeGovernance(ProposeGovernance {
            action,
            reason: "customs joins the consortium".into(),
        }),
    );
    let (h_proposed, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(r.status, TxStatus::Applied);
    let snap = shared.store.snapshot().expect("snapshot");
    let p = load_proposal(&snap, 1).expect("reads").expect("proposal 1");
    assert_eq!(p.status, ProposalStatus::Open);
    assert!(
        waybill_state::identity::load_org(&snap, &OrgId::new("customs").expect("id"))
            .expect("reads")
            .is_none()
    );
    drop(snap);
    // The same organization cannot approve twice; an unknown proposal is refused.
    let tx = admins.tx(
        0,
        &chain_id,
        Payload::ApproveGovernance(ApproveGovernance { proposal: 1 }),
    );
    assert_eq!(
        rejected_code(&submit_and_commit(&mut chain, &shared, tx).1),
        "already_approved"
    );
    let tx = admins.tx(
        1,
        &chain_id,
        Payload::ApproveGovernance(ApproveGovernance { proposal: 9 }),
    );
    assert_eq!(
        rejected_code(&submit_and_commit(&mut chain, &shared, tx).1),
        "unknown_proposal"
    );

    // The second organization approves: 2 of 3 is a majority; carried out in that block.
    let tx = admins.tx(
        1,
        &chain_id,
        Payload::ApproveGovernance(ApproveGovernance { proposal: 1 }),
    );
    let (h_exec, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(r.status, TxStatus::Applied);
    assert!(h_exec > h_proposed);
    let snap = shared.store.snapshot().expect("snapshot");
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
    // The third approval comes too late.
    let tx = admins.tx(
        2,
        &chain_id,
        Payload::ApproveGovernance(ApproveGovernance { proposal: 1 }),
    );
    assert_eq!(
        rejected_code(&submit_and_commit(&mut chain, &shared, tx).1),
        "proposal_closed"
    );

    // The new validator joins exactly VALIDATOR_CHANGE_DELAY_BLOCKS after the approving block.
    let effective = h_exec.0 + VALIDATOR_CHANGE_DELAY_BLOCKS;
    while chain.ledger.committed_height().0 < effective + 1 {
        chain.commit_block().expect("commits");
    }
    let snap = shared.store.snapshot().expect("snapshot");
    let before = validator_set_at(&snap, Height(effective - 1)).expect("set");
    let after = validator_set_at(&snap, Height(effective)).expect("set");
    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 2);
    assert!(after.iter().any(|v| v.public_key == new_validator.public()));
    drop(snap);
    let b = shared
        .store
        .block(Height(effective))
        .expect("reads")
        .expect("block");
    assert_eq!(
        b.header.validators_hash,
        validators_hash(&chain.ledger.validator_set(Height(effective)))
    );
    let cert = shared
        .store
        .certificate(Height(effective))
        .expect("reads")
        .expect("certificate");
    assert_eq!(
        cert.signatures.len(),
        2,
        "from then on both validators sign"
    );
    let cert_before = shared
        .store
        .certificate(Height(effective - 1))
        .expect("reads")
        .expect("certificate");
    assert_eq!(cert_before.signatures.len(), 1);
    // A certificate without the new validator no longer proves finality (1 of 2 power).
    let only_old = waybill_types::CommitCertificate {
        signatures: cert
            .signatures
            .iter()
            .filter(|s| s.validator == validator.public())
            .cloned()
            .collect(),
        ..cert.clone()
    };
    assert!(only_old
        .verify(
            &chain.genesis.chain_id,
            Height(effective),
            b.hash(),
            &chain.ledger.validator_set(Height(effective))
        )
        .is_err());

    // Removing a validator: the new organization's admin proposes, two approve.
    let mut new_admins = Admins {
        keys: vec![new_admin],
    };
    let tx = new_admins.tx(
        0,
        &chain_id,
        Payload::ProposeGovernance(ProposeGovernance {
            action: GovernanceAction::RemoveValidator {
                public_key: new_validator.public(),
            },
            reason: "customs stops running a node".into(),
        }),
    );
    assert_eq!(
        submit_and_commit(&mut chain, &shared, tx).1.status,
        TxStatus::Applied
    );
    let tx = admins.tx(
        2,
        &chain_id,
        Payload::ApproveGovernance(ApproveGovernance { proposal: 2 }),
    );
    let (h_removed, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(
        r.status,
        TxStatus::Applied,
        "2 of 4 is not a majority yet: {r:?}"
    );
    let tx = admins.tx(
        1,
        &chain_id,
        Payload::ApproveGovernance(ApproveGovernance { proposal: 2 }),
    );
    let (h_removed2, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(r.status, TxStatus::Applied);
    assert!(h_removed2 > h_removed);
    let snap = shared.store.snapshot().expect("snapshot");
    assert_eq!(
        load_proposal(&snap, 2).expect("reads").expect("p").status,
        ProposalStatus::Executed { at: h_removed2 }
    );
    drop(snap);
    while chain.ledger.committed_height().0 < h_removed2.0 + VALIDATOR_CHANGE_DELAY_BLOCKS + 1 {
        chain.commit_block().expect("commits");
    }
    assert_eq!(
        chain
            .ledger
            .validator_set(Height(h_removed2.0 + VALIDATOR_CHANGE_DELAY_BLOCKS))
            .len(),
        1
    );
    // The last validator cannot be removed.
    let tx = admins.tx(
        0,
        &chain_id,
        Payload::ProposeGovernance(ProposeGovernance {
            action: GovernanceAction::RemoveValidator {
                public_key: validator.public(),
            },
            reason: "r".into(),
        }),
    );
    assert_eq!(
        rejected_code(&submit_and_commit(&mut chain, &shared, tx).1),
        "last_validator"
    );

    // The whole chain, across both validator-set changes, verifies.
    let report = verify_full(&shared.store).expect("chain verifies");
    assert!(report.to.0 > effective);
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
    let propose = |action| {
        Payload::ProposeGovernance(ProposeGovernance {
            action,
            reason: "test".into(),
        })
    };
    let cap = waybill_types::limits::VOTING_POWER_MAX;
    let newcomer = SecretKey::from_label("cap newcomer");

    // One past the cap and the u64 maximum, for a new and an existing validator, and
    // an organization admitted with such a validator: refused with a clear message.
    let over_cap = [
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
    ];
    for action in over_cap {
        let tx = sign(&keys[0], &chain_id, propose(action.clone())).encode();
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
        propose(GovernanceAction::RemoveValidator {
            public_key: validator.public(),
        }),
    );
    let (_, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(rejected_code(&r), "last_validator", "{r:?}");
    // At the cap it is taken.
    let tx = admins.tx(
        0,
        &chain_id,
        propose(GovernanceAction::SetValidator {
            org: orchard.clone(),
            public_key: validator.public(),
            voting_power: cap,
        }),
    );
    let (_, r) = submit_and_commit(&mut chain, &shared, tx);
    assert_eq!(r.status, TxStatus::Applied, "{r:?}");
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
