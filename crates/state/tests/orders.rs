//! Orders and shared stock through the state machine: listings, placement from a
//! buyer-signed intent (stock reserved, money escrowed), shipping and delivery by
//! EPCIS events, cancellation, the deadlines (expired, refunded, settled) at the
//! start of a block, two platforms racing for the last unit, pricing, bad input of
//! every kind, and the order's state × step × party matrix, every cell asserted.

mod common;
use common::{apply, code, key, Faulty, Ledger, State};

use std::collections::BTreeMap;

use proptest::prelude::*;

use serde_json::json;
use waybill_gs1::{with_check_digit, Gln, Gtin};
use waybill_state::inventory::{alerts_of, load_stock, Stock};
use waybill_state::money::{check_totals, load_account, load_transfer, PendingState};
use waybill_state::orders::{load_order, price_line, ListingTerms, Order, OrderState};
use waybill_state::{BlockContext, Execution, TxInvalid};
use waybill_types::money::{AccountId, AccountOwner, Amount, Currency};
use waybill_types::payload::commerce::{
    review_key_hash, AdjustStock, Discount, OrderAction, OrderIntent, OrderLine, OrderStep,
    OrderTerms, PlaceOrder, ReviewAction, ReviewOrder, ReviewStep, SetListing, StockChange,
    ORDER_ACTION_DOMAIN, ORDER_INTENT_DOMAIN, REVIEW_DOMAIN,
};
use waybill_types::payload::money::{AccountFlags, Deposit, OpenAccount, TransferSpec, Transfers};
use waybill_types::payload::{
    CaptureEpcis, LotStatus, RegisterLocation, RegisterLot, RegisterMember, RegisterProduct,
    SetLotStatus,
};
use waybill_types::{
    Genesis, GenesisOrganization, GenesisValidator, Height, OrgId, Payload, Receipt, Role,
    SecretKey, SignedTx, TxStatus,
};

const CHAIN: &str = "waybill-orders";
const T0: u64 = 1_767_225_600_000;
const HOUR: u64 = 3_600_000;
fn org(id: &str) -> OrgId {
    OrgId::new(id).expect("test org id")
}
fn cny() -> Currency {
    Currency::new("CNY").expect("CNY")
}
fn gtin() -> Gtin {
    with_check_digit("0690123400001")
        .expect("digits")
        .parse()
        .expect("GTIN")
}
fn warehouse() -> Gln {
    with_check_digit("690123400001")
        .expect("digits")
        .parse()
        .expect("GLN")
}
fn wallet(label: &str) -> AccountId {
    AccountId {
        owner: AccountOwner::Key(key(label).public()),
        currency: cny(),
        name: "wallet".into(),
    }
}
fn terms() -> OrderTerms {
    OrderTerms {
        ship_within_ms: 2 * HOUR,
        deliver_within_ms: 48 * HOUR,
        return_window_ms: HOUR,
    }
}

/// - `orchard`: producer and warehouse; sells its oranges (prefix 6901234).
/// - `shop`, `mart`: platforms sharing the orchard's stock; `rival`: a platform that
///   lists nothing of it.
/// - `fleet`: the carrier of the orchard's freight agreement.
/// - `bank`: payment provider; `qc`: inspector.
fn genesis() -> Genesis {
    let o = |id: &str, roles: Vec<Role>, prefixes: Vec<String>| GenesisOrganization {
        id: org(id),
        name: format!("{id} Ltd"),
        admin: key(&format!("{id}-admin")).public(),
        roles,
        company_prefixes: prefixes,
    };
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: T0,
        organizations: vec![
            o(
                "orchard",
                vec![Role::Producer, Role::Warehouse],
                vec!["6901234".into()],
            ),
            o("shop", vec![Role::Platform], vec![]),
            o("mart", vec![Role::Platform], vec![]),
            o("rival", vec![Role::Platform], vec![]),
            o("fleet", vec![Role::Carrier], vec![]),
            o("bank", vec![Role::PaymentProvider], vec![]),
            o("qc", vec![Role::Inspector], vec![]),
        ],
        validators: vec![GenesisValidator {
            org: org("orchard"),
            public_key: key("validator").public(),
            voting_power: 1,
        }],
    }
}

/// The orders chain: a [`Ledger`] whose every block is checked for money and stock.
#[derive(Clone)]
struct Chain {
    l: Ledger,
}

impl std::ops::Deref for Chain {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        &self.l
    }
}

impl std::ops::DerefMut for Chain {
    fn deref_mut(&mut self) -> &mut Ledger {
        &mut self.l
    }
}

impl Chain {
    /// Genesis; members `orchard-wh` (warehouse), `shop-clerk`, `mart-clerk`,
    /// `rival-clerk` (platform), `fleet-driver` (carrier), `bank-teller` (payment
    /// provider), `qc-inspector`; the product, its lot `L1`, the warehouse; accounts
    /// `orchard:sales`, `shop:fees`, `mart:fees`; the orange listed on shop (5 % fee),
    /// on mart (3 % fee) and direct, at 12.00 CNY, from the warehouse; 10 on hand;
    /// alice and bob each with 1,000.00 CNY deposited.
    fn new() -> Chain {
        let mut c = Chain {
            l: Ledger::new(CHAIN, &genesis(), T0),
        };
        let reg = |c: &mut Chain, o: &str, member: &str, roles: Vec<Role>| {
            c.tx(
                &format!("{o}-admin"),
                Payload::RegisterMember(RegisterMember {
                    member: key(member).public(),
                    name: member.into(),
                    roles,
                }),
            )
        };
        let members = vec![
            reg(&mut c, "orchard", "orchard-wh", vec![Role::Warehouse]),
            reg(&mut c, "shop", "shop-clerk", vec![Role::Platform]),
            reg(&mut c, "mart", "mart-clerk", vec![Role::Platform]),
            reg(&mut c, "rival", "rival-clerk", vec![Role::Platform]),
            reg(&mut c, "fleet", "fleet-driver", vec![Role::Carrier]),
            reg(&mut c, "bank", "bank-teller", vec![Role::PaymentProvider]),
            reg(&mut c, "qc", "qc-inspector", vec![Role::Inspector]),
        ];
        c.block_ok(members);
        let catalog = vec![
            c.tx("orchard-admin", product()),
            c.tx("orchard-admin", location()),
        ];
        c.block_ok(catalog);
        let mut setup = vec![c.tx("orchard-admin", lot("L1"))];
        for (o, name) in [("orchard", "sales"), ("shop", "fees"), ("mart", "fees")] {
            setup.push(c.tx(
                &format!("{o}-admin"),
                Payload::OpenAccount(OpenAccount {
                    account: AccountId::org(&org(o), cny(), name),
                    flags: AccountFlags::default(),
                }),
            ));
        }
        for who in ["alice", "bob"] {
            setup.push(c.tx(
                "bank-teller",
                Payload::Deposit(Deposit {
                    id: format!("dep-{who}"),
                    account: wallet(who),
                    amount: Amount(100_000),
                    reference: format!("REF-{who}"),
                }),
            ));
        }
        setup.push(c.stock("orchard-wh", StockChange::Count { on_hand: 10 }));
        c.block_ok(setup);
        let listings = vec![
            c.tx("orchard-admin", listing(Some("shop"), 500, vec![])),
            c.tx("orchard-admin", listing(Some("mart"), 300, vec![])),
            c.tx("orchard-admin", listing(None, 0, vec![])),
        ];
        c.block_ok(listings);
        c
    }

    fn tx(&mut self, signer: &str, payload: Payload) -> SignedTx {
        let expiry = self.time_ms + 1_000 + 24 * HOUR;
        self.l.tx_until(signer, payload, expiry)
    }

    fn stock(&mut self, signer: &str, change: StockChange) -> SignedTx {
        self.tx(
            signer,
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change,
            }),
        )
    }

    /// Execute and commit `txs` as the next block at `time_ms`; check that money
    /// balances and stock holds after it.
    fn block_at(&mut self, time_ms: u64, txs: Vec<SignedTx>) -> Vec<Receipt> {
        let receipts = self.l.execute(time_ms, &txs);
        check_totals(&self.state, cny())
            .expect("reads")
            .expect("money invariant");
        // Stock: reserved never exceeds on hand (the state machine asserts it too).
        if let Some(s) = load_stock(&self.state, &warehouse(), &gtin()).expect("reads") {
            assert!(s.reserved <= s.on_hand, "{s:?}");
        }
        receipts
    }

    fn block(&mut self, txs: Vec<SignedTx>) -> Vec<Receipt> {
        let t = self.time_ms + 1_000;
        self.block_at(t, txs)
    }

    fn block_ok(&mut self, txs: Vec<SignedTx>) {
        for r in self.block(txs) {
            assert_eq!(r.status, TxStatus::Applied, "{r:?}");
        }
    }

    /// One transaction in its own block: `Ok` or the rejection code.
    fn run(&mut self, signer: &str, payload: Payload) -> Result<(), String> {
        let tx = self.tx(signer, payload);
        code(&self.block(vec![tx])[0])
    }

    fn order(&self, buyer: &str, id: &str) -> Order {
        load_order(&self.state, &key(buyer).public(), id)
            .expect("reads")
            .expect("the order exists")
    }

    fn stock_now(&self) -> Stock {
        load_stock(&self.state, &warehouse(), &gtin())
            .expect("reads")
            .expect("stock is kept")
    }

    fn balance(&self, a: &AccountId) -> (u128, u128, u128, u128) {
        let a = load_account(&self.state, a)
            .expect("reads")
            .expect("the account is open");
        (
            a.debits_posted.0,
            a.debits_pending.0,
            a.credits_posted.0,
            a.credits_pending.0,
        )
    }

    /// A block with nothing in it at `time_ms` (deadlines act at its start).
    fn wait_until(&mut self, time_ms: u64) {
        self.block_at(time_ms, vec![]);
    }
}

fn product() -> Payload {
    Payload::RegisterProduct(RegisterProduct {
        gtin: gtin(),
        name: "Navel oranges, 5 kg carton".into(),
        brand: "Orchard".into(),
        category: "fresh fruit".into(),
        origin_country: "CN".into(),
    })
}

