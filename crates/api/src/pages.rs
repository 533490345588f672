//! The explorer page at `/`: what this node holds, readable without tools.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use std::fmt::Write;
use waybill_state::{catalog, identity, keys};
use waybill_store::StateSnapshot;
use waybill_types::Height;

use crate::{ApiError, AppState};

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Percent-encode a path segment (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    waybill_gs1::digital_link::uri_escape(s, waybill_gs1::digital_link::UriComponent::Path)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.45;color:#1d2a1d}\
h1{color:#c25e00}table{border-collapse:collapse;width:100%;font-size:.92rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}\
code{font-size:.85rem;word-break:break-all}.muted{color:#667}";

/// The explorer page's route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

pub(crate) async fn index(State(s): State<AppState>) -> Result<Html<String>, ApiError> {
    let head = s.head.borrow().clone();
    let snap = s.store.snapshot()?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
<title>Waybill — {chain}</title><style>{STYLE}</style></head><body><h1>Waybill</h1>\
<p>Chain <code>{chain}</code> · height <b>{height}</b> · latest block <code>{hash}</code> · mempool {mempool} · \
<a href=/labels>product labels (QR codes)</a> · <a href=/v1/status>status</a> · <a href=/openapi.json>API</a> · <a href=/metrics>metrics</a></p>",
        chain = esc(s.chain_id()),
        height = head.height,
        hash = head.block_hash,
        mempool = s.mempool.len(),
    );
    orgs_table(&mut h, &snap)?;
    products_table(&mut h, &snap)?;
    h.push_str("</table><h2>Latest blocks</h2><table><tr><th>Height</th><th>Hash</th><th>Transactions</th></tr>");
    let mut height = head.height.0;
    while height >= 1 && head.height.0 - height < 15 {
        if let Some(b) = s.store.block(Height(height))? {
            let _ = write!(
                h,
                "<tr><td><a href=/v1/blocks/{height}>{height}</a></td><td><code>{}</code></td><td>{}</td></tr>",
                b.hash(),
                b.header.n_txs
            );
        }
        height -= 1;
    }
    h.push_str("</table><p class=muted>Every block is finalized by the consortium's validators; run <code>waybill verify</code> to re-check the whole chain.</p></body></html>");
    Ok(Html(h))
}

/// The organizations table.
fn orgs_table(h: &mut String, snap: &StateSnapshot) -> Result<(), ApiError> {
    h.push_str("<h2>Organizations</h2><table><tr><th>Organization</th><th>Roles</th><th>Company prefixes</th></tr>");
    for (k, v) in snap.scan_prefix(&[keys::ORG], 200)? {
        let o: identity::Organization = waybill_state::decode_record(&k, &v)?;
        let roles: Vec<&str> = o.roles.iter().map(|r| r.name()).collect();
        let _ = write!(
            h,
            "<tr><td><a href=/v1/orgs/{id}/members>{name}</a> <span class=muted>{id}</span></td><td>{roles}</td><td>{prefixes}</td></tr>",
            id = esc(o.id.as_str()),
            name = esc(&o.name),
            roles = esc(&roles.join(", ")),
            prefixes = esc(&o.company_prefixes.join(", "))
        );
    }
    Ok(())
}

/// The products table, with each product's first lots.
fn products_table(h: &mut String, snap: &StateSnapshot) -> Result<(), ApiError> {
    h.push_str("</table><h2>Products and lots</h2><table><tr><th>Product</th><th>Owner</th><th>Lots</th></tr>");
    for (k, v) in snap.scan_prefix(&[keys::PRODUCT], 200)? {
        let p: catalog::Product = waybill_state::decode_record(&k, &v)?;
        let mut lots = Vec::new();
        for (lk, lv) in snap.scan_prefix(&keys::lots_of(&p.gtin), 20)? {
            let l: catalog::Lot = waybill_state::decode_record(&lk, &lv)?;
            lots.push(format!(
                "<a href=/v1/lots/{g}/{href}>{lot}</a> <span class=muted>({q} {u}, {d})</span>",
                g = p.gtin,
                href = percent_encode(&l.lot),
                lot = esc(&l.lot),
                q = l.quantity,
                u = esc(&l.unit),
                d = esc(&l.produced_on)
            ));
        }
        let _ = write!(
            h,
            "<tr><td><a href=/v1/products/{g}>{name}</a><br><span class=muted>GTIN {g} · {brand} · {cat} · origin {cc}</span></td><td>{owner}</td><td>{lots}</td></tr>",
            g = p.gtin,
            name = esc(&p.name),
            brand = esc(&p.brand),
            cat = esc(&p.category),
            cc = esc(&p.origin_country),
            owner = esc(p.owner.as_str()),
            lots = lots.join("<br>")
        );
    }
    Ok(())
}
