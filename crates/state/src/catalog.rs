//! Catalog: products (trade items, by GTIN) and lots, registered by the
//! organization that owns them.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use waybill_gs1::{Gln, Gtin};
use waybill_types::payload::{RegisterLocation, RegisterLot, RegisterProduct, SetLocationDelegate};
use waybill_types::reject::RejectCode;
use waybill_types::{Height, LotInput, LotRef, OrgId, PublicKey, TxId};

use crate::access::{any_may_write, DataCategory};
use crate::exec::{decode_record, encode_record, Execution, StateRead, StateReadError};
use crate::exec::{Call, Contract, HandlerError, Rejection, Writes};
use crate::identity::{active_signer, load_org};
use crate::keys;
use crate::open::{OpenRecord, Publisher};

/// A product (trade item).
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Product {
    /// Its GTIN.
    pub gtin: Gtin,
    /// Name.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Category.
    pub category: String,
    /// Country of origin (ISO 3166-1 alpha-2).
    pub origin_country: String,
    /// The owning organization.
    pub owner: OrgId,
    /// Who registered it.
    pub registered_by: PublicKey,
    /// When (height).
    pub registered_at: Height,
    /// When (block time, ms).
    pub registered_time_ms: u64,
    /// The registering transaction.
    pub tx_id: TxId,
}

/// A lot (batch) of a product.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Lot {
    /// The product.
    pub gtin: Gtin,
    /// Lot number.
    pub lot: String,
    /// Where it was harvested or produced.
    pub origin_gln: Option<Gln>,
    /// Harvest or production date.
    pub produced_on: String,
    /// Quantity.
    pub quantity: u64,
    /// Unit.
    pub unit: String,
    /// Inputs used (fertilizers, pesticides, materials).
    pub inputs: Vec<LotInput>,
    /// Raw-material lots it was made from.
    pub raw_materials: Vec<LotRef>,
    /// Claims, each backed by a qualification valid when the lot was registered.
    pub claims: Vec<String>,
    /// The owning organization.
    pub owner: OrgId,
    /// Who registered it.
    pub registered_by: PublicKey,
    /// When (height).
    pub registered_at: Height,
    /// When (block time, ms).
    pub registered_time_ms: u64,
    /// The registering transaction.
    pub tx_id: TxId,
}