fn location() -> Payload {
    Payload::RegisterLocation(RegisterLocation {
        gln: warehouse(),
        name: "Orchard cold store".into(),
        kind: "warehouse".into(),
        address: "1 Orchard Road, Ganzhou".into(),
        country: "CN".into(),
        latitude: None,
        longitude: None,
    })
}

fn lot(l: &str) -> Payload {
    Payload::RegisterLot(RegisterLot {
        gtin: gtin(),
        lot: l.into(),
        origin_gln: None,
        produced_on: "2025-12-20".into(),
        quantity: 500,
        unit: "kg".into(),
        inputs: vec![],
        raw_materials: vec![],
        claims: vec![],
    })
}

fn listing(platform: Option<&str>, fee_bps: u16, discounts: Vec<Discount>) -> Payload {
    Payload::SetListing(SetListing {
        gtin: gtin(),
        seller: org("orchard"),
        platform: platform.map(org),
        currency: cny(),
        unit_price: Amount(1_200),
        platform_fee_bps: fee_bps,
        discounts,
        ship_from: warehouse(),
        lot: Some("L1".into()),
        carrier: Some(org("fleet")),
        terms: terms(),
        active: true,
    })
}

/// `buyer`'s intent for `quantity` oranges on `platform`, at most `max_total`.
fn intent(
    buyer: &str,
    id: &str,
    platform: Option<&str>,
    quantity: u32,
    max_total: u128,
) -> OrderIntent {
    OrderIntent {
        chain_id: CHAIN.into(),
        id: id.into(),
        buyer: key(buyer).public(),
        seller: org("orchard"),
        platform: platform.map(org),
        lines: vec![OrderLine {
            gtin: gtin(),
            quantity,
        }],
        currency: cny(),
        max_total: Amount(max_total),
        pay_from: wallet(buyer),
        expires_at_ms: T0 + 100 * HOUR,
        coupon: None,
        review_key_hash: Some(review_key_hash(
            &review_salt(buyer, id),
            &review_key(buyer, id).public(),
        )),
    }
}

/// The buyer's fresh review key for order `id`, and its salt.
fn review_key(buyer: &str, id: &str) -> SecretKey {
    key(&format!("review-{buyer}-{id}"))
}
fn review_salt(buyer: &str, id: &str) -> waybill_types::Hash {
    waybill_types::hash::sha256(format!("salt-{buyer}-{id}").as_bytes())
}

/// The buyer's review of its order `id`, signed with `with` (its review key, or
/// another), with the order's salt.
fn review(buyer: &str, id: &str, with: &SecretKey, rating: u8) -> Payload {
    let (title, text) = ("Sweet", "Juicy and fresh, well packed.");
    let bytes = ReviewOrder::signing_bytes(
        CHAIN,
        &key(buyer).public(),
        id,
        &gtin(),
        rating,
        title,
        text,
    );
    Payload::ReviewOrder(ReviewOrder {
        buyer: key(buyer).public(),
        order: id.into(),
        gtin: gtin(),
        rating,
        title: title.into(),
        text: text.into(),
        review_key: with.public(),
        salt: review_salt(buyer, id),
        signature: with.sign(REVIEW_DOMAIN, &bytes),
    })
}

fn signed(i: OrderIntent, signer: &str) -> Payload {
    let signature = key(signer).sign(ORDER_INTENT_DOMAIN, &i.signing_bytes());
    Payload::PlaceOrder(PlaceOrder {
        intent: i,
        signature,
        ship_to: None,
    })
}

fn place(buyer: &str, id: &str, platform: Option<&str>, quantity: u32) -> Payload {
    signed(intent(buyer, id, platform, quantity, 1_000_000), buyer)
}

/// The buyer's action, signed by the buyer for the platform to submit.
fn buyer_action(buyer: &str, id: &str, step: OrderStep) -> Payload {
    let b = key(buyer);
    let bytes = OrderAction::signing_bytes(CHAIN, &b.public(), id, &step);
    Payload::OrderAction(OrderAction {
        buyer: b.public(),
        id: id.into(),
        buyer_signature: Some(b.sign(ORDER_ACTION_DOMAIN, &bytes)),
        step,
    })
}

/// A party's own action (no buyer signature).
fn action(buyer: &str, id: &str, step: OrderStep) -> Payload {
    Payload::OrderAction(OrderAction {
        buyer: key(buyer).public(),
        id: id.into(),
        step,
        buyer_signature: None,
    })
}

fn cancel() -> OrderStep {
    OrderStep::Cancel {
        reason: "changed my mind".into(),
    }
}

fn urn(buyer: &str, id: &str) -> String {
    format!("urn:waybill:order:{}:{id}", key(buyer).public().to_hex())
}

/// An EPCIS document with one ObjectEvent of `biz_step` naming order `buyer`/`id`
/// as its `po`, `quantity` oranges of lot L1, at the warehouse if `at_warehouse`.
fn order_event(
    biz_step: &str,
    buyer: &str,
    id: &str,
    quantity: u32,
    at_warehouse: bool,
) -> Payload {
    let mut e = json!({
        "type": "ObjectEvent",
        "eventTime": "2026-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": biz_step,
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:6901234.000001.L1", "quantity": quantity}
        ],
        "bizTransactionList": [{"type": "po", "bizTransaction": urn(buyer, id)}]
    });
    if at_warehouse {
        e["bizLocation"] = json!({"id": "urn:epc:id:sgln:6901234.00001.0"});
    }
    let doc = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": [e]}
    });
    Payload::CaptureEpcis(CaptureEpcis {
        document: doc.to_string(),
    })
}

fn ship(c: &mut Chain, buyer: &str, id: &str) -> Result<(), String> {
    let q = c.order(buyer, id).lines[0].quantity;
    c.run("orchard-wh", order_event("shipping", buyer, id, q, true))
}

fn receive(c: &mut Chain, buyer: &str, id: &str) -> Result<(), String> {
    let q = c.order(buyer, id).lines[0].quantity;
    c.run(
        "fleet-driver",
        order_event("receiving", buyer, id, q, false),
    )
}

#[test]
fn an_order_is_escrowed_shipped_delivered_and_settled_with_the_platform_fee() {
    let mut c = Chain::new();
    // 3 × 12.00 = 36.00; the shop's 5 % fee is 1.80.
    assert_eq!(
        c.run("shop-clerk", place("alice", "o1", Some("shop"), 3)),
        Ok(())
    );
    let o = c.order("alice", "o1");
    assert_eq!(o.state, OrderState::Placed);
    assert_eq!((o.total, o.fee), (Amount(3_600), Amount(180)));
    assert_eq!(o.carrier, Some(org("fleet")));
    assert_eq!(c.stock_now().reserved, 3);
    assert_eq!(c.stock_now().on_hand, 10);
    let sales = AccountId::org(&org("orchard"), cny(), "sales");
    let fees = AccountId::org(&org("shop"), cny(), "fees");
    assert_eq!(c.balance(&wallet("alice")), (0, 3_600, 100_000, 0));
    assert_eq!(c.balance(&sales), (0, 0, 0, 3_420));
    assert_eq!(c.balance(&fees), (0, 0, 0, 180));
    // The escrow is the order's: no transfer can even name it to post or void it.
    let escrow = o.escrow[0].clone();
    assert_eq!(escrow.id, "order.o1.sale");
    let void = Payload::Transfer(Transfers {
        transfers: vec![TransferSpec::Void {
            id: "grab".into(),
            pending: escrow.clone(),
        }],
    });
    let refused = void.check().expect_err("an escrow id is not a client id");
    assert!(refused.to_string().contains("pending.id"), "{refused}");

    assert_eq!(ship(&mut c, "alice", "o1"), Ok(()));
    let o = c.order("alice", "o1");
    assert_eq!(o.state, OrderState::Shipped);
    assert!(o.shipped_by_event.is_some());
    assert_eq!(
        c.stock_now(),
        Stock {
            on_hand: 7,
            reserved: 0,
            reorder_point: 0
        }
    );

    assert_eq!(receive(&mut c, "alice", "o1"), Ok(()));
    let o = c.order("alice", "o1");
    assert_eq!(o.state, OrderState::Delivered);
    let settle_at = o.deadline_ms.expect("the return window runs");
    // One ms before the window closes: still delivered; at it: settled.
    c.wait_until(settle_at - 1);
    assert_eq!(c.order("alice", "o1").state, OrderState::Delivered);
    c.wait_until(settle_at);
    let o = c.order("alice", "o1");
    assert_eq!(o.state, OrderState::Settled);
    assert_eq!(o.deadline_ms, None);
    let states: Vec<&str> = o.history.iter().map(|t| t.state.name()).collect();
    assert_eq!(states, ["placed", "shipped", "delivered", "settled"]);
    assert_eq!(c.balance(&wallet("alice")), (3_600, 0, 100_000, 0));
    assert_eq!(c.balance(&sales), (0, 0, 3_420, 0));
    assert_eq!(c.balance(&fees), (0, 0, 180, 0));
    let t = load_transfer(&c.state, &escrow)
        .expect("reads")
        .expect("kept");
    assert!(
        matches!(t.pending_state, Some(PendingState::Posted { amount, .. }) if amount == Amount(3_420)),
        "{t:?}"
    );
}

#[test]
fn two_platforms_race_for_the_last_unit_in_one_block_and_exactly_one_wins() {
    let mut c = Chain::new();
    assert_eq!(
        c.run(
            "orchard-wh",
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change: StockChange::Count { on_hand: 1 },
            })
        ),
        Ok(())
    );
    let a = c.tx("shop-clerk", place("alice", "last", Some("shop"), 1));
    let b = c.tx("mart-clerk", place("bob", "last", Some("mart"), 1));
    let receipts = c.block(vec![a, b]);
    assert_eq!(code(&receipts[0]), Ok(()));
    assert_eq!(code(&receipts[1]), Err("insufficient_stock".into()));
    assert_eq!(c.stock_now().reserved, 1);
    // Bob's money never moved.
    assert_eq!(c.balance(&wallet("bob")), (0, 0, 100_000, 0));
    // Alice cancels through the shop: the unit is free again, and mart sells it.
    assert_eq!(
        c.run("shop-clerk", buyer_action("alice", "last", cancel())),
        Ok(())
    );
    assert_eq!(c.order("alice", "last").state, OrderState::Cancelled);
    assert_eq!(c.balance(&wallet("alice")), (0, 0, 100_000, 0));
    assert_eq!(
        c.run("mart-clerk", place("bob", "last2", Some("mart"), 1)),
        Ok(())
    );
    assert_eq!(
        c.balance(&AccountId::org(&org("mart"), cny(), "fees")),
        (0, 0, 0, 36)
    );
}

