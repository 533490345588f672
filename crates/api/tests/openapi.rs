//! The OpenAPI document against the API: every operation has a unique `operationId`,
//! typed success schemas, problem responses and, where it reads signed, the security
//! scheme; and every answer the API gives over a realistic chain validates against the
//! schema the document declares for its status and content type.

#[allow(dead_code)] // each test binary uses part of the fixtures
mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use waybill_types::keys::read_authorization;
use waybill_types::{Payload, Role, SecretKey};

/// The document as served.
fn document() -> Value {
    serde_json::from_str(waybill_api::openapi_document()).expect("the document is JSON")
}

/// Every operation: (method, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method != "parameters" {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Follow a local `$ref` (`#/a/b`) in `doc`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.strip_prefix('#').expect("local $ref"))
            .unwrap_or_else(|| panic!("$ref {r} does not resolve")),
        None => v,
    }
}

/// Every `$ref` anywhere in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_operation_has_a_unique_operation_id() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            seen.insert(id.to_string()),
            "operationId {id} is used twice"
        );
    }
    assert_eq!(seen.len(), waybill_api::ROUTES.len());
}

#[test]
fn every_ref_resolves_and_no_success_schema_is_untyped() {
    let doc = document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 100, "the document refers to its schemas");
    for r in &all {
        let target = r.strip_prefix('#').expect("every $ref is local");
        assert!(doc.pointer(target).is_some(), "$ref {r} does not resolve");
    }
    for (method, path, op) in operations(&doc) {
        for (code, resp) in op["responses"].as_object().expect("responses") {
            let resp = resolve(&doc, resp);
            let Some(content) = resp["content"].as_object() else {
                continue;
            };
            for (ct, media) in content {
                let schema = resolve(&doc, &media["schema"]);
                assert!(
                    !(schema == &json!({ "type": "object" })),
                    "{method} {path} {code} {ct}: the schema is an untyped object"
                );
                if ct.contains("json") && code.starts_with('2') {
                    assert!(
                        schema.get("properties").is_some()
                            || schema.get("oneOf").is_some()
                            || schema.get("anyOf").is_some()
                            || schema.get("allOf").is_some(),
                        "{method} {path} {code} {ct}: the schema says nothing of the body: {schema}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_operation_declares_problem_responses_and_signed_reads_their_scheme() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["WaybillSignedRead"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["name"], "Authorization");
    let text = scheme["description"].as_str().expect("a description");
    for must in [
        "waybill/read/v1",
        "NUL",
        "key=",
        "ts=",
        "sig=",
        "300 s",
        "Ed25519",
    ] {
        assert!(
            text.contains(must),
            "the scheme's description tells `{must}`"
        );
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail", "code"] {
        assert!(
            problem["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(field))),
            "Problem requires {field}"
        );
    }
    for (method, path, op) in operations(&doc) {
        for class in ["4XX", "5XX"] {
            let resp = resolve(&doc, &op["responses"][class]);
            assert!(
                resp["content"]["application/problem+json"]["schema"]["$ref"]
                    == "#/components/schemas/Problem",
                "{method} {path}: {class} is a problem document"
            );
        }
        let signed = op["description"]
            .as_str()
            .is_some_and(|d| d.contains("WaybillSignedRead"));
        assert_eq!(
            signed,
            op.get("security").is_some(),
            "{method} {path}: a signed read names the scheme in `security`"
        );
    }
}

/// The schema the document declares for `answer` to `method path`, by status and
/// content type (a specific status first, then its class).
fn declared_schema(doc: &Value, method: &str, path: &str, answer: &Answer) -> Option<Value> {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    let code = answer.status.as_u16().to_string();
    let class = format!("{}XX", &code[..1]);
    let resp = op["responses"]
        .get(&code)
        .or_else(|| op["responses"].get(&class))
        .unwrap_or_else(|| {
            panic!(
                "{method} {path}: status {code} is not declared; body {}",
                answer.text()
            )
        });
    let resp = resolve(doc, resp);
    let Some(content) = resp["content"].as_object() else {
        assert!(
            answer.body.is_empty(),
            "{method} {path} {code}: a body not declared"
        );
        return None;
    };
    let ct = answer
        .content_type
        .as_deref()
        .expect("an answer with a body has a content type");
    let ct = ct.split(';').next().unwrap_or(ct).trim();
    let media = content
        .get(ct)
        .unwrap_or_else(|| panic!("{method} {path} {code}: content type {ct} is not declared"));
    Some(media["schema"].clone())
}

/// Validate `answer`'s body against the schema the document declares; panics naming
/// every disagreement.
fn check(doc: &Value, method: &str, path: &str, answer: &Answer) {
    let Some(schema) = declared_schema(doc, method, path, answer) else {
        return;
    };
    let json_body = answer
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("json"));
    if !json_body {
        assert_eq!(
            schema["type"], "string",
            "{method} {path}: a text body is a string"
        );
        return;
    }
    // The schema with the document's components beside it, so that its `$ref`s resolve.
    let mut root = json!({ "allOf": [schema], "components": doc["components"] });
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("{method} {path}: the schema does not compile: {e}"));
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: the body is not JSON ({e}): {}",
            answer.text()
        )
    });
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {}: the body disagrees with the document:\n{}\nbody: {body}",
        answer.status,
        errors.join("\n")
    );
}

