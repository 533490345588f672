//! `waybill bench --workload orders`: complete orders per second. Each order is
//! placed from a consumer's signed intent by a platform clerk (listing, lot status,
//! stock and price checked, stock reserved, money escrowed), shipped by an EPCIS
//! shipping event naming it (the seller's warehouse captures
//! [`ORDERS_PER_CAPTURE`](crate::workload::ORDERS_PER_CAPTURE) to a document), confirmed
//! delivered by the buyer through the platform, and settled at the start of the next
//! block (a zero return window): the escrow posted to the seller and the platform.

use anyhow::Context as _;
use serde_json::json;
use waybill_gs1::{with_check_digit, Gln, Gtin};
use waybill_types::money::{AccountId, AccountOwner, Amount, Currency};
use waybill_types::payload::commerce::{
    AdjustStock, OrderAction, OrderIntent, OrderLine, OrderStep, OrderTerms, PlaceOrder,
    SetListing, StockChange, ORDER_ACTION_DOMAIN, ORDER_INTENT_DOMAIN,
};
use waybill_types::payload::{
    CaptureEpcis, Deposit, OpenAccount, RegisterLocation, RegisterLot, RegisterMember,
    RegisterProduct,
};
use waybill_types::{GenesisOrganization, OrgId, Payload, Role, SecretKey, SignedTx};

use crate::workload::{bench_genesis, TxBenchOptions, Workload, ORDERS_PER_CAPTURE};