#[test]
fn an_order_not_shipped_in_time_expires_and_one_not_delivered_is_refunded() {
    let mut c = Chain::new();
    assert_eq!(
        c.run("shop-clerk", place("alice", "slow", Some("shop"), 2)),
        Ok(())
    );
    assert_eq!(
        c.run("shop-clerk", place("bob", "lost", Some("shop"), 4)),
        Ok(())
    );
    assert_eq!(ship(&mut c, "bob", "lost"), Ok(()));
    let ship_by = c.order("alice", "slow").deadline_ms.expect("a deadline");
    c.wait_until(ship_by - 1);
    assert_eq!(c.order("alice", "slow").state, OrderState::Placed);
    c.wait_until(ship_by);
    let o = c.order("alice", "slow");
    assert_eq!(o.state, OrderState::Expired);
    assert_eq!(o.history.last().map(|t| t.by.as_str()), Some("deadline"));
    assert_eq!(c.balance(&wallet("alice")), (0, 0, 100_000, 0));
    assert_eq!(
        c.stock_now(),
        Stock {
            on_hand: 6,
            reserved: 0,
            reorder_point: 0
        }
    );
    for who in ["orchard", "shop"] {
        let alerts = alerts_of(&c.state, &org(who), 10).expect("reads");
        assert_eq!(alerts.len(), 1, "{who}: {alerts:?}");
        assert_eq!(alerts[0].kind, "order_expired");
    }
    // Shipping it now is too late: the event is stored, the order does not move; the
    // goods it lists did leave, out of the available stock.
    assert_eq!(ship(&mut c, "alice", "slow"), Ok(()));
    assert_eq!(c.order("alice", "slow").state, OrderState::Expired);
    let after_late_shipping = c.stock_now().on_hand;
    assert!(after_late_shipping < 6);

    let deliver_by = c.order("bob", "lost").deadline_ms.expect("a deadline");
    c.wait_until(deliver_by);
    let o = c.order("bob", "lost");
    assert_eq!(o.state, OrderState::Refunded);
    assert_eq!(c.balance(&wallet("bob")), (0, 0, 100_000, 0));
    // The goods left the warehouse: the stock stays out.
    assert_eq!(c.stock_now().on_hand, after_late_shipping);
    let kinds: Vec<String> = alerts_of(&c.state, &org("shop"), 10)
        .expect("reads")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["order_expired", "order_refunded"]);
}

#[test]
fn every_bad_order_is_refused_with_its_code_and_changes_nothing() {
    let mut c = Chain::new();
    let before = c.balance(&wallet("alice"));
    let cases: Vec<(&str, &str, Payload)> = vec![
        (
            "not listed on rival",
            "unknown_listing",
            signed(intent("alice", "x", Some("rival"), 1, 10_000), "alice"),
        ),
        (
            "bad signature",
            "bad_buyer_signature",
            signed(intent("alice", "x", Some("shop"), 1, 10_000), "bob"),
        ),
        (
            "price above the maximum",
            "price_changed",
            signed(intent("alice", "x", Some("shop"), 2, 2_399), "alice"),
        ),
        (
            "more than the stock",
            "insufficient_stock",
            place("alice", "x", Some("shop"), 11),
        ),
        // 10 at the dear price set below for this case: 120,000.00 > 1,000.00 held.
        (
            "an overdraft",
            "exceeds_credits",
            signed(intent("alice", "x", Some("shop"), 10, 100_000_000), "alice"),
        ),
        ("expired intent", "intent_expired", {
            let mut i = intent("alice", "x", Some("shop"), 1, 10_000);
            i.expires_at_ms = T0;
            signed(i, "alice")
        }),
        ("another chain", "intent_expired", {
            let mut i = intent("alice", "x", Some("shop"), 1, 10_000);
            i.chain_id = "other-chain".into();
            signed(i, "alice")
        }),
        ("unknown coupon", "unknown_coupon", {
            let mut i = intent("alice", "x", Some("shop"), 1, 10_000);
            i.coupon = Some("free".into());
            signed(i, "alice")
        }),
        ("paying from bob's wallet", "not_authorized", {
            let mut i = intent("alice", "x", Some("shop"), 1, 10_000);
            i.pay_from = wallet("bob");
            signed(i, "alice")
        }),
    ];
    // The overdraft case needs a dear price: 10 units at 12,000.00.
    let mut dear = listing(Some("shop"), 500, vec![]);
    if let Payload::SetListing(l) = &mut dear {
        l.unit_price = Amount(1_200_000);
    }
    for (what, want, payload) in cases {
        if want == "exceeds_credits" {
            assert_eq!(c.run("orchard-admin", dear.clone()), Ok(()));
        }
        let submitter = if want == "unknown_listing" {
            "rival-clerk"
        } else {
            "shop-clerk"
        };
        assert_eq!(c.run(submitter, payload), Err(want.to_string()), "{what}");
        if want == "exceeds_credits" {
            assert_eq!(
                c.run("orchard-admin", listing(Some("shop"), 500, vec![])),
                Ok(())
            );
        }
        assert_eq!(c.balance(&wallet("alice")), before, "{what}");
        assert_eq!(c.stock_now().reserved, 0, "{what}");
    }
    // A stranger platform may not submit it; a replay is refused; the same id with
    // another body too.
    assert_eq!(
        c.run("rival-clerk", place("alice", "y", Some("shop"), 1)),
        Err("not_authorized".into())
    );
    assert_eq!(
        c.run("shop-clerk", place("alice", "y", Some("shop"), 1)),
        Ok(())
    );
    assert_eq!(
        c.run("shop-clerk", place("alice", "y", Some("shop"), 1)),
        Err("exists".into())
    );
    assert_eq!(
        c.run("shop-clerk", place("alice", "y", Some("shop"), 2)),
        Err("exists_with_different_fields".into())
    );
    assert_eq!(c.stock_now().reserved, 1);
}

#[test]
fn lots_not_released_are_not_sold_and_coupons_stop_at_their_cap() {
    let mut c = Chain::new();
    let status = |s: LotStatus| {
        Payload::SetLotStatus(SetLotStatus {
            gtin: gtin(),
            lot: "L1".into(),
            status: s,
            reason: "residue test".into(),
        })
    };
    assert_eq!(
        c.run("qc-inspector", status(LotStatus::Quarantined)),
        Ok(())
    );
    assert_eq!(
        c.run("shop-clerk", place("alice", "q", Some("shop"), 1)),
        Err("lot_quarantined".into())
    );
    assert_eq!(c.run("qc-inspector", status(LotStatus::Released)), Ok(()));
    assert_eq!(
        c.run("shop-clerk", place("alice", "q", Some("shop"), 1)),
        Ok(())
    );
    assert_eq!(c.run("qc-inspector", status(LotStatus::Recalled)), Ok(()));
    assert_eq!(
        c.run("shop-clerk", place("alice", "r", Some("shop"), 1)),
        Err("lot_recalled".into())
    );

    let mut c = Chain::new();
    let coupon = Discount::Coupon {
        code: "newyear".into(),
        bps: 1_000,
        max_uses: 1,
    };
    assert_eq!(
        c.run("orchard-admin", listing(Some("shop"), 500, vec![coupon])),
        Ok(())
    );
    let with_coupon = |buyer: &str, id: &str| {
        let mut i = intent(buyer, id, Some("shop"), 1, 10_000);
        i.coupon = Some("newyear".into());
        signed(i, buyer)
    };
    assert_eq!(c.run("shop-clerk", with_coupon("alice", "c1")), Ok(()));
    // 12.00 less 10 % = 10.80.
    let o = c.order("alice", "c1");
    assert_eq!(o.total, Amount(1_080));
    assert_eq!(o.lines[0].discounts[0].kind, "coupon:newyear");
    assert_eq!(
        c.run("shop-clerk", with_coupon("bob", "c2")),
        Err("coupon_exhausted".into())
    );
}

#[test]
fn discounts_apply_in_their_documented_order_rounding_half_to_even() {
    let l = |discounts: Vec<Discount>, fee: u16| ListingTerms {
        gtin: gtin(),
        seller: org("orchard"),
        platform: Some(org("shop")),
        currency: cny(),
        unit_price: Amount(1_005),
        platform_fee_bps: fee,
        discounts,
        ship_from: warehouse(),
        lot: None,
        carrier: None,
        terms: terms(),
        active: true,
    };
    // 1 × 10.05, 5 % off = 0.5025 → 0.50 (below the half); net 9.55.
    let (p, _) = price_line(&l(vec![Discount::Percent { bps: 500 }], 0), 1, None).expect("prices");
    assert_eq!(p.net, Amount(955));
    // 2 × 10.05 = 20.10; 2.5 % off is 0.5025 → 0.50; net 19.60; fee 2.5 % of 19.60 =
    // 0.49.
    let (p, _) =
        price_line(&l(vec![Discount::Percent { bps: 250 }], 250), 2, None).expect("prices");
    assert_eq!(
        (p.gross, p.net, p.fee),
        (Amount(2_010), Amount(1_960), Amount(49))
    );
    // Half exactly goes to even: 1 × 10.05 at 50 %.
    let (p, _) =
        price_line(&l(vec![Discount::Percent { bps: 5_000 }], 0), 1, None).expect("prices");
    // Off: 5.025 → 5.02 (the even neighbour); net 5.03.
    assert_eq!(p.net, Amount(503));
    // Volume tier first, then percent, then fixed, then the coupon.
    let all = vec![
        Discount::Coupon {
            code: "c".into(),
            bps: 1_000,
            max_uses: 5,
        },
        Discount::Fixed {
            amount: Amount(100),
        },
        Discount::Percent { bps: 1_000 },
        Discount::Volume {
            min_quantity: 10,
            unit_price: Amount(900),
        },
        Discount::Volume {
            min_quantity: 5,
            unit_price: Amount(950),
        },
    ];
    // 10 × 10.05 = 100.50 → tier 10: 90.00 → −10 % 81.00 → −1.00 80.00 → coupon −10 % 72.00.
    let (p, used) = price_line(&l(all.clone(), 0), 10, Some("c")).expect("prices");
    assert!(used);
    let kinds: Vec<(&str, u128)> = p
        .discounts
        .iter()
        .map(|d| (d.kind.as_str(), d.amount.0))
        .collect();
    assert_eq!(
        kinds,
        [
            ("volume", 1_050),
            ("percent", 900),
            ("fixed", 100),
            ("coupon:c", 800)
        ]
    );
    assert_eq!(p.net, Amount(7_200));
    // A fixed discount never takes a line below zero.
    let (p, _) = price_line(
        &l(
            vec![Discount::Fixed {
                amount: Amount(5_000),
            }],
            0,
        ),
        1,
        None,
    )
    .expect("prices");
    assert_eq!(p.net, Amount(0));
}

