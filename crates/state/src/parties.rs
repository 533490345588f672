//! Relationships: which organizations are parties to what — the half of scoped reads
//! that roles cannot say (docs/PRIVACY.md, "Who reads what").
//!
//! Roles say which *categories* of consortium data a member may read; relationships
//! say *whose*. An organization is a party to an identifier (an item, a lot, a
//! container, a shipment's pallet) once an event names that identifier and the
//! organization either captured the event, is named in its source or destination list
//! (a party GLN, or a location it owns), or owns the event's read point or business
//! location; and, for each identifier that carries a GTIN, to that product
//! (`https://id.gs1.org/01/<GTIN>`: who touched a product reads its audit trail).
//! The product's owner (the organization whose company prefix the GTIN
//! carries, the one that registered the product) is a party to all of its items and
//! lots. Being a party is kept in hashed state, `PARTY ‖ identifier ‖ 0x00 ‖ org` →
//! `[1]`, written the first time and never removed: who took part in a history stays
//! able to read it. Contracts read the rows (the sealed-field recipient rule); readers
//! check them.
//!
//! What a member may read then follows `trace::may_read_event`.

use std::collections::BTreeSet;

use waybill_epcis::epc;
use waybill_gs1::{Gln, Gtin};
use waybill_types::OrgId;

use crate::catalog::{load_location, load_product};
use crate::exec::{StateRead, StateReadError};
use crate::identity::{load_org, Organization};
use crate::keys;

/// Is `org` a party to the identifier `subject` (canonical)?
pub fn is_party<S: StateRead + ?Sized>(
    state: &S,
    subject: &str,
    org: &OrgId,
) -> Result<bool, StateReadError> {
    if state.get(&keys::party(subject, org))?.is_some() {
        return Ok(true);
    }
    owns_product_of(state, subject, org)
}

/// Does `org` own the product (GTIN) the identifier `subject` carries?
pub fn owns_product_of<S: StateRead + ?Sized>(
    state: &S,
    subject: &str,
    org: &OrgId,
) -> Result<bool, StateReadError> {
    let Some(gtin) = epc::parse(subject)
        .ok()
        .and_then(|i| i.gtin().and_then(|g| g.parse::<Gtin>().ok()))
    else {
        return Ok(false);
    };
    Ok(load_product(state, &gtin)?.is_some_and(|p| &p.owner == org))
}

/// Is `org` a party to an event captured by `capturer` that names `ids`: its
/// capturer, or a party to one of the identifiers?
pub fn is_party_to_event<'i, S: StateRead + ?Sized>(
    state: &S,
    capturer: &OrgId,
    ids: impl IntoIterator<Item = &'i str>,
    org: &OrgId,
) -> Result<bool, StateReadError> {
    if capturer == org {
        return Ok(true);
    }
    for id in ids {
        if is_party(state, id, org)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The identifiers an event names that may name a party: its read point, business
/// location, sources and destinations.
pub fn named_in<'e>(
    read_point: Option<&'e str>,
    biz_location: Option<&'e str>,
    sources: &'e [(String, String)],
    destinations: &'e [(String, String)],
) -> impl Iterator<Item = &'e str> {
    read_point
        .into_iter()
        .chain(biz_location)
        .chain(sources.iter().map(|(_, id)| id.as_str()))
        .chain(destinations.iter().map(|(_, id)| id.as_str()))
}

/// The organizations an event makes parties to the identifiers it names: its
/// capturer, the owners of its read point and business location, and the
/// organizations its source and destination lists name (a party GLN by its company
/// prefix, a location by its owner). Identifiers that resolve to no member are
/// skipped: an outside party is no reader.
pub struct PartyResolver {
    /// Every organization, read once per capture when first needed.
    orgs: Option<Vec<Organization>>,
}

impl PartyResolver {
    /// A resolver that has read nothing yet.
    pub fn new() -> Self {
        PartyResolver { orgs: None }
    }

    /// The parties of an event captured by `capturer` that names the GLN-bearing
    /// identifiers `named` (its read point, business location, sources and
    /// destinations: [`named_in`]).
    pub fn event_parties<'n, S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        capturer: &OrgId,
        named: impl IntoIterator<Item = &'n str>,
    ) -> Result<BTreeSet<OrgId>, StateReadError> {
        let mut out = BTreeSet::from([capturer.clone()]);
        for id in named {
            if let Some(org) = self.org_of(state, id)? {
                out.insert(org);
            }
        }
        Ok(out)
    }

    /// Every organization with the regulator role (read once per resolver).
    pub fn regulators<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
    ) -> Result<BTreeSet<OrgId>, StateReadError> {
        Ok(self
            .orgs(state)?
            .iter()
            .filter(|o| o.roles.contains(&waybill_types::Role::Regulator))
            .map(|o| o.id.clone())
            .collect())
    }

    /// Every organization, read when first needed.
    fn orgs<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
    ) -> Result<&[Organization], StateReadError> {
        if self.orgs.is_none() {
            let mut orgs = Vec::new();
            for id in crate::governance::org_ids(state)? {
                if let Some(o) = load_org(state, &id)? {
                    orgs.push(o);
                }
            }
            self.orgs = Some(orgs);
        }
        Ok(self.orgs.as_deref().unwrap_or_default())
    }

    /// The member organization a GLN-bearing identifier names: a registered
    /// location's owner, else the organization whose company prefix starts the GLN.
    fn org_of<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        id: &str,
    ) -> Result<Option<OrgId>, StateReadError> {
        let Some(digits) = epc::parse(id)
            .ok()
            .and_then(|i| i.gln().map(str::to_string))
        else {
            return Ok(None);
        };
        if let Ok(gln) = digits.parse::<Gln>() {
            if let Some(l) = load_location(state, &gln)? {
                return Ok(Some(l.owner));
            }
        }
        Ok(self.orgs(state)?.iter().find_map(|o| {
            o.company_prefixes
                .iter()
                .any(|p| digits.starts_with(p.as_str()))
                .then(|| o.id.clone())
        }))
    }
}

impl Default for PartyResolver {
    fn default() -> Self {
        Self::new()
    }
}
