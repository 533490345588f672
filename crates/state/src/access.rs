//! Authority levels: which roles may write and read each category of data.
//!
//! The matrix is data, not scattered `if`s, so that it can be printed in the docs
//! and tested cell by cell.

use waybill_types::payload::GrantRead;
use waybill_types::reject::RejectCode;
use waybill_types::{OrgId, Role};

use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::exec::{Execution, StateRead, StateReadError};
use crate::identity::{admin_signer, load_org};
use crate::keys;

pub use waybill_types::DataCategory;

/// May `role` write data of `category`?
pub fn may_write(role: Role, category: DataCategory) -> bool {
    use DataCategory::*;
    use Role::*;
    matches!(
        (role, category),
        (Producer | Processor, Production)
            | (Platform, PlatformTransactions)
            | (Customs | Inspector, CustomsQuality)
            | (Carrier | Warehouse, Transport)
            | (Financier | PaymentProvider, Financial)
    )
}

/// May `role` read consortium-tier data of `category`? Regulators read everything.
pub fn may_read(role: Role, category: DataCategory) -> bool {
    use DataCategory::*;
    use Role::*;
    if role == Regulator || may_write(role, category) {
        return true;
    }
    matches!(
        (role, category),
        (
            Processor | Warehouse | Carrier | Platform | Inspector | Customs,
            Production
        ) | (
            Producer | Processor | Warehouse | Carrier,
            PlatformTransactions
        ) | (Producer | Processor, CustomsQuality)
            | (Producer | Processor | Platform | Customs, Transport)
    )
}

/// May `role` declare in error (an EPCIS `errorDeclaration`) an event of `category` that
/// another organization captured? Regulators may, for every category: a supervisory
/// correction, on the record under the regulator's name. Everyone else declares only
/// its own organization's events in error (otherwise a competitor could void, and hide
/// from traces, another's records).
pub fn may_correct_others(role: Role, category: DataCategory) -> bool {
    matches!((role, category), (Role::Regulator, _))
}

/// Does any of `roles` grant writing `category`?
pub fn any_may_write(roles: &[Role], category: DataCategory) -> bool {
    roles.iter().any(|r| may_write(*r, category))
}

/// The category layer of reading: may `reader` read data of `category` captured by
/// `owner`, as far as roles and grants go? Yes if it is the owner's own member, if
/// one of its roles reads the category (regulators read everything), or if the owner
/// granted its organization that category. Records are read through
/// [`crate::trace::may_read_event`], which adds the relationship layer (a member of
/// the right role still reads only what its organization is a party to).
pub fn member_may_read<S: StateRead + ?Sized>(
    state: &S,
    reader: &crate::identity::Member,
    owner: &OrgId,
    category: DataCategory,
) -> Result<bool, StateReadError> {
    if !reader.is_active() {
        return Ok(false);
    }
    if &reader.org == owner || reader.roles.iter().any(|r| may_read(*r, category)) {
        return Ok(true);
    }
    granted(state, owner, &reader.org, category)
}

/// Has `owner` granted `grantee` reading its data of `category` ([`GrantRead`])?
pub fn granted<S: StateRead + ?Sized>(
    state: &S,
    owner: &OrgId,
    grantee: &OrgId,
    category: DataCategory,
) -> Result<bool, StateReadError> {
    Ok(state
        .get(&keys::read_grant(owner, grantee, category))?
        .is_some_and(|v| v == [1]))
}

/// May an organization with `roles` (the roles it may grant its members) be sent
/// data of `category` captured by `owner`: one of the roles reads it, or `owner`
/// granted it? The sealed-field recipient rule uses this for organizations, as
/// [`crate::trace::may_read_event`] does for members.
pub fn org_may_read<S: StateRead + ?Sized>(
    state: &S,
    org: &crate::identity::Organization,
    owner: &OrgId,
    category: DataCategory,
) -> Result<bool, StateReadError> {
    if &org.id == owner || org.roles.iter().any(|r| may_read(*r, category)) {
        return Ok(true);
    }
    granted(state, owner, &org.id, category)
}

/// An organization admin grants (or withdraws) another organization reading its data
/// of a category.
impl Contract for GrantRead {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let grantee = &self.org;
        let category = self.category;
        let allowed = self.allowed;
        let (_, org) = admin_signer(ex, signer)?;
        if load_org(ex, grantee)?.is_none() {
            return Err(Rejection::new(
                RejectCode::UnknownOrg,
                format!("organization `{grantee}` is not a member of the consortium"),
            )
            .into());
        }
        if grantee == &org.id {
            return Err(Rejection::new(
                RejectCode::Invalid,
                format!("`{grantee}` always reads its own data"),
            )
            .into());
        }
        Ok(vec![(
            keys::read_grant(&org.id, grantee, category),
            vec![u8::from(allowed)],
        )])
    }

    fn describe(&self) -> String {
        format!(
            "{} `{}` reading {} data",
            if self.allowed {
                "granted"
            } else {
                "withdrew from"
            },
            self.org,
            self.category.name()
        )
    }
}

/// The authority matrix as a Markdown table (rows: roles; columns: categories; `W`
/// write and read, `R` read, `–` neither). The docs carry this table; a test checks
/// they agree.
pub fn matrix_markdown() -> String {
    let mut s = String::from("| role |");
    for c in DataCategory::ALL {
        s.push_str(&format!(" {} |", c.name()));
    }
    s.push_str("\n|---|");
    for _ in DataCategory::ALL {
        s.push_str("---|");
    }
    s.push('\n');
    for r in Role::ALL {
        s.push_str(&format!("| {} |", r.name()));
        for c in DataCategory::ALL {
            let cell = if may_write(r, c) {
                "W"
            } else if may_read(r, c) {
                "R"
            } else {
                "–"
            };
            s.push_str(&format!(" {cell} |"));
        }
        s.push('\n');
    }
    // What anyone — a consumer with no key — reads: the open tier.
    s.push_str("| anyone (open tier) |");
    for c in DataCategory::ALL {
        let cell = match crate::open::open_form(c) {
            Some(crate::open::OpenForm::Event) => "event",
            Some(crate::open::OpenForm::Outcome) => "outcome",
            None => "–",
        };
        s.push_str(&format!(" {cell} |"));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_matter() {
        assert!(
            !may_write(Role::Carrier, DataCategory::Production),
            "a carrier cannot record a harvest"
        );
        assert!(may_write(Role::Producer, DataCategory::Production));
        assert!(!may_read(Role::Platform, DataCategory::Financial));
        assert!(!may_read(Role::Consumer, DataCategory::CustomsQuality));
        assert!(
            !may_read(Role::Platform, DataCategory::CustomsQuality),
            "a platform does not read customs inspection details unless granted"
        );
        for c in DataCategory::ALL {
            assert!(
                may_correct_others(Role::Regulator, c),
                "regulators correct {c:?}"
            );
            for r in Role::ALL {
                assert_eq!(
                    may_correct_others(r, c),
                    r == Role::Regulator,
                    "{r:?} correcting another's {c:?}"
                );
            }
            assert!(may_read(Role::Regulator, c), "regulators read {c:?}");
            assert!(
                !may_write(Role::Regulator, c),
                "regulators do not write {c:?}"
            );
        }
    }
}
