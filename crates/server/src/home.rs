//! The layout of a node's directory (`--dir`, default `./waybill-data`):
//!
//! ```text
//! genesis.json             the consortium's genesis
//! node.json                this node's listen addresses and peers
//! keys/validator.json      the validator key (mode 0600)
//! keys/orgs/ORG-admin.json organization admin keys (development consortium only)
//! keys/members/NAME.json   member keys made by the demo
//! keys/consumers/NAME.json the demo consumers' keys (they sign orders, are no members)
//! operator.sock            the operator channel, while the node runs (mode 0600)
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

/// The node directory commands use when `--dir` is not given.
pub const DEFAULT_DIR: &str = "waybill-data";
/// The node API commands talk to when neither `--node` nor a `--dir` with a
/// `node.json` is given.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:8080";

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
    /// Organizations, besides the one that runs this node's validator, whose private
    /// data (erasable fields' private parts) this node keeps: organizations that run
    /// no node of their own (docs/PRIVACY.md "Erasure").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts_private_data_for: Vec<waybill_types::OrgId>,
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
    /// A demo consumer's key (consumers are no members: they sign order intents).
    pub fn consumer_key(&self, slug: &str) -> PathBuf {
        self.dir
            .join("keys")
            .join("consumers")
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
    /// The operator channel's Unix socket (while the node runs).
    pub fn operator_socket(&self) -> PathBuf {
        self.dir.join(crate::operator::SOCKET_NAME)
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

/// The address to reach an API that listens on `listen`: an unspecified address
/// (`0.0.0.0`, `[::]`) is reached on loopback.
fn reachable(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => {
            let ip: std::net::IpAddr = if a.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            std::net::SocketAddr::new(ip, a.port()).to_string()
        }
        _ => listen.to_string(),
    }
}

/// The URL of the node a command talks to: `--node` if given; otherwise the
/// `api_listen` of `DIR/node.json` (`--dir`, default `./waybill-data`); otherwise, when
/// no `--dir` was given and the default directory has no `node.json`, the default
/// `http://127.0.0.1:8080`.
pub fn node_url(node: Option<&str>, dir: Option<&Path>) -> anyhow::Result<String> {
    if let Some(n) = node {
        return Ok(n.trim_end_matches('/').to_string());
    }
    let home = Home::new(dir.unwrap_or(Path::new(DEFAULT_DIR)));
    if !home.node_file().exists() {
        if dir.is_none() {
            return Ok(DEFAULT_NODE.to_string());
        }
        anyhow::bail!(
            "{} has no node.json to read the node's address from; pass --node URL (e.g. {}) or the --dir of a node",
            home.dir.display(),
            DEFAULT_NODE
        );
    }
    let nf = home.read_node_file()?;
    Ok(format!("http://{}", reachable(&nf.api_listen)))
}

/// Write `node.json`.
pub fn write_node_file(home: &Home, nf: &NodeFile) -> anyhow::Result<()> {
    let p = home.node_file();
    std::fs::write(&p, serde_json::to_string_pretty(nf)?)
        .with_context(|| format!("cannot write {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_reached_on_loopback() {
        assert_eq!(reachable("0.0.0.0:9000"), "127.0.0.1:9000");
        assert_eq!(reachable("[::]:9000"), "[::1]:9000");
        assert_eq!(reachable("10.1.2.3:9000"), "10.1.2.3:9000");
        assert_eq!(reachable("node.example:9000"), "node.example:9000");
    }

    #[test]
    fn node_url_prefers_the_flag_then_the_directory() {
        let dir = std::env::temp_dir().join(format!("waybill-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(
            node_url(Some("http://h:1/"), Some(&dir)).expect("flag"),
            "http://h:1"
        );
        let e = node_url(None, Some(&dir)).expect_err("no node.json");
        assert!(e.to_string().contains("--node"), "{e}");
        let nf = NodeFile {
            api_listen: "0.0.0.0:8181".into(),
            p2p_listen: "/ip4/0.0.0.0/tcp/27181".into(),
            peers: vec![],
            peer_apis: vec![],
            hosts_private_data_for: vec![],
        };
        write_node_file(&Home::new(&dir), &nf).expect("write");
        assert_eq!(
            node_url(None, Some(&dir)).expect("dir"),
            "http://127.0.0.1:8181"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
