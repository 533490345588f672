use rand_core::OsRng;
use serde_json::json;

use super::*;

const CHAIN: &str = "waybill-test";

fn org(s: &str) -> OrgId {
    OrgId::new(s).expect("test setup")
}

struct Party {
    secret: OrgSecret,
    recipient: Recipient,
}

fn party(name: &str, kv: u32) -> Party {
    let (secret, key) = SealSecretKey::generate(&mut OsRng);
    Party {
        secret: OrgSecret {
            org: org(name),
            kv,
            secret,
        },
        recipient: Recipient {
            org: org(name),
            kv,
            key,
        },
    }
}

fn place<'a>(record: &'a str, field: &'a str) -> Place<'a> {
    Place {
        chain_id: CHAIN,
        record,
        field,
        category: DataCategory::Financial,
    }
}

const RECORD: &str = "urn:uuid:6f1a8c1e-0c1b-4e0a-9f5b-1d2c3b4a5e6f";

#[test]
fn each_recipient_opens_a_competitor_sees_nothing() {
    let (seller, buyer, regulator, rival) = (
        party("orchard", 1),
        party("processor", 1),
        party("regulator", 1),
        party("rival", 1),
    );
    let value = json!({"amount": "1250.00", "currency": "CNY"});
    let sealed = seal(
        &place(RECORD, "/wb:purchasePrice"),
        &value,
        &[
            seller.recipient.clone(),
            buyer.recipient.clone(),
            regulator.recipient.clone(),
        ],
        &mut OsRng,
    )
    .expect("test setup");
    sealed.check_form().expect("test setup");
    // Nothing of the value in the sealed form.
    let text = serde_json::to_string(&sealed.to_json()).expect("test setup");
    assert!(!text.contains("1250.00"), "{text}");
    for p in [&seller, &buyer, &regulator] {
        let opened = sealed
            .open(CHAIN, std::slice::from_ref(&p.secret))
            .expect("test setup");
        assert_eq!(opened.value, value);
        assert!(matches_commitment(&sealed.commitment, &value, &opened.salt));
    }
    assert_eq!(
        sealed.open(CHAIN, std::slice::from_ref(&rival.secret)),
        Err(SealError::NotARecipient {
            sealed_for: "orchard v1, processor v1, regulator v1".into()
        })
    );
    // The rival's secret under the buyer's name does not open the buyer's wrap.
    let impostor = OrgSecret {
        org: org("processor"),
        kv: 1,
        secret: rival.secret.secret.clone(),
    };
    assert_eq!(
        sealed.open(CHAIN, &[impostor]),
        Err(SealError::WrapDoesNotOpen {
            org: org("processor"),
            kv: 1
        })
    );
}