/// GET `uri`, signed by `key` when given.
async fn get_signed(
    f: &Fixture,
    uri: &str,
    key: Option<&SecretKey>,
    accept: Option<&str>,
) -> Answer {
    let mut b = Request::builder().method(Method::GET).uri(uri);
    if let Some(k) = key {
        let auth = waybill_types::keys::read_authorization(k, "GET", uri, waybill_client::now_ms());
        b = b.header(header::AUTHORIZATION, auth);
    }
    if let Some(a) = accept {
        b = b.header(header::ACCEPT, a);
    }
    send(&f.app, b.body(Body::empty()).expect("request builds")).await
}

const EPC: &str = "urn:epc:id:sgtin:6901234.000001.B1";
const EVENT_ID: &str = "urn:uuid:6f1c0c4e-1b2a-4c3d-8e4f-000000000001";

fn harvest_document() -> String {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-06T12:00:00.000Z",
        "epcisBody": { "eventList": [{
            "type": "ObjectEvent",
            "eventTime": "2026-11-01T06:00:00.000+08:00",
            "eventTimeZoneOffset": "+08:00",
            "eventID": EVENT_ID,
            "action": "ADD", "epcList": [EPC], "bizStep": "commissioning", "disposition": "active",
            "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
            "ilmd": {"cbvmda:lotNumber": "H2611"}
        }]}
    })
    .to_string()
}

/// Who signs a read.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// Nobody: an anonymous read.
    Anyone,
    /// The orchard's admin.
    Admin,
    /// A key no member holds.
    Outsider,
    /// The orchard's picker (a producer).
    Picker,
}

