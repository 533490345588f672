//! Governance: changes to the consortium itself — admitting an organization,
//! adding, re-weighting or removing a validator — proposed by one organization's
//! admin and taking effect when admins of more than half of the organizations have
//! approved. Validator-set changes take effect [`VALIDATOR_CHANGE_DELAY_BLOCKS`]
//! blocks after the approving block, so every node agrees in advance on the set that
//! finalizes each height. Every validator set ever in force stays in state, so any
//! height's set can be looked up (verification, proofs).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::block::ValidatorInfo;
use waybill_types::payload::{ApproveGovernance, ProposeGovernance};
use waybill_types::reject::RejectCode;
use waybill_types::{limits, Genesis, GovernanceAction, Height, OrgId, PublicKey, Role};

use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError, WriteSet};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::identity::{load_member, load_org, Member, MemberStatus, Organization};
use crate::keys;

/// A validator change approved at height `h` governs heights from `h + this` on.
pub const VALIDATOR_CHANGE_DELAY_BLOCKS: u64 = 3;

/// A validator as governance records it.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct ValidatorRecord {
    /// Consensus key.
    pub public_key: PublicKey,
    /// Voting power.
    pub voting_power: u64,
    /// The organization that runs it.
    pub org: OrgId,
}

/// Where a proposal stands.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Collecting approvals.
    Open,
    /// Approved by a majority and carried out.
    Executed {
        /// The block that carried it out.
        at: Height,
    },
}

/// A governance proposal.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Proposal {
    /// Its number.
    pub id: u64,
    /// What it changes.
    pub action: GovernanceAction,
    /// Why.
    pub reason: String,
    /// Who proposed it.
    pub proposer: PublicKey,
    /// When.
    pub proposed_at: Height,
    /// Organizations whose admins approved, in order.
    pub approvals: Vec<OrgId>,
    /// Open or executed.
    #[serde(flatten)]
    pub status: ProposalStatus,
}

fn key_u64(tag: u8, n: u64) -> Vec<u8> {
    [&[tag][..], &n.to_be_bytes()].concat()
}

/// Key of proposal `id`.
pub fn proposal_key(id: u64) -> Vec<u8> {
    key_u64(keys::GOV_PROPOSAL, id)
}

fn vset_key(effective: u64) -> Vec<u8> {
    key_u64(keys::VALIDATOR_SET, effective)
}

fn meta(name: &str) -> Vec<u8> {
    [&[keys::META][..], name.as_bytes()].concat()
}

fn get<T: BorshDeserialize, S: StateRead + ?Sized>(
    state: &S,
    key: &[u8],
) -> Result<Option<T>, StateReadError> {
    state.get(key)?.map(|b| decode_record(key, &b)).transpose()
}

/// The ids of all organizations, in admission order.
pub fn org_ids<S: StateRead + ?Sized>(state: &S) -> Result<Vec<OrgId>, StateReadError> {
    Ok(get(state, &meta("org_ids"))?.unwrap_or_default())
}

/// The heights at which validator sets took (or take) effect, ascending.
pub fn validator_set_heights<S: StateRead + ?Sized>(state: &S) -> Result<Vec<u64>, StateReadError> {
    Ok(get(state, &meta("vset_heights"))?.unwrap_or_default())
}

/// The validator set recorded to take effect at `effective`.
pub fn validator_set_from<S: StateRead + ?Sized>(
    state: &S,
    effective: u64,
) -> Result<Vec<ValidatorRecord>, StateReadError> {
    let k = vset_key(effective);
    get(state, &k)?.ok_or(StateReadError::Corrupt {
        key: k,
        reason: "validator set listed but missing".into(),
    })
}