#[test]
fn stock_counts_write_offs_and_the_reorder_alert() {
    let mut c = Chain::new();
    assert_eq!(
        c.run(
            "orchard-wh",
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change: StockChange::ReorderPoint { point: 5 },
            })
        ),
        Ok(())
    );
    assert!(alerts_of(&c.state, &org("orchard"), 10)
        .expect("reads")
        .is_empty());
    assert_eq!(
        c.run("shop-clerk", place("alice", "s", Some("shop"), 4)),
        Ok(())
    );
    // 10 on hand, 4 reserved: 6 available, not below 5.
    assert!(alerts_of(&c.state, &org("orchard"), 10)
        .expect("reads")
        .is_empty());
    // A count below what orders reserve is refused; a write-off of more than is
    // available too.
    assert_eq!(
        c.run(
            "orchard-wh",
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change: StockChange::Count { on_hand: 3 },
            })
        ),
        Err("insufficient_stock".into())
    );
    let write_off = |q: u64| {
        Payload::AdjustStock(AdjustStock {
            location: warehouse(),
            gtin: gtin(),
            change: StockChange::WriteOff {
                quantity: q,
                reason: "damaged".into(),
            },
        })
    };
    assert_eq!(
        c.run("orchard-wh", write_off(7)),
        Err("insufficient_stock".into())
    );
    assert_eq!(
        c.run("shop-clerk", write_off(1)),
        Err("location_not_delegated".into())
    );
    assert_eq!(c.run("orchard-wh", write_off(2)), Ok(()));
    let alerts = alerts_of(&c.state, &org("orchard"), 10).expect("reads");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, "reorder");
    assert_eq!(
        c.stock_now(),
        Stock {
            on_hand: 8,
            reserved: 4,
            reorder_point: 5
        }
    );
    assert_eq!(
        c.run(
            "orchard-wh",
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change: StockChange::Receipt { quantity: 20 },
            })
        ),
        Ok(())
    );
    assert_eq!(c.stock_now().available(), 24);
}

/// At most 10,000 deadlines act at the start of one block, earliest first; the rest
/// roll over to the next block.
#[test]
fn at_most_ten_thousand_deadlines_act_per_block_and_the_rest_roll_over() {
    let mut c = Chain::new();
    let cap = waybill_types::limits::ORDER_DEADLINES_PER_BLOCK_MAX;
    assert_eq!(
        c.run(
            "orchard-wh",
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change: StockChange::Count { on_hand: 20_000 },
            })
        ),
        Ok(())
    );
    for who in ["alice", "bob"] {
        let more = Payload::Deposit(Deposit {
            id: format!("more-{who}"),
            account: wallet(who),
            amount: Amount(10_000_000),
            reference: format!("MORE-{who}"),
        });
        assert_eq!(c.run("bank-teller", more), Ok(()));
    }
    // cap + 5 orders in one block: one deadline time for all of them.
    let txs: Vec<SignedTx> = (0..cap + 5)
        .map(|i| {
            let b = if i % 2 == 0 { "alice" } else { "bob" };
            let mut it = intent(b, &format!("c{i}"), Some("shop"), 1, 10_000);
            it.review_key_hash = None;
            c.tx("shop-clerk", signed(it, b))
        })
        .collect();
    for r in c.block(txs) {
        assert_eq!(code(&r), Ok(()));
    }
    let deadline = c.order("alice", "c0").deadline_ms.expect("a deadline");
    c.wait_until(deadline);
    assert_eq!(
        c.stock_now().reserved,
        5,
        "all but 5 expired in the first block"
    );
    let still: Vec<String> = (0..cap + 5)
        .filter_map(|i| {
            let b = if i % 2 == 0 { "alice" } else { "bob" };
            (c.order(b, &format!("c{i}")).state == OrderState::Placed).then(|| format!("c{i}"))
        })
        .collect();
    assert_eq!(still.len(), 5, "{still:?}");
    // Until the next block they may still be cancelled; then they expire.
    c.wait_until(deadline + 1);
    assert_eq!(c.stock_now().reserved, 0);
    assert_eq!(c.balance(&wallet("alice")), (0, 0, 10_100_000, 0));
}

// ---------------------------------------------------------------------------
// Stock moved by EPCIS events.
// ---------------------------------------------------------------------------

/// A capture of `events` (EPCIS event objects; a time filled in where none is given)
/// by `who`.
fn capture(c: &mut Chain, who: &str, events: Vec<serde_json::Value>) -> Result<(), String> {
    capture_text(c, who, events, |doc| doc)
}

/// [`capture`], the document's text passed through `edit` first (numbers written as
/// JSON values cannot be).
fn capture_text(
    c: &mut Chain,
    who: &str,
    events: Vec<serde_json::Value>,
    edit: impl FnOnce(String) -> String,
) -> Result<(), String> {
    let events: Vec<serde_json::Value> = events
        .into_iter()
        .map(|mut e| {
            if e.get("eventTime").is_none() {
                e["eventTime"] = json!("2026-01-01T00:00:00Z");
            }
            e["eventTimeZoneOffset"] = json!("+00:00");
            e
        })
        .collect();
    let doc = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events}
    });
    let tx = c.tx(
        who,
        Payload::CaptureEpcis(CaptureEpcis {
            document: edit(doc.to_string()),
        }),
    );
    code(&c.block(vec![tx])[0])
}

const WH: &str = "urn:epc:id:sgln:6901234.00001.0";
const LOT_CLASS: &str = "urn:epc:class:lgtin:6901234.000001.L1";

fn item(serial: u32) -> String {
    format!("urn:epc:id:sgtin:6901234.000001.{serial}")
}

/// An ObjectEvent of `step` at the warehouse naming `epcs` and `quantities`
/// ((quantity, uom) of lot L1).
fn moving(
    step: &str,
    epcs: &[String],
    quantities: &[(serde_json::Value, Option<&str>)],
) -> serde_json::Value {
    let q: Vec<serde_json::Value> = quantities
        .iter()
        .map(|(n, uom)| {
            let mut e = json!({"epcClass": LOT_CLASS, "quantity": n});
            if let Some(u) = uom {
                e["uom"] = json!(u);
            }
            e
        })
        .collect();
    let mut e = json!({
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": step,
        "bizLocation": {"id": WH},
        "epcList": epcs,
    });
    if !q.is_empty() {
        e["quantityList"] = json!(q);
    }
    e
}

fn trade_unit(uom: &str, per_unit: &str) -> Payload {
    Payload::SetTradeUnit(waybill_types::payload::SetTradeUnit {
        gtin: gtin(),
        uom: uom.into(),
        per_unit: per_unit.parse().expect("a decimal"),
    })
}

