//! Relationships: which organizations are parties to what — the half of scoped reads
//! that roles cannot say (docs/PRIVACY.md, "Who reads what").
//!
//! Roles say which *categories* of consortium data a member may read; relationships
//! say *whose*. Custody is handed over, not claimed ([`Custody::record_event`]):
//! - an identifier no one is a party to yet (an item, lot or pallet an event names
//!   first) gets as parties the event's capturer and the organizations the event names
//!   (its locations' owners, its sources and destinations: a party GLN by company
//!   prefix, a location by its owner);
//! - an identifier the event's capturer *holds* — is a party to it, owns its product,
//!   or captures at a location (its own or delegated to it) whose owner is a party to
//!   it — gets the capturer and the organizations the event names as parties: a
//!   shipment names its receiver; identifiers the capturer does not hold get nothing;
//! - a party to a container is a party to what it holds at the time (`CONTENTS`,
//!   kept from aggregation events by the children's parties);
//! - anyone else's event — an observation of a competitor's item — is stored, and is
//!   its capturer's to read, but makes no one a party to anything.
//!
//! The product's owner (the organization that registered the GTIN) is a party to all
//! of its items and lots; a party to an item is also a party to its product
//! (`https://id.gs1.org/01/<GTIN>`: who touched a product reads its audit trail).
//! Parties are hashed state, `PARTY ‖ identifier` → the sorted organizations, added to
//! and never removed: who took part in a history stays able to read it. Contracts read
//! them (the sealed-field recipient rule); readers check them.
//!
//! What a member may read then follows `trace::may_read_event`.

use std::collections::{BTreeMap, BTreeSet};

use waybill_epcis::epc;
use waybill_gs1::{Gln, Gtin};
use waybill_types::OrgId;

use crate::catalog::{load_location, load_product};
use crate::exec::{decode_record, encode_record, StateRead, StateReadError};
use crate::identity::{load_org, Organization};
use crate::keys;
use waybill_epcis::model::{EventSummary, IdRole};

/// Is `org` a party to the identifier `subject` (canonical)?
pub fn is_party<S: StateRead + ?Sized>(
    state: &S,
    subject: &str,
    org: &OrgId,
) -> Result<bool, StateReadError> {
    if parties_of(state, subject)?.contains(org) {
        return Ok(true);
    }
    owns_product_of(state, subject, org)
}

/// The organizations that are parties to `subject`, as stored.
pub fn parties_of<S: StateRead + ?Sized>(
    state: &S,
    subject: &str,
) -> Result<BTreeSet<OrgId>, StateReadError> {
    let k = keys::parties(subject);
    Ok(match state.get(&k)? {
        Some(b) => decode_record::<Vec<OrgId>>(&k, &b)?.into_iter().collect(),
        None => BTreeSet::new(),
    })
}

/// What the container `parent` holds now, as stored.
pub fn contents_of<S: StateRead + ?Sized>(
    state: &S,
    parent: &str,
) -> Result<BTreeSet<String>, StateReadError> {
    let k = keys::contents(parent);
    Ok(match state.get(&k)? {
        Some(b) => decode_record::<Vec<String>>(&k, &b)?.into_iter().collect(),
        None => BTreeSet::new(),
    })
}

/// Most identifiers one handover reaches through containers (a pallet of cases of
/// items): deeper or wider contents are not followed.
pub const CONTAINED_MAX: usize = 10_000;
/// Deepest nesting followed (pallet → case → item → …).
pub const CONTAINED_DEPTH_MAX: usize = 4;

/// Parties and contents one capture changes, over the state it reads: each event
/// recorded in order sees the ones before it; [`Custody::into_writes`] gives the rows.
#[derive(Default)]
pub struct Custody {
    parties: BTreeMap<String, BTreeSet<OrgId>>,
    contents: BTreeMap<String, BTreeSet<String>>,
    changed_parties: BTreeSet<String>,
    changed_contents: BTreeSet<String>,
}

