//! Listings, orders, stock, alerts and exchange rates (signed reads; docs/ORDERS.md).
//! An order is read by its parties — the seller, the platform, the carrier, the
//! buying organization — and regulators; a listing by the product's owner, its
//! seller, platform and carrier, and regulators; stock by the location's owner, the
//! organizations it delegated the location to, platforms (who sell from it) and
//! regulators; alerts by their organization; a product's trade units (master data)
//! by anyone.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use waybill_gs1::Gln;
use waybill_state::identity::Member;
use waybill_state::inventory::{self, Stock};
use waybill_state::orders::{self, Order, OrderState};
use waybill_state::stock_events;
use waybill_state::{keys, StateRead};
use waybill_types::{limits, Role};

use crate::auth::Reader;
use crate::money::{is_regulator, member};
use crate::{hex_decode, parse_gtin, parse_key, parse_org, ApiError, ApiResult, AppState};

/// The routes of commerce.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", get(list_orders))
        .route("/v1/orders/{buyer}/{id}", get(order_by_id))
        .route("/v1/products/{gtin}/listings", get(listings))
        .route("/v1/products/{gtin}/trade-units", get(trade_units))
        .route("/v1/inventory", get(inventory))
        .route("/v1/alerts", get(alerts))
        .route("/v1/rates/{provider}/{id}", get(rate))
}

/// May `m` read order `o`?
pub(crate) fn may_read_order(m: &Member, o: &Order) -> bool {
    is_regulator(m) || m.key == o.buyer || o.parties().contains(&&m.org)
}

/// `GET /v1/orders?state=&after=&limit=` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdersQuery {
    state: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

fn parse_state(s: &str) -> Result<OrderState, ApiError> {
    OrderState::ALL
        .into_iter()
        .find(|x| x.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = OrderState::ALL.iter().map(|x| x.name()).collect();
            ApiError::bad_request(
                "bad_state",
                format!("`{s}` is no order state; one of {}", names.join(", ")),
            )
        })
}

/// `GET /v1/orders`: the orders the reader's organization is a party to (a regulator:
/// every order), in key order, a page at a time, optionally of one state.
async fn list_orders(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<OrdersQuery>, QueryRejection>,
) -> ApiResult {
    let m = member(&reader, "orders")?;
    let Query(q) = q?;
    let want = q.state.as_deref().map(parse_state).transpose()?;
    let limit = q.limit.unwrap_or(100).clamp(1, limits::PAGE_ITEMS_MAX);
    let regulator = is_regulator(&m);
    let prefix = if regulator {
        vec![keys::ORDER]
    } else {
        keys::orders_of(&m.org)
    };
    let snap = s.store.snapshot()?;
    let mut start = match &q.after {
        Some(a) => [hex_decode(a)?, vec![0]].concat(),
        None => prefix.clone(),
    };
    let mut items = Vec::new();
    let mut next = None;
    // Pages of the index, filtered by state, until the page is full or the index ends.
    'pages: loop {
        let rows = snap.scan_from(&prefix, &start, limit)?;
        let n = rows.len();
        for (k, v) in rows {
            start = [k.as_slice(), &[0]].concat();
            let o: Order = if regulator {
                waybill_state::decode_record(&k, &v)?
            } else {
                let buyer_at = prefix.len();
                let buyer = parse_key(&hex::encode(&k[buyer_at..buyer_at + 32]))?;
                let id = String::from_utf8_lossy(&k[buyer_at + 32..]).into_owned();
                orders::load_order(&snap, &buyer, &id)?.ok_or_else(|| {
                    ApiError::internal(format!("the order index names a missing order `{id}`"))
                })?
            };
            if want.is_none_or(|w| w == o.state) {
                items.push(order_view(&o));
                if items.len() == limit {
                    next = Some(hex::encode(&k));
                    break 'pages;
                }
            }
        }
        if n < limit {
            break;
        }
    }
    Ok(Json(json!({ "items": items, "next_after": next })))
}

/// An order as the API shows it: the record, with its URN (how EPCIS events name
/// it) and its state's name.
fn order_view(o: &Order) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert("urn".into(), json!(o.urn()));
        // The sealed address as the object it is (`waybill open` opens it in place).
        if let Some(t) = &o.ship_to {
            m.insert(
                "ship_to".into(),
                serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
            );
        }
    }
    v
}

/// `GET /v1/orders/{buyer}/{id}`: one order, to its parties and regulators; anyone
/// else gets the 404 of a missing order.
async fn order_by_id(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((buyer, id)) = p?;
    let buyer = parse_key(&buyer)?;
    let m = member(&reader, "an order")?;
    let snap = s.store.snapshot()?;
    let not_found = || {
        ApiError::not_found(
            "unknown_order",
            format!(
                "buyer {buyer} placed no order `{id}` that {} may read",
                reader.describe()
            ),
        )
    };
    let o = orders::load_order(&snap, &buyer, &id)?.ok_or_else(not_found)?;
    if !may_read_order(&m, &o) {
        return Err(not_found());
    }
    Ok(Json(order_view(&o)))
}

