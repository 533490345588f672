//! The wire forms of payloads are fixed: they are signed, hashed into transaction
//! ids and stored in blocks. One JSON example of every kind of payload must parse,
//! and encode to the same bytes as when the form was first fixed (hashes below).

use waybill_types::codec;
use waybill_types::{Payload, SecretKey};

const EXAMPLES: [(&str, &str); 31] = [
    (
        "register_member",
        r#"{"type":"register_member","member":"KEY","name":"Li Wei","roles":["producer","processor"]}"#,
    ),
    (
        "set_member_roles",
        r#"{"type":"set_member_roles","member":"KEY","roles":["carrier"]}"#,
    ),
    (
        "revoke_member",
        r#"{"type":"revoke_member","member":"KEY","reason":"left"}"#,
    ),
    (
        "register_product",
        r#"{"type":"register_product","gtin":"06901234000016","name":"Navel oranges","brand":"Pujiang","category":"fresh fruit","origin_country":"CN"}"#,
    ),
    (
        "register_lot",
        r#"{"type":"register_lot","gtin":"06901234000016","lot":"L1","origin_gln":"6901234000016","produced_on":"2026-11-02","quantity":5,"unit":"kg","inputs":[{"kind":"fertilizer","name":"compost","amount":"2 t/ha","applied_on":"2026-03-01"}],"raw_materials":[{"gtin":"06901234000016","lot":"L0"}],"claims":["organic"]}"#,
    ),
    (
        "propose_governance",
        r#"{"type":"propose_governance","action":{"kind":"admit_organization","id":"new-org","name":"New","admin":"KEY","roles":["carrier"],"company_prefixes":["6901235"],"validator":["KEY",1]},"reason":"joins"}"#,
    ),
    (
        "approve_governance",
        r#"{"type":"approve_governance","proposal":3}"#,
    ),
    (
        "register_location",
        r#"{"type":"register_location","gln":"6901234000016","name":"Orchard","kind":"farm","address":"Pujiang","country":"CN","latitude":"30.4521","longitude":"103.5043"}"#,
    ),
    (
        "set_location_delegate",
        r#"{"type":"set_location_delegate","gln":"6901234000016","org":"carrier-co","allowed":true}"#,
    ),
    (
        "record_qualification",
        r#"{"type":"record_qualification","org":"farm-co","kind":"organic","issuer":"COCC","number":"N-1","scope":"oranges","valid_from":"2026-01-01","valid_to":"2027-01-01"}"#,
    ),
    (
        "revoke_qualification",
        r#"{"type":"revoke_qualification","org":"farm-co","number":"N-1","reason":"expired"}"#,
    ),
    (
        "require_qualification",
        r#"{"type":"require_qualification","product_category":"fresh fruit","kind":"organic"}"#,
    ),
    (
        "grant_read",
        r#"{"type":"grant_read","org":"carrier-co","category":"transport","allowed":true}"#,
    ),
    (
        "capture_epcis",
        r#"{"type":"capture_epcis","document":"{}"}"#,
    ),
    (
        "register_seal_key",
        r#"{"type":"register_seal_key","version":1,"key":"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"}"#,
    ),
    (
        "add_seal_wraps",
        r#"{"type":"add_seal_wraps","record":"urn:uuid:4e8d2c6f-1a7b-4c3e-9f5d-8b2a6e0c4d13","field":"/wb:purchasePrice","wraps":[{"org":"carrier-co","kv":2,"enc":"3gk1ozpL1y0S6N5bmDqVWZ3o3mVyZHRw8XqwGQSbBUk=","ct":"q8nKj2Zg8PZt0dXcM3uCqTW9TKmjJtlQfbb9sOQkRrk3cjZ5UjHbqq6kpzNs7gQ2"}]}"#,
    ),
    (
        "complain_seal_wrap",
        r#"{"type":"complain_seal_wrap","record":"urn:uuid:4e8d2c6f-1a7b-4c3e-9f5d-8b2a6e0c4d13","field":"/wb:purchasePrice","reason":"the wrap does not open with version 2"}"#,
    ),
    (
        "open_account",
        r#"{"type":"open_account","account":"org:shopmart:CNY:main","flags":{"debits_must_not_exceed_credits":true}}"#,
    ),
    (
        "close_account",
        r#"{"type":"close_account","account":"org:shopmart:CNY:main"}"#,
    ),
    (
        "transfer",
        r#"{"type":"transfer","transfers":[{"kind":"single","id":"fee-1","debit":"org:shopmart:CNY:main","credit":"org:farm-co:CNY:main","amount":"1250"},{"kind":"pending","id":"escrow-1","debit":"org:shopmart:CNY:main","credit":"org:farm-co:CNY:main","amount":"340282366920938463463374607431768211455","timeout_ms":604800000,"reference":"PO-7"},{"kind":"post","id":"post-1","pending":{"signer":"KEY","id":"escrow-0"},"amount":"99"},{"kind":"void","id":"void-1","pending":{"signer":"KEY","id":"escrow-9"}}]}"#,
    ),
    (
        "deposit",
        r#"{"type":"deposit","id":"dep-1","account":"key:KEY:CNY:wallet","amount":"5000","reference":"ICBC-2026-12-06-0001"}"#,
    ),
    (
        "publish_rate",
        r#"{"type":"publish_rate","id":"usd-cny-2026-12-06","base":"USD","quote":"CNY","rate":"7.2345","valid_from_ms":1796515200000,"valid_until_ms":1796601600000}"#,
    ),
    (
        "convert",
        r#"{"type":"convert","id":"fx-1","from":"org:importer:USD:main","to":"org:importer:CNY:main","amount":"10000","rate":{"provider":"icbc","id":"usd-cny-2026-12-06"}}"#,
    ),
    (
        "set_lot_status",
        r#"{"type":"set_lot_status","gtin":"06901234000016","lot":"PJ2611A","status":"quarantined","reason":"pesticide residue over the limit, report CIQ-2026-0412"}"#,
    ),
    (
        "set_listing",
        r#"{"type":"set_listing","gtin":"06901234000016","seller":"farm-co","platform":"shopmart","currency":"CNY","unit_price":"3980","platform_fee_bps":500,"discounts":[{"kind":"percent","bps":1000},{"kind":"fixed","amount":"100"},{"kind":"volume","min_quantity":10,"unit_price":"3500"},{"kind":"coupon","code":"newyear","bps":500,"max_uses":1000}],"ship_from":"6901234000016","lot":"PJ2611A","carrier":"swift-cold","terms":{"ship_within_ms":86400000,"deliver_within_ms":259200000,"return_window_ms":604800000},"active":true}"#,
    ),
    (
        "place_order",
        r#"{"type":"place_order","intent":{"chain_id":"waybill-demo","id":"o-1","buyer":"KEY","seller":"farm-co","platform":"shopmart","lines":[{"gtin":"06901234000016","quantity":2}],"currency":"CNY","max_total":"8000","pay_from":"key:KEY:CNY:wallet","expires_at_ms":1767225600000,"coupon":"newyear","review_key_hash":"SIGHALF"},"signature":"SIG","ship_to":"{\"wb:sealed\":{\"v\":2}}"}"#,
    ),
    (
        "order_action",
        r#"{"type":"order_action","buyer":"KEY","id":"o-1","step":{"kind":"cancel","reason":"ordered twice"},"buyer_signature":"SIG"}"#,
    ),
    (
        "review_order",
        r#"{"type":"review_order","buyer":"KEY","order":"o-1","gtin":"06901234000016","rating":5,"title":"Sweet","text":"Juicy and cold on arrival.","review_key":"KEY","salt":"SIGHALF","signature":"SIG"}"#,
    ),
    (
        "review_action",
        r#"{"type":"review_action","review_key":"KEY","gtin":"06901234000016","step":{"kind":"hide","reason":"shows a phone number"}}"#,
    ),
    (
        "adjust_stock",
        r#"{"type":"adjust_stock","location":"6901234000016","gtin":"06901234000016","change":{"kind":"write_off","quantity":3,"reason":"damaged"}}"#,
    ),
    (
        "set_trade_unit",
        r#"{"type":"set_trade_unit","gtin":"06901234000016","uom":"KGM","per_unit":"5"}"#,
    ),
];

