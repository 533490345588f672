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
    let mut hosted = Vec::new();
    for org in crate::manifest::manifest()?.organizations {
        hosted.push(waybill_types::OrgId::new(&org.id)?);
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
        // One node for the whole development consortium: it keeps every
        // organization's private data.
        hosts_private_data_for: hosted,
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

/// How `waybill submit` signs and sends a payload.
#[derive(Clone, Debug, Default)]
pub struct SubmitOptions {
    /// The nonce (default: random).
    pub nonce: Option<u64>,
    /// Seconds until the transaction expires (default 600).
    pub expires_in_s: Option<u64>,
    /// Wait for the commit.
    pub wait: bool,
    /// Only preview it (`POST /v1/tx/dry-run`).
    pub dry_run: bool,
    /// Fields to seal in each event of a `capture_epcis` payload's document.
    pub seal: Vec<crate::trace_cmds::SealSpec>,
    /// Organizations to seal them for, beside the signer's and the regulators.
    pub seal_for: Vec<String>,
}

/// `waybill submit --key FILE PAYLOAD [--seal POINTER …] [--dry-run]`.
pub async fn submit(
    key: &Path,
    payload: &Path,
    client: &Client,
    opts: &SubmitOptions,
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
    let mut payload: Payload = serde_json::from_str(&text).with_context(|| {
        format!("payload {} is not a valid transaction payload; see `waybill submit --help` for an example", payload.display())
    })?;
    let chain_id = client.chain_id().await?;
    if !opts.seal.is_empty() {
        // Sealed fields live in EPCIS events today (docs/PRIVACY.md).
        let Payload::CaptureEpcis(capture) = &mut payload else {
            bail!(
                "a `{}` payload has no field to seal: --seal applies to the events of a `capture_epcis` payload",
                payload.kind()
            );
        };
        let recipients = crate::trace_cmds::seal_recipients(client, &key, &opts.seal_for).await?;
        capture.document = crate::trace_cmds::seal_document(
            &capture.document,
            &chain_id,
            &opts.seal,
            &recipients,
        )?;
    }
    payload.check().context("payload is invalid")?;
    let nonce = opts.nonce.unwrap_or_else(waybill_types::tx::random_nonce);
    let expires_in_ms = opts
        .expires_in_s
        .map_or(waybill_client::TX_EXPIRY_MS_DEFAULT, |s| {
            s.saturating_mul(1000)
        });
    let stx = waybill_client::sign_with(
        &key,
        &chain_id,
        nonce,
        waybill_client::now_ms().saturating_add(expires_in_ms),
        payload,
    );
    if opts.dry_run {
        return crate::trace_cmds::preview(client, &stx).await;
    }
    let answer = client.submit(&stx, opts.wait).await?;
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

/// `waybill backup`: a consistent copy of a node's store. A running node takes it
/// itself, inside one read transaction, asked through its operator channel
/// (`operator.sock`); a stopped node's store is read directly. Either way the copy is
/// checked before it is reported.
pub fn backup(dir: &Path, out: &Path) -> anyhow::Result<()> {
    use waybill_server::operator::{self, ChannelError, Reply, Request};
    let home = Home::new(dir);
    if out.exists() {
        bail!(
            "{} already exists; refusing to overwrite it (pick another --out)",
            out.display()
        );
    }
    let out = std::path::absolute(out)
        .with_context(|| format!("cannot resolve the path {}", out.display()))?;
    let req = Request::Backup { out: out.clone() };
    let (chain, head, how) =
        match operator::ask(&home.operator_socket(), &req, operator::REPLY_WAIT) {
            Ok(Reply::BackedUp {
                height, block_hash, ..
            }) => (
                home.read_genesis()?.chain_id,
                (height, block_hash),
                "taken by the running node inside one read transaction",
            ),
            Ok(Reply::Refused { error }) => bail!("the node refused the backup: {error}"),
            Err(ChannelError::NoNode { .. }) => {
                let (chain, h) = backup_stopped(&home, &out)?;
                (
                    chain,
                    h,
                    "read from the store directly: no node answered on its operator channel",
                )
            }
            Err(e) => bail!(
                "{e}; is the node healthy? `waybill verify --dir {}`",
                dir.display()
            ),
        };
    // Check what was written: records (re-read from the new file) and page checksums.
    let (copy, _) = waybill_store::Store::open_existing(&out)?;
    guarded(|| {
        waybill_store::verify::verify_recent(&copy, waybill_node::node::STARTUP_VERIFY_BLOCKS)
    })
    .map_err(|e| anyhow::anyhow!("the backup {} does not verify: {e}", out.display()))?;
    drop(copy);
    waybill_store::check_file_integrity(&out)?;
    println!(
        "Backed up chain `{chain}` at height {} (block {}) to {} ({} bytes; {how}). It holds no private keys. Install it with: waybill restore {} --dir DIR",
        head.0,
        head.1,
        out.display(),
        file_len(&out).unwrap_or(0),
        out.display()
    );
    Ok(())
}

/// A backup of the store of a node that is not running: chain id, height, block hash.
fn backup_stopped(home: &Home, out: &Path) -> anyhow::Result<(String, (u64, String))> {
    let path = home.store_path();
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
    Ok((
        genesis.chain_id,
        (head.height.0, head.block_hash.to_string()),
    ))
}

/// What `waybill restore` is given.
#[derive(Debug)]
pub struct RestoreArgs {
    pub dir: std::path::PathBuf,
    pub from: std::path::PathBuf,
    pub force: bool,
    /// Preparing a new directory: the validator key to run with (else a new key).
    pub key: Option<std::path::PathBuf>,
    /// Preparing a new directory with `key`: that validator's signing mark.
    pub signing_mark: Option<std::path::PathBuf>,
    /// Preparing a new directory: its `node.json`.
    pub node_file: NodeFile,
}

/// `waybill restore`: check a backup fully, then install it as the store of a stopped
/// node — or, when `--dir` holds no node yet, prepare a node directory around it.
pub fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let home = Home::new(&args.dir);
    let from = &args.from;
    let (backup_genesis, head, report) = check_backup(from)?;
    if home.is_initialized() {
        if args.key.is_some() || args.signing_mark.is_some() {
            bail!(
                "{} already holds a node (genesis.json); --key and --signing-mark only apply when restoring into a new directory",
                args.dir.display()
            );
        }
    } else {
        prepare_node_dir(&home, &backup_genesis, args)?;
    }
    let genesis = home.read_genesis()?;
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
    let replaced = set_aside_old_store(&home, &genesis, head.height.0, args.force)?;
    install_store(&home, from, &genesis, &head)?;
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
    mark_resync_if_behind(&home, head.height.0)?;
    println!(
        "Start the node with: waybill node --dir {}",
        args.dir.display()
    );
    Ok(())
}

/// The backup checked as `waybill verify` checks a store (nothing is written to it):
/// its genesis, head and verification report.
fn check_backup(
    from: &Path,
) -> anyhow::Result<(
    waybill_types::Genesis,
    waybill_store::Head,
    waybill_store::verify::VerifyReport,
)> {
    match file_len(from) {
        None => bail!("backup {} not found", from.display()),
        Some(0) => bail!("backup {} is an empty file; not installed", from.display()),
        Some(_) => {}
    }
    waybill_store::check_file_integrity(from)
        .map_err(|e| anyhow::anyhow!("backup {} is damaged; not installed: {e}", from.display()))?;
    let (backup, genesis) = waybill_store::Store::open_existing(from)
        .with_context(|| format!("backup {} cannot be read; not installed", from.display()))?;
    let report = guarded(|| waybill_store::verify::verify_full(&backup)).map_err(|e| {
        anyhow::anyhow!(
            "backup {} fails verification; not installed: {e}",
            from.display()
        )
    })?;
    let head = backup.head()?;
    Ok((genesis, head, report))
}

/// A new node directory around a backup: the backup's genesis, `node.json`, and the
/// node key — the given validator key with its signing mark, or a new key. The
/// backup holds no keys, so a key always comes from the operator.
fn prepare_node_dir(
    home: &Home,
    genesis: &waybill_types::Genesis,
    args: &RestoreArgs,
) -> anyhow::Result<()> {
    let dir = &home.dir;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty and holds no node (no genesis.json); restore into an empty or new directory",
            dir.display()
        );
    }
    let key = match (&args.key, &args.signing_mark) {
        (Some(k), Some(_)) => {
            let (label, key) = KeyFile::read(k)?;
            Some((label, key))
        }
        (Some(k), None) => bail!(
            "a validator key ({}) needs the signing mark from its old directory (--signing-mark FILE, its signing-mark.json): without it the node could sign twice at a height it already signed. Without --key the node runs with a new key and does not vote",
            k.display()
        ),
        (None, Some(_)) => bail!("--signing-mark goes with --key (the validator it belongs to)"),
        (None, None) => None,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(home.genesis_path(), serde_json::to_string_pretty(genesis)?)
        .with_context(|| format!("cannot write {}", home.genesis_path().display()))?;
    anyhow::ensure!(
        home.read_genesis()?.hash() == genesis.hash(),
        "the genesis written to {} does not read back with the backup's hash",
        home.genesis_path().display()
    );
    waybill_server::home::write_node_file(home, &args.node_file)?;
    match key {
        Some((label, key)) => {
            KeyFile::write(&home.validator_key(), &label, &key)?;
            let mark_from = args.signing_mark.as_ref().expect("checked above");
            let mark = waybill_node::consensus::SigningMark::read(mark_from)?;
            mark.write(&home.signing_mark())?;
            println!(
                "Prepared {} for validator {} (signing mark: height {}).",
                dir.display(),
                key.public(),
                mark.height
            );
        }
        None => {
            let key = SecretKey::generate();
            KeyFile::write(&home.validator_key(), "node", &key)?;
            println!(
                "Prepared {} with a new node key {}: it follows the chain and serves it, but votes only if the consortium makes it a validator.",
                dir.display(),
                key.public()
            );
        }
    }
    Ok(())
}

