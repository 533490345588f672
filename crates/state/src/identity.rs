//! Identity: organizations, their members, roles, and who may act for whom.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_types::payload::{RegisterMember, RevokeMember, SetMemberRoles};
use waybill_types::reject::RejectCode;
use waybill_types::{Genesis, Height, OrgId, PublicKey, Role};

use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError, WriteSet};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::keys;

/// An organization of the consortium.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Organization {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// The admin key (the organization's certificate authority).
    pub admin: PublicKey,
    /// Roles it may grant to its members.
    pub roles: Vec<Role>,
    /// GS1 company prefixes it owns.
    pub company_prefixes: Vec<String>,
    /// Height at which it joined (0 = genesis).
    pub joined_at: Height,
}

/// Whether a member may still act.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MemberStatus {
    /// May sign transactions.
    Active,
    /// Revoked: its transactions are refused.
    Revoked {
        /// When.
        at: Height,
        /// Why.
        reason: String,
    },
}

/// A member: a key that belongs to an organization and holds roles.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Member {
    /// Its public key.
    pub key: PublicKey,
    /// Its organization.
    pub org: OrgId,
    /// Display name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Whether this is the organization's admin.
    pub admin: bool,
    /// Active or revoked.
    #[serde(flatten)]
    pub status: MemberStatus,
    /// Height of registration (0 = genesis).
    pub registered_at: Height,
    /// Who registered it (the organization admin; itself at genesis).
    pub registered_by: PublicKey,
}

impl Member {
    /// Whether the member is active.
    pub fn is_active(&self) -> bool {
        self.status == MemberStatus::Active
    }
}

/// The writes genesis makes for identity.
pub(crate) fn genesis_writes(genesis: &Genesis, w: &mut WriteSet) {
    for o in &genesis.organizations {
        let mut roles = o.roles.clone();
        roles.sort();
        roles.dedup();
        let org = Organization {
            id: o.id.clone(),
            name: o.name.clone(),
            admin: o.admin,
            roles: roles.clone(),
            company_prefixes: o.company_prefixes.clone(),
            joined_at: Height(0),
        };
        w.insert(keys::org(&o.id), Some(encode_record(&org)));
        let admin = Member {
            key: o.admin,
            org: o.id.clone(),
            name: format!("{} admin", o.name),
            roles,
            admin: true,
            status: MemberStatus::Active,
            registered_at: Height(0),
            registered_by: o.admin,
        };
        w.insert(keys::member(&o.admin), Some(encode_record(&admin)));
        w.insert(keys::org_member(&o.id, &o.admin), Some(Vec::new()));
    }
}

/// Load a member record.
pub fn load_member<S: StateRead + ?Sized>(
    state: &S,
    key: &PublicKey,
) -> Result<Option<Member>, StateReadError> {
    let k = keys::member(key);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Load an organization record.
pub fn load_org<S: StateRead + ?Sized>(
    state: &S,
    id: &OrgId,
) -> Result<Option<Organization>, StateReadError> {
    let k = keys::org(id);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

impl<S: StateRead> StateRead for Execution<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateReadError> {
        Execution::get(self, key)
    }
}

/// The signer as an active member, or a rejection.
pub(crate) fn active_signer<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
) -> Result<Member, HandlerError> {
    let m = load_member(ex, &signer)?.ok_or_else(|| {
        Rejection::new(
            RejectCode::UnknownMember,
            format!("{signer} is not a registered member"),
        )
    })?;
    if let MemberStatus::Revoked { at, reason } = &m.status {
        return Err(Rejection::new(
            RejectCode::MemberRevoked,
            format!("{signer} was revoked at height {at}: {reason}"),
        )
        .into());
    }
    Ok(m)
}

/// The signer as the active admin of its organization, with the organization.
pub(crate) fn admin_signer<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
) -> Result<(Member, Organization), HandlerError> {
    let m = active_signer(ex, signer)?;
    if !m.admin {
        return Err(Rejection::new(
            RejectCode::NotAdmin,
            format!("{signer} is not the admin of organization `{}`; only the organization's admin may do this", m.org),
        )
        .into());
    }
    let org = load_org(ex, &m.org)?.ok_or_else(|| StateReadError::Corrupt {
        key: keys::org(&m.org),
        reason: format!(
            "member {signer} names organization `{}`, which is missing",
            m.org
        ),
    })?;
    Ok((m, org))
}

