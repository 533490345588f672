//! Accounts and transfers (financial data: signed reads only). A regulator reads
//! every account; a member reads its own organization's; a payment provider also
//! reads the key-owned (consumer) accounts it pays into. Transfers are read by the
//! organizations on either side, the signer's organization and regulators.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use waybill_state::identity::Member;
use waybill_state::money::{self, Account, TransferRecord};
use waybill_state::{keys, StateRead};
use waybill_types::money::{AccountId, AccountOwner};
use waybill_types::payload::money::TransferRef;
use waybill_types::Role;

use crate::auth::Reader;
use crate::epcis::require_member;
use crate::{hex_decode, parse_key, ApiError, ApiResult, AppState, Page};

/// The routes of accounts and transfers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", get(accounts))
        .route("/v1/accounts/{id}", get(account_by_id))
        .route("/v1/transfers/{signer}/{id}", get(transfer_by_id))
        .route("/v1/providers/{org}/references", get(provider_references))
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The reader as a member, or the 401 that says `what` needs a signed read.
pub(crate) fn member(reader: &Reader, what: &str) -> Result<Member, ApiError> {
    require_member(reader, what)?;
    match reader {
        Reader::Member(m) => Ok(m.clone()),
        Reader::Anonymous => unreachable!("checked by require_member"),
    }
}

pub(crate) fn is_regulator(m: &Member) -> bool {
    m.roles.contains(&Role::Regulator)
}

/// May `m` read account `id`?
fn may_read_account(m: &Member, id: &AccountId) -> bool {
    is_regulator(m)
        || match &id.owner {
            AccountOwner::Org(o) => *o == m.org,
            AccountOwner::Key(_) => m.roles.contains(&Role::PaymentProvider),
        }
}

/// An account as the API shows it: its sums, and its balances seen from the owner
/// (posted, with pending counted, available), all decimal strings.
pub(crate) fn account_view(a: &Account) -> Value {
    json!({
        "id": a.id,
        "currency": a.id.currency,
        "exponent": a.id.currency.exponent(),
        "flags": a.flags,
        "debits_pending": a.debits_pending,
        "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending,
        "credits_posted": a.credits_posted,
        "balance": {
            "posted": a.posted_balance().to_string(),
            "pending": a.pending_balance().to_string(),
            "available": a.available_balance().to_string(),
        },
        "opened_at": a.opened_at,
    })
}

/// `GET /v1/accounts`: the accounts the reader may list — a regulator every account,
/// anyone else its organization's — in key order, a page at a time.
async fn accounts(
    State(s): State<AppState>,
    reader: Reader,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult {
    let m = member(&reader, "accounts")?;
    let Query(q) = q?;
    let prefix = if is_regulator(&m) {
        vec![keys::ACCOUNT]
    } else {
        keys::accounts_of_org(&m.org)
    };
    let snap = s.store.snapshot()?;
    let start = match &q.after {
        Some(a) => [hex_decode(a)?, vec![0]].concat(),
        None => prefix.clone(),
    };
    let rows = snap.scan_from(&prefix, &start, q.limit() + 1)?;
    let more = rows.len() > q.limit();
    let mut items = Vec::new();
    let mut last = None;
    for (k, v) in rows.into_iter().take(q.limit()) {
        let a: Account = waybill_state::decode_record(&k, &v)?;
        items.push(account_view(&a));
        last = Some(hex::encode(&k));
    }
    let next = if more { last } else { None };
    Ok(Json(json!({ "items": items, "next_after": next })))
}

fn parse_account(id: &str) -> Result<AccountId, ApiError> {
    id.parse().map_err(|e: waybill_types::money::MoneyError| {
        ApiError::bad_request("bad_account_id", e.to_string())
    })
}

/// `GET /v1/accounts/{id}`.
async fn account_by_id(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(id) = p?;
    let id = parse_account(&id)?;
    let m = member(&reader, "an account")?;
    if !may_read_account(&m, &id) {
        return Err(forbidden(format!(
            "{} may not read account `{id}`: an account is read by its owner's members, regulators and (a key's) payment providers",
            reader.describe()
        )));
    }
    let snap = s.store.snapshot()?;
    let a = money::load_account(&snap, &id)?.ok_or_else(|| {
        ApiError::not_found("unknown_account", format!("account `{id}` is not open"))
    })?;
    Ok(Json(account_view(&a)))
}

/// May `m` read transfer `t`: a regulator, the signer's organization, or either
/// account's reader?
fn may_read_transfer<S: StateRead + ?Sized>(
    state: &S,
    m: &Member,
    t: &TransferRecord,
) -> Result<bool, ApiError> {
    if may_read_account(m, &t.debit) || may_read_account(m, &t.credit) {
        return Ok(true);
    }
    let signer_org = waybill_state::identity::load_member(state, &t.id.signer)?.map(|s| s.org);
    Ok(signer_org.as_ref() == Some(&m.org))
}

/// `GET /v1/transfers/{signer}/{id}`: a transfer by the key that made it and its
/// client id — what a client that retried asks to learn the first result.
async fn transfer_by_id(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let Path((signer, id)) = p?;
    let r = TransferRef {
        signer: parse_key(&signer)?,
        id,
    };
    let m = member(&reader, "a transfer")?;
    let snap = s.store.snapshot()?;
    let not_found = || {
        ApiError::not_found(
            "unknown_transfer",
            format!(
                "{} made no transfer `{}` that {} may read",
                r.signer,
                r.id,
                reader.describe()
            ),
        )
    };
    let t = money::load_transfer(&snap, &r)?.ok_or_else(not_found)?;
    // One answer for "no such transfer" and "not yours": a third party learns nothing.
    if !may_read_transfer(&snap, &m, &t)? {
        return Err(not_found());
    }
    Ok(Json(serde_json::to_value(&t).map_err(ApiError::internal)?))
}

/// `GET /v1/providers/{org}/references`: the payments a provider booked (deposits and
/// payouts), by its reference, in reference order — what `waybill reconcile` matches
/// a statement against. Read by the provider's members and regulators.
async fn provider_references(
    State(s): State<AppState>,
    reader: Reader,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult {
    let Path(org) = p?;
    let Query(q) = q?;
    let org = crate::parse_org(&org)?;
    let m = member(&reader, "a provider's booked payments")?;
    if m.org != org && !is_regulator(&m) {
        return Err(forbidden(format!(
            "{} may not read `{org}`'s booked payments: its own members and regulators do",
            reader.describe()
        )));
    }
    let snap = s.store.snapshot()?;
    let rows = money::provider_transfers(&snap, &org, q.after.as_deref(), q.limit() + 1)?;
    let more = rows.len() > q.limit();
    let items: Vec<Value> = rows
        .iter()
        .take(q.limit())
        .map(|(reference, t)| json!({ "reference": reference, "transfer": t }))
        .collect();
    let next = if more {
        rows.get(q.limit() - 1).map(|(r, _)| r.clone())
    } else {
        None
    };
    Ok(Json(json!({ "items": items, "next_after": next })))
}