/// SHA-256 (hex) of each example's borsh encoding, fixed when the forms were.
const HASHES: [&str; 31] = [
    "b654e9bbc1c97732954b25ac3473c7e323fdd42fcbc385edd41f7940140bb026",
    "062e9352953375401902faa8d00d3f810e86ac1b669c892f7a83b3eded1720c6",
    "94f4966a355898527025171a6b15979a154ae987d528f1273e13b0f91f217c6a",
    "13e7a3d80ce9caad0c5b77b7c0e97e7e9a5d48c6619d57f3861ec978316ae395",
    "1327d7ab6ac300ff8dd6d096949e0dc836f17552b077486b1a272fb66c325e0b",
    "379cf5957d0f1e75d254ba62d7402c94ce0d45112ab25f63053542ef72b71dfd",
    "2867596782eadc402d61621bc66febc6f1bef8478cab4a77ab3279e6bfade625",
    "0967fd84da3f19d2bf6b11126289ed8607b7da4de672c77540c8080a70afc197",
    "25212bd799f146a487d0f2fc0da9023f3c8ee78f341dc59561c9b3a29cd2f6fe",
    "a25278d8fb8f61fed7848b36cdf87343dab1276a5ef673f0bbcc91f673ef22a9",
    "ae9c4b1de2596a80306d30738ed4c39de2a122afe2b2d38617198d378c0ed694",
    "96778a912db1988b28c01fe771fe5798f32b9aa4283b32d27d9ab41090613074",
    "e04125b4863133edc481dffed7d8d33f3a649a173709eae42866336f13edbc7a",
    "159730547261a8080253dd3d7970490d1be867fc79b783c841a19b53e1566eb5",
    "ba5f4002cb72905b6d824caf2e4bac38696d247c4afd1dd107edea8d5922e632",
    "b0f62fa75e62e05fef0de86b3a56320d1210652f170611e0f958005012d777ae",
    "e2466a56def19237622478a0f48952fb5f49fabf89c60fc91df24c5ca1c79308",
    "70aeab7ddd26981ad53a8ceb8f51d7e1036d0c285dcd4c35d5e6af072b666e86",
    "22ca7d465e1a6b7c9594695c1bfcf385dbd2769f39c357b66ebc7e9af7c5ef36",
    "717c675f2d083a2b490035fcdc187eafc129a4596007247ede23e20fb415a6b4",
    "9b45b6d420bb006837e78c1a50f8056edd2c3fb503a7d3fb3eea371e23562d4b",
    "7b25b15f140475415354afbda18ce70568626f984f44fcc2d0af11bf5566eb3d",
    "8b23582c966ce852d808b9e47947b735538836a673f4e22ee242e6a122f1ad42",
    "f20471e5edaf7d386c0ae5725c3ee0d38bb9741e583b36ae3620e1ccd39a609c",
    "366e88eca439146e0cc4ac262140e78cfd4f050a9afcb761ab2e27d0635722fc",
    "98e31f8fcd4c99abfb9357474eac15ab0948be06e1ef6afa3ccaea372e4c333e",
    "faf7c16be697ef0bf5a39664b8bde2e1d17d7f58d6eca86fcbe501b32f88ec98",
    "1fbd6d955f2ddcbf36274ce6ea28000b7fa7d6523172310a75e4c7f10c73d3b8",
    "8a7b7650a16cc704c22f6230c59100cdd467e7218de79bc6e1713f6039f0364e",
    "7246287b5db67cd21745f1a8497db93192cac5ad9e0e61bc2d48b958ce376723",
    "59bf18c16670232f487721a2de4fb11e8a8a144cca81c323f4af2ade8ac5e071",
];