#[test]
fn the_commitment_is_salted_sha256_of_the_canonical_value() {
    let p = party("orchard", 1);
    let value = json!({"b": 1, "a": [true, 0.5]});
    let one = seal(
        &place(RECORD, "/x"),
        &value,
        std::slice::from_ref(&p.recipient),
        &mut OsRng,
    )
    .expect("test setup");
    let two = seal(
        &place(RECORD, "/x"),
        &value,
        std::slice::from_ref(&p.recipient),
        &mut OsRng,
    )
    .expect("test setup");
    // Equal values, different salts: the commitments cannot be compared or guessed.
    assert_ne!(one.commitment, two.commitment);
    let opened = one
        .open(CHAIN, std::slice::from_ref(&p.secret))
        .expect("test setup");
    let mut preimage = opened.salt.to_vec();
    preimage.extend_from_slice(br#"{"a":[true,0.5],"b":1}"#);
    assert_eq!(one.commitment, crate::sha256(&preimage));
    // The salt comes from the data key: the ciphertext carries the value and the tag
    // only, and the two seals' salts differ as their keys do.
    let ct_len = base64::engine::general_purpose::STANDARD
        .decode(&one.ct)
        .expect("base64")
        .len();
    assert_eq!(ct_len, br#"{"a":[true,0.5],"b":1}"#.len() + 16);
    let salt_two = two
        .open(CHAIN, std::slice::from_ref(&p.secret))
        .expect("test setup")
        .salt;
    assert_ne!(opened.salt, salt_two);
    assert!(!matches_commitment(
        &one.commitment,
        &json!({"b": 2, "a": [true, 0.5]}),
        &opened.salt
    ));
}

#[test]
fn a_ciphertext_moved_or_changed_does_not_open() {
    let (a, b) = (party("orchard", 1), party("processor", 1));
    let keys = [a.secret.clone()];
    let sealed = seal(
        &place(RECORD, "/wb:purchasePrice"),
        &json!(1250),
        &[a.recipient.clone(), b.recipient.clone()],
        &mut OsRng,
    )
    .expect("test setup");
    assert!(sealed.open(CHAIN, &keys).is_ok());
    // Another chain.
    assert!(matches!(
        sealed.open("another-chain", &keys),
        Err(SealError::WrapDoesNotOpen { .. })
    ));
    // Another record, field or category: the wraps are bound to them too.
    let mut moved = sealed.clone();
    moved.record = "urn:uuid:00000000-0000-4000-8000-000000000000".into();
    assert!(moved.open(CHAIN, &keys).is_err());
    let mut moved = sealed.clone();
    moved.field = "/wb:salePrice".into();
    assert!(moved.open(CHAIN, &keys).is_err());
    let mut moved = sealed.clone();
    moved.category = DataCategory::Production;
    assert!(moved.open(CHAIN, &keys).is_err());
    // A wrap relabelled for another organization or key version.
    let mut relabelled = sealed.clone();
    relabelled.wraps[1].org = org("orchard");
    relabelled.wraps.remove(0);
    assert_eq!(
        relabelled.open(CHAIN, &keys),
        Err(SealError::WrapDoesNotOpen {
            org: org("orchard"),
            kv: 1
        })
    );
    let mut relabelled = sealed.clone();
    relabelled.wraps[0].kv = 2;
    let keys2 = [OrgSecret {
        kv: 2,
        ..a.secret.clone()
    }];
    assert!(matches!(
        relabelled.open(CHAIN, &keys2),
        Err(SealError::WrapDoesNotOpen { .. })
    ));
    // A changed ciphertext byte, and a changed commitment.
    let mut changed = sealed.clone();
    let mut ct = base64::engine::general_purpose::STANDARD
        .decode(&changed.ct)
        .expect("test setup");
    ct[10] ^= 1;
    changed.ct = b64(&ct);
    assert!(matches!(
        changed.open(CHAIN, &keys),
        Err(SealError::DataDoesNotOpen { .. })
    ));
    let mut changed = sealed.clone();
    changed.commitment.0[0] ^= 1;
    assert!(changed.open(CHAIN, &keys).is_err());
}

#[test]
fn a_recipient_rewraps_for_a_newcomer_and_old_versions_still_open() {
    let (seller, carrier, outsider) = (party("orchard", 1), party("carrier", 3), party("rival", 1));
    let mut sealed = seal(
        &place(RECORD, "/wb:address"),
        &json!("12 Orange Road, Chengdu"),
        std::slice::from_ref(&seller.recipient),
        &mut OsRng,
    )
    .expect("test setup");
    assert!(sealed
        .open(CHAIN, std::slice::from_ref(&carrier.secret))
        .is_err());
    // Someone who cannot open it cannot add anyone.
    assert!(matches!(
        sealed.rewrap(
            CHAIN,
            std::slice::from_ref(&outsider.secret),
            &outsider.recipient,
            &mut OsRng
        ),
        Err(SealError::NotARecipient { .. })
    ));
    let wrap = sealed
        .rewrap(
            CHAIN,
            std::slice::from_ref(&seller.secret),
            &carrier.recipient,
            &mut OsRng,
        )
        .expect("test setup");
    sealed.wraps.push(wrap);
    sealed.check_form().expect("test setup");
    assert_eq!(
        sealed
            .open(CHAIN, std::slice::from_ref(&carrier.secret))
            .expect("test setup")
            .value,
        json!("12 Orange Road, Chengdu")
    );
    // The seller rotates to v2: a keyring with both versions opens the old field.
    let v2 = party("orchard", 2);
    assert!(sealed
        .open(CHAIN, std::slice::from_ref(&v2.secret))
        .is_err());
    assert!(sealed
        .open(CHAIN, &[v2.secret.clone(), seller.secret.clone()])
        .is_ok());
}

#[test]
fn malformed_sealed_fields_are_named() {
    let p = party("orchard", 1);
    let good = seal(
        &place(RECORD, "/x"),
        &json!(1),
        std::slice::from_ref(&p.recipient),
        &mut OsRng,
    )
    .expect("test setup");
    type Change = Box<dyn Fn(&mut Sealed)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|s| s.suite = "rot13".into()), "unknown suite"),
        (
            Box::new(|s| s.nonce = "AAAA".into()),
            "the nonce has 3 bytes",
        ),
        (
            Box::new(|s| s.ct = "!!".into()),
            "the ciphertext is not base64",
        ),
        (Box::new(|s| s.wraps.clear()), "at least one organization"),
        (
            Box::new(|s| {
                let w = s.wraps[0].clone();
                s.wraps.push(w)
            }),
            "orchard has two wraps",
        ),
        (
            Box::new(|s| s.wraps[0].enc = b64(&[0; 31])),
            "31 bytes, not 32",
        ),
        (Box::new(|s| s.field = "x".into()), "JSON pointer"),
        // The state keys of commitments separate record id and field pointer by NUL.
        (
            Box::new(|s| s.record = format!("{RECORD}\0/x")),
            "neither holding NUL",
        ),
        (
            Box::new(|s| s.field = "/wb:purchase\0Price".into()),
            "neither holding NUL",
        ),
    ];
    for (change, want) in cases {
        let mut s = good.clone();
        change(&mut s);
        let err = s.check_form().expect_err("malformed").to_string();
        assert!(err.contains(want), "{err} should say {want}");
        assert!(s.open(CHAIN, std::slice::from_ref(&p.secret)).is_err());
    }
    // As JSON: unknown members refused, and nothing beside `wb:sealed`.
    let at = |v: &Value| Sealed::from_json(v, &good.record, &good.field);
    assert_eq!(at(&good.to_json()), Some(Ok(good.clone())));
    let mut v = good.to_json();
    v[SEALED]["extra"] = json!(1);
    assert!(matches!(at(&v), Some(Err(SealError::Malformed(_)))));
    let mut v = good.to_json();
    v["note"] = json!("hi");
    assert!(matches!(at(&v), Some(Err(SealError::Malformed(_)))));
    assert!(at(&json!({"a": 1})).is_none());
    // Format 2: the record id and the pointer are where the field stands, not members;
    // a field of format 1 (with them) is refused saying so.
    let json = good.to_json().to_string();
    assert!(
        !json.contains(RECORD) && !json.contains("\"record\"") && !json.contains("\"field\""),
        "{json}"
    );
    for member in ["record", "field"] {
        let mut v = good.to_json();
        v[SEALED][member] = json!("urn:uuid:x");
        let err = at(&v).expect("sealed").expect_err("format 1").to_string();
        assert!(err.contains("format 1"), "{err}");
    }
    // Read where it does not stand (another record or field): well formed, but the
    // associated data binds the record and the pointer, so it does not open.
    for (record, field) in [
        ("urn:uuid:other", good.field.as_str()),
        (RECORD, "/wb:other"),
    ] {
        let moved = Sealed::from_json(&good.to_json(), record, field)
            .expect("sealed")
            .expect("well formed");
        assert!(matches!(
            moved.open(CHAIN, std::slice::from_ref(&p.secret)),
            Err(SealError::WrapDoesNotOpen { .. })
        ));
    }
    // An integer a double cannot hold would come back changed: refused, say a string.
    let err = seal(
        &place(RECORD, "/x"),
        &json!({"serial": 9_007_199_254_740_993u64}),
        std::slice::from_ref(&p.recipient),
        &mut OsRng,
    )
    .expect_err("inexact");
    assert!(err.to_string().contains("send it as a string"), "{err}");
    assert!(seal(
        &place(RECORD, "/x"),
        &json!({"serial": 9_007_199_254_740_992u64, "neg": -9_007_199_254_740_992i64}),
        std::slice::from_ref(&p.recipient),
        &mut OsRng,
    )
    .is_ok());
    assert_eq!(
        seal(&place(RECORD, "/x"), &json!(1), &[], &mut OsRng).expect_err("no recipients"),
        SealError::Recipients("a field must be sealed for at least one organization".into())
    );
}