/// Every read driven: (template, target with `$name` placeholders, signer, Accept).
const READS: &[(&str, &str, Who, Option<&str>)] = &[
    ("/v1/status", "/v1/status", Who::Anyone, None),
    ("/v1/txs/{id}", "/v1/txs/$rejected_id", Who::Anyone, None),
    ("/v1/txs/{id}", "/v1/txs/$capture_id", Who::Anyone, None),
    ("/v1/txs/{id}", "/v1/txs/$capture_id", Who::Admin, None),
    ("/v1/txs/{id}", "/v1/txs/$pending_id", Who::Anyone, None),
    ("/v1/txs/{id}", "/v1/txs/zz", Who::Anyone, None),
    ("/v1/txs/{id}", "/v1/txs/$capture_id", Who::Outsider, None),
    ("/v1/blocks", "/v1/blocks?limit=2", Who::Anyone, None),
    ("/v1/blocks", "/v1/blocks?after=x", Who::Anyone, None),
    (
        "/v1/blocks/{height}",
        "/v1/blocks/$height",
        Who::Anyone,
        None,
    ),
    (
        "/v1/blocks/{height}",
        "/v1/blocks/$height",
        Who::Admin,
        None,
    ),
    ("/v1/blocks/{height}", "/v1/blocks/1", Who::Anyone, None),
    ("/v1/blocks/{height}", "/v1/blocks/99999", Who::Anyone, None),
    ("/v1/orgs", "/v1/orgs?limit=1", Who::Anyone, None),
    ("/v1/orgs/{id}", "/v1/orgs/$ORCHARD", Who::Anyone, None),
    ("/v1/orgs/{id}", "/v1/orgs/NOPE", Who::Anyone, None),
    (
        "/v1/orgs/{id}/members",
        "/v1/orgs/$ORCHARD/members?limit=1",
        Who::Anyone,
        None,
    ),
    (
        "/v1/orgs/{id}/seal-keys",
        "/v1/orgs/$ORCHARD/seal-keys",
        Who::Anyone,
        None,
    ),
    (
        "/v1/orgs/{id}/seal-keys",
        "/v1/orgs/NOPE/seal-keys",
        Who::Anyone,
        None,
    ),
    (
        "/v1/members/{key}",
        "/v1/members/$key_hex",
        Who::Anyone,
        None,
    ),
    ("/v1/products", "/v1/products", Who::Anyone, None),
    ("/v1/products/{gtin}", "/v1/products/$g", Who::Anyone, None),
    (
        "/v1/products/{gtin}/lots",
        "/v1/products/$g/lots",
        Who::Anyone,
        None,
    ),
    (
        "/v1/lots/{gtin}/{lot}",
        "/v1/lots/$g/H2611",
        Who::Anyone,
        None,
    ),
    (
        "/v1/lots/{gtin}/{lot}",
        "/v1/lots/$g/NOPE",
        Who::Anyone,
        None,
    ),
    ("/v1/validators", "/v1/validators", Who::Anyone, None),
    (
        "/v1/screening-rules",
        "/v1/screening-rules",
        Who::Anyone,
        None,
    ),
    (
        "/v1/governance/proposals",
        "/v1/governance/proposals",
        Who::Anyone,
        None,
    ),
    (
        "/v1/governance/proposals/{id}",
        "/v1/governance/proposals/1",
        Who::Anyone,
        None,
    ),
    ("/metrics", "/metrics", Who::Anyone, None),
    ("/healthz", "/healthz", Who::Anyone, None),
    ("/readyz", "/readyz", Who::Anyone, None),
    ("/openapi.json", "/openapi.json", Who::Anyone, None),
    (
        "/epcis/capture/{id}",
        "/epcis/capture/$capture_id",
        Who::Picker,
        None,
    ),
    (
        "/epcis/capture/{id}",
        "/epcis/capture/$capture_id",
        Who::Anyone,
        None,
    ),
    ("/epcis/events", "/epcis/events", Who::Picker, None),
    (
        "/epcis/events",
        "/epcis/events?perPage=x",
        Who::Picker,
        None,
    ),
    ("/epcis/events", "/epcis/events", Who::Anyone, None),
    (
        "/epcis/events/{eventID}",
        "/epcis/events/$EVENT_ID",
        Who::Picker,
        None,
    ),
    ("/v1/trace/{id}", "/v1/trace/$EPC", Who::Picker, None),
    (
        "/v1/trace/{id}",
        "/v1/trace/$EPC?direction=forward",
        Who::Picker,
        None,
    ),
    ("/v1/audit", "/v1/audit?product=$g", Who::Picker, None),
    ("/v1/audit", "/v1/audit?org=$ORCHARD", Who::Admin, None),
    (
        "/v1/sealed",
        "/v1/sealed?record=$EVENT_ID",
        Who::Picker,
        None,
    ),
    (
        "/v1/sealed",
        "/v1/sealed?record=urn%3Auuid%3Anone",
        Who::Picker,
        None,
    ),
    (
        "/v1/sealed",
        "/v1/sealed?record=$EVENT_ID",
        Who::Anyone,
        None,
    ),
    // The event seals nothing: 404 unknown_sealed_field (a 200 is shaped by
    // `CommitmentProof`, deserialized strictly in epcis.rs's disclosure test).
    (
        "/v1/sealed/proof",
        "/v1/sealed/proof?record=$EVENT_ID&field=%2Fwb%3Aprice",
        Who::Picker,
        None,
    ),
    (
        "/v1/sealed/proof",
        "/v1/sealed/proof?record=$EVENT_ID&field=%2Fwb%3Aprice",
        Who::Anyone,
        None,
    ),
    // The event seals nothing erasable: 404 unknown_sealed_field; anonymous: 401.
    (
        "/v1/sealed/private",
        "/v1/sealed/private?record=$EVENT_ID&field=%2Fwb%3Aprice",
        Who::Picker,
        None,
    ),
    (
        "/v1/sealed/private",
        "/v1/sealed/private?record=$EVENT_ID&field=%2Fwb%3Aprice",
        Who::Anyone,
        None,
    ),
    ("/v1/locations", "/v1/locations", Who::Anyone, None),
    (
        "/v1/providers/{org}/references",
        "/v1/providers/$ORCHARD/references",
        Who::Admin,
        None,
    ),
    (
        "/v1/providers/{org}/references",
        "/v1/providers/$ORCHARD/references",
        Who::Anyone,
        None,
    ),
    ("/v1/orders", "/v1/orders", Who::Admin, None),
    ("/v1/orders", "/v1/orders?state=placed", Who::Admin, None),
    ("/v1/orders", "/v1/orders?state=lost", Who::Admin, None),
    ("/v1/orders", "/v1/orders", Who::Anyone, None),
    (
        "/v1/orders/{buyer}/{id}",
        "/v1/orders/$key_hex/no-such-order",
        Who::Admin,
        None,
    ),
    (
        "/v1/products/{gtin}/listings",
        "/v1/products/$g/listings",
        Who::Admin,
        None,
    ),
    (
        "/v1/products/{gtin}/listings",
        "/v1/products/$g/listings",
        Who::Anyone,
        None,
    ),
    (
        "/v1/products/{gtin}/trade-units",
        "/v1/products/$g/trade-units",
        Who::Anyone,
        None,
    ),
    (
        "/v1/products/{gtin}/trade-units",
        "/v1/products/06901234999994/trade-units",
        Who::Anyone,
        None,
    ),
    ("/v1/inventory", "/v1/inventory", Who::Admin, None),
    (
        "/v1/inventory",
        "/v1/inventory?location=6901234000014",
        Who::Admin,
        None,
    ),
    (
        "/v1/inventory",
        "/v1/inventory?location=x",
        Who::Admin,
        None,
    ),
    ("/v1/alerts", "/v1/alerts", Who::Admin, None),
    ("/v1/alerts", "/v1/alerts", Who::Anyone, None),
    (
        "/v1/rates/{provider}/{id}",
        "/v1/rates/$ORCHARD/q1",
        Who::Admin,
        None,
    ),
    ("/v1/accounts", "/v1/accounts", Who::Admin, None),
    ("/v1/accounts", "/v1/accounts", Who::Anyone, None),
    (
        "/v1/accounts/{id}",
        "/v1/accounts/org:$ORCHARD:CNY:main",
        Who::Admin,
        None,
    ),
    (
        "/v1/accounts/{id}",
        "/v1/accounts/org:$ORCHARD:CNY:main",
        Who::Picker,
        None,
    ),
    (
        "/v1/accounts/{id}",
        "/v1/accounts/org:$ORCHARD:XXX:main",
        Who::Admin,
        None,
    ),
    (
        "/v1/accounts/{id}",
        "/v1/accounts/org:$ORCHARD:CNY:nowhere",
        Who::Admin,
        None,
    ),
    (
        "/v1/transfers/{signer}/{id}",
        "/v1/transfers/$key_hex/no-such-transfer",
        Who::Admin,
        None,
    ),
    (
        "/v1/transfers/{signer}/{id}",
        "/v1/transfers/$key_hex/no-such-transfer",
        Who::Anyone,
        None,
    ),
    (
        "/v1/locations/{gln}",
        "/v1/locations/6901234000014",
        Who::Anyone,
        None,
    ),
    (
        "/v1/orgs/{id}/qualifications",
        "/v1/orgs/$ORCHARD/qualifications",
        Who::Anyone,
        None,
    ),
    (
        "/v1/qr",
        "/v1/qr?link=https%3A%2F%2Fid.gs1.org%2F01%2F1&format=svg",
        Who::Anyone,
        None,
    ),
    ("/v1/qr", "/v1/qr?link=x", Who::Anyone, None),
    ("/v1/proofs/{link}", "/v1/proofs/01/$g", Who::Anyone, None),
    (
        "/v1/proofs/{link}",
        "/v1/proofs/01/$g/10/H2611",
        Who::Anyone,
        None,
    ),
    ("/01/{gtin}", "/01/$g", Who::Anyone, None),
    (
        "/01/{gtin}",
        "/01/$g",
        Who::Anyone,
        Some("application/linkset+json"),
    ),
    ("/01/{gtin}", "/01/$g?linkType=gs1:pip", Who::Anyone, None),
    (
        "/01/{gtin}/{qualifiers}",
        "/01/$g/10/H2611",
        Who::Anyone,
        Some("application/linkset+json"),
    ),
    ("/01/{gtin}/{qualifiers}", "/01/$g/99/x", Who::Anyone, None),
    ("/00/{sscc}", "/00/069012340000000014", Who::Anyone, None),
    ("/414/{gln}", "/414/6901234000014", Who::Anyone, None),
    ("/8004/{giai}", "/8004/6901234ABC", Who::Anyone, None),
    ("/labels", "/labels", Who::Anyone, None),
    ("/assets/{name}", "/assets/consumer.js", Who::Anyone, None),
    ("/assets/{name}", "/assets/nope.js", Who::Anyone, None),
];

