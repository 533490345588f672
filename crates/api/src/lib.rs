//! The HTTP API (axum): submit transactions, read blocks, transactions, members,
//! organizations, products and lots; status, metrics, the OpenAPI description and
//! a small explorer page. Build it with [`app`]; every handler is reachable in
//! tests with `app(shared).oneshot(request)`.
//!
//! One module per resource, each contributing its routes (`routes()`) and answering
//! every error with the one [`ApiError`]: `submit` (transactions in), `chain`
//! (status, transactions, blocks), `orgs` (organizations, members), `catalog`
//! (products, lots), `governance`, `epcis` (the EPCIS binding, trace, audit, master
//! data), `money` (accounts, transfers), `proofs`, `consumer` (the consumer page's label sheet and scripts),
//! `resolver` (GS1 Digital Link), `pages` (the explorer), `ops` (metrics, OpenAPI).

pub mod auth;
mod catalog;
mod chain;
mod commerce;
mod compress;
pub mod consumer;
pub mod epcis;
mod error;
mod etag;
mod governance;
mod links;
pub mod metrics;
mod money;
mod ops;
mod orgs;
mod pages;
mod params;
mod private;
pub mod proofs;
mod resolver;
mod schemas;
mod server;
mod submit;
pub mod tls;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Json, Router};
use serde_json::Value;
use waybill_node::Shared;
use waybill_types::limits;

pub use chain::IN_SYNC_BLOCK_AGE_MS_MAX;
pub use error::{ApiError, PROBLEM_JSON};
pub(crate) use params::{hex_decode, list, parse_gtin, parse_key, parse_org, Page};
pub use server::{
    ConnectionCount, HttpServer, ServerLimits, HEADER_READ_TIMEOUT_MS, SHUTDOWN_GRACE_MS,
    WRITE_STALL_TIMEOUT_MS,
};
pub(crate) use submit::{committed_view, wait_outcome};

/// Longest a request may take, including `wait=true` submissions.
pub const REQUEST_TIMEOUT_MS: u64 = 60_000;
/// Longest a submission waits for its commit.
pub const WAIT_MS_MAX: u64 = 30_000;
/// Most requests served at once; more are answered 503 "busy".
pub const CONCURRENT_REQUESTS_MAX: usize = 1_024;

/// The OpenAPI document as written (`openapi.json`); [`openapi_document`] is what
/// the API serves: this with the schemas generated from the Rust types added.
const OPENAPI_STATIC: &str = include_str!("openapi.json");

/// The OpenAPI document the API serves at `/openapi.json`: `openapi.json` (paths,
/// summaries, parameters, `operationId`s, problem responses, the security scheme)
/// with `components.schemas` generated from the Rust types the handlers serialize
/// (`schemas`), and `RejectCode` from [`waybill_types::reject::RejectCode`] (every
/// code a rejected transaction's receipt can carry, with its meaning), so the
/// document and the code cannot drift apart.
pub fn openapi_document() -> &'static str {
    static DOC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut doc: Value = serde_json::from_str(OPENAPI_STATIC)
            .expect("openapi.json is valid JSON (a test parses it)");
        let declared = doc["components"]["schemas"]
            .as_object_mut()
            .expect("openapi.json has components.schemas (a test parses it)");
        for (name, schema) in schemas::components() {
            // A schema written in openapi.json (`Problem`) stays as written.
            declared.entry(name).or_insert(schema);
        }
        let codes: Vec<Value> = waybill_types::reject::RejectCode::ALL
            .iter()
            .map(|c| serde_json::json!({ "const": c.as_str(), "description": c.meaning() }))
            .collect();
        doc["components"]["schemas"]["RejectCode"] = serde_json::json!({
            "type": "string",
            "description": "Why a transaction in a block was rejected: the `code` of a receipt whose status is `rejected` (docs/CONTRACTS.md). Refusals at submission have codes of their own.",
            "oneOf": codes,
        });
        serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
    });
    &DOC
}

type ApiResult<T = Json<Value>> = Result<T, ApiError>;
type AppState = Arc<Shared>;

