//! The consumer page in a real browser (Debian's Chromium, headless, driven through
//! chromedriver): a new user's path from the demo's QR code to the verified history,
//! on a phone screen and without JavaScript; and a lying node — one that serves a
//! tampered record, a forged signature, a forged validator set or another product's
//! genuine history — caught by the page, which turns red and names the failed check.
//!
//! Screenshots are kept in `target/test-artifacts/`. A missing Chromium fails the
//! test (run ./scripts/install-test-tools.sh); it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Request, Response, StatusCode};
use base64::Engine as _;
use common::free_port;
use common::webdriver::{Browser, Options};
use waybill_types::block::{validators_hash, CommitSignature, ValidatorInfo};
use waybill_types::proof::ProofBundle;
use waybill_types::{codec, BlockHeader, CommitCertificate, Genesis, SecretKey};

const CARTON: &str = "/01/06901234000016/21/261103015";
const JUICE_LOT: &str = "/01/06901234000023/10/PJB2611";

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts")
}

struct Demo {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `waybill demo`, as the README starts it, waited for until every step is loaded.
async fn start_demo() -> Demo {
    let dir = std::env::temp_dir().join(format!("waybill-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let listen = format!("127.0.0.1:{}", free_port());
    let child = common::spawn_demo(&dir, &listen, Stdio::null());
    let demo = Demo {
        child,
        dir,
        url: format!("http://{listen}"),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let progress = std::fs::read_to_string(demo.dir.join("demo-progress")).unwrap_or_default();
        if progress.trim() == common::demo_steps().to_string() {
            break;
        }
        assert!(Instant::now() < deadline, "demo data loaded within 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    demo
}

/// How a lying node changes the bundle it embeds in a page.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lie {
    /// A temperature reading lowered (the alarm hidden) in one record.
    TamperedRecord,
    /// One byte of a validator's precommit signature changed.
    ForgedSignature,
    /// The validators replaced by the node's own key, every certificate re-signed: an
    /// internally consistent chain, but not the consortium's.
    WrongValidatorSet,
    /// Another product's genuine, fully certified history, served as it is.
    OtherProduct,
    /// The record with the temperature alarm left out (an inconvenient record).
    DroppedExcursion,
    /// A genuine record of another product spliced into the history.
    SplicedRecord,
    /// Two records swapped.
    Reordered,
    /// A synthetic four-validator chain (see [`Synthetic`]), served as the carton's
    /// bundle; opened with the synthetic chain's own fingerprint.
    Synthetic(Synthetic),
}

/// Synthetic chains with uneven voting power (4, 3, 2, 1 of 10) and a governed change
/// of the whole validator set at height 5, built here so that the browser's verifier
/// and the Rust one can be compared on what the demo's one-validator chain cannot
/// show: weighted quorums and validator-set changes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Synthetic {
    /// Quorums of 7/10 (two validators); the change published and proven: valid.
    Valid,
    /// Three of four validators sign, but only 6/10 of the power: not final.
    ThreeSignersTooLittlePower,
    /// The change record left out: the new set's headers name a set the verifier
    /// cannot derive from genesis.
    ChangeOmitted,
    /// The old validators sign a block after the handover.
    OldSetSignsAfterChange,
}

const SYNTH_CHANGE_AT: u64 = 5;

fn synth_keys(tag: &str) -> Vec<(SecretKey, u64)> {
    [4, 3, 2, 1]
        .into_iter()
        .enumerate()
        .map(|(i, p)| (SecretKey::from_label(&format!("synthetic-{tag}-{i}")), p))
        .collect()
}

fn synth_set(keys: &[(SecretKey, u64)]) -> Vec<ValidatorInfo> {
    let mut set: Vec<ValidatorInfo> = keys
        .iter()
        .map(|(k, p)| ValidatorInfo {
            public_key: k.public(),
            voting_power: *p,
        })
        .collect();
    set.sort_by_key(|v| v.public_key);
    set
}

/// An in-memory heads tree (the node keeps its nodes in state).
#[derive(Default)]
struct MemTree(std::collections::BTreeMap<(usize, [u8; 32]), waybill_types::smt::Node>);

impl waybill_types::smt::NodeStore for MemTree {
    type Error = std::convert::Infallible;
    fn get(&self, d: usize, p: &[u8; 32]) -> Result<Option<waybill_types::smt::Node>, Self::Error> {
        Ok(self.0.get(&(d, *p)).copied())
    }
    fn put(&mut self, d: usize, p: &[u8; 32], n: Option<waybill_types::smt::Node>) {
        match n {
            Some(n) => self.0.insert((d, *p), n),
            None => self.0.remove(&(d, *p)),
        };
    }
}

/// Build the synthetic bundle for the carton (`subject`), and its fingerprint: the
/// records linked as the state machine links them, a heads tree per block, the heads
/// proven from the newest header.
fn synthetic_bundle(case: Synthetic, subject: &str) -> (ProofBundle, String) {
    use waybill_types::proof::SubjectHead;
    use waybill_types::smt;
    use waybill_types::{merkle, GenesisOrganization, GenesisValidator, Hash, Height, OrgId, Role};
    let old = synth_keys("old");
    let new = synth_keys("new");
    let admin = SecretKey::from_label("synthetic-admin");
    let genesis = Genesis {
        chain_id: "synthetic".into(),
        genesis_time_ms: 1_700_000_000_000,
        organizations: vec![GenesisOrganization {
            id: OrgId::new("farm").expect("org id"),
            name: "Synthetic farm".into(),
            admin: admin.public(),
            roles: vec![Role::Producer],
            company_prefixes: vec!["6901234".into()],
        }],
        validators: old
            .iter()
            .map(|(k, p)| GenesisValidator {
                org: OrgId::new("farm").expect("org id"),
                public_key: k.public(),
                voting_power: *p,
            })
            .collect(),
    };
    let gtin = "06901234000016";
    let product_id = format!("https://id.gs1.org/01/{gtin}");
    let event = |h: u64, prev: serde_json::Value| {
        serde_json::json!({"kind": "event", "hash_id": format!("ni:///sha-256;{h:064x}?ver=CBV2.0"),
            "event_type": "ObjectEvent", "action": "OBSERVE", "event_time": format!("2026-11-0{h}T10:00:00+08:00"),
            "biz_step": "shipping", "disposition": "in_transit", "read_point": null, "biz_location": null,
            "ids": [{"role": "epc", "id": subject}], "org": "farm", "org_name": "Synthetic farm",
            "readings": [], "allowed_range": null, "source": "x", "prev": {subject: prev}})
    };
    let change = serde_json::json!({"kind": "validator_set", "effective_height": SYNTH_CHANGE_AT,
        "validators": synth_set(&new), "proposal": 1, "source": "governance",
        "prev": {"validators": null}});
    let mut blocks: Vec<Vec<(serde_json::Value, &str)>> = vec![
        vec![],
        vec![(
            serde_json::json!({"kind": "product", "id": product_id, "gtin": gtin,
            "name": "Synthetic oranges", "brand": "Synthetic", "category": "fresh fruit",
            "origin_country": "CN", "owner": "farm", "owner_name": "Synthetic farm", "source": "x",
            "prev": {product_id.as_str(): null}}),
            product_id.as_str(),
        )],
        vec![
            (event(3, serde_json::Value::Null), subject),
            (change, "validators"),
        ],
        vec![],
        vec![(event(5, serde_json::json!([3, 0])), subject)],
    ];
    if case == Synthetic::ChangeOmitted {
        blocks[2].truncate(1);
    }
    let mut bundle = ProofBundle {
        format: waybill_types::proof::PROOF_FORMAT.into(),
        subject: subject.into(),
        chain_id: genesis.chain_id.clone(),
        genesis: b64(&codec::encode(&genesis)),
        fingerprint: waybill_types::proof::fingerprint(&genesis),
        anchor: blocks.len() as u64,
        headers: vec![],
        heads: vec![],
        records: vec![],
    };
    let mut tree = MemTree::default();
    let mut heads: std::collections::BTreeMap<String, [u64; 2]> = Default::default();
    let mut prev = Hash::ZERO;
    for (i, records) in blocks.iter().enumerate() {
        let height = i as u64 + 1;
        let in_force = if height >= SYNTH_CHANGE_AT {
            &new
        } else {
            &old
        };
        let bytes: Vec<Vec<u8>> = records
            .iter()
            .map(|(r, _)| serde_json::to_vec(r).expect("json"))
            .collect();
        let leaves: Vec<merkle::Digest32> = bytes.iter().map(|b| merkle::leaf_hash(b)).collect();
        let mut updates: Vec<([u8; 32], [u8; 32])> = records
            .iter()
            .zip(&leaves)
            .enumerate()
            .map(|(index, ((_, s), leaf))| {
                heads.insert(s.to_string(), [height, index as u64]);
                (
                    smt::subject_key(s),
                    smt::head_value(height, index as u32, leaf),
                )
            })
            .collect();
        updates.sort();
        let Ok(heads_root) = smt::update(&mut tree, &updates);
        let header = BlockHeader {
            version: waybill_types::block::HEADER_VERSION,
            chain_id: genesis.chain_id.clone(),
            height: Height(height),
            prev_hash: prev,
            time_ms: genesis.genesis_time_ms + height * 1000,
            proposer: in_force[0].0.public(),
            n_txs: 0,
            tx_root: Hash(merkle::empty_root()),
            open_root: Hash(merkle::root_from_leaf_hashes(&leaves)),
            heads_root: Hash(heads_root),
            commit_root: Hash(waybill_types::merkle::empty_root()),
            state_hash: Hash::ZERO,
            validators_hash: validators_hash(&synth_set(in_force)),
        };
        prev = header.hash();
        // Who signs: the two most powerful (7/10), or the three least (6/10); after
        // the change, the new set — or the old one, wrongly.
        let signers: Vec<&SecretKey> = match case {
            Synthetic::ThreeSignersTooLittlePower => in_force[1..].iter().map(|(k, _)| k).collect(),
            Synthetic::OldSetSignsAfterChange if height >= SYNTH_CHANGE_AT => {
                old[..2].iter().map(|(k, _)| k).collect()
            }
            _ => in_force[..2].iter().map(|(k, _)| k).collect(),
        };
        let cert = CommitCertificate {
            height: Height(height),
            round: 0,
            block_hash: header.hash(),
            signatures: signers
                .into_iter()
                .map(|k| {
                    CommitSignature::sign(k, &genesis.chain_id, Height(height), 0, header.hash())
                })
                .collect(),
        };
        if records.is_empty() {
            continue;
        }
        for (index, b) in bytes.iter().enumerate() {
            let proof = merkle::inclusion_proof(&leaves, index as u64).expect("proof");
            bundle.records.push(waybill_types::proof::ProvenRecord {
                height,
                index: index as u64,
                tree_size: leaves.len() as u64,
                record: b64(b),
                proof: proof.iter().map(hex::encode).collect(),
            });
        }
        bundle.headers.push(waybill_types::proof::CertifiedHeader {
            height,
            header: b64(&codec::encode(&header)),
            certificate: b64(&codec::encode(&cert)),
        });
    }
    // The heads of the history's subjects, proven from the newest header (the farm has
    // no qualifications: its head proves absent).
    for s in [subject, "validators", "org:farm"] {
        let Ok(p) = smt::prove(&tree, &smt::subject_key(s));
        let other = match p.terminal {
            smt::Terminal::Other { key, value } => Some([hex::encode(key), hex::encode(value)]),
            _ => None,
        };
        bundle.heads.push(SubjectHead {
            subject: s.to_string(),
            at: heads.get(s).copied(),
            proof: p.siblings.iter().map(hex::encode).collect(),
            other,
        });
    }
    let fp = bundle.fingerprint.clone();
    (bundle, fp)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}
fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn embedded_bundle(html: &str) -> (usize, usize, ProofBundle) {
    let open = "<script type=application/json id=wb-bundle>";
    let start = html.find(open).expect("page embeds a bundle") + open.len();
    let end = start + html[start..].find("</script>").expect("closed");
    let b = serde_json::from_str(&html[start..end]).expect("bundle");
    (start, end, b)
}

fn lie(mut b: ProofBundle, how: Lie, other: &ProofBundle) -> ProofBundle {
    match how {
        Lie::TamperedRecord => {
            let r = b
                .records
                .iter_mut()
                .find(|r| String::from_utf8_lossy(&unb64(&r.record)).contains("\"value\":8.6"))
                .expect("the record with the 8.6 °C reading");
            let text = String::from_utf8(unb64(&r.record)).expect("utf-8");
            r.record = b64(text.replace("\"value\":8.6", "\"value\":5.6").as_bytes());
        }
        Lie::ForgedSignature => {
            let h = b.headers.last_mut().expect("a header");
            let mut cert: CommitCertificate =
                codec::decode(&unb64(&h.certificate), 1 << 20, "certificate").expect("cert");
            cert.signatures[0].signature.0[10] ^= 0x20;
            h.certificate = b64(&codec::encode(&cert));
        }
        Lie::WrongValidatorSet => {
            let impostor = SecretKey::from_label("lying-node");
            let mut genesis: Genesis =
                codec::decode(&unb64(&b.genesis), 1 << 24, "genesis").expect("genesis");
            for v in &mut genesis.validators {
                v.public_key = impostor.public();
            }
            genesis.validators.truncate(1);
            let set = vec![ValidatorInfo {
                public_key: impostor.public(),
                voting_power: 1,
            }];
            genesis.validators[0].voting_power = 1;
            for h in &mut b.headers {
                let mut header: BlockHeader =
                    codec::decode(&unb64(&h.header), 1 << 20, "header").expect("header");
                header.validators_hash = validators_hash(&set);
                let mut cert: CommitCertificate =
                    codec::decode(&unb64(&h.certificate), 1 << 20, "certificate").expect("cert");
                cert.block_hash = header.hash();
                cert.signatures = vec![CommitSignature::sign(
                    &impostor,
                    &genesis.chain_id,
                    header.height,
                    cert.round,
                    header.hash(),
                )];
                h.header = b64(&codec::encode(&header));
                h.certificate = b64(&codec::encode(&cert));
            }
            b.fingerprint = waybill_types::proof::fingerprint(&genesis);
            b.genesis = b64(&codec::encode(&genesis));
            // Consistent on its own terms: it verifies against its own fingerprint.
            let own = b.fingerprint.clone();
            waybill_types::proof::verify(&b, &waybill_types::proof::TrustRoot::Fingerprint(own))
                .expect("the forgery is internally consistent");
        }
        Lie::OtherProduct => b = other.clone(),
        Lie::DroppedExcursion => {
            let i = b
                .records
                .iter()
                .position(|r| String::from_utf8_lossy(&unb64(&r.record)).contains("\"value\":8.6"))
                .expect("the record with the 8.6 °C reading");
            b.records.remove(i);
        }
        Lie::SplicedRecord => {
            let extra = other
                .records
                .iter()
                .find(|r| {
                    r.height <= b.anchor
                        && !b
                            .records
                            .iter()
                            .any(|x| (x.height, x.index) == (r.height, r.index))
                })
                .expect("the other product has a record of its own")
                .clone();
            if !b.headers.iter().any(|h| h.height == extra.height) {
                let h = other
                    .headers
                    .iter()
                    .find(|h| h.height == extra.height)
                    .expect("its header")
                    .clone();
                b.headers.push(h);
                b.headers.sort_by_key(|h| h.height);
            }
            b.records.push(extra);
            b.records.sort_by_key(|r| (r.height, r.index));
        }
        Lie::Reordered => b.records.swap(1, 2),
        Lie::Synthetic(case) => b = synthetic_bundle(case, &b.subject).0,
    }
    b
}

#[derive(Clone)]
struct Liar {
    upstream: String,
    lie: Arc<Mutex<Lie>>,
    http: reqwest::Client,
}

/// A node that lies: forwards every request to the honest node and rewrites the bundle
/// embedded in consumer pages.
async fn lying_proxy(State(l): State<Liar>, req: Request<Body>) -> Response<Body> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let up = l
        .http
        .get(format!("{}{pq}", l.upstream))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("upstream answers");
    let status = up.status().as_u16();
    let ct = up
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_string();
    let mut body = up.bytes().await.expect("body").to_vec();
    if pq.starts_with("/01/") && ct.starts_with("text/html") {
        let html = String::from_utf8(body).expect("utf-8");
        let (start, end, bundle) = embedded_bundle(&html);
        let how = *l.lie.lock().expect("lock");
        let other_html = l
            .http
            .get(format!("{}{JUICE_LOT}", l.upstream))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .expect("upstream")
            .text()
            .await
            .expect("html");
        let (_, _, other) = embedded_bundle(&other_html);
        let forged = lie(bundle, how, &other);
        let json = serde_json::to_string(&forged)
            .expect("json")
            .replace('<', "\\u003c");
        body = format!("{}{json}{}", &html[..start], &html[end..]).into_bytes();
    }
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .expect("response")
}

const BADGE_DONE: &str = "const b = document.getElementById('badge'); \
return b && (b.dataset.state === 'verified' || b.dataset.state === 'failed') ? b.dataset.state : null;";

/// Rasterize the label's inline SVG QR code in the browser and hand the grey levels
/// to a standard decoder (rqrr).
async fn decode_label_qr(browser: &Browser, href_contains: &str) -> String {
    let script = "const a = [...document.querySelectorAll('.label a')].find(a => a.href.includes(arguments[0]) && a.querySelector('svg'));\
if (!a) return null; const xml = new XMLSerializer().serializeToString(a.querySelector('svg')); const size = 480;\
return new Promise((ok, no) => { const img = new Image(); img.onload = () => { const c = document.createElement('canvas'); c.width = size; c.height = size;\
const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, size, size); g.drawImage(img, 0, 0, size, size);\
const d = g.getImageData(0, 0, size, size).data; const out = new Array(size * size); for (let i = 0; i < out.length; i++) out[i] = d[4 * i]; ok(out); };\
img.onerror = () => no('the SVG did not load'); img.src = 'data:image/svg+xml;base64,' + btoa(xml); });";
    let v = browser
        .execute(script, serde_json::json!([href_contains]))
        .await
        .expect("rasterized");
    let luma: Vec<u8> = v
        .as_array()
        .unwrap_or_else(|| panic!("no label links to {href_contains}"))
        .iter()
        .map(|x| x.as_u64().expect("grey level") as u8)
        .collect();
    let side = (luma.len() as f64).sqrt() as usize;
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| luma[y * side + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the label");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}

/// `conformance/merkle/testdata/inclusion/**.json`, as `[name, vector]` pairs.
fn inclusion_vectors() -> Vec<(String, serde_json::Value)> {
    fn walk(dir: &Path, out: &mut Vec<(String, serde_json::Value)>) {
        for e in std::fs::read_dir(dir).expect("conformance vectors (../shared/conformance)") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                let v = serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("JSON");
                out.push((p.display().to_string(), v));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/merkle/testdata/inclusion");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

/// Open `url` and wait until the badge settles; its state and the page's text.
async fn open_page(browser: &Browser, url: &str) -> (serde_json::Value, String) {
    browser.goto(url).await.expect("page loads");
    let state = browser
        .wait_for(BADGE_DONE, Duration::from_secs(30))
        .await
        .expect("the badge settles");
    (state, browser.page_text().await.expect("text"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_page_in_chromium_from_qr_code_to_verified_history_and_lying_nodes() {
    let demo = start_demo().await;
    let out = artifacts();
    std::fs::create_dir_all(&out).expect("artifacts dir");
    let genesis: Genesis =
        serde_json::from_slice(&std::fs::read(demo.dir.join("genesis.json")).expect("genesis"))
            .expect("genesis JSON");
    let fp = waybill_types::proof::fingerprint(&genesis);

    // 1. On a phone: the label sheet, the carton's QR code decoded, its link opened.
    let phone = Browser::start(Options {
        mobile: true,
        javascript: true,
        width: 390,
        height: 844,
        ..Default::default()
    })
    .await
    .expect("Chromium and chromedriver (run ./scripts/install-test-tools.sh)");
    phone
        .goto(&format!("{}/labels", demo.url))
        .await
        .expect("labels page");
    let link = decode_label_qr(&phone, CARTON).await;
    assert_eq!(
        link,
        format!("{}{CARTON}?wb={fp}", demo.url),
        "the QR code names this node, the carton and the consortium fingerprint"
    );
    let (state, text) = open_page(&phone, &link).await;
    assert_eq!(state, "verified", "badge: {text}");
    for want in [
        "Navel oranges, 5 kg carton",
        "Pujiang Gold navel orange orchard",
        "Harvested",
        "Customs inspection",
        "In transit",
        "Cold chain",
        "1 outside the allowed range",
        "food production license",
        "signed by the consortium's validators",
        &fp,
        // Sold and reviewed: from the open tier, without the buyers.
        "Sold by Pujiang Navel Orange Cooperative (Sichuan) on ShopMart Online Marketplace",
        "Sweet, juicy, and still cold on arrival",
        "Pujiang Navel Orange Cooperative (Sichuan) answered",
        "Hidden by FreshGo Grocery App (Chengdu): it shows a courier's phone number",
        "4.5 of 5 from 2 verified purchases",
    ] {
        assert!(text.contains(want), "page shows `{want}`:\n{text}");
    }
    assert!(
        !text.contains("138 0000 1234"),
        "a hidden review's text is not shown"
    );
    let reviews = phone
        .execute(
            "return [...document.querySelectorAll('#reviews [data-review-state]')].map(e => e.dataset.reviewState);",
            serde_json::json!([]),
        )
        .await
        .expect("reviews");
    assert_eq!(
        reviews,
        serde_json::json!(["verified", "verified"]),
        "both reviews carry the verified-purchase mark the browser checked"
    );
    let facts = phone
        .execute(
            "return { fallback: !!document.getElementById('history'), \
steps: document.querySelectorAll('#timeline li').length, \
dots: document.querySelectorAll('#coldchain svg circle').length, \
out: document.querySelectorAll('#coldchain svg circle.out').length, \
band: document.querySelectorAll('#coldchain svg rect.band').length, \
scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, \
fontPx: parseFloat(getComputedStyle(document.body).fontSize), \
verifyMs: Number(document.body.dataset.verifyMs) };",
            serde_json::json!([]),
        )
        .await
        .expect("facts");
    assert_eq!(facts["fallback"], false, "the unverified copy is gone");
    assert!(facts["steps"].as_u64() >= Some(15), "{facts}");
    assert!(
        facts["dots"].as_u64() >= Some(15),
        "temperature chart: {facts}"
    );
    assert_eq!(facts["out"], 1, "the 8.6 °C reading is marked: {facts}");
    assert_eq!(facts["band"], 1, "allowed range drawn: {facts}");
    assert_eq!(facts["innerWidth"], 390, "{facts}");
    assert!(
        facts["scrollWidth"].as_u64() <= facts["innerWidth"].as_u64(),
        "no horizontal scrolling on a phone: {facts}"
    );
    assert!(
        facts["fontPx"].as_f64() >= Some(16.0),
        "readable type: {facts}"
    );
    println!("in-browser verification took {} ms", facts["verifyMs"]);
    phone
        .screenshot(&out.join("consumer-page-phone.png"))
        .await
        .expect("screenshot");
    phone
        .execute(
            "document.getElementById('coldchain').scrollIntoView(); return true;",
            serde_json::json!([]),
        )
        .await
        .expect("scroll");
    phone
        .screenshot(&out.join("consumer-page-phone-coldchain.png"))
        .await
        .expect("screenshot");
    // The page's Merkle code against every RFC 6962 inclusion vector of the
    // conformance suite (the same vectors the Rust verifier passes).
    let vectors = inclusion_vectors();
    assert!(vectors.len() >= 90, "{} inclusion vectors", vectors.len());
    let wrong = phone
        .execute(
            "const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));\
return Promise.all(arguments[0].map(async ([name, v]) => {\
  const hashes = [v.leafHash, v.root, ...(v.proof || [])].map(b64);\
  let err = hashes.some((h) => h.length !== 32) ? 'not 32 bytes' : null;\
  if (!err) err = await WaybillProof.verifyInclusion(hashes[0], v.leafIdx, v.treeSize, hashes.slice(2), hashes[1]);\
  return (!!err === !!v.wantErr) ? null : name + ': ' + (err || 'accepted');\
})).then((r) => r.filter(Boolean));",
            serde_json::json!([vectors]),
        )
        .await
        .expect("vectors run");
    assert_eq!(
        wrong,
        serde_json::json!([]),
        "JS inclusion verifier vs vectors"
    );
    // A link without the fingerprint has no trust root: not green.
    let (_, text) = open_page(&phone, &format!("{}{CARTON}", demo.url)).await;
    assert!(
        text.contains("check failed: fingerprint"),
        "no fingerprint, no green badge:\n{text}"
    );
    drop(phone);

    // 2. Without JavaScript: the history is there, marked not verified.
    let nojs = Browser::start(Options {
        mobile: true,
        javascript: false,
        width: 390,
        height: 844,
        ..Default::default()
    })
    .await
    .expect("browser");
    nojs.goto(&link).await.expect("page");
    let text = nojs.page_text().await.expect("text");
    for want in [
        "Not verified",
        "NOT VERIFIED",
        "Harvested",
        "Customs inspection",
        "Pujiang Gold navel orange orchard",
        "temperature readings",
    ] {
        assert!(
            text.to_uppercase().contains(&want.to_uppercase()),
            "no-JS page shows `{want}`:\n{text}"
        );
    }
    assert!(!text.contains("✔ Verified"), "{text}");
    nojs.screenshot(&out.join("consumer-page-nojs.png"))
        .await
        .expect("screenshot");
    drop(nojs);

    // 3. Over plain HTTP from a host that is not localhost (a phone on the network):
    // no WebCrypto, so nothing can be checked — the page says so and keeps the
    // node's copy marked not verified; it neither claims green nor hides the history.
    let lan = Browser::start(Options {
        mobile: true,
        host_rules: Some("MAP waybill.test 127.0.0.1".into()),
        width: 390,
        height: 844,
        ..Default::default()
    })
    .await
    .expect("browser");
    let port = demo.url.rsplit(':').next().expect("port");
    lan.goto(&format!("http://waybill.test:{port}{CARTON}?wb={fp}"))
        .await
        .expect("page over plain HTTP");
    let state = lan
        .wait_for(
            "const b = document.getElementById('badge'); return b && b.textContent.includes('HTTPS') ? b.dataset.state : null;",
            Duration::from_secs(30),
        )
        .await
        .expect("the page explains why it cannot check");
    let text = lan.page_text().await.expect("text");
    assert_eq!(state, "unverified", "{text}");
    assert!(
        text.contains("Customs inspection") && text.contains("not verified"),
        "{text}"
    );
    assert!(!text.contains("✔ Verified"), "{text}");
    lan.screenshot(&out.join("consumer-page-plain-http.png"))
        .await
        .expect("screenshot");
    drop(lan);

    // 4. A lying node: each lie turns the badge red and names the check.
    waybill_client::ensure_crypto_provider();
    let liar = Liar {
        upstream: demo.url.clone(),
        lie: Arc::new(Mutex::new(Lie::TamperedRecord)),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let liar_url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .fallback(lying_proxy)
        .with_state(liar.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let desktop = Browser::start(Options::default()).await.expect("browser");
    for (how, step) in [
        (Lie::TamperedRecord, "inclusion"),
        (Lie::ForgedSignature, "certificate"),
        (Lie::WrongValidatorSet, "fingerprint"),
        (Lie::OtherProduct, "subject"),
        (Lie::DroppedExcursion, "completeness"),
        (Lie::SplicedRecord, "subject"),
        (Lie::Reordered, "order"),
    ] {
        *liar.lie.lock().expect("lock") = how;
        let (state, text) = open_page(&desktop, &format!("{liar_url}{CARTON}?wb={fp}")).await;
        assert_eq!(state, "failed", "{how:?} is caught:\n{text}");
        assert!(
            text.contains(&format!("check failed: {step}")),
            "{how:?} names `{step}`:\n{text}"
        );
        let shown = desktop
            .execute(
                "return document.querySelectorAll('#timeline li, #history').length;",
                serde_json::json!([]),
            )
            .await
            .expect("count");
        assert_eq!(shown, 0, "{how:?}: no unverified history is shown");
        desktop
            .screenshot(&out.join(format!("consumer-page-lie-{how:?}.png")))
            .await
            .expect("screenshot");
    }
    // Synthetic four-validator chains: the browser and the Rust verifier agree on
    // weighted quorums and on validator-set changes.
    let subject = format!("https://id.gs1.org{CARTON}");
    for (case, step) in [
        (Synthetic::Valid, None),
        (Synthetic::ThreeSignersTooLittlePower, Some("certificate")),
        (Synthetic::ChangeOmitted, Some("validator set")),
        (Synthetic::OldSetSignsAfterChange, Some("certificate")),
    ] {
        let (bundle, synth_fp) = synthetic_bundle(case, &subject);
        let rust = waybill_types::proof::verify(
            &bundle,
            &waybill_types::proof::TrustRoot::Fingerprint(synth_fp.clone()),
        );
        assert_eq!(
            rust.as_ref().err().map(|e| e.step),
            step,
            "Rust verifier, {case:?}: {rust:?}"
        );
        *liar.lie.lock().expect("lock") = Lie::Synthetic(case);
        let (state, text) = open_page(&desktop, &format!("{liar_url}{CARTON}?wb={synth_fp}")).await;
        match step {
            None => {
                assert_eq!(state, "verified", "{case:?}:\n{text}");
                assert!(text.contains("4 records in 3 blocks"), "{case:?}:\n{text}");
                let checks = desktop
                    .execute(
                        "return document.getElementById('checks').textContent;",
                        serde_json::json!([]),
                    )
                    .await
                    .expect("checks");
                assert!(
                    checks
                        .as_str()
                        .is_some_and(|c| c.contains("1 governed change")),
                    "{checks}"
                );
            }
            Some(step) => {
                assert_eq!(state, "failed", "{case:?}:\n{text}");
                assert!(
                    text.contains(&format!("check failed: {step}")),
                    "{case:?} names `{step}`:\n{text}"
                );
            }
        }
    }
    drop(desktop);
    server.abort();
    drop(demo);
}