/// The validator set that finalizes `height`, sorted by key.
pub fn validator_set_at<S: StateRead + ?Sized>(
    state: &S,
    height: Height,
) -> Result<Vec<ValidatorRecord>, StateReadError> {
    let heights = validator_set_heights(state)?;
    let effective = heights
        .iter()
        .rev()
        .find(|h| **h <= height.0.max(1))
        .copied()
        .ok_or_else(|| StateReadError::Corrupt {
            key: meta("vset_heights"),
            reason: format!("no validator set in force at height {height}"),
        })?;
    validator_set_from(state, effective)
}

/// Who a transaction's signer is, for the payload it signs at `height`: the one rule
/// admission applies both where a node takes a submission and where a block is
/// executed. Every payload is signed by a member's key, except `record_purge`, which a
/// key of the validator set at `height` signs (a node recording its purge of an erased
/// field, `trace::erasure`).
#[derive(Debug)]
pub enum SignerStanding {
    /// A registered member (active or revoked: revocation is checked on execution).
    Member(Member),
    /// A key of the validator set at the height, signing `record_purge`.
    Validator(ValidatorRecord),
    /// A `record_purge` signed by a key outside the validator set at the height.
    NotAValidator,
    /// No member has this key.
    Unknown,
}

/// [`SignerStanding`] of `signer` for `payload` at `height`.
pub fn signer_standing<S: StateRead + ?Sized>(
    state: &S,
    payload: &waybill_types::Payload,
    signer: &PublicKey,
    height: Height,
) -> Result<SignerStanding, StateReadError> {
    if matches!(payload, waybill_types::Payload::RecordPurge(_)) {
        return Ok(validator_set_at(state, height)?
            .into_iter()
            .find(|v| v.public_key == *signer)
            .map_or(SignerStanding::NotAValidator, SignerStanding::Validator));
    }
    Ok(match load_member(state, signer)? {
        Some(m) => SignerStanding::Member(m),
        None => SignerStanding::Unknown,
    })
}

/// As [`validator_set_at`], in the form consensus and certificates use.
pub fn validator_infos_at<S: StateRead + ?Sized>(
    state: &S,
    height: Height,
) -> Result<Vec<ValidatorInfo>, StateReadError> {
    Ok(validator_set_at(state, height)?
        .into_iter()
        .map(|v| ValidatorInfo {
            public_key: v.public_key,
            voting_power: v.voting_power,
        })
        .collect())
}

/// A proposal.
pub fn load_proposal<S: StateRead + ?Sized>(
    state: &S,
    id: u64,
) -> Result<Option<Proposal>, StateReadError> {
    get(state, &proposal_key(id))
}

/// Number of proposals made so far (ids run from 1).
pub fn proposal_count<S: StateRead + ?Sized>(state: &S) -> Result<u64, StateReadError> {
    Ok(get(state, &meta("gov_count"))?.unwrap_or(0))
}

/// Genesis writes: the organization list and the validator set in force from height 1.
pub(crate) fn genesis_writes(genesis: &Genesis, w: &mut WriteSet) {
    let ids: Vec<OrgId> = genesis.organizations.iter().map(|o| o.id.clone()).collect();
    w.insert(meta("org_ids"), Some(encode_record(&ids)));
    let mut set: Vec<ValidatorRecord> = genesis
        .validators
        .iter()
        .map(|v| ValidatorRecord {
            public_key: v.public_key,
            voting_power: v.voting_power,
            org: v.org.clone(),
        })
        .collect();
    set.sort_by_key(|v| v.public_key);
    w.insert(vset_key(1), Some(encode_record(&set)));
    w.insert(meta("vset_heights"), Some(encode_record(&vec![1u64])));
}

fn admin_of_org<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
) -> Result<Member, HandlerError> {
    let m = crate::identity::active_signer(ex, signer)?;
    if !m.admin {
        return Err(Rejection::new(
            RejectCode::NotAdmin,
            format!("{signer} is not an organization admin; only admins act on governance"),
        )
        .into());
    }
    Ok(m)
}

