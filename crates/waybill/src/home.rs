//! The layout of a node's directory (`--dir`, default `./waybill-data`):
//!
//! ```text
//! genesis.json             the consortium's genesis
//! node.json                this node's listen addresses and peers
//! keys/validator.json      the validator key (mode 0600)
//! keys/orgs/ORG-admin.json organization admin keys (development consortium only)
//! keys/members/NAME.json   member keys made by the demo
//! signing-mark.json        what the validator last signed (outside data/, so a lost
//!                          or wiped data directory does not take it along)
//! data/waybill.redb        the store
//! data/commit-mark.json    a block this node committed (checked against the store at start)
//! data/consensus/wal       the consensus write-ahead log
//! ```

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use waybill_types::Genesis;

/// A node directory.
#[derive(Clone, Debug)]
pub struct Home {
    pub dir: PathBuf,
}

/// `node.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// HTTP API listen address.
    pub api_listen: String,
    /// p2p listen multiaddr.
    pub p2p_listen: String,
    /// Peers' p2p multiaddrs.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Peers' API base URLs, for transaction gossip.
    #[serde(default)]
    pub peer_apis: Vec<String>,
}

impl Home {
    pub fn new(dir: &Path) -> Home {
        Home {
            dir: dir.to_path_buf(),
        }
    }
    pub fn genesis_path(&self) -> PathBuf {
        self.dir.join("genesis.json")
    }
    pub fn node_file(&self) -> PathBuf {
        self.dir.join("node.json")
    }
    pub fn validator_key(&self) -> PathBuf {
        self.dir.join("keys").join("validator.json")
    }
    pub fn org_admin_key(&self, org: &str) -> PathBuf {
        self.dir
            .join("keys")
            .join("orgs")
            .join(format!("{org}-admin.json"))
    }
    pub fn member_key(&self, slug: &str) -> PathBuf {
        self.dir
            .join("keys")
            .join("members")
            .join(format!("{slug}.json"))
    }
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn store_path(&self) -> PathBuf {
        self.data_dir().join("waybill.redb")
    }
    pub fn signing_mark(&self) -> PathBuf {
        self.dir.join("signing-mark.json")
    }
    pub fn is_initialized(&self) -> bool {
        self.genesis_path().exists()
    }

    pub fn read_genesis(&self) -> anyhow::Result<Genesis> {
        let p = self.genesis_path();
        let text = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "genesis file {} not found; run `waybill init --dir {}` or pass the right --dir",
                p.display(),
                self.dir.display()
            )
        })?;
        let g: Genesis = serde_json::from_str(&text)
            .with_context(|| format!("genesis file {} is malformed", p.display()))?;
        g.check()
            .with_context(|| format!("genesis file {}", p.display()))?;
        Ok(g)
    }

    pub fn read_node_file(&self) -> anyhow::Result<NodeFile> {
        let p = self.node_file();
        let text = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "node file {} not found; run `waybill init --dir {}`",
                p.display(),
                self.dir.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("node file {} is malformed", p.display()))
    }
}
