//! The explorer page at `/`: what this node holds, readable without tools. Drawn by
//! the askama template `templates/explorer.html` (checked at compile time; every
//! value HTML-escaped unless marked safe).

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use waybill_state::{catalog, identity, keys};
use waybill_store::StateSnapshot;
use waybill_types::Height;

use crate::{ApiError, AppState};

/// The HTML escaper of the templates (`askama.toml`): `&`, `<`, `>`, `"` and `'` as
/// `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#39;`, as the pages escaped them before
/// they were templates.
#[derive(Clone, Copy, Debug, Default)]
pub struct NamedEntities;

impl askama::filters::Escaper for NamedEntities {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, s: &str) -> std::fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&s[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&s[last..])
    }
}

/// Percent-encode a path segment (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    waybill_gs1::digital_link::uri_escape(s, waybill_gs1::digital_link::UriComponent::Path)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.45;color:#1d2a1d}\
h1{color:#c25e00}table{border-collapse:collapse;width:100%;font-size:.92rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}\
code{font-size:.85rem;word-break:break-all}.muted{color:#667}";

/// Organizations listed on the page.
const ORGS_SHOWN_MAX: usize = 200;
/// Products listed on the page.
const PRODUCTS_SHOWN_MAX: usize = 200;
/// Lots listed per product.
const LOTS_SHOWN_MAX: usize = 20;
/// Latest blocks listed.
const BLOCKS_SHOWN_MAX: u64 = 15;

/// The explorer page.
#[derive(Template)]
#[template(path = "explorer.html")]
struct Explorer<'a> {
    chain: &'a str,
    style: &'a str,
    height: u64,
    hash: String,
    mempool: usize,
    orgs: Vec<OrgRow>,
    products: Vec<ProductRow>,
    blocks: Vec<BlockRow>,
}

struct OrgRow {
    id: String,
    name: String,
    roles: String,
    prefixes: String,
}

struct ProductRow {
    gtin: String,
    name: String,
    brand: String,
    category: String,
    origin: String,
    owner: String,
    lots: Vec<LotCell>,
}

struct LotCell {
    /// The lot number, percent-encoded for the link.
    href: String,
    lot: String,
    quantity: String,
    unit: String,
    produced_on: String,
}

struct BlockRow {
    height: u64,
    hash: String,
    n_txs: u32,
}

/// The explorer page's route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

pub(crate) async fn index(State(s): State<AppState>) -> Result<Html<String>, ApiError> {
    let head = s.head.borrow().clone();
    let snap = s.store.snapshot()?;
    let mut blocks = Vec::new();
    let mut height = head.height.0;
    while height >= 1 && head.height.0 - height < BLOCKS_SHOWN_MAX {
        if let Some(b) = s.store.block(Height(height))? {
            blocks.push(BlockRow {
                height,
                hash: b.hash().to_string(),
                n_txs: b.header.n_txs,
            });
        }
        height -= 1;
    }
    let page = Explorer {
        chain: s.chain_id(),
        style: STYLE,
        height: head.height.0,
        hash: head.block_hash.to_string(),
        mempool: s.mempool.len(),
        orgs: org_rows(&snap)?,
        products: product_rows(&snap)?,
        blocks,
    };
    Ok(Html(page.render().map_err(ApiError::internal)?))
}

/// The organizations table's rows.
fn org_rows(snap: &StateSnapshot) -> Result<Vec<OrgRow>, ApiError> {
    let mut rows = Vec::new();
    for (k, v) in snap.scan_prefix(&[keys::ORG], ORGS_SHOWN_MAX)? {
        let o: identity::Organization = waybill_state::decode_record(&k, &v)?;
        let roles: Vec<&str> = o.roles.iter().map(|r| r.name()).collect();
        rows.push(OrgRow {
            id: o.id.as_str().to_string(),
            name: o.name,
            roles: roles.join(", "),
            prefixes: o.company_prefixes.join(", "),
        });
    }
    Ok(rows)
}

/// The products table's rows, with each product's first lots.
fn product_rows(snap: &StateSnapshot) -> Result<Vec<ProductRow>, ApiError> {
    let mut rows = Vec::new();
    for (k, v) in snap.scan_prefix(&[keys::PRODUCT], PRODUCTS_SHOWN_MAX)? {
        let p: catalog::Product = waybill_state::decode_record(&k, &v)?;
        let mut lots = Vec::new();
        for (lk, lv) in snap.scan_prefix(&keys::lots_of(&p.gtin), LOTS_SHOWN_MAX)? {
            let l: catalog::Lot = waybill_state::decode_record(&lk, &lv)?;
            lots.push(LotCell {
                href: percent_encode(&l.lot),
                lot: l.lot,
                quantity: l.quantity.to_string(),
                unit: l.unit,
                produced_on: l.produced_on,
            });
        }
        rows.push(ProductRow {
            gtin: p.gtin.to_string(),
            name: p.name,
            brand: p.brand,
            category: p.category,
            origin: p.origin_country,
            owner: p.owner.as_str().to_string(),
            lots,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper as _;

    #[test]
    fn templates_escape_with_named_entities() {
        let mut out = String::new();
        NamedEntities
            .write_escaped_str(&mut out, "<a href='x'>Tom & \"Jerry\"</a> 橙")
            .expect("writes to a String");
        assert_eq!(
            out,
            "&lt;a href=&#39;x&#39;&gt;Tom &amp; &quot;Jerry&quot;&lt;/a&gt; 橙"
        );
    }
}