#[test]
fn documents_open_in_place_and_a_field_moved_between_events_is_caught() {
    let (processor, regulator, rival) = (
        party("processor", 1),
        party("regulator", 1),
        party("rival", 1),
    );
    let ids = [
        "urn:uuid:11111111-1111-4111-8111-111111111111",
        "urn:uuid:22222222-2222-4222-8222-222222222222",
    ];
    let mut events: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"type": "ObjectEvent", "eventID": id,
                   "wb:purchasePrice": {"amount": format!("{}.00", 100 + i)},
                   "ilmd": {"wb:supplierNote": "picked at dawn"}})
        })
        .collect();
    for (event, id) in events.iter_mut().zip(ids) {
        seal_at(
            event,
            &place(id, "/wb:purchasePrice"),
            &[processor.recipient.clone(), regulator.recipient.clone()],
            &mut OsRng,
        )
        .expect("test setup");
        seal_at(
            event,
            &Place {
                category: DataCategory::Production,
                ..place(id, "/ilmd/wb:supplierNote")
            },
            std::slice::from_ref(&processor.recipient),
            &mut OsRng,
        )
        .expect("test setup");
    }
    // Sealing a field twice, or a field that is not there, is refused.
    assert!(seal_at(
        &mut events[0],
        &place(ids[0], "/wb:purchasePrice"),
        std::slice::from_ref(&processor.recipient),
        &mut OsRng
    )
    .is_err());
    assert!(seal_at(
        &mut events[0],
        &place(ids[0], "/nope"),
        std::slice::from_ref(&processor.recipient),
        &mut OsRng
    )
    .is_err());
    let doc = json!({"events": events});

    let mut as_regulator = doc.clone();
    let r = open_all(
        &mut as_regulator,
        CHAIN,
        std::slice::from_ref(&regulator.secret),
    );
    assert_eq!((r.opened, r.not_for_us, r.failed.len()), (2, 2, 0));
    assert_eq!(
        as_regulator["events"][1]["wb:purchasePrice"],
        json!({"amount": "101.00"})
    );
    assert!(Sealed::from_json(
        &as_regulator["events"][1]["ilmd"]["wb:supplierNote"],
        ids[1],
        "/ilmd/wb:supplierNote"
    )
    .is_some());

    let mut as_processor = doc.clone();
    let r = open_all(
        &mut as_processor,
        CHAIN,
        std::slice::from_ref(&processor.secret),
    );
    assert_eq!((r.opened, r.not_for_us), (4, 0));
    assert_eq!(
        as_processor["events"][0]["ilmd"]["wb:supplierNote"],
        json!("picked at dawn")
    );

    let mut as_rival = doc.clone();
    let r = open_all(&mut as_rival, CHAIN, std::slice::from_ref(&rival.secret));
    assert_eq!((r.opened, r.not_for_us), (0, 4));
    assert_eq!(as_rival, doc);

    // Event 0's price pasted into event 1: it stands in another record, so it is
    // not opened, and the report says where.
    let mut pasted = doc.clone();
    pasted["events"][1]["wb:purchasePrice"] = doc["events"][0]["wb:purchasePrice"].clone();
    let r = open_all(&mut pasted, CHAIN, std::slice::from_ref(&processor.secret));
    assert_eq!(r.opened, 3);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].0, "/events/1/wb:purchasePrice");
    assert!(
        matches!(r.failed[0].1, SealError::WrapDoesNotOpen { .. }),
        "{:?}",
        r.failed[0].1
    );
    // Moved deeper into its own event: the pointer no longer runs from the event.
    let mut nested = doc.clone();
    let price = nested["events"][0]
        .as_object_mut()
        .expect("event")
        .remove("wb:purchasePrice")
        .expect("price");
    nested["events"][0]["ilmd"]["wb:purchasePrice"] = price;
    let r = open_all(&mut nested, CHAIN, std::slice::from_ref(&processor.secret));
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].0, "/events/0/ilmd/wb:purchasePrice");
    // Moved to another field of its own event.
    let mut shifted = doc.clone();
    shifted["events"][0]["wb:salePrice"] = doc["events"][0]["wb:purchasePrice"].clone();
    let r = open_all(&mut shifted, CHAIN, std::slice::from_ref(&processor.secret));
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].0, "/events/0/wb:salePrice");
    // Outside any event: its record cannot be told.
    let mut loose = json!({"price": doc["events"][0]["wb:purchasePrice"].clone()});
    let r = open_all(&mut loose, CHAIN, std::slice::from_ref(&processor.secret));
    assert_eq!(r.failed.len(), 1);
    assert!(r.failed[0]
        .1
        .to_string()
        .contains("no object with an `eventID`"));
    // Every field of the document is found, each with its record and pointer.
    let found: Vec<(String, String, String)> = sealed_fields_in(&doc)
        .into_iter()
        .map(|(at, f)| {
            let f = f.expect("well formed");
            (at, f.record().to_owned(), f.field().to_owned())
        })
        .collect();
    assert_eq!(found.len(), 4);
    assert!(found.contains(&(
        "/events/1/ilmd/wb:supplierNote".into(),
        ids[1].to_owned(),
        "/ilmd/wb:supplierNote".into()
    )));
}

