//! `waybill testnet`: a consortium of several organizations on this machine, each
//! with its own admin, validator key, data directory and ports, its node running as
//! a separate process. Ctrl-C stops them all; running it again resumes.

use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use waybill_client::{Client, KeyFile};
use waybill_types::{Genesis, GenesisOrganization, GenesisValidator, OrgId, Role, SecretKey};

use waybill_server::home::{Home, NodeFile};

/// Most nodes a local testnet runs.
pub const TESTNET_NODES_MAX: usize = 10;

fn org_for(i: usize) -> anyhow::Result<(OrgId, String, Vec<Role>, Vec<String>)> {
    Ok(match crate::manifest::manifest()?.organizations.get(i) {
        Some(o) => (
            OrgId::new(&o.id)?,
            o.name.clone(),
            o.roles.clone(),
            o.company_prefixes.clone(),
        ),
        None => (
            OrgId::new(&format!("org-{}", i + 1))?,
            format!("Organization {}", i + 1),
            vec![Role::Warehouse],
            vec![],
        ),
    })
}

fn node_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}"))
}

/// Create the consortium in `dir`: genesis, and per node its keys and node.json.
pub fn create(dir: &Path, n: usize, api_base_port: u16, p2p_base_port: u16) -> anyhow::Result<()> {
    if !(1..=TESTNET_NODES_MAX).contains(&n) {
        bail!("--nodes must be 1 to {TESTNET_NODES_MAX}");
    }
    let mut orgs = Vec::new();
    let mut validators = Vec::new();
    for i in 0..n {
        let (id, name, roles, prefixes) = org_for(i)?;
        let home = Home::new(&node_dir(dir, i));
        let admin = SecretKey::generate();
        let validator = SecretKey::generate();
        KeyFile::write(
            &home.org_admin_key(id.as_str()),
            &format!("{name} admin"),
            &admin,
        )?;
        KeyFile::write(
            &home.validator_key(),
            &format!("{name} validator"),
            &validator,
        )?;
        orgs.push(GenesisOrganization {
            id: id.clone(),
            name,
            admin: admin.public(),
            roles,
            company_prefixes: prefixes,
        });
        validators.push(GenesisValidator {
            org: id,
            public_key: validator.public(),
            voting_power: 1,
        });
    }
    let genesis = Genesis {
        chain_id: "waybill-testnet".into(),
        genesis_time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64,
        organizations: orgs,
        validators,
    };
    genesis.check()?;
    let text = serde_json::to_string_pretty(&genesis)?;
    std::fs::write(dir.join("genesis.json"), &text)?;
    let api = |i: usize| format!("127.0.0.1:{}", api_base_port as usize + i);
    let p2p = |i: usize| format!("/ip4/127.0.0.1/tcp/{}", p2p_base_port as usize + i);
    for i in 0..n {
        let home = Home::new(&node_dir(dir, i));
        std::fs::write(home.genesis_path(), &text)?;
        let others: Vec<usize> = (0..n).filter(|j| *j != i).collect();
        let nf = NodeFile {
            api_listen: api(i),
            p2p_listen: p2p(i),
            peers: others.iter().map(|j| p2p(*j)).collect(),
            peer_apis: others
                .iter()
                .map(|j| format!("http://{}", api(*j)))
                .collect(),
            hosts_private_data_for: Vec::new(),
        };
        std::fs::write(home.node_file(), serde_json::to_string_pretty(&nf)?)?;
    }
    Ok(())
}

/// `waybill testnet --init-only`: create, print where, exit.
pub fn init_only(
    dir: &Path,
    n: usize,
    api_base_port: u16,
    p2p_base_port: u16,
) -> anyhow::Result<()> {
    if !existing_nodes(dir).is_empty() {
        bail!(
            "{} already holds a testnet; use another --dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    create(dir, n, api_base_port, p2p_base_port)?;
    for d in existing_nodes(dir) {
        println!("waybill node --dir {}", d.display());
    }
    Ok(())
}

/// The node directories of an existing testnet.
fn existing_nodes(dir: &Path) -> Vec<PathBuf> {
    (0..TESTNET_NODES_MAX)
        .map(|i| node_dir(dir, i))
        .take_while(|d| d.join("node.json").exists())
        .collect()
}

/// A node process; stopped (SIGTERM, then SIGKILL) when dropped.
struct NodeProc {
    child: Child,
    dir: PathBuf,
}

impl NodeProc {
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id() as libc::pid_t;
            // SAFETY-free: a plain signal to our own child.
            unsafe_free_sigterm(pid);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Send SIGTERM through the `kill` command (the workspace forbids `unsafe`).
fn unsafe_free_sigterm(pid: libc::pid_t) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

fn spawn_node(dir: &Path) -> anyhow::Result<NodeProc> {
    let exe = std::env::current_exe().context("cannot find the waybill executable")?;
    let log = std::fs::File::create(dir.join("node.log"))
        .with_context(|| format!("cannot create {}/node.log", dir.display()))?;
    let child = Command::new(exe)
        .args(["node", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start the node in {}", dir.display()))?;
    Ok(NodeProc {
        child,
        dir: dir.to_path_buf(),
    })
}

/// `waybill testnet`.
pub async fn run(
    dir: &Path,
    n: usize,
    api_base_port: u16,
    p2p_base_port: u16,
) -> anyhow::Result<()> {
    // Listen for Ctrl-C and SIGTERM from the start: one that arrives while the nodes
    // start is taken when they are up (it stops them), instead of killing this
    // process and leaving them running.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let fresh = existing_nodes(dir).is_empty();
    if fresh {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        create(dir, n, api_base_port, p2p_base_port)?;
    }
    let dirs = existing_nodes(dir);
    if !fresh && dirs.len() != n {
        eprintln!(
            "note: {} holds a {}-node testnet; running that (not --nodes {n})",
            dir.display(),
            dirs.len()
        );
    }
    let mut procs = Vec::new();
    for d in &dirs {
        procs.push(spawn_node(d)?);
    }
    println!(
        "Waybill testnet: {} organizations, {} validators, one process each ({}).",
        dirs.len(),
        dirs.len(),
        if fresh { "new" } else { "resumed" }
    );
    for p in &procs {
        let nf = Home::new(&p.dir).read_node_file()?;
        let url = format!("http://{}", nf.api_listen);
        Client::new(&url)
            .wait_ready(Duration::from_secs(60))
            .await
            .with_context(|| {
                format!(
                    "node in {} did not answer within 60 s; see {}/node.log",
                    p.dir.display(),
                    p.dir.display()
                )
            })?;
        println!(
            "  {:<8} API {url:<24} p2p {:<28} pid {:<7} log {}/node.log",
            p.dir.file_name().and_then(|f| f.to_str()).unwrap_or("?"),
            nf.p2p_listen,
            p.child.id(),
            p.dir.display()
        );
    }
    println!("Submit to any node; every node serves the same blocks. Ctrl-C stops them all.");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut reported = vec![false; procs.len()];
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = term.recv() => break,
            _ = tick.tick() => {
                for (i, p) in procs.iter_mut().enumerate() {
                    if let Ok(Some(status)) = p.child.try_wait() {
                        if !reported[i] {
                            eprintln!("node{i} exited ({status}); the others go on. See {}/node.log", p.dir.display());
                            reported[i] = true;
                        }
                    }
                }
            }
        }
    }
    eprintln!("\nstopping {} nodes…", procs.len());
    tokio::task::block_in_place(|| {
        for p in procs.iter_mut() {
            p.stop();
        }
    });
    Ok(())
}