/// Load a product.
pub fn load_product<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
) -> Result<Option<Product>, StateReadError> {
    let k = keys::product(gtin);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// Load a lot.
pub fn load_lot<S: StateRead + ?Sized>(
    state: &S,
    gtin: &Gtin,
    lot: &str,
) -> Result<Option<Lot>, StateReadError> {
    let k = keys::lot(gtin, lot);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

fn production_writer<S: StateRead>(
    ex: &Execution<S>,
    signer: PublicKey,
) -> Result<crate::identity::Member, HandlerError> {
    let m = active_signer(ex, signer)?;
    if !any_may_write(&m.roles, DataCategory::Production) {
        let roles: Vec<&str> = m.roles.iter().map(|r| r.name()).collect();
        return Err(Rejection::new(
            RejectCode::NotAuthorized,
            format!(
                "{signer} (roles: {}) may not write production data; it needs the producer or processor role",
                roles.join(", ")
            ),
        )
        .into());
    }
    Ok(m)
}

/// The signer's organization, if it owns a company prefix that `owns` accepts for
/// the `what` (GTIN, GLN) `value`; only the prefix owner registers what is under it.
fn prefix_owner<S: StateRead>(
    ex: &Execution<S>,
    m: &crate::identity::Member,
    signer: PublicKey,
    what: &str,
    value: &str,
    owns: impl Fn(&str) -> bool,
) -> Result<crate::identity::Organization, HandlerError> {
    let org = load_org(ex, &m.org)?.ok_or_else(|| StateReadError::Corrupt {
        key: keys::org(&m.org),
        reason: format!("organization `{}` of member {signer} is missing", m.org),
    })?;
    if !org.company_prefixes.iter().any(|cp| owns(cp)) {
        let owned = if org.company_prefixes.is_empty() {
            "none".to_string()
        } else {
            org.company_prefixes.join(", ")
        };
        return Err(Rejection::new(
            RejectCode::PrefixNotOwned,
            format!(
                "{what} {value} is not under a company prefix of `{}` (owns: {owned}); only the prefix owner registers it",
                org.id
            ),
        )
        .into());
    }
    Ok(org)
}

impl Contract for RegisterProduct {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let tx_id = call.tx_id;
        let p = self;
        let m = production_writer(ex, signer)?;
        let org = prefix_owner(ex, &m, signer, "GTIN", p.gtin.as_str(), |cp| {
            p.gtin.company_prefix_matches(cp)
        })?;
        if let Some(existing) = load_product(ex, &p.gtin)? {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "product {} is already registered (by `{}` at height {})",
                    &p.gtin, existing.owner, existing.registered_at
                ),
            )
            .into());
        }
        let ctx = ex.context();
        let mut w: Writes = Vec::new();
        let mut publisher = Publisher::new(ex, ctx.height.0)?;
        let id = product_id(&p.gtin);
        publisher.publish(
            &mut w,
            &OpenRecord::Product {
                id: &id,
                gtin: p.gtin.as_str(),
                name: &p.name,
                brand: &p.brand,
                category: &p.category,
                origin_country: &p.origin_country,
                owner: org.id.as_str(),
                owner_name: &org.name,
                source: tx_id.to_string(),
            },
            std::slice::from_ref(&id),
        )?;
        publisher.finish(&mut w);
        let product = Product {
            gtin: p.gtin.clone(),
            name: p.name.to_string(),
            brand: p.brand.to_string(),
            category: p.category.to_string(),
            origin_country: p.origin_country.to_string(),
            owner: org.id,
            registered_by: signer,
            registered_at: ctx.height,
            registered_time_ms: ctx.time_ms,
            tx_id,
        };
        w.push((keys::product(&p.gtin), encode_record(&product)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!("registered product {} ({})", self.gtin, self.name)
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}

impl Contract for RegisterLot {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let m = production_writer(ex, call.signer)?;
        check_new_lot(ex, self, &m)?;
        let mut w: Writes = Vec::new();
        publish_lot(ex, self, &m.org, call.tx_id, &mut w)?;
        let ctx = ex.context();
        let lot = Lot {
            gtin: self.gtin.clone(),
            lot: self.lot.to_string(),
            origin_gln: self.origin_gln.clone(),
            produced_on: self.produced_on.to_string(),
            quantity: self.quantity,
            unit: self.unit.to_string(),
            inputs: self.inputs.to_vec(),
            raw_materials: self.raw_materials.to_vec(),
            claims: self.claims.to_vec(),
            owner: m.org,
            registered_by: call.signer,
            registered_at: ctx.height,
            registered_time_ms: ctx.time_ms,
            tx_id: call.tx_id,
        };
        w.push((keys::lot(&self.gtin, &self.lot), encode_record(&lot)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!("registered lot {} of {}", self.lot, self.gtin)
    }

    fn audited_product(&self) -> Option<&Gtin> {
        Some(&self.gtin)
    }
}

/// May member `m` register lot `l`, checked in this order: its product is registered
/// and `m`'s organization's, `m`'s organization holds the qualification the product's
/// category requires and one for each claim, its raw-material lots are registered,
/// and the lot is not.
fn check_new_lot<S: StateRead>(
    ex: &Execution<S>,
    l: &RegisterLot,
    m: &crate::identity::Member,
) -> Result<(), HandlerError> {
    let product = load_product(ex, &l.gtin)?.ok_or_else(|| {
        Rejection::new(
            RejectCode::UnknownProduct,
            format!("product {} is not registered; register it first", &l.gtin),
        )
    })?;
    if product.owner != m.org {
        return Err(Rejection::new(
            RejectCode::NotAuthorized,
            format!(
                "product {} belongs to `{}`; members of `{}` cannot register its lots",
                &l.gtin, product.owner, m.org
            ),
        )
        .into());
    }
    if let Some(kind) = crate::credentials::requirement(ex, &product.category)? {
        crate::credentials::require_valid(
            ex,
            &m.org,
            &kind,
            &format!(
                "producing `{}` ({}) lot {}",
                product.category, &l.gtin, &l.lot
            ),
        )?;
    }
    for claim in &l.claims {
        crate::credentials::require_valid(
            ex,
            &m.org,
            claim,
            &format!("the `{claim}` claim on lot {} of {}", &l.lot, &l.gtin),
        )?;
    }
    for r in &l.raw_materials {
        if load_lot(ex, &r.gtin, &r.lot)?.is_none() {
            return Err(Rejection::new(
                RejectCode::UnknownLot,
                format!("raw-material lot {} of {} is not registered", r.lot, r.gtin),
            )
            .into());
        }
    }
    if load_lot(ex, &l.gtin, &l.lot)?.is_some() {
        return Err(Rejection::new(
            RejectCode::Duplicate,
            format!(
                "lot {} of product {} is already registered",
                &l.lot, &l.gtin
            ),
        )
        .into());
    }
    Ok(())
}

/// Publish lot `l` of `owner` in the open tier: a record about the lot, its product
/// and the lots it was made from.
fn publish_lot<S: StateRead>(
    ex: &Execution<S>,
    l: &RegisterLot,
    owner: &OrgId,
    tx_id: TxId,
    w: &mut Writes,
) -> Result<(), StateReadError> {
    let mut publisher = Publisher::new(ex, ex.context().height.0)?;
    let origin = l.origin_gln.as_ref().map(|g| g.as_str().to_string());
    let id = lot_id(&l.gtin, &l.lot);
    let raw_material_ids: Vec<String> = l
        .raw_materials
        .iter()
        .map(|r| lot_id(&r.gtin, &r.lot))
        .collect();
    let subjects: Vec<String> = [id.clone(), product_id(&l.gtin)]
        .into_iter()
        .chain(raw_material_ids.iter().cloned())
        .collect();
    publisher.publish(
        w,
        &OpenRecord::Lot {
            id: &id,
            gtin: l.gtin.as_str(),
            lot: &l.lot,
            origin_gln: origin.as_deref(),
            produced_on: &l.produced_on,
            quantity: l.quantity,
            unit: &l.unit,
            inputs: &l.inputs,
            raw_materials: &l.raw_materials,
            raw_material_ids: &raw_material_ids,
            claims: &l.claims,
            owner: owner.as_str(),
            source: tx_id.to_string(),
        },
        &subjects,
    )?;
    publisher.finish(w);
    Ok(())
}

/// A location (GLN): a farm, plant, warehouse, customs office or store.
#[derive(
    Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, schemars::JsonSchema,
)]
pub struct Location {
    /// Its GLN.
    pub gln: Gln,
    /// Name.
    pub name: String,
    /// What it is.
    pub kind: String,
    /// Postal address.
    pub address: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country: String,
    /// Latitude, decimal degrees.
    pub latitude: Option<String>,
    /// Longitude, decimal degrees.
    pub longitude: Option<String>,
    /// The owning organization.
    pub owner: OrgId,
    /// Who registered it.
    pub registered_by: PublicKey,
    /// When (height).
    pub registered_at: Height,
    /// The registering transaction.
    pub tx_id: TxId,
}

