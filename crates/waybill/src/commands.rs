//! The simple subcommands.

use anyhow::{bail, Context as _};
use std::io::Read as _;
use std::path::Path;
use waybill_client::{Client, KeyFile};
use waybill_types::{Payload, SecretKey};

use waybill_server::home::{Home, NodeFile};
use waybill_server::serve::{self, Listen};

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
    for org in crate::manifest::manifest()?.organizations {
        let key = SecretKey::generate();
        KeyFile::write(
            &home.org_admin_key(&org.id),
            &format!("{} admin", org.name),
            &key,
        )?;
        admins.push(key.public());
    }
    let genesis = crate::manifest::genesis(chain_id, &admins, validator.public())?;
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
    tls: Option<serve::TlsFiles>,
) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let nf = home.read_node_file()?;
    let listen = Listen {
        api: listen.unwrap_or(nf.api_listen),
        p2p: p2p.unwrap_or(nf.p2p_listen),
        peers: if peers.is_empty() { nf.peers } else { peers },
        peer_apis: nf.peer_apis,
        byzantine: byzantine.as_deref().map(byzantine_config).transpose()?,
        tls,
    };
    let served = serve::start(&home, listen).await?;
    println!(
        "Waybill node running: API {}/ (Ctrl-C to stop)",
        served.api_url
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
    client: &Client,
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

pub async fn print_get(client: &Client, path: &str) -> anyhow::Result<()> {
    let v = client.get(path).await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// Run `f` over a store read, turning a panic inside redb (a damaged page, in a debug
/// build) into an error instead of a crash.
fn guarded<T>(
    f: impl FnOnce() -> Result<T, waybill_store::verify::VerifyError>,
) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown cause".into());
            Err(format!("the store file cannot be read ({what})"))
        }
    }
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// `waybill verify`: every table, every record, and redb's page checksums; never writes.
pub fn verify(dir: &Path, quick: bool) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let path = home.store_path();
    match file_len(&path) {
        None => bail!(
            "no store at {}; pass the --dir of a node that has run",
            path.display()
        ),
        Some(0) => bail!(
            "store {} is an empty file (0 bytes): the node's data was lost or truncated (left as it is). Install a backup with `waybill restore --dir {} --from FILE`",
            path.display(),
            dir.display()
        ),
        Some(_) => {}
    }
    let (store, genesis) = waybill_store::Store::open_existing(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
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
    let report = guarded(|| {
        if quick {
            waybill_store::verify::verify_stored(&store)
        } else {
            waybill_store::verify::verify_full(&store)
        }
    });
    drop(store);
    let pages = waybill_store::check_file_integrity(&path).and_then(|()| {
        guarded(|| Ok(waybill_store::check_allocator_state(&path))).unwrap_or_else(|e| {
            Err(waybill_store::StoreError::Damaged {
                path: path.display().to_string(),
                reason: format!("redb's allocator state (free-space map) {e}"),
            })
        })
    });
    let r = match (report, pages) {
        (Err(e), _) => bail!("TAMPERED or corrupt store {}: {e}", path.display()),
        (Ok(_), Err(e @ waybill_store::StoreError::InUse { .. })) => {
            eprintln!("note: page checksums not checked: {e}");
            None
        }
        (Ok(_), Err(e)) => bail!(
            "TAMPERED or corrupt store {}: every record checks out, but redb's page checks fail: {e}",
            path.display()
        ),
        (Ok(r), Ok(())) => Some(r),
    };
    if let Some(r) = r {
        println!(
            "OK: chain `{}` verified, heights {}..={}, {} transactions; hash links, transaction roots, signatures, commit certificates, write sets, receipts, the transaction index, the state and every page checksum checked{}; state hash {}",
            genesis.chain_id,
            r.from,
            r.to,
            r.n_txs,
            if r.replayed { format!(", every block re-executed and {} state entries compared", r.n_state_entries) } else { String::new() },
            r.state_hash
        );
    } else {
        println!("OK: chain `{}` records verified", genesis.chain_id);
    }
    eprintln!("({:.2} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// `waybill backup`: a consistent copy of a running or stopped node's store.
pub fn backup(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let path = home.store_path();
    if out.exists() {
        bail!(
            "{} already exists; refusing to overwrite it (pick another --out)",
            out.display()
        );
    }
    if file_len(&path) == Some(0) {
        bail!(
            "store {} is an empty file; there is nothing to back up",
            path.display()
        );
    }
    let (store, genesis) = waybill_store::Store::open_existing(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let head = store
        .backup_to(out)
        .with_context(|| format!("cannot write the backup {}", out.display()))?;
    drop(store);
    // Check what was written: records (re-read from the new file) and page checksums.
    let (copy, _) = waybill_store::Store::open_existing(out)?;
    guarded(|| {
        waybill_store::verify::verify_recent(&copy, waybill_node::node::STARTUP_VERIFY_BLOCKS)
    })
    .map_err(|e| anyhow::anyhow!("the backup {} does not verify: {e}", out.display()))?;
    drop(copy);
    waybill_store::check_file_integrity(out)?;
    println!(
        "Backed up chain `{}` at height {} (block {}) to {} ({} bytes). Install it with: waybill restore --dir DIR --from {}",
        genesis.chain_id,
        head.height,
        head.block_hash,
        out.display(),
        file_len(out).unwrap_or(0),
        out.display()
    );
    Ok(())
}

/// `waybill restore`: check a backup fully, then install it as the node's store.
pub fn restore(dir: &Path, from: &Path, force: bool) -> anyhow::Result<()> {
    use waybill_store::{Store, StoreError};
    let home = Home::new(dir);
    let genesis = home.read_genesis()?;
    match file_len(from) {
        None => bail!("backup {} not found", from.display()),
        Some(0) => bail!("backup {} is an empty file; not installed", from.display()),
        Some(_) => {}
    }
    // 1. The backup, checked as `waybill verify` checks a store; nothing is written to it.
    waybill_store::check_file_integrity(from)
        .map_err(|e| anyhow::anyhow!("backup {} is damaged; not installed: {e}", from.display()))?;
    let (backup, backup_genesis) = Store::open_existing(from)
        .with_context(|| format!("backup {} cannot be read; not installed", from.display()))?;
    if backup_genesis.hash() != genesis.hash() {
        bail!(
            "backup {} is of another chain (`{}`, genesis {}); this node's is `{}` (genesis {}). Not installed",
            from.display(),
            backup_genesis.chain_id,
            backup_genesis.hash(),
            genesis.chain_id,
            genesis.hash()
        );
    }
    let report = guarded(|| waybill_store::verify::verify_full(&backup)).map_err(|e| {
        anyhow::anyhow!(
            "backup {} fails verification; not installed: {e}",
            from.display()
        )
    })?;
    let head = backup.head()?;
    drop(backup);

    // 2. The store it replaces: never a running node's, never a good one without --force.
    let store_path = home.store_path();
    let mut replaced = None;
    if let Some(len) = file_len(&store_path) {
        if len > 0 {
            if let Err(StoreError::InUse { .. }) = waybill_store::check_file_integrity(&store_path)
            {
                bail!(
                    "store {} is open in a running node; stop the node, then restore",
                    store_path.display()
                );
            }
            let good = Store::open_existing(&store_path)
                .ok()
                .filter(|(_, g)| g.hash() == genesis.hash())
                .and_then(|(s, _)| {
                    guarded(|| {
                        waybill_store::verify::verify_recent(
                            &s,
                            waybill_node::node::STARTUP_VERIFY_BLOCKS,
                        )
                    })
                    .ok()
                    .map(|r| r.to)
                });
            if let Some(h) = good {
                if !force {
                    bail!(
                        "{} holds a store that verifies (height {h}); refusing to replace it with the backup (height {}). Pass --force to replace it (the old store is kept as {}.before-restore)",
                        store_path.display(),
                        head.height,
                        store_path.display()
                    );
                }
            }
        }
        let keep = store_path.with_extension("redb.before-restore");
        std::fs::rename(&store_path, &keep)
            .with_context(|| format!("cannot move the old store to {}", keep.display()))?;
        replaced = Some(keep);
    }

    // 3. Install: copy beside the store, fsync, rename over it, fsync the directory.
    let data = home.data_dir();
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let partial = store_path.with_extension("redb.restoring");
    std::fs::copy(from, &partial)
        .with_context(|| format!("cannot copy {} to {}", from.display(), partial.display()))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync {}", partial.display()))?;
    std::fs::rename(&partial, &store_path)
        .with_context(|| format!("cannot install {}", store_path.display()))?;
    std::fs::File::open(&data)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync {}", data.display()))?;
    let mark_path = waybill_node::commit_mark::CommitMark::path(&data);
    waybill_node::commit_mark::CommitMark {
        genesis: genesis.hash(),
        height: head.height.0,
        block_hash: head.block_hash,
    }
    .write(&mark_path)?;

    // 4. The validator's signing mark stays; behind it, the node syncs without signing.
    let mut mark = waybill_node::consensus::SigningMark::read(&home.signing_mark())?;
    println!(
        "Restored chain `{}` at height {} (block {}): {} blocks, {} transactions and {} state entries verified{}.",
        genesis.chain_id,
        head.height,
        head.block_hash,
        report.to,
        report.n_txs,
        report.n_state_entries,
        replaced
            .map(|p| format!("; the old store was kept as {}", p.display()))
            .unwrap_or_default()
    );
    if mark.height > head.height.0 {
        mark.resync = true;
        mark.write(&home.signing_mark())?;
        println!(
            "This validator already signed at height {} (signing mark {}), past the backup's height {}: when started, it syncs the missing blocks from its peers and signs nothing until it has committed height {}, so it cannot equivocate. It needs peers (--peer or node.json) to do so.",
            mark.height,
            home.signing_mark().display(),
            head.height,
            mark.height
        );
    }
    println!("Start the node with: waybill node --dir {}", dir.display());
    Ok(())
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