/// The orders workload: one seller (farm with a warehouse), one platform, a payment
/// provider; `o.n_members` consumers, each funded; the measured lanes hold, per lane,
/// batches of placements, their shipping document, and their confirmations.
pub(crate) fn order_workload(o: &TxBenchOptions, n_validators: usize) -> anyhow::Result<Workload> {
    let farm_admin = SecretKey::generate();
    let shop_admin = SecretKey::generate();
    let bank = SecretKey::generate();
    let validators: Vec<SecretKey> = (0..n_validators).map(|_| SecretKey::generate()).collect();
    let (farm, shop) = (OrgId::new("bench-farm")?, OrgId::new("bench-shop")?);
    let org = |id: &OrgId, name: &str, admin: &SecretKey, roles: Vec<Role>, prefix: &[&str]| {
        GenesisOrganization {
            id: id.clone(),
            name: name.into(),
            admin: admin.public(),
            roles,
            company_prefixes: prefix.iter().map(|p| p.to_string()).collect(),
        }
    };
    let genesis = bench_genesis(
        vec![
            org(
                &farm,
                "Benchmark Farm",
                &farm_admin,
                vec![Role::Producer, Role::Warehouse],
                &["6900001"],
            ),
            org(
                &shop,
                "Benchmark Shop",
                &shop_admin,
                vec![Role::Platform],
                &[],
            ),
            org(
                &OrgId::new("bench-bank")?,
                "Benchmark Bank",
                &bank,
                vec![Role::PaymentProvider],
                &[],
            ),
        ],
        &validators,
    )?;
    let chain_id = genesis.chain_id.clone();
    let sign = |k: &SecretKey, p: Payload| waybill_client::sign(k, &chain_id, p);
    let cny = Currency::new("CNY")?;
    let gtin: Gtin = with_check_digit("0690000100001")?.parse()?;
    let gln: Gln = with_check_digit("690000100001")?.parse()?;
    let n_lanes = o.concurrency.max(1);
    let clerks: Vec<SecretKey> = (0..n_lanes).map(|_| SecretKey::generate()).collect();
    let pickers: Vec<SecretKey> = (0..n_lanes).map(|_| SecretKey::generate()).collect();
    let buyers: Vec<SecretKey> = (0..o.n_members).map(|_| SecretKey::generate()).collect();
    let wallet = |b: &SecretKey| AccountId {
        owner: AccountOwner::Key(b.public()),
        currency: cny,
        name: "wallet".into(),
    };
    let per_buyer = o.n_txs / o.n_members;
    let n_orders = per_buyer * o.n_members;
    // Phase 1: members, product, location.
    let mut members = Vec::new();
    for (i, (c, p)) in clerks.iter().zip(&pickers).enumerate() {
        members.push(sign(
            &shop_admin,
            Payload::RegisterMember(RegisterMember {
                member: c.public(),
                name: format!("bench clerk {i}"),
                roles: vec![Role::Platform],
            }),
        ));
        members.push(sign(
            &farm_admin,
            Payload::RegisterMember(RegisterMember {
                member: p.public(),
                name: format!("bench picker {i}"),
                roles: vec![Role::Warehouse],
            }),
        ));
    }
    members.push(sign(
        &farm_admin,
        Payload::RegisterProduct(RegisterProduct {
            gtin: gtin.clone(),
            name: "Benchmark oranges".into(),
            brand: "Bench".into(),
            category: "fresh fruit".into(),
            origin_country: "CN".into(),
        }),
    ));
    members.push(sign(
        &farm_admin,
        Payload::RegisterLocation(RegisterLocation {
            gln: gln.clone(),
            name: "Benchmark warehouse".into(),
            kind: "warehouse".into(),
            address: "1 Bench Road".into(),
            country: "CN".into(),
            latitude: None,
            longitude: None,
        }),
    ));
    // Phase 2: the lot, accounts, stock, deposits.
    let mut funds = vec![
        sign(
            &farm_admin,
            Payload::RegisterLot(RegisterLot {
                gtin: gtin.clone(),
                lot: "B1".into(),
                origin_gln: None,
                produced_on: "2026-11-21".into(),
                quantity: 1,
                unit: "kg".into(),
                inputs: vec![],
                raw_materials: vec![],
                claims: vec![],
            }),
        ),
        sign(
            &farm_admin,
            Payload::OpenAccount(OpenAccount {
                account: AccountId::org(&farm, cny, "sales"),
                flags: Default::default(),
            }),
        ),
        sign(
            &shop_admin,
            Payload::OpenAccount(OpenAccount {
                account: AccountId::org(&shop, cny, "fees"),
                flags: Default::default(),
            }),
        ),
        sign(
            &farm_admin,
            Payload::AdjustStock(AdjustStock {
                location: gln.clone(),
                gtin: gtin.clone(),
                change: StockChange::Count {
                    on_hand: 1_000_000_000,
                },
            }),
        ),
    ];
    for (i, b) in buyers.iter().enumerate() {
        funds.push(sign(
            &bank,
            Payload::Deposit(Deposit {
                id: format!("fund-{i}"),
                account: wallet(b),
                amount: Amount(1_000_000_000_000),
                reference: format!("BENCH-FUND-{i}"),
            }),
        ));
    }
    // Phase 3: the listing.
    let listing = vec![sign(
        &farm_admin,
        Payload::SetListing(SetListing {
            gtin: gtin.clone(),
            seller: farm.clone(),
            platform: Some(shop.clone()),
            currency: cny,
            unit_price: Amount(3_980),
            platform_fee_bps: 500,
            discounts: vec![],
            ship_from: gln.clone(),
            lot: Some("B1".into()),
            carrier: None,
            terms: OrderTerms {
                ship_within_ms: 3_600_000,
                deliver_within_ms: 3_600_000,
                return_window_ms: 0,
            },
            active: true,
        }),
    )];
    // The measured lanes: buyer i's orders go to lane i % n_lanes.
    let expires = waybill_client::now_ms() + 3_600_000;
    let mut lane_orders: Vec<Vec<(usize, String)>> = vec![Vec::new(); n_lanes];
    for s in 0..per_buyer {
        for i in 0..o.n_members {
            lane_orders[i % n_lanes].push((i, format!("o{s}")));
        }
    }
    let mut lanes: Vec<Vec<SignedTx>> = vec![Vec::new(); n_lanes];
    let mut n_txs = 0;
    for (l, orders) in lane_orders.iter().enumerate() {
        for chunk in orders.chunks(ORDERS_PER_CAPTURE) {
            for (i, id) in chunk {
                let b = &buyers[*i];
                let intent = OrderIntent {
                    chain_id: chain_id.clone(),
                    id: id.clone(),
                    buyer: b.public(),
                    seller: farm.clone(),
                    platform: Some(shop.clone()),
                    lines: vec![OrderLine {
                        gtin: gtin.clone(),
                        quantity: 1,
                    }],
                    currency: cny,
                    max_total: Amount(3_980),
                    pay_from: wallet(b),
                    expires_at_ms: expires,
                    coupon: None,
                    review_key_hash: None,
                };
                let signature = b.sign(ORDER_INTENT_DOMAIN, &intent.signing_bytes());
                lanes[l].push(sign(
                    &clerks[l],
                    Payload::PlaceOrder(PlaceOrder {
                        intent,
                        signature,
                        ship_to: None,
                    }),
                ));
            }
            lanes[l].push(sign(
                &pickers[l],
                Payload::CaptureEpcis(CaptureEpcis {
                    document: shipping_document(
                        chunk.iter().map(|(i, id)| (&buyers[*i], id.as_str())),
                    ),
                }),
            ));
            for (i, id) in chunk {
                let b = &buyers[*i];
                let step = OrderStep::ConfirmDelivery;
                let bytes = OrderAction::signing_bytes(&chain_id, &b.public(), id, &step);
                lanes[l].push(sign(
                    &clerks[l],
                    Payload::OrderAction(OrderAction {
                        buyer: b.public(),
                        id: id.clone(),
                        step,
                        buyer_signature: Some(b.sign(ORDER_ACTION_DOMAIN, &bytes)),
                    }),
                ));
            }
            n_txs += 2 * chunk.len() + 1;
        }
    }
    let tick = sign(
        &farm_admin,
        Payload::AdjustStock(AdjustStock {
            location: gln,
            gtin,
            change: StockChange::ReorderPoint { point: 1 },
        }),
    );
    Ok(Workload {
        genesis,
        validators,
        setup: vec![members, funds, listing],
        lanes,
        n_txs,
        n_orders,
        tick: Some(tick),
    })
}

/// An EPCIS document with one shipping event per order, naming it as its `po`.
fn shipping_document<'a>(orders: impl Iterator<Item = (&'a SecretKey, &'a str)>) -> String {
    let events: Vec<serde_json::Value> = orders
        .map(|(b, id)| {
            json!({
                "type": "ObjectEvent",
                "eventTime": "2026-11-21T08:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "bizLocation": {"id": "urn:epc:id:sgln:6900001.00001.0"},
                "quantityList": [{"epcClass": "urn:epc:class:lgtin:6900001.000001.B1", "quantity": 1}],
                "bizTransactionList": [{"type": "po", "bizTransaction": format!("urn:waybill:order:{}:{id}", b.public().to_hex())}]
            })
        })
        .collect();
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-21T08:00:00Z",
        "epcisBody": {"eventList": events}
    })
    .to_string()
}

/// Check the options make sense for orders.
pub(crate) fn check(o: &TxBenchOptions) -> anyhow::Result<()> {
    (o.n_txs >= o.n_members)
        .then_some(())
        .context("--txs (orders) must be at least --members (buyers)")
}