/// Load a location.
pub fn load_location<S: StateRead + ?Sized>(
    state: &S,
    gln: &Gln,
) -> Result<Option<Location>, StateReadError> {
    let k = keys::location(gln);
    state.get(&k)?.map(|b| decode_record(&k, &b)).transpose()
}

/// May `org` capture events at `gln`: is it the owner or a delegate? The inner
/// `Err` names why not; the outer one is a store fault (which halts the node).
pub(crate) fn check_location_use<S: StateRead + ?Sized>(
    ex: &S,
    gln: &Gln,
    org: &OrgId,
) -> Result<Result<(), Rejection>, StateReadError> {
    let Some(loc) = load_location(ex, gln)? else {
        return Ok(Err(Rejection::new(
            RejectCode::UnknownLocation,
            format!(
                "location {gln} is not registered; its owner registers it with register_location"
            ),
        )));
    };
    if &loc.owner == org {
        return Ok(Ok(()));
    }
    Ok(match ex.get(&keys::location_delegate(gln, org))? {
        Some(v) if v == [1] => Ok(()),
        _ => Err(Rejection::new(
            RejectCode::LocationNotDelegated,
            format!(
                "location {gln} ({}) belongs to `{}` and is not delegated to `{org}`",
                loc.name, loc.owner
            ),
        )),
    })
}

