//! The demo supply chain: a Sichuan orange cooperative, a packing plant, a
//! cold-chain carrier, an e-commerce platform, customs and a regulator; their
//! members; products and lots — all loaded as signed transactions through the API,
//! exactly as any client would. Loading is idempotent: what exists is skipped.

use waybill_types::payload::RegisterMember;

use anyhow::{bail, Context as _};
use std::path::Path;
use std::time::Duration;
use waybill_client::{Client, KeyFile};
use waybill_types::{Payload, SecretKey};

use waybill_server::home::Home;
use waybill_server::serve::{self, Listen};

use crate::manifest::manifest;

/// Submit `payload` as `key` and wait for the receipt; fail unless applied.
async fn apply(
    client: &Client,
    chain_id: &str,
    key: &SecretKey,
    payload: Payload,
) -> anyhow::Result<serde_json::Value> {
    let what = payload.kind();
    let tx = waybill_client::sign(key, chain_id, payload);
    let v = client
        .submit(&tx, true)
        .await
        .with_context(|| format!("demo {what}"))?;
    Ok(v)
}

async fn applied(
    client: &Client,
    chain_id: &str,
    key: &SecretKey,
    payload: Payload,
) -> anyhow::Result<()> {
    let what = payload.kind();
    let v = apply(client, chain_id, key, payload).await?;
    if v["status"] != "applied" {
        bail!("demo {what} was not applied: {v}");
    }
    Ok(())
}