impl Custody {
    fn parties<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        id: &str,
    ) -> Result<&mut BTreeSet<OrgId>, StateReadError> {
        if !self.parties.contains_key(id) {
            let p = parties_of(state, id)?;
            self.parties.insert(id.to_owned(), p);
        }
        Ok(self.parties.get_mut(id).expect("just loaded"))
    }

    /// What container `id` holds as of the events recorded so far.
    pub(crate) fn contents_now<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        id: &str,
    ) -> Result<Vec<String>, StateReadError> {
        Ok(self.contents(state, id)?.iter().cloned().collect())
    }

    fn contents<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        id: &str,
    ) -> Result<&mut BTreeSet<String>, StateReadError> {
        if !self.contents.contains_key(id) {
            let c = contents_of(state, id)?;
            self.contents.insert(id.to_owned(), c);
        }
        Ok(self.contents.get_mut(id).expect("just loaded"))
    }

    /// Make `orgs` parties to `id`, to its product, and to what it holds (through
    /// nested containers, bounded).
    fn hand_over<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        id: &str,
        orgs: &BTreeSet<OrgId>,
    ) -> Result<(), StateReadError> {
        let mut frontier = vec![id.to_owned()];
        let mut seen = BTreeSet::new();
        for _ in 0..=CONTAINED_DEPTH_MAX {
            let mut next = Vec::new();
            for x in frontier {
                if seen.len() >= CONTAINED_MAX || !seen.insert(x.clone()) {
                    continue;
                }
                let product = epc::parse(&x)
                    .ok()
                    .and_then(|i| i.class_level())
                    .filter(|c| c != &x);
                for target in std::iter::once(x.clone()).chain(product) {
                    let p = self.parties(state, &target)?;
                    let before = p.len();
                    p.extend(orgs.iter().cloned());
                    if p.len() != before {
                        self.changed_parties.insert(target);
                    }
                }
                next.extend(self.contents(state, &x)?.iter().cloned());
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(())
    }

    /// Record what the event `s`, captured by `capturer`, says about custody
    /// (the module's rules): new identifiers get parties, a holder hands over what it
    /// names, an aggregation by the children's party changes a container's contents.
    pub fn record_event<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        resolver: &mut PartyResolver,
        capturer: &OrgId,
        s: &EventSummary,
    ) -> Result<(), StateReadError> {
        let named = named_in(
            s.read_point.as_deref(),
            s.biz_location.as_deref(),
            &s.sources,
            &s.destinations,
        );
        let orgs = resolver.event_parties(state, capturer, named)?;
        let place_owner = match s.biz_location.as_deref() {
            Some(l) => resolver.location_owner(state, l)?,
            None => None,
        };
        let ids: BTreeSet<&str> = s.ids.iter().map(|(_, id)| id.as_str()).collect();
        // Per identifier: a new one is created by this event; an existing one is
        // handed over only if the capturer holds it. Naming another's items beside
        // one's own hands nothing of theirs over.
        let mut handed = Vec::new();
        for &id in &ids {
            let p = self.parties(state, id)?;
            let holds = p.is_empty()
                || p.contains(capturer)
                || place_owner.as_ref().is_some_and(|o| p.contains(o))
                || owns_product_of(state, id, capturer)?;
            if holds {
                handed.push(id);
            }
        }
        for id in handed {
            self.hand_over(state, id, &orgs)?;
        }
        if s.event_type == "AggregationEvent" {
            self.record_contents(state, capturer, s)?;
        }
        Ok(())
    }

    /// A container's contents after an aggregation event: children its capturer is a
    /// party to are added (ADD, OBSERVE) or removed (DELETE; all of them when the
    /// event lists none).
    fn record_contents<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        capturer: &OrgId,
        s: &EventSummary,
    ) -> Result<(), StateReadError> {
        let Some(parent) = s
            .ids
            .iter()
            .find(|(r, _)| *r == IdRole::Parent)
            .map(|(_, id)| id.clone())
        else {
            return Ok(());
        };
        let mut children = Vec::new();
        for (r, id) in &s.ids {
            if matches!(r, IdRole::Child | IdRole::ChildQuantity)
                && self.parties(state, id)?.contains(capturer)
            {
                children.push(id.clone());
            }
        }
        let delete = s.action.as_deref() == Some("DELETE");
        let listed_none = !s
            .ids
            .iter()
            .any(|(r, _)| matches!(r, IdRole::Child | IdRole::ChildQuantity));
        let c = self.contents(state, &parent)?;
        let before = c.clone();
        if delete && listed_none {
            c.clear();
        } else if delete {
            for x in &children {
                c.remove(x);
            }
        } else {
            c.extend(children);
        }
        if *c != before {
            self.changed_contents.insert(parent);
        }
        Ok(())
    }

    /// The rows to write: each changed identifier's parties and container's contents.
    pub fn into_writes(mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut w = Vec::new();
        for id in std::mem::take(&mut self.changed_parties) {
            let list: Vec<OrgId> = self
                .parties
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            w.push((keys::parties(&id), encode_record(&list)));
        }
        for id in std::mem::take(&mut self.changed_contents) {
            let list: Vec<String> = self
                .contents
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            w.push((keys::contents(&id), encode_record(&list)));
        }
        w
    }
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

    /// The owner of the registered location `id` names, if any.
    pub fn location_owner<S: StateRead + ?Sized>(
        &mut self,
        state: &S,
        id: &str,
    ) -> Result<Option<OrgId>, StateReadError> {
        let Some(gln) = epc::parse(id)
            .ok()
            .and_then(|i| i.gln().and_then(|g| g.parse::<Gln>().ok()))
        else {
            return Ok(None);
        };
        Ok(load_location(state, &gln)?.map(|l| l.owner))
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
