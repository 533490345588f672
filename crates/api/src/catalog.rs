//! The catalog: products and lots.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use waybill_state::{catalog, keys};

use crate::params::{list, parse_gtin, Page};
use crate::{ApiError, ApiResult, AppState};

/// The routes of products and lots.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/products", get(products))
        .route("/v1/products/{gtin}", get(product_by_gtin))
        .route("/v1/products/{gtin}/lots", get(product_lots))
        .route("/v1/lots/{gtin}/{lot}", get(lot_by_id))
}

async fn products(State(s): State<AppState>, q: Result<Query<Page>, QueryRejection>) -> ApiResult {
    let Query(q) = q?;
    list::<catalog::Product>(&s, &[keys::PRODUCT], &q)
}

async fn product_by_gtin(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(g) = p?;
    let gtin = parse_gtin(&g)?;
    let snap = s.store.snapshot()?;
    let prod = catalog::load_product(&snap, &gtin)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_product",
            format!("product {gtin} is not registered"),
        )
    })?;
    Ok(Json(
        serde_json::to_value(prod).map_err(ApiError::internal)?,
    ))
}

async fn product_lots(
    State(s): State<AppState>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult {
    let Path(g) = p?;
    let Query(q) = q?;
    let gtin = parse_gtin(&g)?;
    {
        let snap = s.store.snapshot()?;
        if catalog::load_product(&snap, &gtin)?.is_none() {
            return Err(ApiError::not_found(
                "unknown_product",
                format!("product {gtin} is not registered"),
            ));
        }
    }
    list::<catalog::Lot>(&s, &keys::lots_of(&gtin), &q)
}

async fn lot_by_id(
    State(s): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((g, lot)) = p?;
    let gtin = parse_gtin(&g)?;
    let snap = s.store.snapshot()?;
    let l = catalog::load_lot(&snap, &gtin, &lot)?.ok_or_else(|| {
        ApiError::not_found(
            "unknown_lot",
            format!("lot `{lot}` of product {gtin} is not registered"),
        )
    })?;
    Ok(Json(serde_json::to_value(l).map_err(ApiError::internal)?))
}