async fn exists(client: &Client, path: &str) -> anyhow::Result<bool> {
    match client.get(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.code().is_some_and(|c| c.starts_with("unknown_")) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Load the demo data set into the node at `client`: members, then the manifest's
/// steps. Progress is kept in `DIR/demo-progress`, so a rerun resumes where the last
/// one stopped; a step that finds its record already there (`duplicate`) counts as
/// done. Returns the number of transactions submitted.
pub async fn load(home: &Home, client: &Client) -> anyhow::Result<usize> {
    let m = manifest()?;
    let chain_id = client.chain_id().await?;
    let mut n = 0;
    // Members: each org admin registers its people. Keys are kept so a user can act as them.
    for mm in &m.members {
        let path = home.member_key(&mm.slug);
        let key = if path.exists() {
            KeyFile::read(&path)?.1
        } else {
            let k = SecretKey::generate();
            KeyFile::write(&path, &mm.name, &k)?;
            k
        };
        if exists(client, &format!("/v1/members/{}", key.public())).await? {
            continue;
        }
        let (_, admin) = KeyFile::read(&home.org_admin_key(&mm.org))?;
        applied(
            client,
            &chain_id,
            &admin,
            Payload::RegisterMember(RegisterMember {
                member: key.public(),
                name: mm.name.clone(),
                roles: mm.roles.clone(),
            }),
        )
        .await?;
        n += 1;
    }
    for c in &m.consumers {
        let path = home.consumer_key(&c.slug);
        if !path.exists() {
            KeyFile::write(&path, &c.name, &SecretKey::generate())?;
        }
    }
    n += encryption_keys(home, client, &m).await?;
    let progress_path = home.dir.join("demo-progress");
    let done: usize = std::fs::read_to_string(&progress_path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    for (i, step) in m.steps.iter().enumerate().skip(done) {
        let key = crate::who::member_key(&home.dir, &step.who)
            .with_context(|| format!("demo step {}", i + 1))?;
        let ctx = StepCtx {
            home,
            client,
            chain_id: &chain_id,
            key: &key,
            n: i + 1,
        };
        run_step(&ctx, step)
            .await
            .with_context(|| format!("demo step {}", i + 1))?;
        n += 1;
        std::fs::write(&progress_path, (i + 1).to_string())
            .with_context(|| format!("cannot write {}", progress_path.display()))?;
    }
    Ok(n)
}

/// What a step runs with.
struct StepCtx<'a> {
    home: &'a Home,
    client: &'a Client,
    chain_id: &'a str,
    /// The key of the step's `as`.
    key: &'a SecretKey,
    /// The step's number, from 1.
    n: usize,
}

/// Run one step. A step a stopped run already did counts as done: a record that is
/// there (`duplicate`), a transfer or an order already made (`exists`), a buyer's step already
/// taken (`order_state`), a sealed capture already stored.
async fn run_step(c: &StepCtx<'_>, step: &crate::manifest::Step) -> anyhow::Result<()> {
    match (
        &step.payload,
        &step.capture,
        &step.order,
        &step.buyer_step,
        &step.wait_order,
    ) {
        (Some(p), None, None, None, None) => {
            let p: Payload = serde_json::from_str(&expand(c.home, &p.to_string())?)
                .context("the step's payload does not parse")?;
            // A deposit or a conversion already made says `exists` (its client id).
            submit_step(c, p, &["duplicate", "exists"]).await.map(drop)
        }
        (None, Some(file), None, None, None) => capture_step(c, step, file).await,
        (None, None, Some(intent), None, None) => {
            let buyer = step
                .buyer
                .as_deref()
                .context("an order step names its buyer")?;
            let buyer_key = crate::who::member_key(&c.home.dir, buyer)?;
            let v: serde_json::Value = serde_json::from_str(&expand(c.home, &intent.to_string())?)?;
            let intent = crate::order_cmds::complete_intent(v, c.chain_id, &buyer_key)?;
            // The address is erasable personal data: its private part goes to the
            // demo's node, which keeps every organization's.
            let (sealed, detached) = match &step.ship_to {
                Some(addr) => {
                    let (text, part) =
                        crate::order_cmds::seal_ship_to(c.client, c.key, &intent, addr, true)
                            .await?;
                    (Some(text), part)
                }
                None => (None, None),
            };
            let mut p = crate::order_cmds::sign_intent(intent, &buyer_key);
            if let Payload::PlaceOrder(po) = &mut p {
                po.ship_to = sealed;
            }
            let placed_now = submit_step(c, p, &["exists"]).await?;
            match detached {
                Some(part) if placed_now => {
                    let spill = c.home.dir.join("private-parts.json");
                    crate::seal_cmds::deliver(
                        std::slice::from_ref(c.client),
                        c.key,
                        &[part],
                        &spill,
                    )
                    .await
                }
                _ => Ok(()),
            }
        }
        (None, None, None, Some(b), None) => {
            let buyer_key = crate::who::member_key(&c.home.dir, &b.buyer)?;
            let p = crate::order_cmds::order_action(
                c.chain_id,
                buyer_key.public(),
                &b.order,
                b.step.clone(),
                Some(&buyer_key),
            );
            submit_step(c, p, &["order_state"]).await.map(drop)
        }
        (None, None, None, None, Some(w)) => wait_order(c, w).await,
        (None, None, None, None, None) => match &step.review {
            Some(r) => {
                let buyer_key = crate::who::member_key(&c.home.dir, &r.buyer)?;
                let p = crate::order_cmds::review_payload(
                    c.chain_id,
                    &buyer_key,
                    &r.order,
                    r.gtin.clone(),
                    r.rating,
                    &r.title,
                    &r.text,
                );
                submit_step(c, p, &["duplicate"]).await.map(drop)
            }
            None => bail!(
                "a step has one of payload, capture, order, buyer_step, wait_order and review"
            ),
        },
        _ => bail!(
            "a step has exactly one of payload, capture, order, buyer_step, wait_order and review"
        ),
    }
}

/// Submit `p` as the step's member; applied, or refused with one of `done_codes`
/// (what a rerun of a step that was done says).
/// Submit a step's payload; whether it was applied now (not done by a stopped run).
async fn submit_step(c: &StepCtx<'_>, p: Payload, done_codes: &[&str]) -> anyhow::Result<bool> {
    let kind = p.kind();
    let v = apply(c.client, c.chain_id, c.key, p).await?;
    let done = v["reason"]["code"]
        .as_str()
        .is_some_and(|code| done_codes.contains(&code));
    if v["status"] != "applied" && !done {
        bail!("{kind} was not applied: {v}");
    }
    Ok(!done)
}

/// Capture a demo document (its placeholders filled in, its fields sealed if the
/// step says so).
async fn capture_step(
    c: &StepCtx<'_>,
    step: &crate::manifest::Step,
    file: &str,
) -> anyhow::Result<()> {
    let doc = crate::demo_files::DOCUMENTS
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, d)| d.to_string())
        .with_context(|| format!("demo document {file} is not embedded"))?;
    let mut doc = expand(c.home, &doc)?;
    if !step.seal.is_empty() {
        match seal_step(c.client, c.chain_id, c.key, &doc, step).await? {
            Some(sealed) => doc = sealed,
            // Captured by a run that stopped before noting it.
            None => return Ok(()),
        }
    }
    let job = c
        .client
        .capture(c.key, c.chain_id, doc, true)
        .await
        .with_context(|| format!("capturing {file}"))?;
    if job["success"] != true {
        bail!("capturing {file} failed: {job}");
    }
    Ok(())
}