fn check_roles_allowed(org: &Organization, roles: &[Role]) -> Result<(), Rejection> {
    if let Some(r) = roles.iter().find(|r| !org.roles.contains(r)) {
        let allowed: Vec<&str> = org.roles.iter().map(|r| r.name()).collect();
        return Err(Rejection::new(
            RejectCode::RoleNotAllowed,
            format!(
                "organization `{}` may not grant role `{}`; it may grant {}",
                org.id,
                r.name(),
                allowed.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Role names joined by ", ", for messages and the audit trail.
fn role_names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn sorted(roles: &[Role]) -> Vec<Role> {
    let mut r = roles.to_vec();
    r.sort();
    r
}

/// An admin registers a member of its organization.
impl Contract for RegisterMember {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let member = self.member;
        let name = self.name.as_str();
        let roles = self.roles.as_slice();
        let (_, org) = admin_signer(ex, signer)?;
        check_roles_allowed(&org, roles)?;
        if let Some(existing) = load_member(ex, &member)? {
            return Err(Rejection::new(
                RejectCode::AlreadyRegistered,
                format!(
                    "{member} is already a member of `{}`; use a new key",
                    existing.org
                ),
            )
            .into());
        }
        let m = Member {
            key: member,
            org: org.id.clone(),
            name: name.to_string(),
            roles: sorted(roles),
            admin: false,
            status: MemberStatus::Active,
            registered_at: ex.context().height,
            registered_by: signer,
        };
        Ok(vec![
            (keys::member(&member), encode_record(&m)),
            (keys::org_member(&org.id, &member), Vec::new()),
        ])
    }

    fn describe(&self) -> String {
        format!(
            "registered member {} ({}) with roles {}",
            self.member,
            self.name,
            role_names(&self.roles)
        )
    }
}

fn member_of_admins_org<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
    member: PublicKey,
) -> Result<(Organization, Member), HandlerError> {
    let (_, org) = admin_signer(ex, signer)?;
    let m = load_member(ex, &member)?.ok_or_else(|| {
        Rejection::new(
            RejectCode::UnknownMember,
            format!("{member} is not a registered member"),
        )
    })?;
    if m.org != org.id {
        return Err(Rejection::new(
            RejectCode::NotAuthorized,
            format!(
                "{member} belongs to `{}`; only its own organization's admin manages it",
                m.org
            ),
        )
        .into());
    }
    Ok((org, m))
}

/// An admin replaces a member's roles.
impl Contract for SetMemberRoles {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let member = self.member;
        let roles = self.roles.as_slice();
        let (org, mut m) = member_of_admins_org(ex, signer, member)?;
        check_roles_allowed(&org, roles)?;
        if !m.is_active() {
            return Err(Rejection::new(
                RejectCode::MemberRevoked,
                format!("{member} is revoked; register a new key instead"),
            )
            .into());
        }
        m.roles = sorted(roles);
        Ok(vec![(keys::member(&member), encode_record(&m))])
    }

    fn describe(&self) -> String {
        format!(
            "set roles of {} to {}",
            self.member,
            role_names(&self.roles)
        )
    }
}

/// An admin revokes a member.
impl Contract for RevokeMember {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let member = self.member;
        let reason = self.reason.as_str();
        let (_, mut m) = member_of_admins_org(ex, signer, member)?;
        if m.admin {
            return Err(Rejection::new(
                RejectCode::CannotRevokeAdmin,
                "an organization admin cannot be revoked by a member transaction; replacing an admin is a governance action",
            )
            .into());
        }
        if !m.is_active() {
            return Err(Rejection::new(
                RejectCode::MemberRevoked,
                format!("{member} is already revoked"),
            )
            .into());
        }
        m.status = MemberStatus::Revoked {
            at: ex.context().height,
            reason: reason.to_string(),
        };
        Ok(vec![(keys::member(&member), encode_record(&m))])
    }

    fn describe(&self) -> String {
        format!("revoked member {}: {}", self.member, self.reason)
    }
}