/// Propose; the proposer's organization approves by proposing.
impl Contract for ProposeGovernance {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let action = &self.action;
        let reason = self.reason.as_str();
        let m = admin_of_org(ex, signer)?;
        // Refuse now what could never be carried out.
        check_action(ex, action)?;
        let id = proposal_count(ex)?
            .checked_add(1)
            .ok_or_else(|| Rejection::new(RejectCode::Limit, "proposal numbers exhausted"))?;
        let mut p = Proposal {
            id,
            action: action.clone(),
            reason: reason.to_string(),
            proposer: signer,
            proposed_at: ex.context().height,
            approvals: vec![m.org],
            status: ProposalStatus::Open,
        };
        let mut w: Writes = vec![(meta("gov_count"), encode_record(&id))];
        w.extend(settle(ex, &mut p)?);
        w.push((proposal_key(id), encode_record(&p)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!("proposed {:?}", self.action)
    }
}

/// Approve an open proposal.
impl Contract for ApproveGovernance {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let id = self.proposal;
        let m = admin_of_org(ex, signer)?;
        let mut p = load_proposal(ex, id)?.ok_or_else(|| {
            Rejection::new(
                RejectCode::UnknownProposal,
                format!("no governance proposal {id}"),
            )
        })?;
        if p.status != ProposalStatus::Open {
            return Err(Rejection::new(
                RejectCode::ProposalClosed,
                format!("proposal {id} was already carried out"),
            )
            .into());
        }
        if p.approvals.contains(&m.org) {
            return Err(Rejection::new(
                RejectCode::AlreadyApproved,
                format!("organization `{}` already approved proposal {id}", m.org),
            )
            .into());
        }
        p.approvals.push(m.org);
        let mut w = settle(ex, &mut p)?;
        w.push((proposal_key(id), encode_record(&p)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!("approved proposal {}", self.proposal)
    }
}

/// If more than half of the organizations approved, carry the action out.
fn settle<S: StateRead>(ex: &Execution<S>, p: &mut Proposal) -> Result<Writes, HandlerError> {
    let n_orgs = org_ids(ex)?.len();
    if p.approvals.len() * 2 <= n_orgs {
        return Ok(Vec::new());
    }
    let mut w = carry_out(ex, &p.action)?;
    // Publish each newly scheduled validator set in the open tier, so that a
    // consumer's proof can follow the sets from genesis.
    let scheduled: Vec<(u64, Vec<ValidatorRecord>)> = w
        .iter()
        .filter(|(k, _)| k.len() == 9 && k[0] == keys::VALIDATOR_SET)
        .filter_map(|(k, v)| {
            let h = u64::from_be_bytes(k[1..9].try_into().ok()?);
            let set: Vec<ValidatorRecord> = borsh::from_slice(v).ok()?;
            Some((h, set))
        })
        .collect();
    if !scheduled.is_empty() {
        let mut publisher = crate::open::Publisher::new(ex, ex.context().height.0)?;
        for (effective_height, set) in scheduled {
            let validators: Vec<ValidatorInfo> = set
                .iter()
                .map(|v| ValidatorInfo {
                    public_key: v.public_key,
                    voting_power: v.voting_power,
                })
                .collect();
            publisher.publish(
                &mut w,
                &crate::open::OpenRecord::ValidatorSet {
                    effective_height,
                    validators: &validators,
                    proposal: p.id,
                    source: format!("proposal:{}", p.id),
                },
                &["validators".to_string()],
            )?;
        }
        publisher.finish(&mut w);
    }
    p.status = ProposalStatus::Executed {
        at: ex.context().height,
    };
    Ok(w)
}

fn overlapping_prefix<S: StateRead>(
    ex: &Execution<S>,
    prefixes: &[String],
) -> Result<Option<(String, OrgId)>, HandlerError> {
    for id in org_ids(ex)? {
        if let Some(o) = load_org(ex, &id)? {
            for q in &o.company_prefixes {
                if let Some(p) = prefixes
                    .iter()
                    .find(|p| p.starts_with(q.as_str()) || q.starts_with(p.as_str()))
                {
                    return Ok(Some((p.clone(), o.id.clone())));
                }
            }
        }
    }
    Ok(None)
}

/// The latest scheduled set (the one furthest in the future) and its height.
fn latest_set<S: StateRead>(
    ex: &Execution<S>,
) -> Result<(u64, Vec<ValidatorRecord>), HandlerError> {
    let heights = validator_set_heights(ex)?;
    let last = *heights.last().ok_or_else(|| StateReadError::Corrupt {
        key: meta("vset_heights"),
        reason: "empty".into(),
    })?;
    Ok((last, validator_set_from(ex, last)?))
}

/// Whether `action` can be carried out on the current state (checked when it is
/// proposed and again when it is carried out).
fn check_action<S: StateRead>(
    ex: &Execution<S>,
    action: &GovernanceAction,
) -> Result<(), HandlerError> {
    match action {
        GovernanceAction::AdmitOrganization {
            id,
            admin,
            company_prefixes,
            validator,
            ..
        } => {
            check_admission(ex, id, admin, company_prefixes)?;
            match validator {
                Some((key, power)) => check_admitted_validator(ex, id, key, *power),
                None => Ok(()),
            }
        }
        GovernanceAction::SetValidator {
            org,
            public_key,
            voting_power,
        } => check_set_validator(ex, org, public_key, *voting_power),
        GovernanceAction::RemoveValidator { public_key } => check_removal(ex, public_key),
        // Checked without state when submitted (`screening::check`).
        GovernanceAction::SetScreeningRules { .. } => Ok(()),
    }
}

/// A new organization, checked in this order: its id is new, the consortium has room,
/// its admin key is no member yet, and its company prefixes overlap no one's.
fn check_admission<S: StateRead>(
    ex: &Execution<S>,
    id: &OrgId,
    admin: &PublicKey,
    company_prefixes: &[String],
) -> Result<(), HandlerError> {
    if load_org(ex, id)?.is_some() {
        return Err(Rejection::new(
            RejectCode::Duplicate,
            format!("organization `{id}` already exists"),
        )
        .into());
    }
    if org_ids(ex)?.len() >= limits::GENESIS_ORGS_MAX {
        return Err(Rejection::new(
            RejectCode::Limit,
            format!(
                "the consortium has {} organizations, the most it takes",
                limits::GENESIS_ORGS_MAX
            ),
        )
        .into());
    }
    if let Some(m) = load_member(ex, admin)? {
        return Err(Rejection::new(
            RejectCode::AlreadyRegistered,
            format!("admin key {admin} is already a member of `{}`", m.org),
        )
        .into());
    }
    if let Some((p, other)) = overlapping_prefix(ex, company_prefixes)? {
        return Err(Rejection::new(
            RejectCode::PrefixTaken,
            format!("company prefix `{p}` overlaps a prefix of `{other}`"),
        )
        .into());
    }
    Ok(())
}

/// The validator an admitted organization brings: a new key, its power in range, in a
/// set every node can run.
fn check_admitted_validator<S: StateRead>(
    ex: &Execution<S>,
    org: &OrgId,
    key: &PublicKey,
    power: u64,
) -> Result<(), HandlerError> {
    check_new_validator_key(ex, key)?;
    check_power(power)?;
    check_set(&set_admitting(ex, org, key, power)?)
}

/// Adding or re-weighting a validator of `org`: the organization exists, the key is
/// `org`'s validator or a new one, its power is in range, and the set stays runnable.
fn check_set_validator<S: StateRead>(
    ex: &Execution<S>,
    org: &OrgId,
    public_key: &PublicKey,
    voting_power: u64,
) -> Result<(), HandlerError> {
    if load_org(ex, org)?.is_none() {
        return Err(
            Rejection::new(RejectCode::UnknownOrg, format!("no organization `{org}`")).into(),
        );
    }
    let (_, set) = latest_set(ex)?;
    if let Some(v) = set.iter().find(|v| v.public_key == *public_key) {
        if v.org != *org {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!("validator {public_key} is run by `{}`, not `{org}`", v.org),
            )
            .into());
        }
    } else {
        check_new_validator_key(ex, public_key)?;
    }
    check_power(voting_power)?;
    check_set(&set_with_validator(set, org, public_key, voting_power))
}