#[test]
fn a_commitment_leaf_decodes_to_its_parts() {
    let c = crate::Hash([9; 32]);
    let leaf = commitment_leaf("urn:uuid:1", "/wb:price", &c);
    assert_eq!(
        decode_commitment_leaf(&leaf),
        Some(("urn:uuid:1".to_owned(), "/wb:price".to_owned(), c))
    );
    assert_eq!(decode_commitment_leaf(&leaf[..leaf.len() - 1]), None);
    assert_eq!(decode_commitment_leaf(&[0, 0, 0, 9, 1]), None);
}

/// An erasable field detaches into what its record keeps (where, for whom, the
/// commitment, the private part's hash) and a private part; attached again it opens as
/// before. A part that is not the one named, or wraps for other organizations, does
/// not attach; without the part a recipient is told where it is kept.
#[test]
fn a_detached_field_reattaches_only_to_its_own_private_part() {
    let (shop, carrier, rival) = (party("shop", 1), party("carrier", 2), party("rival", 1));
    let value = json!({"name": "Wang Fang", "phone": "+86 138 0000 0000"});
    let sealed = seal(
        &place(RECORD, "/wb:consignee"),
        &value,
        &[carrier.recipient.clone(), shop.recipient.clone()],
        &mut OsRng,
    )
    .expect("test setup");
    let (detached, part) = sealed.clone().detach();
    assert_eq!(
        detached.recipients,
        vec![
            KeyRef {
                org: org("carrier"),
                kv: 2
            },
            KeyRef {
                org: org("shop"),
                kv: 1
            }
        ],
        "sorted"
    );
    assert_eq!(detached.private, part.hash());
    assert_eq!(detached.commitment, sealed.commitment);
    // The record holds no ciphertext, wrap or nonce.
    let on_chain = detached.to_json().to_string();
    assert!(!on_chain.contains(&sealed.ct) && !on_chain.contains(&sealed.nonce));
    assert!(!on_chain.contains(&sealed.wraps[0].ct));
    let found = SealedField::from_json(&detached.to_json(), RECORD, "/wb:consignee")
        .expect("sealed")
        .expect("well formed");
    assert_eq!(found, SealedField::Detached(detached.clone()));
    assert_eq!(found.recipients(), detached.recipients);
    // The part's hash is over its canonical JSON: stable under re-serialization.
    let reparsed: PrivatePart =
        serde_json::from_str(&serde_json::to_string_pretty(&part).expect("json")).expect("json");
    assert_eq!(reparsed.hash(), detached.private);
    let whole = detached.attach(&part).expect("attaches");
    assert_eq!(whole, sealed);
    assert_eq!(
        whole
            .open(CHAIN, std::slice::from_ref(&shop.secret))
            .expect("opens")
            .value,
        value
    );
    // Another field's part, a changed part, a part wrapping for someone else.
    let other = seal(
        &place(RECORD, "/wb:consignee"),
        &value,
        &[carrier.recipient.clone(), shop.recipient.clone()],
        &mut OsRng,
    )
    .expect("test setup");
    let (_, other_part) = other.detach();
    assert!(detached
        .attach(&other_part)
        .expect_err("not its part")
        .to_string()
        .contains("not the one its record names"));
    let mut changed = part.clone();
    changed.nonce = "AAAAAAAAAAAAAAAA".into();
    assert!(detached.attach(&changed).is_err());
    let mut relabelled = detached.clone();
    relabelled.recipients[0].org = org("rival");
    assert!(matches!(
        relabelled.attach(&part),
        Err(SealError::Recipients(_))
    ));
    // Opening a document in place: a recipient learns the part is kept elsewhere, a
    // non-recipient that it is not for it.
    let mut doc = json!({"eventID": RECORD, "wb:consignee": detached.to_json()});
    let report = open_all(&mut doc, CHAIN, std::slice::from_ref(&carrier.secret));
    assert_eq!(report.opened, 0);
    assert!(matches!(report.failed[0].1, SealError::NotAttached { .. }));
    assert!(report.failed[0].1.to_string().contains("GET /v1/sealed"));
    let report = open_all(&mut doc, CHAIN, std::slice::from_ref(&rival.secret));
    assert_eq!((report.not_for_us, report.failed.len()), (1, 0));
    // Malformed detached forms are named.
    let mut twice = detached.clone();
    twice.recipients.push(twice.recipients[0].clone());
    assert!(twice
        .check_form()
        .expect_err("twice")
        .to_string()
        .contains("two wraps"));
    let mut none = detached;
    none.recipients.clear();
    assert!(none.check_form().is_err());
}