/// Wait (at most a minute) until an order is in the state the step names: its
/// deadlines act at the start of a block, and the node makes a block every second
/// when idle.
async fn wait_order(c: &StepCtx<'_>, w: &crate::manifest::WaitOrder) -> anyhow::Result<()> {
    let buyer = crate::who::member_key(&c.home.dir, &w.buyer)?.public();
    let path = format!("/v1/orders/{buyer}/{}", w.order);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let o = c.client.get_as(&path, c.key).await?;
        if o["state"] == w.state.as_str() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "order `{}` is still {} after a minute, not {} (step {})",
                w.order,
                o["state"],
                w.state,
                c.n
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `text` with its placeholders filled in: `{key:SLUG}` (the public key, hex, of a
/// member, consumer or `admin:ORG`), `{review:BUYER:ORDER}` (the review key of a
/// buyer's order), `{now}` and `{now+MS}` (wall-clock ms; written
/// as a JSON string, `"{now}"`, it becomes a JSON number).
pub fn expand(home: &Home, text: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail.find('}').map(|e| e + 1);
        let token = end.map(|e| &tail[1..e - 1]);
        let filled = match token {
            Some(t) if t.starts_with("key:") => Some(
                crate::who::member_key(&home.dir, &t[4..])?
                    .public()
                    .to_hex(),
            ),
            Some(t) if t.starts_with("review:") => {
                let (buyer, order) = t[7..]
                    .split_once(':')
                    .with_context(|| format!("`{{{t}}}`: review:BUYER:ORDER"))?;
                let k = crate::who::member_key(&home.dir, buyer)?;
                Some(
                    crate::order_cmds::review_secret(&k, order)
                        .0
                        .public()
                        .to_hex(),
                )
            }
            Some("now") => Some(waybill_client::now_ms().to_string()),
            Some(t) if t.starts_with("now+") => {
                let ms: u64 = t[4..]
                    .parse()
                    .with_context(|| format!("`{{{t}}}`: milliseconds after now"))?;
                Some((waybill_client::now_ms() + ms).to_string())
            }
            _ => None,
        };
        let is_number = token.is_some_and(|t| t.starts_with("now"));
        match (filled, end) {
            // A time written as a JSON string ("{now+5000}") becomes a JSON number.
            (Some(f), Some(e)) if is_number && out.ends_with('"') && tail[e..].starts_with('"') => {
                out.pop();
                out.push_str(&f);
                rest = &tail[e + 1..];
            }
            (Some(f), Some(e)) => {
                out.push_str(&f);
                rest = &tail[e..];
            }
            _ => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Every demo organization gets an encryption key (docs/PRIVACY.md), its secret in
/// the admin's key file and shared with the organization's members, so that the
/// demo's sealed fields (an inspection report, a purchase price) open for the
/// members who may read them. Returns the number of keys registered.
async fn encryption_keys(
    home: &Home,
    client: &Client,
    m: &crate::manifest::Manifest,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for o in &m.organizations {
        let org = waybill_types::OrgId::new(&o.id)?;
        let admin = home.org_admin_key(&o.id);
        if crate::seal_cmds::current_version(client, &org).await? == 0 {
            crate::seal_cmds::rotate_key(client, &admin).await?;
            n += 1;
        }
        let secrets = KeyFile::read_seal_keys(&admin)?;
        for mm in m.members.iter().filter(|mm| mm.org == o.id) {
            KeyFile::add_seal_keys(&home.member_key(&mm.slug), &secrets)?;
        }
    }
    Ok(n)
}

/// A demo step's document with its fields sealed (as `waybill capture --seal`), or
/// `None` if its sealed events are on the ledger already (each has a fixed eventID).
async fn seal_step(
    client: &Client,
    chain_id: &str,
    key: &SecretKey,
    doc: &str,
    step: &crate::manifest::Step,
) -> anyhow::Result<Option<String>> {
    let specs = step
        .seal
        .iter()
        .map(|s| s.parse::<crate::trace_cmds::SealSpec>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let v: serde_json::Value = serde_json::from_str(doc)?;
    let mut ids = Vec::new();
    for e in v["epcisBody"]["eventList"].as_array().into_iter().flatten() {
        if specs.iter().any(|s| e.pointer(&s.pointer).is_some()) {
            ids.push(
                e["eventID"]
                    .as_str()
                    .context("a demo event with a sealed field has a fixed eventID")?
                    .to_owned(),
            );
        }
    }
    let mut all_there = !ids.is_empty();
    for id in &ids {
        let path = format!("/epcis/events/{}", crate::seal_cmds::pct(id));
        match client.get_as(&path, key).await {
            Ok(_) => {}
            Err(e) if e.code() == Some("unknown_event") => all_there = false,
            Err(e) => return Err(e.into()),
        }
    }
    if all_there {
        return Ok(None);
    }
    let recipients = crate::trace_cmds::seal_recipients(client, key, &step.seal_for).await?;
    crate::trace_cmds::seal_document(doc, chain_id, &specs, &recipients).map(Some)
}

/// A free TCP port on `ip`, as a p2p multiaddr.
fn free_p2p_addr(ip: std::net::IpAddr) -> anyhow::Result<String> {
    let port = std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .with_context(|| format!("cannot find a free TCP port on {ip} for p2p"))?
        .port();
    Ok(match ip {
        std::net::IpAddr::V4(a) => format!("/ip4/{a}/tcp/{port}"),
        std::net::IpAddr::V6(a) => format!("/ip6/{a}/tcp/{port}"),
    })
}

/// The p2p address a demo uses: `--p2p-listen`; else node.json's, unless `--listen`
/// moved the API elsewhere, in which case a free port on the API's host (so that a
/// second demo never shares the first one's p2p port).
fn demo_p2p(
    listen: Option<&str>,
    p2p_listen: Option<&str>,
    nf: &waybill_server::home::NodeFile,
) -> anyhow::Result<String> {
    if let Some(p) = p2p_listen {
        return Ok(p.to_string());
    }
    match listen {
        Some(l) if l != nf.api_listen => {
            let ip = l
                .parse::<std::net::SocketAddr>()
                .map(|a| a.ip())
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
            free_p2p_addr(ip)
        }
        _ => Ok(nf.p2p_listen.clone()),
    }
}

/// The readiness condition `waybill demo` holds until its data is loaded.
pub const DEMO_LOADED: &str = "demo_loaded";

/// `waybill demo`: `listen` and `p2p_listen` override node.json; what the demo listens
/// on is written back to it (so `waybill status --dir DIR` finds it).
pub async fn run(
    dir: &Path,
    listen: Option<&str>,
    p2p_listen: Option<&str>,
    tls: Option<serve::TlsFiles>,
) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let fresh = !home.is_initialized();
    if fresh {
        crate::commands::init(dir, "waybill-dev")?;
    }
    let mut nf = home.read_node_file()?;
    let p2p = demo_p2p(listen, p2p_listen, &nf)?;
    let api = listen.map_or_else(|| nf.api_listen.clone(), str::to_string);
    // node.json says where the demo listens from the moment its API answers (a client
    // that sees the API up reads the right p2p port): written before the start, put
    // back if the start fails (a port in use), and corrected after it when the API
    // port was chosen by the system (`:0`).
    let before = nf.clone();
    if !api.ends_with(":0") {
        nf.api_listen = api.clone();
    }
    nf.p2p_listen = p2p.clone();
    let planned = nf.api_listen != before.api_listen || nf.p2p_listen != before.p2p_listen;
    if planned {
        waybill_server::home::write_node_file(&home, &nf)?;
    }
    let started = serve::start_holding(
        &home,
        Listen {
            api: api.clone(),
            p2p: p2p.clone(),
            peers: nf.peers.clone(),
            peer_apis: nf.peer_apis.clone(),
            byzantine: None,
            tls: tls.clone(),
        },
        &[(DEMO_LOADED, "the demo data is loading")],
    )
    .await;
    let served = match started {
        Ok(s) => s,
        Err(e) => {
            if planned {
                waybill_server::home::write_node_file(&home, &before)?;
            }
            return Err(e);
        }
    };
    if api.ends_with(":0") {
        nf.api_listen = served.api_addr.to_string();
        waybill_server::home::write_node_file(&home, &nf)?;
    }
    let url = served.api_url.clone();
    // The loader is a client of the API like any other: over TLS it trusts the
    // node's own certificate (self-signed in a demo) besides nothing else.
    let client = match &tls {
        Some(t) => Client::with_trusted_certificates(&url, &t.cert)?,
        None => Client::new(&url),
    };
    client.wait_ready(Duration::from_secs(30)).await?;
    let n = load(&home, &client)
        .await
        .context("loading the demo data")?;
    served.node.shared.readiness.release(DEMO_LOADED);
    println!("demo loaded");
    let status = client.status().await?;
    let d = dir.display();
    let carton = "https://id.gs1.org/01/06901234000016/21/261103015";
    let fp = waybill_types::proof::fingerprint(&home.read_genesis()?);
    let carton_page = format!("{url}/01/06901234000016/21/261103015?wb={fp}");
    println!(
        "\nWaybill demo is running ({}).\n  chain `{}`, height {}, {} demo transactions {}\n  API {url}, p2p {p2p} (recorded in {d}/node.json)\n\n\
Open in a browser:\n  {url}/labels                          the products' QR codes: scan one with a phone, or click it\n  \
{carton_page}\n      one carton's page: the orange's journey from the orchard, checked in your browser\n  \
{url}/                                explorer: organizations, products, lots, blocks\n  \
{url}/openapi.json                    the API\n\n\
Try, in another terminal:\n  \
cargo run --release -- trace {carton} --as guo-hua --dir {d}\n      the carton's journey back to the orchard (as the regulator)\n  \
cargo run --release -- trace 06901234000016/PJ2611A --forward --as guo-hua --dir {d}\n      recall: everywhere lot PJ2611A went\n  \
cargo run --release -- trace {carton} --as zhao-lei --dir {d}\n      the same as the platform: customs inspections are not readable by it\n  \
cargo run --release -- events EQ_bizStep=inspecting --as sun-li --dir {d}\n  \
cargo run --release -- orders list --as zhao-lei --dir {d}\n      ShopMart's orders: settled, cancelled, expired, refunded (docs/ORDERS.md)\n  \
cargo run --release -- inventory --as liu-yang --dir {d}\n      one stock shared by ShopMart and FreshGo\n  \
cargo run --release -- audit --product 06901234000016 --as guo-hua --dir {d}\n  \
cargo run --release -- capture my-events.jsonld --as li-wei --dir {d}\n  \
cargo run --release -- status · block 1 · verify --dir {d} (after Ctrl-C)\n\n\
Ctrl-C stops the node; running the demo again resumes from {d}.",
        if fresh { "new consortium" } else { "resumed" },
        status["chain_id"].as_str().unwrap_or("?"),
        status["height"],
        n,
        if n == 0 { "needed (already loaded)" } else { "submitted" },
    );
    served.run_until_stopped().await
}