/// Removing a validator: it is one, and not the last.
fn check_removal<S: StateRead>(
    ex: &Execution<S>,
    public_key: &PublicKey,
) -> Result<(), HandlerError> {
    let (_, set) = latest_set(ex)?;
    if !set.iter().any(|v| v.public_key == *public_key) {
        return Err(Rejection::new(
            RejectCode::UnknownValidator,
            format!("{public_key} is not a validator"),
        )
        .into());
    }
    if set.len() == 1 {
        return Err(Rejection::new(
            RejectCode::LastValidator,
            "the last validator cannot be removed",
        )
        .into());
    }
    Ok(())
}

/// The latest scheduled set with the validator `key` of the admitted organization
/// `org` added.
fn set_admitting<S: StateRead>(
    ex: &Execution<S>,
    org: &OrgId,
    key: &PublicKey,
    power: u64,
) -> Result<Vec<ValidatorRecord>, HandlerError> {
    let (_, mut set) = latest_set(ex)?;
    set.push(ValidatorRecord {
        public_key: *key,
        voting_power: power,
        org: org.clone(),
    });
    Ok(set)
}

/// `set` with validator `public_key` of `org` at `voting_power`: re-weighted if it is
/// in the set, added otherwise.
fn set_with_validator(
    mut set: Vec<ValidatorRecord>,
    org: &OrgId,
    public_key: &PublicKey,
    voting_power: u64,
) -> Vec<ValidatorRecord> {
    match set.iter_mut().find(|v| v.public_key == *public_key) {
        Some(v) => v.voting_power = voting_power,
        None => set.push(ValidatorRecord {
            public_key: *public_key,
            voting_power,
            org: org.clone(),
        }),
    }
    set
}

