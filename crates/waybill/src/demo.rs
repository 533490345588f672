//! The demo supply chain: a Sichuan orange cooperative, a packing plant, a
//! cold-chain carrier, an e-commerce platform, customs and a regulator; their
//! members; products and lots — all loaded as signed transactions through the API,
//! exactly as any client would. Loading is idempotent: what exists is skipped.

use anyhow::{bail, Context as _};
use std::path::Path;
use std::time::Duration;
use waybill_client::{Client, KeyFile};
use waybill_types::gs1::{with_check_digit, Gln, Gtin};
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, OrgId, Payload, PublicKey, Role, SecretKey,
};

use crate::home::Home;
use crate::serve::{self, Listen};

/// A founding organization of the development consortium.
pub struct DemoOrg {
    pub id: &'static str,
    pub name: &'static str,
    pub roles: &'static [Role],
    pub prefixes: &'static [&'static str],
}

pub const ORGS: &[DemoOrg] = &[
    DemoOrg {
        id: "pujiang-orchard",
        name: "Pujiang Navel Orange Cooperative (Sichuan)",
        roles: &[Role::Producer],
        prefixes: &["6901234"],
    },
    DemoOrg {
        id: "chengdu-packing",
        name: "Chengdu Fresh Packing Co.",
        roles: &[Role::Processor, Role::Warehouse],
        prefixes: &["6905678"],
    },
    DemoOrg {
        id: "coldchain-express",
        name: "ColdChain Express Logistics",
        roles: &[Role::Carrier, Role::Warehouse],
        prefixes: &[],
    },
    DemoOrg {
        id: "shopmart",
        name: "ShopMart Online Marketplace",
        roles: &[Role::Platform, Role::Financier],
        prefixes: &[],
    },
    DemoOrg {
        id: "chengdu-customs",
        name: "Chengdu Customs District",
        roles: &[Role::Customs, Role::Inspector],
        prefixes: &[],
    },
    DemoOrg {
        id: "sichuan-regulator",
        name: "Sichuan Market Regulation Administration",
        roles: &[Role::Regulator, Role::Inspector],
        prefixes: &[],
    },
];