/// Move a stopped node's store out of the way (kept as `.before-restore`): never a
/// running node's, never one that verifies unless `force`. The kept path, if any.
fn set_aside_old_store(
    home: &Home,
    genesis: &waybill_types::Genesis,
    backup_height: u64,
    force: bool,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    use waybill_store::{Store, StoreError};
    let store_path = home.store_path();
    let Some(len) = file_len(&store_path) else {
        return Ok(None);
    };
    if len > 0 {
        if let Err(StoreError::InUse { .. }) = waybill_store::check_file_integrity(&store_path) {
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
                    "{} holds a store that verifies (height {h}); refusing to replace it with the backup (height {backup_height}). Pass --force to replace it (the old store is kept as {}.before-restore)",
                    store_path.display(),
                    store_path.display()
                );
            }
        }
    }
    let keep = store_path.with_extension("redb.before-restore");
    std::fs::rename(&store_path, &keep)
        .with_context(|| format!("cannot move the old store to {}", keep.display()))?;
    Ok(Some(keep))
}

/// Copy the backup beside the store, fsync, rename over it, fsync the directory, and
/// record the backup's head as the block this node has committed.
fn install_store(
    home: &Home,
    from: &Path,
    genesis: &waybill_types::Genesis,
    head: &waybill_store::Head,
) -> anyhow::Result<()> {
    let store_path = home.store_path();
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
    Ok(())
}

/// The validator's signing mark stays; if it is past the backup, the node syncs
/// without signing until it has committed that height.
fn mark_resync_if_behind(home: &Home, backup_height: u64) -> anyhow::Result<()> {
    let mut mark = waybill_node::consensus::SigningMark::read(&home.signing_mark())?;
    if mark.height > backup_height {
        mark.resync = true;
        mark.write(&home.signing_mark())?;
        println!(
            "This validator already signed at height {} (signing mark {}), past the backup's height {backup_height}: when started, it syncs the missing blocks from its peers and signs nothing until it has committed height {}, so it cannot equivocate. It needs peers (--peer or node.json) to do so.",
            mark.height,
            home.signing_mark().display(),
            mark.height
        );
    }
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