/// One validator's power must be `1..=VOTING_POWER_MAX` (see `limits`).
fn check_power(power: u64) -> Result<(), HandlerError> {
    if power == 0 || power > limits::VOTING_POWER_MAX {
        return Err(Rejection::new(
            RejectCode::VotingPowerOutOfRange,
            format!(
                "voting power {power} is out of range; a validator has 1 to {}",
                limits::VOTING_POWER_MAX
            ),
        )
        .into());
    }
    Ok(())
}

/// A validator set every node can run: at least one validator with power, every
/// power in range, and a total that adds up exactly (so a quorum of more than two
/// thirds exists and the engine's arithmetic holds).
fn check_set(set: &[ValidatorRecord]) -> Result<(), HandlerError> {
    if !set.iter().any(|v| v.voting_power > 0) {
        return Err(Rejection::new(
            RejectCode::NoValidator,
            "the change would leave no validator with voting power; the chain could not finalize another block",
        )
        .into());
    }
    let mut total: u64 = 0;
    for v in set {
        check_power(v.voting_power)?;
        total = total.checked_add(v.voting_power).ok_or_else(|| {
            Rejection::new(
                RejectCode::VotingPowerOverflow,
                "the validator set's total voting power would overflow; no quorum could be counted",
            )
        })?;
    }
    Ok(())
}