/// The development genesis: the organizations above with `admins` (same order),
/// one validator run by the platform.
pub fn genesis(
    chain_id: &str,
    admins: &[PublicKey],
    validator: PublicKey,
) -> anyhow::Result<Genesis> {
    let organizations = ORGS
        .iter()
        .zip(admins)
        .map(|(o, admin)| {
            Ok(GenesisOrganization {
                id: OrgId::new(o.id)?,
                name: o.name.to_string(),
                admin: *admin,
                roles: o.roles.to_vec(),
                company_prefixes: o.prefixes.iter().map(|p| p.to_string()).collect(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let genesis_time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let g = Genesis {
        chain_id: chain_id.to_string(),
        genesis_time_ms,
        organizations,
        validators: vec![GenesisValidator {
            org: OrgId::new("shopmart")?,
            public_key: validator,
            voting_power: 1,
        }],
    };
    g.check()?;
    Ok(g)
}

struct DemoMember {
    slug: &'static str,
    org: &'static str,
    name: &'static str,
    roles: &'static [Role],
}

const MEMBERS: &[DemoMember] = &[
    DemoMember {
        slug: "li-wei",
        org: "pujiang-orchard",
        name: "Li Wei, harvest team lead",
        roles: &[Role::Producer],
    },
    DemoMember {
        slug: "zhang-min",
        org: "pujiang-orchard",
        name: "Zhang Min, farm records",
        roles: &[Role::Producer],
    },
    DemoMember {
        slug: "wang-fang",
        org: "chengdu-packing",
        name: "Wang Fang, packing line supervisor",
        roles: &[Role::Processor],
    },
    DemoMember {
        slug: "liu-yang",
        org: "chengdu-packing",
        name: "Liu Yang, cold store",
        roles: &[Role::Warehouse],
    },
    DemoMember {
        slug: "chen-jie",
        org: "coldchain-express",
        name: "Chen Jie, reefer truck driver",
        roles: &[Role::Carrier],
    },
    DemoMember {
        slug: "zhao-lei",
        org: "shopmart",
        name: "Zhao Lei, fresh produce category manager",
        roles: &[Role::Platform],
    },
    DemoMember {
        slug: "sun-li",
        org: "chengdu-customs",
        name: "Sun Li, export inspection officer",
        roles: &[Role::Customs, Role::Inspector],
    },
    DemoMember {
        slug: "guo-hua",
        org: "sichuan-regulator",
        name: "Guo Hua, food safety auditor",
        roles: &[Role::Regulator],
    },
];

fn gtin(data13: &str) -> anyhow::Result<Gtin> {
    Ok(with_check_digit(data13)?.parse()?)
}

fn gln(data12: &str) -> anyhow::Result<Gln> {
    Ok(with_check_digit(data12)?.parse()?)
}

/// Submit `payload` as `key` and wait for the receipt; fail unless applied.
async fn apply(
    client: &Client,
    chain_id: &str,
    key: &SecretKey,
    payload: Payload,
) -> anyhow::Result<serde_json::Value> {
    let what = payload.kind();
    let seq = client.next_seq(&key.public()).await?;
    let tx = waybill_client::sign(key, chain_id, seq, payload);
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

/// Load the demo data set into the node at `client` (skipping what exists).
/// Returns the number of transactions submitted.
pub async fn load(home: &Home, client: &Client) -> anyhow::Result<usize> {
    let chain_id = client.chain_id().await?;
    let mut n = 0;
    // Members: each org admin registers its people. Keys are kept so a user can act as them.
    for m in MEMBERS {
        let path = home.member_key(m.slug);
        let key = if path.exists() {
            KeyFile::read(&path)?.1
        } else {
            let k = SecretKey::generate();
            KeyFile::write(&path, m.name, &k)?;
            k
        };
        if exists(client, &format!("/v1/members/{}", key.public())).await? {
            continue;
        }
        let (_, admin) = KeyFile::read(&home.org_admin_key(m.org))?;
        applied(
            client,
            &chain_id,
            &admin,
            Payload::RegisterMember {
                member: key.public(),
                name: m.name.into(),
                roles: m.roles.to_vec(),
            },
        )
        .await?;
        n += 1;
    }
    let member =
        |slug: &str| -> anyhow::Result<SecretKey> { Ok(KeyFile::read(&home.member_key(slug))?.1) };
    let li_wei = member("li-wei")?;
    let wang_fang = member("wang-fang")?;
    let orchard_gln = gln("690123400001")?;
    let packing_gln = gln("690567800001")?;
    let navel = gtin("0690123400001")?;
    let blood = gtin("0690123400002")?;
    let juice = gtin("0690567800001")?;
    let products = [
        (
            &li_wei,
            &navel,
            "Pujiang navel oranges, 5 kg carton",
            "Pujiang Gold",
            "fresh fruit / citrus",
        ),
        (
            &li_wei,
            &blood,
            "Pujiang blood oranges, 2.5 kg gift box",
            "Pujiang Gold",
            "fresh fruit / citrus",
        ),
        (
            &wang_fang,
            &juice,
            "Not-from-concentrate orange juice, 1 L",
            "Chengdu Fresh",
            "beverages / juice",
        ),
    ];
    for (key, g, name, brand, category) in products {
        if exists(client, &format!("/v1/products/{g}")).await? {
            continue;
        }
        let p = Payload::RegisterProduct {
            gtin: g.clone(),
            name: name.into(),
            brand: brand.into(),
            category: category.into(),
            origin_country: "CN".into(),
        };
        applied(client, &chain_id, key, p).await?;
        n += 1;
    }
    let lots = [
        (
            &li_wei,
            &navel,
            "PJ2611A",
            Some(orchard_gln.clone()),
            "2026-11-02",
            12_000,
            "kg",
        ),
        (
            &li_wei,
            &navel,
            "PJ2611B",
            Some(orchard_gln.clone()),
            "2026-11-09",
            9_500,
            "kg",
        ),
        (
            &li_wei,
            &blood,
            "PJB2611",
            Some(orchard_gln),
            "2026-11-05",
            3_000,
            "kg",
        ),
        (
            &wang_fang,
            &juice,
            "JC261112",
            Some(packing_gln),
            "2026-11-12",
            4_800,
            "bottle",
        ),
    ];
    for (key, g, lot, origin, date, qty, unit) in lots {
        if exists(client, &format!("/v1/lots/{g}/{lot}")).await? {
            continue;
        }
        let p = Payload::RegisterLot {
            gtin: g.clone(),
            lot: lot.into(),
            origin_gln: origin,
            produced_on: date.into(),
            quantity: qty,
            unit: unit.into(),
        };
        applied(client, &chain_id, key, p).await?;
        n += 1;
    }
    Ok(n)
}

/// `waybill demo`.
pub async fn run(dir: &Path, listen: &str) -> anyhow::Result<()> {
    let home = Home::new(dir);
    let fresh = !home.is_initialized();
    if fresh {
        crate::commands::init(dir, "waybill-dev")?;
    }
    let nf = home.read_node_file()?;
    let served = serve::start(
        &home,
        Listen {
            api: listen.to_string(),
            p2p: nf.p2p_listen,
            peers: nf.peers,
            peer_apis: nf.peer_apis,
            byzantine: None,
        },
    )
    .await?;
    let url = format!("http://{}", served.api_addr);
    let client = Client::new(&url);
    client.wait_ready(Duration::from_secs(30)).await?;
    let n = load(&home, &client)
        .await
        .context("loading the demo data")?;
    let status = client.status().await?;
    let d = dir.display();
    println!(
        "\nWaybill demo is running ({}).\n  chain `{}`, height {}, {} demo transactions {}\n\n\
Open in a browser:\n  {url}/                      explorer: organizations, products, lots, blocks\n  {url}/v1/status             chain status (JSON)\n  {url}/v1/products           products · {url}/openapi.json  the API\n\n\
Try, in another terminal:\n  cargo run --release -- status\n  cargo run --release -- block 1\n  cargo run --release -- submit --key {d}/keys/members/li-wei.json examples/register-lot.json\n  \
(after Ctrl-C) cargo run --release -- verify --dir {d}\n\nCtrl-C stops the node; running the demo again resumes from {d}.",
        if fresh { "new consortium" } else { "resumed" },
        status["chain_id"].as_str().unwrap_or("?"),
        status["height"],
        n,
        if n == 0 { "needed (already loaded)" } else { "submitted" },
    );
    served.run_until_stopped().await
}