/// `PUT /v1/sealed/private`: a body that is no private part (400), anonymous (401).
/// A kept part (200) is driven in epcis.rs's erasure test.
async fn drive_private_delivery(doc: &Value, f: &Fixture, picker: &Signer) {
    let q = format!(
        "/v1/sealed/private?record={}&field=%2Fwb%3Aprice",
        EVENT_ID.replace(':', "%3A")
    );
    let put = |auth: Option<String>| {
        let mut r = Request::builder()
            .method(Method::PUT)
            .uri(&q)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(Body::from("{}")).expect("request")
    };
    let now = f.shared.now_ms();
    let a = send(
        &f.app,
        put(Some(read_authorization(&picker.key, "PUT", &q, now))),
    )
    .await;
    a.assert_error(StatusCode::BAD_REQUEST, "bad_private_part");
    check(doc, "put", "/v1/sealed/private", &a);
    let a = send(&f.app, put(None)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    check(doc, "put", "/v1/sealed/private", &a);
}

/// Submissions — accepted (202), refused (4XX), duplicate, a batch, and outcomes
/// waited on — each checked; the ids of a rejected and of a pending transaction.
/// `POST /v1/tx/dry-run`: applied, rejected (a product taken), refused (not base64).
async fn drive_dry_runs(doc: &Value, f: &mut Fixture, g: &str) {
    let fresh = f.admin1.sign(product(&gtin("0690123400003"), "Dry pear"));
    let a = post_json(&f.app, "/v1/tx/dry-run", &tx_body(&fresh)).await;
    assert_eq!(a.json()["status"], "applied", "{}", a.text());
    check(doc, "post", "/v1/tx/dry-run", &a);
    let taken = f.admin1.sign(product(g, "Pujiang pear, again"));
    let a = post_json(&f.app, "/v1/tx/dry-run", &tx_body(&taken)).await;
    assert_eq!(a.json()["status"], "rejected", "{}", a.text());
    check(doc, "post", "/v1/tx/dry-run", &a);
    let a = post_json(&f.app, "/v1/tx/dry-run", &json!({ "tx": "not base64!" })).await;
    assert!(a.status.is_client_error());
    check(doc, "post", "/v1/tx/dry-run", &a);
}

async fn drive_submissions(doc: &Value, f: &mut Fixture, g: &str) -> (String, String) {
    // Submissions: accepted (202), refused (4XX), a batch, and outcomes with wait.
    let stx = f.admin1.sign(product(g, "Pujiang pear"));
    let a = f.submit(&stx).await;
    check(doc, "post", "/v1/tx", &a);
    let refused = post_json(&f.app, "/v1/tx", &json!({ "tx": "not base64!" })).await;
    assert!(refused.status.is_client_error());
    check(doc, "post", "/v1/tx", &refused);
    let dup = f.submit(&stx).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text());
    check(doc, "post", "/v1/tx", &dup);
    let lot_tx = f.admin1.sign(lot(g, "H2611"));
    let again = f.admin1.sign(product(g, "Pujiang pear again"));
    let batch = post_json(
        &f.app,
        "/v1/txs",
        &json!({ "txs": [b64(&lot_tx.encode()), "%%%", b64(&again.encode())] }),
    )
    .await;
    check(doc, "post", "/v1/txs", &batch);
    // An encryption key, so the organization's key list is not empty.
    let seal_key = f.admin1.sign(Payload::RegisterSealKey(
        waybill_types::payload::RegisterSealKey {
            version: 1,
            key: waybill_types::seal::SealPublicKey([7; 32]),
        },
    ));
    f.submit_ok(&seal_key).await;
    f.commit();
    let keys = get_ok(&f.app, &format!("/v1/orgs/{ORCHARD}/seal-keys")).await;
    assert_eq!(keys["current"], 1, "{keys}");
    assert_eq!(keys["keys"][0]["key"], "07".repeat(32), "{keys}");
    open_an_account(f).await;
    // Waiting on committed transactions: one applied, one rejected (product taken).
    let waited = post_json(&f.app, "/v1/tx?wait=true&timeout_ms=10", &tx_body(&stx)).await;
    check(doc, "post", "/v1/tx", &waited);
    let waited_batch = post_json(
        &f.app,
        "/v1/txs?wait=true&timeout_ms=10",
        &json!({ "txs": [b64(&again.encode())] }),
    )
    .await;
    check(doc, "post", "/v1/txs", &waited_batch);
    let rejected_id = again.id().to_hex();
    f.assert_rejected(&rejected_id, "duplicate").await;
    let pending = f
        .admin1
        .sign(product(&gtin("0690123400002"), "Pending pear"));
    let pending_id = f.submit_ok(&pending).await;
    drive_dry_runs(doc, f, g).await;
    let pending_wait = post_json(&f.app, "/v1/tx?wait=true&timeout_ms=1", &tx_body(&pending)).await;
    check(doc, "post", "/v1/tx", &pending_wait);

    (rejected_id, pending_id)
}

