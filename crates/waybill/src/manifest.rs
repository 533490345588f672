//! The demo consortium's manifest (`crates/waybill/demo/manifest.json`, embedded):
//! its organizations, members and loading steps, and the development genesis made from
//! it. `waybill init` and `waybill testnet` lay out directories from it; `waybill demo`
//! loads its steps.

use anyhow::Context as _;
use serde::Deserialize;
use waybill_types::{Genesis, GenesisOrganization, GenesisValidator, OrgId, PublicKey, Role};

/// The demo's manifest: organizations (genesis), members, and the steps that load
/// master data and EPCIS documents (see `crates/waybill/demo/README.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Founding organizations.
    pub organizations: Vec<ManifestOrg>,
    /// Members each organization's admin registers.
    pub members: Vec<ManifestMember>,
    /// Consumers: no members, only keys that sign their orders.
    #[serde(default)]
    pub consumers: Vec<ManifestConsumer>,
    /// What the members do, in order.
    pub steps: Vec<Step>,
}

/// A founding organization.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestOrg {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub company_prefixes: Vec<String>,
}

/// A member.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestMember {
    pub slug: String,
    pub org: String,
    pub name: String,
    pub roles: Vec<Role>,
}

/// A demo consumer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestConsumer {
    pub slug: String,
    pub name: String,
}

/// One step, by `as` (a member slug or `admin:ORG`): a transaction (`payload`), an
/// EPCIS document to capture, an order placed from `buyer`'s intent, a buyer's step
/// on an order, or a wait for an order to reach a state (its deadlines fire by block
/// time). Payloads, intents and documents may name `{key:SLUG}` (a member's or
/// consumer's public key, hex) and `{now}` / `{now+MS}` (wall-clock ms).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(rename = "as")]
    pub who: String,
    /// A payload (JSON, parsed once its placeholders are filled in).
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// An order intent (`chain_id`, `buyer`, `expires_at_ms` filled in), signed by
    /// `buyer` and submitted by `as`.
    #[serde(default)]
    pub order: Option<serde_json::Value>,
    /// The consumer (or member) whose key signs `order`.
    #[serde(default)]
    pub buyer: Option<String>,
    /// The buyer's name, phone and address for `order`, sealed by `as` for the
    /// seller, the platform, the carrier and the regulators.
    #[serde(default)]
    pub ship_to: Option<serde_json::Value>,
    /// A buyer's step on an order, signed by the buyer and submitted by `as`.
    #[serde(default)]
    pub buyer_step: Option<BuyerStep>,
    /// Wait (reading as `as`) until an order reaches a state.
    #[serde(default)]
    pub wait_order: Option<WaitOrder>,
    /// A buyer's review of its order's line, signed with the order's review key and
    /// submitted by `as`.
    #[serde(default)]
    pub review: Option<ReviewStepSpec>,
    #[serde(default)]
    pub capture: Option<String>,
    /// Fields to seal in the captured document (`POINTER=CATEGORY`, as
    /// `waybill capture --seal`).
    #[serde(default)]
    pub seal: Vec<String>,
    /// Partner organizations to seal them for besides the capturer's and the
    /// regulators (as `--seal-for`).
    #[serde(default)]
    pub seal_for: Vec<String>,
}

/// A buyer's step on its order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerStep {
    pub buyer: String,
    pub order: String,
    pub step: waybill_types::payload::commerce::OrderStep,
}

/// A buyer's review of a line of its order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewStepSpec {
    pub buyer: String,
    pub order: String,
    pub gtin: waybill_gs1::Gtin,
    pub rating: u8,
    pub title: String,
    pub text: String,
}

/// Wait until `buyer`'s order `order` is in `state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitOrder {
    pub buyer: String,
    pub order: String,
    pub state: String,
}

/// The embedded manifest.
pub fn manifest() -> anyhow::Result<Manifest> {
    serde_json::from_str(include_str!("../demo/manifest.json"))
        .context("the embedded demo manifest is invalid")
}

/// The development genesis: the manifest's organizations with `admins` (same
/// order), one validator run by the platform.
pub fn genesis(
    chain_id: &str,
    admins: &[PublicKey],
    validator: PublicKey,
) -> anyhow::Result<Genesis> {
    let organizations = manifest()?
        .organizations
        .iter()
        .zip(admins)
        .map(|(o, admin)| {
            Ok(GenesisOrganization {
                id: OrgId::new(&o.id)?,
                name: o.name.clone(),
                admin: *admin,
                roles: o.roles.clone(),
                company_prefixes: o.company_prefixes.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let genesis_time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let g = Genesis {
        chain_id: chain_id.to_string(),
        genesis_time_ms,
        organizations,
        validators: vec![GenesisValidator {
            org: OrgId::new("shopmart")?,
            public_key: validator,
            voting_power: 1,
        }],
    };
    g.check()?;
    Ok(g)
}