/// The examples name one member key, written `KEY`.
fn with_key(json: &str) -> String {
    json.replace("KEY", &SecretKey::from_label("member").public().to_hex())
        .replace("SIGHALF", &"cd".repeat(32))
        .replace("SIG", &"ab".repeat(64))
}

#[test]
fn every_payload_kind_keeps_its_json_and_binary_form() {
    let mut got = Vec::new();
    for (kind, json) in EXAMPLES {
        let json = with_key(json);
        let p: Payload = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(p.kind(), kind);
        let back: Payload =
            serde_json::from_value(serde_json::to_value(&p).expect("serializes")).expect("parses");
        assert_eq!(back, p, "{kind}: JSON round trip");
        let bytes = codec::encode(&p);
        assert_eq!(
            codec::decode::<Payload>(&bytes, usize::MAX, "payload").expect("decodes"),
            p
        );
        got.push(waybill_types::sha256(&bytes).to_string());
    }
    for ((kind, _), (g, want)) in EXAMPLES.iter().zip(got.iter().zip(HASHES)) {
        assert_eq!(g, want, "{kind}: binary form changed");
    }
}

#[test]
fn unknown_fields_are_refused_in_every_kind() {
    for (kind, json) in EXAMPLES {
        let extra = with_key(json).replacen('{', r#"{"surprise":1,"#, 1);
        let err = serde_json::from_str::<Payload>(&extra)
            .expect_err(&format!("{kind}: an unknown field must be refused"));
        assert!(err.to_string().contains("surprise"), "{kind}: {err}");
    }
}