/// The orchard opens an account, so the account reads answer 200 too; the admin
/// reads it back, and finds it in its list.
async fn open_an_account(f: &mut Fixture) {
    let account = f
        .admin1
        .sign(Payload::OpenAccount(waybill_types::payload::OpenAccount {
            account: format!("org:{ORCHARD}:CNY:main")
                .parse()
                .expect("account id"),
            flags: Default::default(),
        }));
    f.submit_ok(&account).await;
    f.commit();
    let admin_key = f.admin1.key.clone();
    let opened = get_signed(
        f,
        &format!("/v1/accounts/org:{ORCHARD}:CNY:main"),
        Some(&admin_key),
        None,
    )
    .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text());
    assert_eq!(
        opened.json()["balance"]["available"],
        "0",
        "{}",
        opened.text()
    );
    let listed = get_signed(f, "/v1/accounts", Some(&admin_key), None).await;
    assert_eq!(
        listed.json()["items"][0]["id"],
        format!("org:{ORCHARD}:CNY:main")
    );
}

/// An EPCIS capture — refused, accepted (202), its job read, and waited on — each
/// checked; the capture's id.
async fn drive_capture(doc: &Value, f: &mut Fixture, picker: &Signer) -> String {
    // An EPCIS capture: refused, accepted (202), and with wait (200, the job).
    let bad = send(
        &f.app,
        capture_request(&picker.key, 1, "{\"type\":\"EPCISDocument\"}", ""),
    )
    .await;
    assert!(bad.status.is_client_error(), "{}", bad.text());
    check(doc, "post", "/epcis/capture", &bad);
    let accepted = send(
        &f.app,
        capture_request(&picker.key, 2, &harvest_document(), ""),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text());
    check(doc, "post", "/epcis/capture", &accepted);
    let capture_id = accepted.json()["captureID"]
        .as_str()
        .expect("captureID")
        .to_string();
    let job_running = get_signed(
        f,
        &format!("/epcis/capture/{capture_id}"),
        Some(&picker.key),
        None,
    )
    .await;
    check(doc, "get", "/epcis/capture/{id}", &job_running);
    f.commit();
    let waited_capture = send(
        &f.app,
        capture_request(
            &picker.key,
            2,
            &harvest_document(),
            "?wait=true&timeout_ms=10",
        ),
    )
    .await;
    check(doc, "post", "/epcis/capture", &waited_capture);
    capture_id
}