/// `GET /v1/products/{gtin}/listings`: the product's listings the reader may see.
async fn listings(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(gtin) = p?;
    let gtin = parse_gtin(&gtin)?;
    let m = member(&reader, "listings")?;
    let snap = s.store.snapshot()?;
    let items: Vec<Value> = orders::listings_of(&snap, &gtin, limits::PAGE_ITEMS_MAX)?
        .into_iter()
        .filter(|l| {
            is_regulator(&m)
                || l.owner == m.org
                || l.terms.seller == m.org
                || l.terms.platform.as_ref() == Some(&m.org)
                || l.terms.carrier.as_ref() == Some(&m.org)
        })
        .map(|l| serde_json::to_value(&l).unwrap_or(Value::Null))
        .collect();
    Ok(Json(json!({ "items": items, "next_after": null })))
}

/// `GET /v1/products/{gtin}/trade-units`: the product's trade units (master data,
/// readable by anyone).
async fn trade_units(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(gtin) = p?;
    let gtin = parse_gtin(&gtin)?;
    let snap = s.store.snapshot()?;
    if waybill_state::catalog::load_product(&snap, &gtin)?.is_none() {
        return Err(ApiError::not_found(
            "unknown_product",
            format!("{gtin} is not a registered product"),
        ));
    }
    let items = stock_events::trade_units_of(&snap, &gtin, limits::PAGE_ITEMS_MAX)?;
    Ok(Json(json!({ "items": items, "next_after": null })))
}

/// `GET /v1/inventory?location=GLN` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryQuery {
    location: Option<String>,
}

/// May `m` read the stock at `gln`: its owner, a delegate, a platform, a regulator?
fn may_read_stock<S: StateRead + ?Sized>(
    state: &S,
    m: &Member,
    gln: &Gln,
) -> Result<bool, ApiError> {
    if is_regulator(m) || m.roles.contains(&Role::Platform) {
        return Ok(true);
    }
    let owner = waybill_state::catalog::load_location(state, gln)?.map(|l| l.owner);
    if owner.as_ref() == Some(&m.org) {
        return Ok(true);
    }
    Ok(state.get(&keys::location_delegate(gln, &m.org))?.as_deref() == Some(&[1][..]))
}

fn stock_view(gln: &Gln, gtin: &waybill_gs1::Gtin, st: &Stock) -> Value {
    json!({
        "location": gln,
        "gtin": gtin,
        "on_hand": st.on_hand,
        "reserved": st.reserved,
        "available": st.available(),
        "reorder_point": st.reorder_point,
        "below_reorder_point": st.reorder_point > 0 && st.available() < st.reorder_point,
    })
}

/// `GET /v1/inventory`: on hand, reserved and available per product and location —
/// at one location, or at every location the reader may see.
async fn inventory(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<InventoryQuery>, QueryRejection>,
) -> ApiResult {
    let m = member(&reader, "stock")?;
    let Query(q) = q?;
    let snap = s.store.snapshot()?;
    let mut items = Vec::new();
    match q.location {
        Some(g) => {
            let gln: Gln = g
                .parse()
                .map_err(|e| ApiError::bad_request("bad_gln", format!("{e}")))?;
            if !may_read_stock(&snap, &m, &gln)? {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "{} may not read the stock at {gln}: its owner, its delegates, platforms and regulators do",
                        reader.describe()
                    ),
                ));
            }
            for (gtin, st) in inventory::stock_at(&snap, &gln, limits::PAGE_ITEMS_MAX)? {
                items.push(stock_view(&gln, &gtin, &st));
            }
        }
        None => {
            for (gln, gtin, st) in inventory::all_stock(&snap, limits::PAGE_ITEMS_MAX)? {
                if may_read_stock(&snap, &m, &gln)? {
                    items.push(stock_view(&gln, &gtin, &st));
                }
            }
        }
    }
    Ok(Json(json!({ "items": items, "next_after": null })))
}

/// `GET /v1/alerts`: the reader's organization's alerts (reorder points crossed,
/// orders expired or refunded at their deadline), oldest first.
async fn alerts(State(s): State<AppState>, reader: Reader) -> ApiResult {
    let m = member(&reader, "alerts")?;
    let snap = s.store.snapshot()?;
    let items = inventory::alerts_of(&snap, &m.org, limits::PAGE_ITEMS_MAX)?;
    Ok(Json(json!({ "items": items, "next_after": null })))
}

/// `GET /v1/rates/{provider}/{id}`: an exchange rate a payment provider quoted.
async fn rate(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((provider, id)) = p?;
    let provider = parse_org(&provider)?;
    member(&reader, "an exchange rate")?;
    let snap = s.store.snapshot()?;
    let r = waybill_state::fx::load_rate(&snap, &provider, &id)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_fx_rate",
            format!("`{provider}` quoted no rate `{id}`"),
        )
    })?;
    Ok(Json(serde_json::to_value(&r).map_err(ApiError::internal)?))
}