/// At the warehouse (which keeps stock: it was counted), receiving puts what the event
/// names into stock and shipping takes it out: quantities in trade units, or in kg by
/// the product's trade unit (master data, whole multiples only), serialized items one
/// each, a pallet (SSCC) as its contents, each item once; never what orders reserve.
/// Anything else is refused with its code and changes nothing.
#[test]
fn epcis_receiving_and_shipping_move_the_stock_where_it_is_kept() {
    let mut c = Chain::new();
    let on_hand = |c: &Chain| c.stock_now().on_hand;
    assert_eq!(on_hand(&c), 10);
    // Trade units, no unit of measure.
    assert_eq!(
        capture(
            &mut c,
            "orchard-wh",
            vec![moving("receiving", &[], &[(json!(5), None)])]
        ),
        Ok(())
    );
    assert_eq!(on_hand(&c), 15);
    // The same event again is a duplicate: stored once, moved once.
    assert_eq!(
        capture(
            &mut c,
            "orchard-wh",
            vec![moving("receiving", &[], &[(json!(5), None)])]
        ),
        Ok(())
    );
    assert_eq!(on_hand(&c), 15);
    // The carrier's event naming the warehouse as its destination is stored and moves
    // nothing: only the location's organization (or its delegate) moves its stock.
    let mut theirs = moving("receiving", &[], &[(json!(3), None)]);
    theirs["eventTime"] = json!("2026-01-01T00:00:01Z");
    theirs
        .as_object_mut()
        .expect("an object")
        .remove("bizLocation");
    theirs["destinationList"] = json!([{"type": "location", "destination": WH}]);
    assert_eq!(capture(&mut c, "fleet-driver", vec![theirs]), Ok(()));
    assert_eq!(on_hand(&c), 15);
    // Kilograms: refused until the product's owner says what a carton holds.
    let kg = |n: serde_json::Value| moving("receiving", &[], &[(n, Some("KGM"))]);
    assert_eq!(
        capture(&mut c, "orchard-wh", vec![kg(json!(10))]),
        Err("unconvertible_quantity".into())
    );
    assert_eq!(
        c.run("shop-clerk", trade_unit("KGM", "2.5")),
        Err("not_authorized".into())
    );
    // A trade unit of zero (which binary encoding could carry) never passes the
    // payload's checks: conversion never divides by it.
    let zero = Payload::SetTradeUnit(waybill_types::payload::SetTradeUnit {
        gtin: gtin(),
        uom: "KGM".into(),
        per_unit: waybill_types::money::Rate {
            mantissa: 0,
            scale: 0,
        },
    });
    assert!(zero.check().is_err());
    assert_eq!(c.run("orchard-admin", trade_unit("KGM", "2.5")), Ok(()));
    assert_eq!(capture(&mut c, "orchard-wh", vec![kg(json!(10))]), Ok(()));
    assert_eq!(on_hand(&c), 19);
    for bad in [json!(11), json!(2.4)] {
        assert_eq!(
            capture(&mut c, "orchard-wh", vec![kg(bad.clone())]),
            Err("unconvertible_quantity".into()),
            "{bad}"
        );
    }
    assert_eq!(
        capture(
            &mut c,
            "orchard-wh",
            vec![moving("receiving", &[], &[(json!(1.5), None)])]
        ),
        Err("unconvertible_quantity".into())
    );
    assert_eq!(on_hand(&c), 19);
    // Serialized cartons, one each; packed on a pallet, which ships as its contents.
    let cartons = [item(1), item(2), item(3)];
    assert_eq!(
        capture(
            &mut c,
            "orchard-admin",
            vec![moving("commissioning", &cartons, &[])]
        ),
        Ok(())
    );
    assert_eq!(on_hand(&c), 19, "commissioning moves no stock");
    assert_eq!(
        capture(
            &mut c,
            "orchard-wh",
            vec![moving("receiving", &cartons, &[])]
        ),
        Ok(())
    );
    assert_eq!(on_hand(&c), 22);
    let pallet = "urn:epc:id:sscc:6901234.0000000001";
    let pack = json!({
        "type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
        "bizLocation": {"id": WH}, "parentID": pallet, "childEPCs": cartons,
    });
    assert_eq!(capture(&mut c, "orchard-admin", vec![pack]), Ok(()));
    assert_eq!(on_hand(&c), 22, "packing moves no stock");
    // Named twice (pallet and carton), a carton counts once.
    let ship_pallet = moving("shipping", &[pallet.to_string(), item(1)], &[]);
    assert_eq!(capture(&mut c, "orchard-wh", vec![ship_pallet]), Ok(()));
    assert_eq!(on_hand(&c), 19);
    // Orders keep what they reserve: with 15 reserved, 4 are available.
    let Payload::PlaceOrder(mut big) = place("alice", "s1", Some("shop"), 15) else {
        unreachable!()
    };
    big.intent.max_total = Amount(1_000_000);
    big.signature = key("alice").sign(ORDER_INTENT_DOMAIN, &big.intent.signing_bytes());
    assert_eq!(c.run("shop-clerk", Payload::PlaceOrder(big)), Ok(()));
    let out = |n: u32| moving("shipping", &[], &[(json!(n), None)]);
    assert_eq!(
        capture(&mut c, "orchard-wh", vec![out(5)]),
        Err("insufficient_stock".into())
    );
    assert_eq!((c.stock_now().on_hand, c.stock_now().reserved), (19, 15));
    assert_eq!(capture(&mut c, "orchard-wh", vec![out(4)]), Ok(()));
    assert_eq!((c.stock_now().on_hand, c.stock_now().reserved), (15, 15));
    // Nothing moves without a place to move it at.
    let mut nowhere = out(1);
    nowhere
        .as_object_mut()
        .expect("an object")
        .remove("bizLocation");
    assert_eq!(capture(&mut c, "orchard-wh", vec![nowhere]), Ok(()));
    assert_eq!(on_hand(&c), 15);
}

/// A quantity is read exactly as the document writes it: 2^53 + 1 written with a
/// decimal point is not rounded to 2^53 on the way (as a float would).
#[test]
fn a_quantity_is_counted_exactly_as_written() {
    let mut c = Chain::new();
    let e = moving("receiving", &[], &[(json!(123_456_789), None)]);
    let doc_edit = |d: String| d.replace("123456789", "9007199254740993.0");
    assert_eq!(
        capture_text(&mut c, "orchard-wh", vec![e], doc_edit),
        Ok(())
    );
    assert_eq!(c.stock_now().on_hand, 10 + 9_007_199_254_740_993);
}

/// Contents are followed five levels deep: a carton inside four nested containers
/// ships as one unit; inside five, the event is refused, not half counted.
#[test]
fn contents_nested_too_deep_are_refused_not_half_counted() {
    let mut c = Chain::new();
    let box_id = |nest: u32, n: u32| format!("urn:epc:id:sscc:6901234.00000{nest}010{n}");
    for (nest, boxes, shipped) in [
        (1, 4, Ok(())),
        (2, 5, Err("unconvertible_quantity".to_string())),
    ] {
        let mut packs: Vec<serde_json::Value> = (0..boxes)
            .map(|n| {
                let child = if n + 1 == boxes {
                    item(90 + nest)
                } else {
                    box_id(nest, n + 1)
                };
                json!({
                    "type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
                    "bizLocation": {"id": WH}, "parentID": box_id(nest, n), "childEPCs": [child],
                })
            })
            .collect();
        packs.reverse();
        assert_eq!(capture(&mut c, "orchard-admin", packs), Ok(()));
        let before = c.stock_now().on_hand;
        let ship = moving("shipping", &[box_id(nest, 0)], &[]);
        assert_eq!(
            capture(&mut c, "orchard-wh", vec![ship]),
            shipped,
            "{boxes} containers"
        );
        let moved = if shipped.is_ok() { 1 } else { 0 };
        assert_eq!(c.stock_now().on_hand, before - moved, "{boxes} containers");
    }
}

/// A pallet holding a lot by class (a quantity the contents do not keep) ships only
/// when the event states that lot's quantity; a shipping event naming an order moves
/// the order's lines, not what it lists.
#[test]
fn a_pallet_of_a_lot_by_class_ships_with_its_quantity_stated() {
    let mut c = Chain::new();
    let pallet = "urn:epc:id:sscc:6901234.0000000002";
    let pack = json!({
        "type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
        "bizLocation": {"id": WH}, "parentID": pallet,
        "childQuantityList": [{"epcClass": LOT_CLASS, "quantity": 4}],
    });
    assert_eq!(capture(&mut c, "orchard-admin", vec![pack]), Ok(()));
    assert_eq!(c.stock_now().on_hand, 10, "packing moves no stock");
    let ship = |stated: bool| {
        let q: &[(serde_json::Value, Option<&str>)] =
            if stated { &[(json!(4), None)] } else { &[] };
        moving("shipping", &[pallet.to_string()], q)
    };
    assert_eq!(
        capture(&mut c, "orchard-wh", vec![ship(false)]),
        Err("unconvertible_quantity".into())
    );
    assert_eq!(c.stock_now().on_hand, 10);
    assert_eq!(capture(&mut c, "orchard-wh", vec![ship(true)]), Ok(()));
    assert_eq!(c.stock_now().on_hand, 6);
    // An order's shipping event takes its reserved line (2), whatever it lists (9).
    assert_eq!(
        c.run("shop-clerk", place("alice", "p1", Some("shop"), 2)),
        Ok(())
    );
    assert_eq!(
        c.run(
            "orchard-wh",
            order_event("shipping", "alice", "p1", 9, true)
        ),
        Ok(())
    );
    assert_eq!((c.stock_now().on_hand, c.stock_now().reserved), (4, 0));
    // Naming it again, shipped already, ships nothing of the order: what the event
    // lists leaves the available stock.
    let mut again = order_event("shipping", "alice", "p1", 1, true);
    if let Payload::CaptureEpcis(doc) = &mut again {
        doc.document = doc.document.replace(
            "2026-01-01T00:00:00Z\",\"eventTimeZoneOffset",
            "2026-01-01T00:00:05Z\",\"eventTimeZoneOffset",
        );
    }
    assert_eq!(c.run("orchard-wh", again), Ok(()));
    assert_eq!((c.stock_now().on_hand, c.stock_now().reserved), (3, 0));
}

// ---------------------------------------------------------------------------
// The buyer's address, sealed.
// ---------------------------------------------------------------------------

/// Encryption keys (version 1) for `orgs`; the secrets.
fn seal_keys(c: &mut Chain, orgs: &[&str]) -> Vec<waybill_types::seal::OrgSecret> {
    orgs.iter()
        .enumerate()
        .map(|(n, o)| {
            let secret = waybill_types::seal::SealSecretKey([70 + n as u8; 32]);
            let reg = Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey {
                version: 1,
                key: secret.public(),
            });
            assert_eq!(c.run(&format!("{o}-admin"), reg), Ok(()));
            waybill_types::seal::OrgSecret {
                org: org(o),
                kv: 1,
                secret,
            }
        })
        .collect()
}

/// Alice's address for order `id`, sealed as `category` for `to`.
fn sealed_address(
    id: &str,
    to: &[&waybill_types::seal::OrgSecret],
    category: waybill_types::DataCategory,
) -> String {
    use waybill_types::seal::{seal_at, Place, Recipient};
    let urn = format!("urn:waybill:order:{}:{id}", key("alice").public().to_hex());
    let mut rec = json!({"ship_to": {"name": "Alice Li", "phone": "+86 138 0000 0000", "address": "8 Jinli Road, Chengdu"}});
    let recipients: Vec<Recipient> = to
        .iter()
        .map(|s| Recipient {
            org: s.org.clone(),
            kv: s.kv,
            key: s.secret.public(),
        })
        .collect();
    let place = Place {
        chain_id: CHAIN,
        record: &urn,
        field: "/ship_to",
        category,
    };
    seal_at(&mut rec, &place, &recipients, &mut rand_core::OsRng).expect("seals");
    rec["ship_to"].to_string()
}

fn place_with_address(id: &str, ship_to: String) -> Payload {
    let Payload::PlaceOrder(mut p) = place("alice", id, Some("shop"), 1) else {
        unreachable!("place builds a place_order")
    };
    p.ship_to = Some(ship_to);
    Payload::PlaceOrder(p)
}