impl Contract for RegisterLocation {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let tx_id = call.tx_id;
        let l = self;
        let m = active_signer(ex, signer)?;
        let org = prefix_owner(ex, &m, signer, "GLN", l.gln.as_str(), |cp| {
            l.gln.as_str().starts_with(cp)
        })?;
        if let Some(existing) = load_location(ex, &l.gln)? {
            return Err(Rejection::new(
                RejectCode::Duplicate,
                format!(
                    "location {} is already registered ({})",
                    &l.gln, existing.name
                ),
            )
            .into());
        }
        let mut w: Writes = Vec::new();
        let mut publisher = Publisher::new(ex, ex.context().height.0)?;
        let id = location_id(&l.gln);
        publisher.publish(
            &mut w,
            &OpenRecord::Location {
                id: &id,
                gln: l.gln.as_str(),
                name: &l.name,
                location_kind: &l.kind,
                address: &l.address,
                country: &l.country,
                latitude: l.latitude.as_deref(),
                longitude: l.longitude.as_deref(),
                owner: org.id.as_str(),
                source: tx_id.to_string(),
            },
            std::slice::from_ref(&id),
        )?;
        publisher.finish(&mut w);
        let loc = Location {
            gln: l.gln.clone(),
            name: l.name.to_string(),
            kind: l.kind.to_string(),
            address: l.address.to_string(),
            country: l.country.to_string(),
            latitude: l.latitude.clone(),
            longitude: l.longitude.clone(),
            owner: org.id,
            registered_by: signer,
            registered_at: ex.context().height,
            tx_id,
        };
        w.push((keys::location(&l.gln), encode_record(&loc)));
        Ok(w)
    }

    fn describe(&self) -> String {
        format!("registered location {} ({})", self.gln, self.name)
    }
}

impl Contract for SetLocationDelegate {
    fn execute<S: StateRead>(&self, ex: &Execution<S>, call: Call) -> Result<Writes, HandlerError> {
        let signer = call.signer;
        let gln = &self.gln;
        let org = &self.org;
        let allowed = self.allowed;
        let m = active_signer(ex, signer)?;
        let loc = load_location(ex, gln)?.ok_or_else(|| {
            Rejection::new(
                RejectCode::UnknownLocation,
                format!("location {gln} is not registered"),
            )
        })?;
        if loc.owner != m.org {
            return Err(Rejection::new(
                RejectCode::NotAuthorized,
                format!(
                    "location {gln} belongs to `{}`; members of `{}` cannot delegate it",
                    loc.owner, m.org
                ),
            )
            .into());
        }
        if load_org(ex, org)?.is_none() {
            return Err(Rejection::new(
                RejectCode::UnknownOrg,
                format!("organization `{org}` is not a member of the consortium"),
            )
            .into());
        }
        Ok(vec![(
            keys::location_delegate(gln, org),
            vec![u8::from(allowed)],
        )])
    }

    fn describe(&self) -> String {
        format!(
            "{} `{}` to capture at {}",
            if self.allowed {
                "delegated"
            } else {
                "withdrew delegation from"
            },
            self.org,
            self.gln
        )
    }
}

/// The canonical Digital Link of a product (GTIN level).
pub fn product_id(gtin: &Gtin) -> String {
    format!("https://id.gs1.org/01/{gtin}")
}

/// The canonical Digital Link of a lot.
pub fn lot_id(gtin: &Gtin, lot: &str) -> String {
    format!(
        "https://id.gs1.org/01/{gtin}/10/{}",
        waybill_gs1::digital_link::uri_escape(lot, waybill_gs1::digital_link::UriComponent::Path)
    )
}

/// The canonical Digital Link of a location.
pub fn location_id(gln: &Gln) -> String {
    format!("https://id.gs1.org/414/{gln}")
}