/// Every read of [`READS`], each checked; the templates driven.
async fn drive_reads(
    doc: &Value,
    f: &Fixture,
    picker: &Signer,
    vars: &[(&str, String)],
) -> Vec<String> {
    let outsider = SecretKey::from_label("nobody");
    let member = f.admin1.key.clone();
    let mut driven = Vec::new();
    for (template, target, who, accept) in READS {
        let uri = vars
            .iter()
            .fold(target.to_string(), |u, (k, v)| u.replace(k, v));
        let key = match who {
            Who::Anyone => None,
            Who::Admin => Some(&member),
            Who::Outsider => Some(&outsider),
            Who::Picker => Some(&picker.key),
        };
        let a = get_signed(f, &uri, key, *accept).await;
        // A fixture without consensus is not ready: /readyz's 503 is its answer.
        assert!(
            !a.status.is_server_error() || *template == "/readyz",
            "GET {uri}: {} {}",
            a.status,
            a.text()
        );
        check(doc, "get", template, &a);
        driven.push(template.to_string());
    }
    driven
}

/// The answers of every operation over a chain with members, a product and its lot,
/// a rejected transaction and an EPCIS capture, each checked against the document.
#[tokio::test]
async fn every_answer_matches_the_schema_the_document_declares() {
    waybill_client::ensure_crypto_provider();
    let doc = document();
    let mut f = Fixture::new();
    let picker = Signer::new("picker");
    f.register_orchard_member(&picker, "Picker", &[Role::Producer])
        .await;
    let g = gtin("0690123400001");
    let (rejected_id, pending_id) = drive_submissions(&doc, &mut f, &g).await;
    let capture_id = drive_capture(&doc, &mut f, &picker).await;
    let height = f.shared.head.borrow().height.0;
    let enc = |s: &str| s.replace(':', "%3A").replace(';', "%3B");
    let vars = [
        ("$rejected_id", rejected_id),
        ("$capture_id", capture_id),
        ("$pending_id", pending_id),
        ("$height", height.to_string()),
        ("$key_hex", picker.hex()),
        ("$ORCHARD", ORCHARD.to_string()),
        ("$EVENT_ID", enc(EVENT_ID)),
        ("$EPC", enc(EPC)),
        ("$g", g.to_string()),
    ];
    let mut covered: BTreeSet<(String, String)> =
        ["/v1/tx", "/v1/txs", "/v1/tx/dry-run", "/epcis/capture"]
            .iter()
            .map(|p| ("post".to_string(), p.to_string()))
            .collect();
    drive_private_delivery(&doc, &f, &picker).await;
    covered.insert(("put".to_string(), "/v1/sealed/private".to_string()));
    for template in drive_reads(&doc, &f, &picker, &vars).await {
        covered.insert(("get".to_string(), template));
    }
    let every: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let missed: Vec<_> = every.difference(&covered).collect();
    assert!(missed.is_empty(), "operations not driven: {missed:?}");
}
