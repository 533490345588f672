//! The simple subcommands.

use anyhow::{bail, Context as _};
use std::io::Read as _;
use std::path::Path;
use waybill_client::{Client, KeyFile};
use waybill_types::{Payload, SecretKey};

use crate::home::{Home, NodeFile};
use crate::serve::{self, Listen};

/// `waybill init`: a development consortium (the demo's organizations, one validator).
pub fn init(dir: &Path, chain_id: &str) -> anyhow::Result<Home> {
    let home = Home::new(dir);
    if home.is_initialized() {
        bail!(
            "{} already holds a consortium (genesis.json exists); use another --dir or delete it",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let validator = SecretKey::generate();
    KeyFile::write(&home.validator_key(), "validator", &validator)?;
    let mut admins = Vec::new();
    for org in crate::demo::manifest()?.organizations {
        let key = SecretKey::generate();
        KeyFile::write(
            &home.org_admin_key(&org.id),
            &format!("{} admin", org.name),
            &key,
        )?;
        admins.push(key.public());
    }
    let genesis = crate::demo::genesis(chain_id, &admins, validator.public())?;
    std::fs::write(home.genesis_path(), serde_json::to_string_pretty(&genesis)?)
        .with_context(|| format!("cannot write {}", home.genesis_path().display()))?;
    let node = NodeFile {
        api_listen: "127.0.0.1:8080".into(),
        p2p_listen: "/ip4/127.0.0.1/tcp/27000".into(),
        peers: Vec::new(),
        peer_apis: Vec::new(),
    };
    std::fs::write(home.node_file(), serde_json::to_string_pretty(&node)?)
        .with_context(|| format!("cannot write {}", home.node_file().display()))?;
    println!(
        "Initialized development consortium `{chain_id}` in {dir}\n  genesis:   {g}\n  validator: {v}\n  org admins: {a} keys in {dir}/keys/orgs/\nStart it with: waybill node --dir {dir}",
        dir = dir.display(),
        g = home.genesis_path().display(),
        v = validator.public(),
        a = admins.len()
    );
    Ok(home)
}

/// `waybill node`.
pub async fn node(
    dir: &Path,
    listen: Option<String>,
    p2p: Option<String>,
    peers: Vec<String>,
    byzantine: Option<String>,
) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let nf = home.read_node_file()?;
    let listen = Listen {
        api: listen.unwrap_or(nf.api_listen),
        p2p: p2p.unwrap_or(nf.p2p_listen),
        peers: if peers.is_empty() { nf.peers } else { peers },
        peer_apis: nf.peer_apis,
        byzantine: byzantine.as_deref().map(byzantine_config).transpose()?,
    };
    let served = serve::start(&home, listen).await?;
    println!(
        "Waybill node running: API http://{}/ (Ctrl-C to stop)",
        served.api_addr
    );
    served.run_until_stopped().await
}

pub fn keys_new(out: &Path, label: &str) -> anyhow::Result<()> {
    let key = SecretKey::generate();
    KeyFile::write(out, label, &key)?;
    println!("{}", key.public());
    eprintln!(
        "wrote {} (mode 0600); give the public key above to your organization admin",
        out.display()
    );
    Ok(())
}

pub fn keys_show(file: &Path) -> anyhow::Result<()> {
    let (label, key) = KeyFile::read(file)?;
    println!("{}  {label}", key.public());
    Ok(())
}

pub async fn submit(
    key: &Path,
    payload: &Path,
    node: &str,
    nonce: Option<u64>,
    expires_in_s: Option<u64>,
    wait: bool,
) -> anyhow::Result<()> {
    let (_, key) = KeyFile::read(key)?;
    let text = if payload == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the payload from standard input")?;
        s
    } else {
        std::fs::read_to_string(payload)
            .with_context(|| format!("cannot read payload file {}", payload.display()))?
    };
    let payload: Payload = serde_json::from_str(&text).with_context(|| {
        format!("payload {} is not a valid transaction payload; see `waybill submit --help` for an example", payload.display())
    })?;
    payload.check().context("payload is invalid")?;
    let client = Client::new(node);
    let chain_id = client.chain_id().await?;
    let nonce = nonce.unwrap_or_else(waybill_types::tx::random_nonce);
    let expires_in_ms = expires_in_s.map_or(waybill_client::TX_EXPIRY_MS_DEFAULT, |s| {
        s.saturating_mul(1000)
    });
    let stx = waybill_client::sign_with(
        &key,
        &chain_id,
        nonce,
        waybill_client::now_ms().saturating_add(expires_in_ms),
        payload,
    );
    let answer = client.submit(&stx, wait).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    if answer["status"] == "rejected" || answer["status"] == "dropped" {
        bail!(
            "transaction {} was {}",
            stx.id(),
            answer["status"].as_str().unwrap_or("refused")
        );
    }
    Ok(())
}

pub async fn print_get(node: &str, path: &str) -> anyhow::Result<()> {
    let v = Client::new(node).get(path).await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

pub fn verify(dir: &Path, quick: bool) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let path = home.store_path();
    if !path.exists() {
        bail!(
            "no store at {}; pass the --dir of a node that has run",
            path.display()
        );
    }
    let (store, genesis) = waybill_store::Store::open_existing(&path).with_context(|| {
        format!(
            "cannot open {} (stop the node first: a running node holds the store)",
            path.display()
        )
    })?;
    if home.genesis_path().exists() {
        let file = home.read_genesis()?;
        if file.hash() != genesis.hash() {
            bail!(
                "store {} was made from a different genesis than {}",
                path.display(),
                home.genesis_path().display()
            );
        }
    }
    let started = std::time::Instant::now();
    let report = if quick {
        waybill_store::verify::verify_recent(&store, u64::MAX)
    } else {
        waybill_store::verify::verify_full(&store)
    };
    match report {
        Ok(r) => {
            println!(
                "OK: chain `{}` verified, heights {}..={}, {} transactions; hash links, transaction roots, signatures, commit certificates and write sets checked{}; state hash {}",
                genesis.chain_id,
                r.from,
                r.to,
                r.n_txs,
                if r.replayed { format!(", every block re-executed and {} state entries compared", r.n_state_entries) } else { String::new() },
                r.state_hash
            );
            eprintln!("({:.2} s)", started.elapsed().as_secs_f64());
            Ok(())
        }
        Err(e) => bail!("TAMPERED or corrupt store {}: {e}", path.display()),
    }
}

/// The fault-injection modes of `waybill node --byzantine` (tests only).
fn byzantine_config(mode: &str) -> anyhow::Result<waybill_node::ByzantineConfig> {
    use waybill_node::Trigger::Always;
    let mut c = waybill_node::ByzantineConfig::default();
    match mode {
        "equivocate" => {
            c.equivocate_votes = Always;
            c.equivocate_proposals = Always;
        }
        "silent" => {
            c.drop_votes = Always;
            c.drop_proposals = Always;
        }
        "precommit-nil" => c.force_precommit_nil = Always,
        other => {
            bail!("unknown --byzantine mode `{other}`; use equivocate, silent or precommit-nil")
        }
    }
    Ok(c)
}
