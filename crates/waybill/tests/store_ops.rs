//! `waybill verify`, `backup` and `restore` on real node directories (issue 12):
//! verification of a damaged store exits 1 naming what and where, in bounded time,
//! and never writes; a backup restores only if it is whole and of this chain, and
//! never over a good store without --force.

use waybill_types::payload::RegisterMember;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use waybill_client::{sign, KeyFile};
use waybill_testkit::TestChain;
use waybill_types::{sha256, Genesis, Hash, Height, Payload, Role, SecretKey};

const BIN: &str = env!("CARGO_BIN_EXE_waybill");

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("waybill-storeops-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Run the CLI, killing it after 120 s (a hang fails the test).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("waybill runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("waybill {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn hash_of(p: &Path) -> Hash {
    sha256(&std::fs::read(p).expect("file reads"))
}

/// `waybill init` a node directory and commit `n_blocks` blocks (each registering a
/// member) into its store, as its node would. Returns the directory and its store's
/// encoded last block.
fn node_dir(tag: &str, n_blocks: u64) -> (PathBuf, Vec<u8>) {
    let dir = temp(tag);
    let o = run(&[
        "init",
        "--dir",
        dir.to_str().expect("utf-8"),
        "--chain-id",
        tag,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let genesis: Genesis =
        serde_json::from_slice(&std::fs::read(dir.join("genesis.json")).expect("genesis"))
            .expect("genesis parses");
    let (_, validator) = KeyFile::read(&dir.join("keys/validator.json")).expect("key");
    let (_, admin) =
        KeyFile::read(&dir.join("keys/orgs/pujiang-orchard-admin.json")).expect("admin key");
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let mut chain = TestChain::open(&dir.join("data"), genesis.clone(), validator, 100, 1 << 20);
    let shared = chain.shared();
    for seq in 1..=n_blocks {
        let tx = sign(
            &admin,
            &genesis.chain_id,
            Payload::RegisterMember(RegisterMember {
                member: SecretKey::generate().public(),
                name: format!("member {seq} of a store used to test verification"),
                roles: vec![Role::Producer],
            }),
        );
        for r in waybill_node::ledger::submit_batch(&shared, vec![tx.encode()]) {
            r.expect("admitted");
        }
        chain.commit_block().expect("commits");
    }
    let block2 = shared
        .store
        .block_bytes(Height(n_blocks.min(2)))
        .expect("reads")
        .expect("block");
    drop(shared);
    chain.close();
    (dir, block2)
}

fn store(dir: &Path) -> PathBuf {
    dir.join("data/waybill.redb")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn verify_of_a_sound_store_passes_and_of_an_empty_one_fails_without_writing() {
    let (dir, _) = node_dir("verify-ok", 3);
    let o = run(&["verify", "--dir", s(&dir)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("every page checksum checked"),
        "{}",
        text(&o)
    );
    std::fs::write(store(&dir), b"").expect("emptied");
    let o = run(&["verify", "--dir", s(&dir)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("0 bytes"), "{}", text(&o));
    assert_eq!(std::fs::metadata(store(&dir)).expect("exists").len(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

/// Regression: corrupting the last page made `waybill verify` panic. In a cleanly
/// closed redb 4.5 file the last page holds redb's free-space bookkeeping, which the
/// integrity check rebuilds rather than trusts: no record is touched. So verify must
/// not panic, must not write, must finish, and its verdict must be the truth: either
/// exit 1 naming the damage, or OK — and then a node opening the same bytes (with
/// its integrity check) accepts them and every record verifies.
#[test]
fn verify_of_a_store_with_its_last_page_corrupted_does_not_panic_or_write() {
    let (dir, _) = node_dir("verify-lastpage", 3);
    let path = store(&dir);
    let mut bytes = std::fs::read(&path).expect("reads");
    let n = bytes.len();
    for b in &mut bytes[n - 4096..] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).expect("writes");
    let before = hash_of(&path);
    let o = run(&["verify", "--dir", s(&dir)]);
    let t = text(&o);
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(hash_of(&path), before, "verify wrote to the store");
    match o.status.code() {
        Some(1) => assert!(t.contains("TAMPERED or corrupt store"), "{t}"),
        Some(0) => {
            let copy = dir.join("copy.redb");
            std::fs::copy(&path, &copy).expect("copy");
            let genesis: Genesis =
                serde_json::from_slice(&std::fs::read(dir.join("genesis.json")).expect("genesis"))
                    .expect("parses");
            let store = waybill_store::Store::open(&copy, &genesis).expect("a node accepts it");
            waybill_store::verify::verify_full(&store).expect("and every record verifies");
        }
        other => panic!("exit {other:?}: {t}"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Regression: 16 corrupted bytes in the middle of the file passed the checks.
#[test]
fn verify_of_a_store_with_16_bytes_corrupted_mid_file_names_the_height() {
    let (dir, block2) = node_dir("verify-mid", 4);
    let path = store(&dir);
    let mut bytes = std::fs::read(&path).expect("reads");
    // 16 bytes in the middle of block 2's record (every copy of it in the file).
    let needle = &block2[..64];
    let mut hits = 0;
    let mut i = 0;
    while i + block2.len() <= bytes.len() {
        if &bytes[i..i + 64] == needle {
            let mid = i + block2.len() / 2;
            for b in &mut bytes[mid..mid + 16] {
                *b ^= 0xff;
            }
            hits += 1;
            i += block2.len();
        } else {
            i += 1;
        }
    }
    assert!(hits >= 1, "block 2 is in the file");
    std::fs::write(&path, &bytes).expect("writes");
    let before = hash_of(&path);
    for args in [
        vec!["verify", "--dir", s(&dir)],
        vec!["verify", "--quick", "--dir", s(&dir)],
    ] {
        let o = run(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(!t.contains("panicked"), "{t}");
        assert!(t.contains("height 2"), "names the height: {t}");
    }
    assert_eq!(hash_of(&path), before, "verify wrote to the store");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn backup_and_restore_check_what_they_install() {
    let (dir, _) = node_dir("restore", 3);
    let backup = temp("restore-backup.redb");
    let o = run(&["backup", "--dir", s(&dir), "--out", s(&backup)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("at height 3"), "{}", text(&o));
    // Never over an existing file.
    let o = run(&["backup", "--dir", s(&dir), "--out", s(&backup)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // A good store is not replaced without --force.
    let before = hash_of(&store(&dir));
    let o = run(&["restore", "--dir", s(&dir), "--from", s(&backup)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(hash_of(&store(&dir)), before);

    // A backup of another chain is refused.
    let (other, _) = node_dir("restore-other", 1);
    let other_before = hash_of(&store(&other));
    let o = run(&[
        "restore",
        "--dir",
        s(&other),
        "--from",
        s(&backup),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("another chain"), "{}", text(&o));
    assert_eq!(hash_of(&store(&other)), other_before);

    // A damaged backup is refused, and left as it is.
    let damaged = temp("restore-damaged.redb");
    let mut bytes = std::fs::read(&backup).expect("reads");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xff;
    }
    let n = bytes.len();
    for b in &mut bytes[n - 4096..] {
        *b ^= 0x5a;
    }
    std::fs::write(&damaged, &bytes).expect("writes");
    let damaged_before = hash_of(&damaged);
    std::fs::remove_file(store(&dir)).expect("store lost");
    let o = run(&["restore", "--dir", s(&dir), "--from", s(&damaged)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not installed"), "{}", text(&o));
    assert!(!store(&dir).exists());
    assert_eq!(hash_of(&damaged), damaged_before);

    // The good backup installs where the store was lost, and verifies.
    let o = run(&["restore", "--dir", s(&dir), "--from", s(&backup)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Restored chain"), "{}", text(&o));
    let o = run(&["verify", "--dir", s(&dir)]);
    assert!(o.status.success(), "{}", text(&o));
    let mark: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("data/commit-mark.json")).expect("commit mark"),
    )
    .expect("json");
    assert_eq!(mark["height"], 3);
    for p in [dir, other] {
        let _ = std::fs::remove_dir_all(p);
    }
    let _ = std::fs::remove_file(backup);
    let _ = std::fs::remove_file(damaged);
}

/// Issue 13: `waybill restore FILE --dir NEW` prepares a node directory around a
/// backup (its genesis, a node.json, a node key) that verifies; a validator key comes
/// only with its signing mark; the backup holds no private key.
#[test]
fn restore_prepares_a_new_node_directory_and_the_backup_holds_no_keys() {
    let (dir, _) = node_dir("restore-new", 3);
    let backup = temp("restore-new-backup.redb");
    let o = run(&["backup", "--dir", s(&dir), "--out", s(&backup)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("no private keys"), "{}", text(&o));

    // No secret of the directory's keys is in the backup, raw, hex or base64.
    let bytes = std::fs::read(&backup).expect("reads");
    let mut keys: Vec<PathBuf> = vec![dir.join("keys/validator.json")];
    for e in std::fs::read_dir(dir.join("keys/orgs")).expect("org keys") {
        keys.push(e.expect("entry").path());
    }
    for k in &keys {
        let (_, secret) = KeyFile::read(k).expect("key file");
        let raw = secret.seed();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw);
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(
            !contains(&raw),
            "raw secret of {} in the backup",
            k.display()
        );
        assert!(!contains(hex.as_bytes()), "hex secret of {}", k.display());
        assert!(
            !contains(b64.as_bytes()),
            "base64 secret of {}",
            k.display()
        );
    }

    // A validator key without its signing mark is refused; nothing is created.
    let fresh = temp("restore-new-target");
    let key = dir.join("keys/validator.json");
    let o = run(&["restore", s(&backup), "--dir", s(&fresh), "--key", s(&key)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--signing-mark"), "{}", text(&o));
    assert!(!fresh.exists(), "nothing is prepared when refused");

    // With its mark: the directory is prepared, with the backup's genesis, the key,
    // the mark, a node.json from the flags, and the store at the backup's head.
    std::fs::write(dir.join("signing-mark.json"), r#"{"height":5,"round":0}"#).expect("mark");
    let o = run(&[
        "restore",
        s(&backup),
        "--dir",
        s(&fresh),
        "--key",
        s(&key),
        "--signing-mark",
        s(&dir.join("signing-mark.json")),
        "--peer",
        "/ip4/127.0.0.1/tcp/27999",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Prepared"), "{}", text(&o));
    assert!(text(&o).contains("signs nothing until"), "{}", text(&o));
    assert_eq!(
        std::fs::read(fresh.join("genesis.json"))
            .map(|g| serde_json::from_slice::<Genesis>(&g)
                .expect("parses")
                .hash())
            .expect("genesis"),
        serde_json::from_slice::<Genesis>(&std::fs::read(dir.join("genesis.json")).expect("g"))
            .expect("parses")
            .hash()
    );
    let (_, a) = KeyFile::read(&key).expect("old key");
    let (_, b) = KeyFile::read(&fresh.join("keys/validator.json")).expect("new key");
    assert_eq!(a.public(), b.public());
    let nf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fresh.join("node.json")).expect("node.json"))
            .expect("json");
    assert_eq!(nf["peers"][0], "/ip4/127.0.0.1/tcp/27999");
    let mark: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fresh.join("signing-mark.json")).expect("mark"))
            .expect("json");
    assert_eq!(
        (mark["height"].as_u64(), mark["resync"].as_bool()),
        (Some(5), Some(true))
    );
    let o = run(&["verify", "--dir", s(&fresh)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3"), "{}", text(&o));

    // Without a key: a new node key, and no signing mark.
    let plain = temp("restore-new-plain");
    let o = run(&["restore", s(&backup), "--dir", s(&plain)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("new node key"), "{}", text(&o));
    let (_, c) = KeyFile::read(&plain.join("keys/validator.json")).expect("key");
    assert_ne!(c.public(), a.public());
    assert!(!plain.join("signing-mark.json").exists());
    // A non-empty directory that holds no node is refused.
    let junk = temp("restore-new-junk");
    std::fs::create_dir_all(&junk).expect("dir");
    std::fs::write(junk.join("notes.txt"), "mine").expect("file");
    let o = run(&["restore", s(&backup), "--dir", s(&junk)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not empty"), "{}", text(&o));
    for p in [dir, fresh, plain, junk] {
        let _ = std::fs::remove_dir_all(p);
    }
    let _ = std::fs::remove_file(backup);
}
