//! The demo consortium's manifest (`crates/waybill/demo/manifest.json`, embedded):
//! its organizations, members and loading steps, and the development genesis made from
//! it. `waybill init` and `waybill testnet` lay out directories from it; `waybill demo`
//! loads its steps.

use anyhow::Context as _;
use serde::Deserialize;
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, OrgId, Payload, PublicKey, Role,
};

/// The demo's manifest: organizations (genesis), members, and the steps that load
/// master data and EPCIS documents (see `crates/waybill/demo/README.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Founding organizations.
    pub organizations: Vec<ManifestOrg>,
    /// Members each organization's admin registers.
    pub members: Vec<ManifestMember>,
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

/// One step: a transaction (`payload`) or an EPCIS document to capture, by `as`
/// (a member slug or `admin:ORG`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(rename = "as")]
    pub who: String,
    #[serde(default)]
    pub payload: Option<Payload>,
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