/// The address is sealed for the seller, the platform and the carrier (and every
/// regulator; this consortium has none): each opens it, anyone else sees ciphertext;
/// an address sealed for too few or too many, as the wrong category or to a stale key
/// version is refused `sealed_field`; its commitment is in the block's tree.
#[test]
fn the_buyers_address_is_sealed_for_the_seller_the_platform_and_the_carrier() {
    use waybill_types::DataCategory::{PlatformTransactions, Production};
    let mut c = Chain::new();
    let s = seal_keys(&mut c, &["orchard", "shop", "fleet", "mart"]);
    let (orchard, shop, fleet, mart) = (&s[0], &s[1], &s[2], &s[3]);
    let cases = [
        (
            "no carrier",
            sealed_address("a1", &[orchard, shop], PlatformTransactions),
        ),
        (
            "a stranger",
            sealed_address("a1", &[orchard, shop, fleet, mart], PlatformTransactions),
        ),
        (
            "wrong category",
            sealed_address("a1", &[orchard, shop, fleet], Production),
        ),
        ("not JSON", "{not json".to_string()),
        ("not sealed", json!({"name": "Alice Li"}).to_string()),
    ];
    for (what, text) in cases {
        assert_eq!(
            c.run("shop-clerk", place_with_address("a1", text)),
            Err("sealed_field".into()),
            "{what}"
        );
    }
    let text = sealed_address("a1", &[orchard, shop, fleet], PlatformTransactions);
    assert_eq!(
        c.run("shop-clerk", place_with_address("a1", text.clone())),
        Ok(())
    );
    let o = c.order("alice", "a1");
    assert_eq!(o.ship_to.as_deref(), Some(text.as_str()));
    assert!(!text.contains("Jinli"), "ciphertext on chain");
    let urn = o.urn();
    assert!(
        c.state
            .contains_key(&waybill_state::keys::commit_of(&urn, "/ship_to")),
        "the address's commitment is in the block's commitment tree"
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let sealed = waybill_types::seal::Sealed::from_json(&v, &urn, "/ship_to")
        .expect("a sealed field")
        .expect("well formed");
    for secret in [orchard, shop, fleet] {
        let opened = sealed
            .open(CHAIN, std::slice::from_ref(secret))
            .expect("a recipient opens it");
        assert_eq!(opened.value["address"], "8 Jinli Road, Chengdu");
    }
    assert!(
        sealed.open(CHAIN, std::slice::from_ref(mart)).is_err(),
        "mart is no recipient"
    );
    // Sealed for another order, it does not open there.
    let moved = waybill_types::seal::Sealed::from_json(&v, &urn.replace(":a1", ":a2"), "/ship_to")
        .expect("a sealed field")
        .expect("well formed");
    assert!(
        moved.open(CHAIN, std::slice::from_ref(fleet)).is_err(),
        "bound to its order"
    );
    // After the carrier rotates its key, an address sealed to its old version is refused.
    let rotate = Payload::RegisterSealKey(waybill_types::payload::RegisterSealKey {
        version: 2,
        key: waybill_types::seal::SealSecretKey([99; 32]).public(),
    });
    assert_eq!(c.run("fleet-admin", rotate), Ok(()));
    let stale = sealed_address("a3", &[orchard, shop, fleet], PlatformTransactions);
    assert_eq!(
        c.run("shop-clerk", place_with_address("a3", stale)),
        Err("sealed_field".into())
    );
}

/// An erasable address: detached, the order keeps no ciphertext, only the private
/// part's hash; the part opens for a recipient. Only the platform (the organization the
/// buyer dealt with) erases it on the buyer's request — not the seller, the carrier or
/// a stranger — once; a wrap is added only for a party to the order, and none after the
/// erasure; a validator records its purge.
#[test]
fn an_erasable_address_is_erased_by_the_platform_and_wrapped_only_for_parties() {
    use waybill_types::payload::{AddSealWraps, EraseSealed, RecordPurge};
    use waybill_types::seal::{Recipient, SealedField};
    let mut c = Chain::new();
    let s = seal_keys(&mut c, &["orchard", "shop", "fleet", "mart"]);
    let (orchard, shop, fleet, mart) = (&s[0], &s[1], &s[2], &s[3]);
    let text = sealed_address(
        "e1",
        &[orchard, shop, fleet],
        waybill_types::DataCategory::PlatformTransactions,
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let urn = urn("alice", "e1");
    let whole = waybill_types::seal::Sealed::from_json(&v, &urn, "/ship_to")
        .expect("a sealed field")
        .expect("well formed");
    let (detached, part) = whole.clone().detach();
    let on_chain = detached.to_json().to_string();
    assert_eq!(
        c.run("shop-clerk", place_with_address("e1", on_chain.clone())),
        Ok(())
    );
    assert_eq!(
        c.order("alice", "e1").ship_to.as_deref(),
        Some(on_chain.as_str())
    );
    let ct = serde_json::to_value(&whole).expect("JSON")["ct"].clone();
    assert!(ct.is_string() && !on_chain.contains(ct.as_str().unwrap_or("-")));
    // The part the recipients' nodes keep opens for the carrier.
    let (home, found) = waybill_state::trace::wraps::find_sealed_field(&c.state, &urn, "/ship_to")
        .expect("reads")
        .expect("the order's address is a sealed field");
    assert_eq!(home.recorder(), &org("shop"));
    let SealedField::Detached(d) = found else {
        panic!("the address is detached")
    };
    let opened = d
        .attach(&part)
        .expect("the part fits")
        .open(CHAIN, std::slice::from_ref(fleet))
        .expect("the carrier opens it");
    assert_eq!(opened.value["name"], "Alice Li");
    // A wrap for mart, no party to the order, is refused.
    let wrap_for_mart = whole
        .rewrap(
            CHAIN,
            std::slice::from_ref(shop),
            &Recipient {
                org: mart.org.clone(),
                kv: 1,
                key: mart.secret.public(),
            },
            &mut rand_core::OsRng,
        )
        .expect("shop rewraps");
    let add = |w| {
        Payload::AddSealWraps(AddSealWraps {
            record: urn.clone(),
            field: "/ship_to".into(),
            wraps: vec![w],
        })
    };
    assert_eq!(
        c.run("shop-clerk", add(wrap_for_mart.clone())),
        Err("sealed_field".into())
    );
    let erase = || {
        Payload::EraseSealed(EraseSealed {
            record: urn.clone(),
            field: "/ship_to".into(),
            reason: "the buyer's erasure request".into(),
        })
    };
    for who in ["orchard-admin", "fleet-driver", "mart-clerk"] {
        assert_eq!(c.run(who, erase()), Err("not_authorized".into()), "{who}");
    }
    // Another spelling of the order's URN names nothing: one order, one name.
    let Payload::EraseSealed(mut shouted) = erase() else {
        unreachable!()
    };
    shouted.record = urn
        .to_uppercase()
        .replace("URN:WAYBILL:ORDER:", "urn:waybill:order:");
    assert_eq!(
        c.run("shop-clerk", Payload::EraseSealed(shouted)),
        Err("sealed_field".into())
    );
    assert_eq!(c.run("shop-clerk", erase()), Ok(()));
    assert_eq!(c.run("shop-clerk", erase()), Err("duplicate".into()));
    let purge = Payload::RecordPurge(RecordPurge {
        record: urn.clone(),
        field: "/ship_to".into(),
    });
    assert_eq!(c.run("validator", purge), Ok(()));
    let purged = waybill_state::trace::erasure::purges(&c.state, &urn, "/ship_to").expect("reads");
    assert_eq!(purged.len(), 1);
    // The order goes on: it is shipped as before.
    assert_eq!(ship(&mut c, "alice", "e1"), Ok(()));
    // An inline address cannot be erased.
    let inline = sealed_address(
        "e2",
        &[orchard, shop, fleet],
        waybill_types::DataCategory::PlatformTransactions,
    );
    assert_eq!(
        c.run("shop-clerk", place_with_address("e2", inline)),
        Ok(())
    );
    let Payload::EraseSealed(mut e2) = erase() else {
        unreachable!()
    };
    e2.record = urn.replace(":e1", ":e2");
    assert_eq!(
        c.run("shop-clerk", Payload::EraseSealed(e2)),
        Err("sealed_field".into())
    );
}

// ---------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------

/// Who acts, and how: the buyer through the shop with its signature, the seller,
/// the platform, the carrier, and a platform that is no party.
const PARTIES: [&str; 5] = ["buyer", "seller", "platform", "carrier", "stranger"];

fn act(c: &mut Chain, party: &str, step: OrderStep) -> Result<(), String> {
    let payload = match party {
        "buyer" => buyer_action("alice", "m", step),
        _ => action("alice", "m", step),
    };
    let signer = match party {
        "buyer" | "platform" => "shop-clerk",
        "seller" => "orchard-admin",
        "carrier" => "fleet-driver",
        _ => "rival-clerk",
    };
    c.run(signer, payload)
}

/// A chain with alice's order `m` (2 oranges on the shop) driven to `state`.
fn order_in(state: OrderState) -> Chain {
    let mut c = Chain::new();
    assert_eq!(
        c.run("shop-clerk", place("alice", "m", Some("shop"), 2)),
        Ok(())
    );
    let deadline = |c: &Chain| c.order("alice", "m").deadline_ms.expect("a deadline");
    match state {
        OrderState::Placed => {}
        OrderState::Cancelled => assert_eq!(act(&mut c, "buyer", cancel()), Ok(())),
        OrderState::Expired => {
            let d = deadline(&c);
            c.wait_until(d);
        }
        _ => {
            assert_eq!(ship(&mut c, "alice", "m"), Ok(()));
            match state {
                OrderState::Refunded => {
                    let d = deadline(&c);
                    c.wait_until(d);
                }
                OrderState::Delivered | OrderState::Settled => {
                    assert_eq!(receive(&mut c, "alice", "m"), Ok(()));
                    if state == OrderState::Settled {
                        let d = deadline(&c);
                        c.wait_until(d);
                    }
                }
                _ => {}
            }
        }
    }
    assert_eq!(c.order("alice", "m").state, state);
    c
}

/// Every (state, step, party) cell: the outcome, and that a refusal changed
/// nothing. Who is asked before what: a party that may not take a step is refused
/// `not_authorized` in every state; one that may is refused `order_state` outside
/// the state the step takes.
#[test]
fn the_order_state_step_party_matrix() {
    let mut cells = 0;
    for state in OrderState::ALL {
        for step in [cancel(), OrderStep::ConfirmDelivery] {
            for party in PARTIES {
                let mut c = order_in(state);
                let before = c.state.clone();
                let (may, from, to) = match &step {
                    OrderStep::Cancel { .. } => (
                        matches!(party, "buyer" | "seller" | "platform"),
                        OrderState::Placed,
                        OrderState::Cancelled,
                    ),
                    OrderStep::ConfirmDelivery => (
                        matches!(party, "buyer" | "carrier"),
                        OrderState::Shipped,
                        OrderState::Delivered,
                    ),
                };
                let want = if !may {
                    Err("not_authorized".to_string())
                } else if state != from {
                    Err("order_state".to_string())
                } else {
                    Ok(())
                };
                let got = act(&mut c, party, step.clone());
                let cell = format!("{} × {} × {party}", state.name(), step.name());
                assert_eq!(got, want, "{cell}");
                match got {
                    Ok(()) => assert_eq!(c.order("alice", "m").state, to, "{cell}"),
                    Err(_) => {
                        // Only the replay id and the empty block's bookkeeping changed.
                        assert_eq!(c.order("alice", "m"), order_from(&before), "{cell}");
                        assert_eq!(c.balance(&wallet("alice")), balance_in(&before), "{cell}");
                    }
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 7 * 2 * 5);
}

/// The EPCIS side of the matrix: a shipping or receiving event naming the order,
/// captured by each party, in each state: which ones move it.
#[test]
fn shipping_and_receiving_events_move_only_the_orders_they_may() {
    for state in OrderState::ALL {
        for (step, capturer) in [
            ("shipping", "orchard-wh"),
            ("shipping", "fleet-driver"),
            ("receiving", "fleet-driver"),
            ("receiving", "orchard-wh"),
        ] {
            let mut c = order_in(state);
            let at_warehouse = capturer == "orchard-wh";
            let got = c.run(capturer, order_event(step, "alice", "m", 2, at_warehouse));
            assert_eq!(got, Ok(()), "{step} by {capturer}: the event is stored");
            let want = match (step, capturer, state) {
                ("shipping", _, OrderState::Placed) => OrderState::Shipped,
                ("receiving", "fleet-driver", OrderState::Shipped) => OrderState::Delivered,
                _ => state,
            };
            assert_eq!(
                c.order("alice", "m").state,
                want,
                "{step} by {capturer} in {}",
                state.name()
            );
        }
    }
}

fn order_from(state: &State) -> Order {
    load_order(state, &key("alice").public(), "m")
        .expect("reads")
        .expect("exists")
}

fn balance_in(state: &State) -> (u128, u128, u128, u128) {
    let a = load_account(state, &wallet("alice"))
        .expect("reads")
        .expect("open");
    (
        a.debits_posted.0,
        a.debits_pending.0,
        a.credits_posted.0,
        a.credits_pending.0,
    )
}

// ---------------------------------------------------------------------------
// Store faults: a failed read halts, never rejects or applies.
// ---------------------------------------------------------------------------

/// Fail each read of `tx` in turn on `c`'s state in a block at `time_ms`: every time
/// the block stops with a state fault.
fn assert_faults_halt(c: &Chain, what: &str, tx: &SignedTx, time_ms: u64) {
    let ctx = BlockContext {
        chain_id: CHAIN.into(),
        height: Height(c.height + 1),
        time_ms,
    };
    let mut ex = Execution::begin(&c.state, ctx.clone()).expect("reads");
    let baseline = ex.apply(tx, tx.id()).cloned();
    assert!(
        matches!(&baseline, Ok(r) if r.status == TxStatus::Applied),
        "{what}: applies on a sound store: {baseline:?}"
    );
    let mut faults = 0;
    for fail_at in 0..10_000 {
        let faulty = Faulty::new(&c.state, fail_at);
        let Ok(mut ex) = Execution::begin(&faulty, ctx.clone()) else {
            continue;
        };
        let result = ex.apply(tx, tx.id()).cloned();
        if faulty.reads.get() <= fail_at {
            assert_eq!(result, baseline, "{what}");
            break;
        }
        faults += 1;
        assert!(
            matches!(result, Err(TxInvalid::State(_))),
            "{what}: read {fail_at} failed, yet the transaction came out {result:?}"
        );
    }
    assert!(faults > 2, "{what}: the transaction reads state");
}

/// Every read of a listing, a placement, a cancellation, a shipping event, a
/// confirmation and a stock change is failed in turn, and every read of the
/// start-of-block deadline run: each time the block stops with a state fault.
#[test]
fn a_failed_state_read_halts_the_block_and_never_becomes_a_rejection() {
    let mut c = Chain::new();
    assert_eq!(
        c.run("shop-clerk", place("alice", "placed", Some("shop"), 1)),
        Ok(())
    );
    assert_eq!(
        c.run("shop-clerk", place("bob", "shipped", Some("shop"), 1)),
        Ok(())
    );
    assert_eq!(ship(&mut c, "bob", "shipped"), Ok(()));
    let t = c.time_ms + 1_000;
    let cases: Vec<(&str, &str, Payload)> = vec![
        (
            "listing",
            "orchard-admin",
            listing(Some("mart"), 100, vec![]),
        ),
        (
            "placement",
            "shop-clerk",
            place("alice", "new", Some("shop"), 2),
        ),
        (
            "cancellation",
            "shop-clerk",
            buyer_action("alice", "placed", cancel()),
        ),
        (
            "shipping event",
            "orchard-wh",
            order_event("shipping", "alice", "placed", 1, true),
        ),
        (
            "confirmation",
            "shop-clerk",
            buyer_action("bob", "shipped", OrderStep::ConfirmDelivery),
        ),
        (
            "stock count",
            "orchard-wh",
            Payload::AdjustStock(AdjustStock {
                location: warehouse(),
                gtin: gtin(),
                change: StockChange::Count { on_hand: 20 },
            }),
        ),
    ];
    for (what, who, payload) in cases {
        let tx = c.tx(who, payload);
        assert_faults_halt(&c, what, &tx, t);
    }
    // The deadlines at the start of a block: alice's order expires, bob's is
    // refunded; a failed read stops the block.
    let late = c.order("bob", "shipped").deadline_ms.expect("a deadline");
    let ctx = BlockContext {
        chain_id: CHAIN.into(),
        height: Height(c.height + 1),
        time_ms: late,
    };
    let mut stopped = 0;
    for fail_at in 0..10_000 {
        let faulty = Faulty::new(&c.state, fail_at);
        let begun = Execution::begin(&faulty, ctx.clone());
        if faulty.reads.get() <= fail_at {
            let out = begun.expect("sound").finish().expect("sound");
            let mut after = c.state.clone();
            apply(&mut after, &out.writes);
            let o = load_order(&after, &key("bob").public(), "shipped").expect("reads");
            assert_eq!(o.map(|o| o.state), Some(OrderState::Refunded));
            break;
        }
        assert!(begun.is_err(), "read {fail_at} failed, yet the block began");
        stopped += 1;
    }
    assert!(stopped > 4, "the deadline run reads state");
}

// ---------------------------------------------------------------------------
// Reviews and the open tier.
// ---------------------------------------------------------------------------

/// The open-tier records of every block so far, as JSON.
fn open_records(c: &Chain) -> Vec<serde_json::Value> {
    c.state
        .iter()
        .filter(|(k, _)| k.first() == Some(&waybill_state::keys::OPEN))
        .map(|(_, v)| serde_json::from_slice(v).expect("open records are JSON"))
        .collect()
}

#[test]
fn only_the_buyer_of_a_delivered_line_reviews_it_once_and_a_hidden_review_still_counts() {
    let mut c = Chain::new();
    assert_eq!(
        c.run("shop-clerk", place("alice", "r1", Some("shop"), 2)),
        Ok(())
    );
    let mine = review_key("alice", "r1");
    // Not yet delivered; another key; then delivered: reviewed once.
    assert_eq!(
        c.run("shop-clerk", review("alice", "r1", &mine, 5)),
        Err("order_state".into())
    );
    assert_eq!(ship(&mut c, "alice", "r1"), Ok(()));
    assert_eq!(receive(&mut c, "alice", "r1"), Ok(()));
    let sales: Vec<serde_json::Value> = open_records(&c)
        .into_iter()
        .filter(|r| r["kind"] == "sale")
        .collect();
    assert_eq!(sales.len(), 1, "the delivery publishes the sale: {sales:?}");
    assert_eq!(sales[0]["seller_name"], "orchard Ltd");
    assert_eq!(sales[0]["platform_name"], "shop Ltd");
    assert!(
        !sales[0]
            .to_string()
            .contains(&key("alice").public().to_hex()),
        "no buyer in a sale"
    );
    let stranger = key("someone-else");
    assert_eq!(
        c.run("shop-clerk", review("alice", "r1", &stranger, 1)),
        Err("not_a_purchase".into())
    );
    assert_eq!(
        c.run("shop-clerk", review("bob", "r1", &mine, 1)),
        Err("unknown_order".into())
    );
    let mut forged = review("alice", "r1", &mine, 5);
    if let Payload::ReviewOrder(r) = &mut forged {
        r.rating = 1; // signed for 5 stars
    }
    assert_eq!(
        c.run("shop-clerk", forged),
        Err("bad_buyer_signature".into())
    );
    assert_eq!(c.run("shop-clerk", review("alice", "r1", &mine, 5)), Ok(()));
    assert_eq!(
        c.run("mart-clerk", review("alice", "r1", &mine, 4)),
        Err("duplicate".into())
    );
    let act = |step: ReviewStep| {
        Payload::ReviewAction(ReviewAction {
            review_key: mine.public(),
            gtin: gtin(),
            step,
        })
    };
    let answer = || {
        act(ReviewStep::Answer {
            text: "Thank you!".into(),
        })
    };
    let hide = || {
        act(ReviewStep::Hide {
            reason: "names a delivery driver".into(),
        })
    };
    assert_eq!(c.run("shop-clerk", answer()), Err("not_authorized".into()));
    assert_eq!(c.run("orchard-admin", answer()), Ok(()));
    assert_eq!(c.run("orchard-admin", answer()), Err("duplicate".into()));
    assert_eq!(c.run("orchard-admin", hide()), Err("not_authorized".into()));
    assert_eq!(c.run("mart-clerk", hide()), Err("not_authorized".into()));
    assert_eq!(c.run("shop-clerk", hide()), Ok(()));
    // Bob's review of another order adds to the product's count and average.
    assert_eq!(
        c.run("mart-clerk", place("bob", "r2", Some("mart"), 1)),
        Ok(())
    );
    assert_eq!(ship(&mut c, "bob", "r2"), Ok(()));
    assert_eq!(
        c.run(
            "mart-clerk",
            buyer_action("bob", "r2", OrderStep::ConfirmDelivery)
        ),
        Ok(())
    );
    let sales = open_records(&c)
        .into_iter()
        .filter(|r| r["kind"] == "sale")
        .count();
    assert_eq!(sales, 2, "a confirmed delivery publishes its sale too");
    assert_eq!(
        c.run(
            "mart-clerk",
            review("bob", "r2", &review_key("bob", "r2"), 3)
        ),
        Ok(())
    );
    assert_eq!(
        waybill_state::reviews::product_reviews(&c.state, &gtin()).expect("reads"),
        (2, 8),
        "the hidden review still counts"
    );
    let records = open_records(&c);
    let kinds: Vec<&str> = records.iter().filter_map(|r| r["kind"].as_str()).collect();
    for k in ["review", "review_answer", "review_hidden"] {
        assert!(kinds.contains(&k), "{k} published: {kinds:?}");
    }
    let last = records
        .iter()
        .rev()
        .find(|r| r["kind"] == "review")
        .expect("a review");
    assert_eq!(
        (&last["product_reviews"], &last["product_rating_sum"]),
        (&json!(2), &json!(8))
    );
    assert_eq!(last["verified_purchase"], true);
    // The public record names the review key, never the buyer or the order.
    for r in records
        .iter()
        .filter(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("review")))
    {
        let t = r.to_string();
        assert!(
            !t.contains(&key("alice").public().to_hex()) && !t.contains("\"r1\""),
            "{t}"
        );
    }
}

// ---------------------------------------------------------------------------
// Random sequences: the invariants of money, stock and the lifecycle.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    /// A buyer (0: alice, 1: bob) orders `qty` on a platform (0: shop, 1: mart).
    Place {
        buyer: usize,
        platform: usize,
        qty: u32,
    },
    /// The buyer of the k-th order placed cancels it (through its platform).
    Cancel { k: usize },
    /// The warehouse ships the k-th order.
    Ship { k: usize },
    /// The carrier delivers the k-th order.
    Deliver { k: usize },
    /// An empty block `ms` later (deadlines fire).
    Wait { ms: u64 },
    /// The warehouse counts `n` on hand.
    Count { n: u64 },
    /// An EPCIS receiving event at the warehouse puts `n` cartons into stock.
    Receive { n: u32 },
    /// An EPCIS shipping event (no order) takes `n` cartons out, if available.
    ShipLoose { n: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 0..2usize, 1..4u32).prop_map(|(buyer, platform, qty)| Op::Place { buyer, platform, qty }),
        1 => (0..64usize).prop_map(|k| Op::Cancel { k }),
        2 => (0..64usize).prop_map(|k| Op::Ship { k }),
        2 => (0..64usize).prop_map(|k| Op::Deliver { k }),
        2 => prop_oneof![Just(1_000u64), Just(HOUR), Just(2 * HOUR), Just(50 * HOUR)].prop_map(|ms| Op::Wait { ms }),
        1 => (0..20u64).prop_map(|n| Op::Count { n }),
        1 => (1..6u32).prop_map(|n| Op::Receive { n }),
        1 => (1..6u32).prop_map(|n| Op::ShipLoose { n }),
    ]
}

/// After every block: each order's escrow is pending while it is open, posted once
/// settled, voided once cancelled, expired or refunded; a final state never changes;
/// the stock reserved is what open-and-unshipped orders hold, the stock on hand what
/// the model says; each buyer's wallet holds in pending exactly its open orders'
/// totals and has paid exactly its settled orders' totals. (Stock also moves by
/// EPCIS receiving and shipping events that name no order.)
fn check_orders(
    c: &Chain,
    orders: &[(String, String)],
    finals: &mut BTreeMap<(String, String), OrderState>,
    on_hand: u64,
) {
    let mut reserved = 0u64;
    let mut pending: BTreeMap<&str, u128> = BTreeMap::new();
    let mut paid: BTreeMap<&str, u128> = BTreeMap::new();
    for (buyer, id) in orders {
        let o = c.order(buyer, id);
        if let Some(was) = finals.get(&(buyer.clone(), id.clone())) {
            assert_eq!(o.state, *was, "{buyer}/{id}: a final state stays final");
        }
        if o.state.is_final() {
            finals.insert((buyer.clone(), id.clone()), o.state);
        }
        if o.state == OrderState::Placed {
            reserved += o.lines.iter().map(|l| u64::from(l.quantity)).sum::<u64>();
        }
        for r in &o.escrow {
            let t = load_transfer(&c.state, r)
                .expect("reads")
                .expect("escrow kept");
            let ok = matches!(
                (o.state, &t.pending_state),
                (
                    OrderState::Placed | OrderState::Shipped | OrderState::Delivered,
                    Some(PendingState::Pending { .. }),
                ) | (OrderState::Settled, Some(PendingState::Posted { .. }))
                    | (
                        OrderState::Cancelled | OrderState::Expired | OrderState::Refunded,
                        Some(PendingState::Voided { .. }),
                    )
            );
            assert!(
                ok,
                "{buyer}/{id} {}: escrow {:?}",
                o.state.name(),
                t.pending_state
            );
        }
        match o.state {
            OrderState::Placed | OrderState::Shipped | OrderState::Delivered => {
                *pending.entry(buyer).or_default() += o.total.0
            }
            OrderState::Settled => *paid.entry(buyer).or_default() += o.total.0,
            _ => {}
        }
    }
    let s = c.stock_now();
    assert_eq!((s.on_hand, s.reserved), (on_hand, reserved), "stock");
    for buyer in ["alice", "bob"] {
        let (debits_posted, debits_pending, _, _) = c.balance(&wallet(buyer));
        assert_eq!(
            debits_pending,
            pending.get(buyer).copied().unwrap_or(0),
            "{buyer}: escrowed"
        );
        assert_eq!(
            debits_posted,
            paid.get(buyer).copied().unwrap_or(0),
            "{buyer}: paid"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("WAYBILL_ORDERS_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    /// Each op in its own block; `Chain::block_at` checks Σ debits = Σ credits and
    /// reserved ≤ on hand after every block, `check_orders` the rest.
    #[test]
    fn random_orders_keep_money_stock_and_states_consistent(ops in proptest::collection::vec(op(), 1..40)) {
        let mut c = Chain::new();
        let mut orders: Vec<(String, String)> = Vec::new();
        let mut finals = BTreeMap::new();
        let mut on_hand = 10u64;
        let mut shipping_events = std::collections::BTreeSet::new();
        for (i, op) in ops.into_iter().enumerate() {
            let pick = |k: usize| orders.get(k % orders.len().max(1)).cloned();
            match op {
                Op::Place { buyer, platform, qty } => {
                    let (b, p) = (["alice", "bob"][buyer], ["shop", "mart"][platform]);
                    let id = format!("p{i}");
                    if c.run(&format!("{p}-clerk"), place(b, &id, Some(p), qty)).is_ok() {
                        orders.push((b.to_string(), id));
                    }
                }
                Op::Cancel { k } => if let Some((b, id)) = pick(k) {
                    let p = c.order(&b, &id).platform.expect("a platform").to_string();
                    let _ = c.run(&format!("{p}-clerk"), buyer_action(&b, &id, cancel()));
                },
                // A placed order ships its reserved line; naming one that is not
                // placed ships loose stock (refused past what is available); the
                // same event again is a duplicate and moves nothing.
                Op::Ship { k } => if let Some((b, id)) = pick(k) {
                    let was = c.order(&b, &id).state;
                    let q = u64::from(c.order(&b, &id).lines[0].quantity);
                    let available = c.stock_now().available();
                    let r = ship(&mut c, &b, &id);
                    if r.is_ok() && !shipping_events.insert((b.clone(), id.clone())) {
                        // Stored before: a duplicate.
                    } else if was == OrderState::Placed {
                        prop_assert_eq!(r, Ok(()));
                        prop_assert_eq!(c.order(&b, &id).state, OrderState::Shipped);
                        on_hand -= q;
                    } else if q <= available {
                        prop_assert_eq!(r, Ok(()));
                        on_hand -= q;
                    } else {
                        prop_assert_eq!(r, Err("insufficient_stock".to_string()));
                    }
                },
                Op::Deliver { k } => if let Some((b, id)) = pick(k) {
                    prop_assert_eq!(receive(&mut c, &b, &id), Ok(()));
                },
                Op::Wait { ms } => {
                    let t = c.time_ms + ms;
                    c.wait_until(t);
                }
                Op::Count { n } => {
                    let tx = c.stock("orchard-wh", StockChange::Count { on_hand: n });
                    if code(&c.block(vec![tx])[0]).is_ok() {
                        on_hand = n;
                    }
                }
                // Each at its own time: the same event again is a duplicate, which
                // moves nothing.
                Op::Receive { n } => {
                    let mut e = moving("receiving", &[], &[(json!(n), None)]);
                    e["eventTime"] = json!(format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60));
                    prop_assert_eq!(capture(&mut c, "orchard-wh", vec![e]), Ok(()));
                    on_hand += u64::from(n);
                }
                Op::ShipLoose { n } => {
                    let available = c.stock_now().available();
                    let mut e = moving("shipping", &[], &[(json!(n), None)]);
                    e["eventTime"] = json!(format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60));
                    let r = capture(&mut c, "orchard-wh", vec![e]);
                    if u64::from(n) <= available {
                        prop_assert_eq!(r, Ok(()));
                        on_hand -= u64::from(n);
                    } else {
                        prop_assert_eq!(r, Err("insufficient_stock".to_string()));
                    }
                }
            }
            check_orders(&c, &orders, &mut finals, on_hand);
        }
    }
}