fn check_new_validator_key<S: StateRead>(
    ex: &Execution<S>,
    key: &PublicKey,
) -> Result<(), HandlerError> {
    let (_, set) = latest_set(ex)?;
    if set.iter().any(|v| v.public_key == *key) {
        return Err(Rejection::new(
            RejectCode::Duplicate,
            format!("{key} is already a validator"),
        )
        .into());
    }
    if set.len() >= limits::VALIDATORS_MAX {
        return Err(Rejection::new(
            RejectCode::Limit,
            format!(
                "the validator set already has {} validators",
                limits::VALIDATORS_MAX
            ),
        )
        .into());
    }
    Ok(())
}

/// The writes that schedule `set` to take effect `VALIDATOR_CHANGE_DELAY_BLOCKS` after this block.
fn schedule<S: StateRead>(
    ex: &Execution<S>,
    mut set: Vec<ValidatorRecord>,
) -> Result<Writes, HandlerError> {
    set.sort_by_key(|v| v.public_key);
    let mut heights = validator_set_heights(ex)?;
    let last = heights.last().copied().unwrap_or(1);
    let effective = (ex.context().height.0 + VALIDATOR_CHANGE_DELAY_BLOCKS).max(last);
    if heights.last() != Some(&effective) {
        heights.push(effective);
    }
    Ok(vec![
        (vset_key(effective), encode_record(&set)),
        (meta("vset_heights"), encode_record(&heights)),
    ])
}

/// The writes that carry out `action` (checked again first: the state may have
/// changed since it was proposed).
fn carry_out<S: StateRead>(
    ex: &Execution<S>,
    action: &GovernanceAction,
) -> Result<Writes, HandlerError> {
    check_action(ex, action)?;
    match action {
        GovernanceAction::AdmitOrganization {
            id,
            name,
            admin,
            roles,
            company_prefixes,
            validator,
        } => {
            let mut w = admit(ex, id, name, admin, roles, company_prefixes)?;
            if let Some((key, power)) = validator {
                w.extend(schedule(ex, set_admitting(ex, id, key, *power)?)?);
            }
            Ok(w)
        }
        GovernanceAction::SetValidator {
            org,
            public_key,
            voting_power,
        } => {
            let (_, set) = latest_set(ex)?;
            schedule(ex, set_with_validator(set, org, public_key, *voting_power))
        }
        GovernanceAction::RemoveValidator { public_key } => {
            let (_, mut set) = latest_set(ex)?;
            let n_before = set.len();
            set.retain(|v| v.public_key != *public_key);
            assert_eq!(
                set.len() + 1,
                n_before,
                "the validator removed was in the set (checked above), once: genesis and check_new_validator_key keep keys unique"
            );
            schedule(ex, set)
        }
        GovernanceAction::SetScreeningRules { rules } => {
            Ok(crate::screening::replace(ex, ex.context().height.0, rules)?)
        }
    }
}

/// The writes that admit organization `id`: the organization (its roles sorted, each
/// once), its admin as an active member, and its place in the list of organizations.
fn admit<S: StateRead>(
    ex: &Execution<S>,
    id: &OrgId,
    name: &str,
    admin: &PublicKey,
    roles: &[Role],
    company_prefixes: &[String],
) -> Result<Writes, HandlerError> {
    let height = ex.context().height;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    let org = Organization {
        id: id.clone(),
        name: name.to_string(),
        admin: *admin,
        roles: roles.clone(),
        company_prefixes: company_prefixes.to_vec(),
        joined_at: height,
    };
    let member = Member {
        key: *admin,
        org: id.clone(),
        name: format!("{name} admin"),
        roles,
        admin: true,
        status: MemberStatus::Active,
        registered_at: height,
        registered_by: *admin,
    };
    let mut ids = org_ids(ex)?;
    assert!(
        !ids.contains(id),
        "an organization not yet admitted is not in the list (checked just above)"
    );
    ids.push(id.clone());
    Ok(vec![
        (keys::org(id), encode_record(&org)),
        (keys::member(admin), encode_record(&member)),
        (keys::org_member(id, admin), Vec::new()),
        (meta("org_ids"), encode_record(&ids)),
    ])
}
