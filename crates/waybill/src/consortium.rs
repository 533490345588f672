//! `waybill init --consortium FILE`: a genesis and one bundle per organization for a
//! real deployment, one machine per organization.
//!
//! The file names each organization, its roles and company prefixes, where its node
//! listens and, preferably, the public keys the organization generated itself with
//! `waybill keys new` (then no private key ever leaves its machine). An organization
//! without keys in the file gets keys generated into its bundle.

use anyhow::{bail, Context as _};
use serde::Deserialize;
use std::path::Path;
use waybill_client::KeyFile;
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, OrgId, PublicKey, Role, SecretKey,
};

use waybill_server::home::{Home, NodeFile};

/// One organization in the consortium file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgSpec {
    id: OrgId,
    name: String,
    roles: Vec<Role>,
    #[serde(default)]
    company_prefixes: Vec<String>,
    /// Host or IP address the other nodes reach this node at.
    host: String,
    #[serde(default = "default_api_port")]
    api_port: u16,
    #[serde(default = "default_p2p_port")]
    p2p_port: u16,
    /// The admin's public key (from `waybill keys new`); generated if absent.
    admin_public_key: Option<PublicKey>,
    /// The validator's public key; generated if absent (set `"validator": false` for none).
    validator_public_key: Option<PublicKey>,
    #[serde(default = "default_true")]
    validator: bool,
}

fn default_api_port() -> u16 {
    8080
}
fn default_p2p_port() -> u16 {
    27000
}
fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsortiumSpec {
    chain_id: String,
    organizations: Vec<OrgSpec>,
}

/// Write `dir/genesis.json` and `dir/<org>/` bundles (genesis, node.json, generated keys).
pub fn init(spec_path: &Path, dir: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(spec_path)
        .with_context(|| format!("cannot read {}", spec_path.display()))?;
    let spec: ConsortiumSpec = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a consortium file; see docs/DEPLOY.md",
            spec_path.display()
        )
    })?;
    if dir.join("genesis.json").exists() {
        bail!(
            "{} already holds a genesis; use another --dir",
            dir.display()
        );
    }
    let mut orgs = Vec::new();
    let mut validators = Vec::new();
    for o in &spec.organizations {
        let home = Home::new(&dir.join(o.id.as_str()));
        let admin = match o.admin_public_key {
            Some(k) => k,
            None => {
                let k = SecretKey::generate();
                KeyFile::write(
                    &home.org_admin_key(o.id.as_str()),
                    &format!("{} admin", o.name),
                    &k,
                )?;
                k.public()
            }
        };
        if o.validator {
            let key = match o.validator_public_key {
                Some(k) => k,
                None => {
                    let k = SecretKey::generate();
                    KeyFile::write(&home.validator_key(), &format!("{} validator", o.name), &k)?;
                    k.public()
                }
            };
            validators.push(GenesisValidator {
                org: o.id.clone(),
                public_key: key,
                voting_power: 1,
            });
        }
        orgs.push(GenesisOrganization {
            id: o.id.clone(),
            name: o.name.clone(),
            admin,
            roles: o.roles.clone(),
            company_prefixes: o.company_prefixes.clone(),
        });
    }
    let genesis = Genesis {
        chain_id: spec.chain_id.clone(),
        genesis_time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        organizations: orgs,
        validators,
    };
    genesis
        .check()
        .context("the consortium file does not make a valid genesis")?;
    let text = serde_json::to_string_pretty(&genesis)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("genesis.json"), &text)?;
    for o in &spec.organizations {
        let home = Home::new(&dir.join(o.id.as_str()));
        std::fs::create_dir_all(&home.dir)?;
        std::fs::write(home.genesis_path(), &text)?;
        let others: Vec<&OrgSpec> = spec.organizations.iter().filter(|p| p.id != o.id).collect();
        let nf = NodeFile {
            api_listen: format!("0.0.0.0:{}", o.api_port),
            p2p_listen: format!("/ip4/0.0.0.0/tcp/{}", o.p2p_port),
            peers: others
                .iter()
                .map(|p| multiaddr(&p.host, p.p2p_port))
                .collect(),
            peer_apis: others
                .iter()
                .map(|p| format!("http://{}:{}", p.host, p.api_port))
                .collect(),
            hosts_private_data_for: Vec::new(),
        };
        std::fs::write(home.node_file(), serde_json::to_string_pretty(&nf)?)?;
        println!("{:<24} bundle {}", o.id.as_str(), home.dir.display());
    }
    println!(
        "genesis {} (fingerprint {}). Give each organization its bundle; keys that an organization made itself go into its bundle's keys/ (mode 0600).",
        dir.join("genesis.json").display(),
        genesis.hash()
    );
    Ok(())
}

fn multiaddr(host: &str, port: u16) -> String {
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        format!("/ip4/{host}/tcp/{port}")
    } else if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("/ip6/{host}/tcp/{port}")
    } else {
        format!("/dns/{host}/tcp/{port}")
    }
}