/// Every route, for the OpenAPI completeness test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/status"),
    ("post", "/v1/tx"),
    ("post", "/v1/txs"),
    ("post", "/v1/tx/dry-run"),
    ("get", "/v1/txs/{id}"),
    ("get", "/v1/blocks"),
    ("get", "/v1/blocks/{height}"),
    ("get", "/v1/orgs"),
    ("get", "/v1/orgs/{id}"),
    ("get", "/v1/orgs/{id}/members"),
    ("get", "/v1/orgs/{id}/seal-keys"),
    ("get", "/v1/members/{key}"),
    ("get", "/v1/accounts"),
    ("get", "/v1/accounts/{id}"),
    ("get", "/v1/transfers/{signer}/{id}"),
    ("get", "/v1/providers/{org}/references"),
    ("get", "/v1/orders"),
    ("get", "/v1/orders/{buyer}/{id}"),
    ("get", "/v1/products/{gtin}/listings"),
    ("get", "/v1/products/{gtin}/trade-units"),
    ("get", "/v1/inventory"),
    ("get", "/v1/alerts"),
    ("get", "/v1/rates/{provider}/{id}"),
    ("get", "/v1/products"),
    ("get", "/v1/products/{gtin}"),
    ("get", "/v1/products/{gtin}/lots"),
    ("get", "/v1/lots/{gtin}/{lot}"),
    ("get", "/v1/validators"),
    ("get", "/v1/governance/proposals"),
    ("get", "/v1/governance/proposals/{id}"),
    ("get", "/v1/screening-rules"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("post", "/epcis/capture"),
    ("get", "/epcis/capture/{id}"),
    ("get", "/epcis/events"),
    ("get", "/epcis/events/{eventID}"),
    ("get", "/v1/trace/{id}"),
    ("get", "/v1/audit"),
    ("get", "/v1/sealed"),
    ("get", "/v1/sealed/proof"),
    ("get", "/v1/sealed/private"),
    ("put", "/v1/sealed/private"),
    ("get", "/v1/locations"),
    ("get", "/v1/locations/{gln}"),
    ("get", "/v1/orgs/{id}/qualifications"),
    ("get", "/v1/qr"),
    ("get", "/v1/proofs/{link}"),
    ("get", "/01/{gtin}"),
    ("get", "/01/{gtin}/{qualifiers}"),
    ("get", "/00/{sscc}"),
    ("get", "/414/{gln}"),
    ("get", "/8004/{giai}"),
    ("get", "/labels"),
    ("get", "/assets/{name}"),
];

/// The router with its limits: body size, timeout, concurrency.
pub fn app(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .merge(submit::routes())
        .merge(chain::routes())
        .merge(orgs::routes())
        .merge(money::routes())
        .merge(commerce::routes())
        .merge(catalog::routes())
        .merge(governance::routes())
        .merge(private::routes())
        .merge(epcis::routes())
        .merge(proofs::routes())
        .merge(consumer::routes())
        .merge(pages::routes())
        .merge(resolver::routes())
        .merge(ops::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared.clone());
    let http = Arc::new(metrics::HttpMetrics::default());
    with_limits(api.layer(axum::Extension(http.clone())), shared)
        // Answers gzip-compressed for clients that accept it.
        .layer(axum::middleware::from_fn(compress::gzip_answers))
        // Outermost: every request counted and timed, with its final status.
        .layer(axum::middleware::from_fn_with_state(http, metrics::track))
}

/// The layers around every route, innermost first: the tamper alert, the body
/// limit, load shedding, the concurrency limit and the timeout; then the request
/// limits; outermost, problem documents for every error answer.
fn with_limits(api: Router, shared: Arc<Shared>) -> Router {
    api.layer(axum::middleware::from_fn_with_state(
        shared,
        alert_on_damage,
    ))
    .layer(DefaultBodyLimit::max(limits::REQUEST_BODY_BYTES_MAX))
    .layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                |e: tower::BoxError| async move { overload_error(&e) },
            ))
            .load_shed()
            .concurrency_limit(CONCURRENT_REQUESTS_MAX)
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS)),
    )
    // Oversized targets, heads and announced bodies are refused before they take
    // a request slot or a byte of the body is read.
    .layer(axum::middleware::from_fn(server::request_limits))
    // Outermost: whatever answered with an error, the body is a problem document.
    .layer(axum::middleware::map_response(error::ensure_problem))
}

/// The answer when the load-shedding, concurrency or timeout layer refuses a request.
fn overload_error(e: &tower::BoxError) -> ApiError {
    if e.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the node is serving as many requests as it can; retry shortly",
        )
    } else if e.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("request took longer than {REQUEST_TIMEOUT_MS} ms"),
        )
    } else {
        ApiError::internal(e)
    }
}

/// A request that found the store damaged raises the tamper alert (the node then
/// halts consensus and stops serving).
async fn alert_on_damage(
    State(shared): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    if resp.extensions().get::<error::StoreDamaged>().is_some() {
        shared.raise_tamper_alert(format!(
            "store {} is damaged: a request could not read a stored record (the log has it)",
            shared.store.path()
        ));
    }
    resp
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no_such_route",
        "no such route; see /openapi.json for the API",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that HTTP method; see /openapi.json",
    )
}
