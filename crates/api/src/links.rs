//! GS1 Digital Links as the API takes them: parsed with the resolver's options,
//! reduced to the canonical item they name, and checked against the ledger (a link to
//! an unknown product, lot, serial or location is a 404). Shared by the resolver, the
//! proof bundles and the consumer page.

use waybill_gs1::digital_link::{DigitalLink, ParseOptions};
use waybill_gs1::{Gln, Gtin};
use waybill_state::{catalog, trace};

use crate::{ApiError, AppState};

/// How this node parses Digital Links: GS1's strict rules, except that a GTIN-8, -12
/// or -13 is accepted and padded with zeros to 14 digits (labels print them short).
pub(crate) fn link_options() -> ParseOptions {
    ParseOptions {
        permit_zero_suppressed_gtin: true,
        ..ParseOptions::default()
    }
}

/// Parse a Digital Link (a full URI) with [`link_options`]; refusals name the problem.
pub(crate) fn parse_link(link: &str) -> Result<DigitalLink, ApiError> {
    DigitalLink::parse_with(link, &link_options()).map_err(|e| {
        ApiError::bad_request(
            "bad_digital_link",
            format!("`{link}` is not a valid GS1 Digital Link: {e}"),
        )
    })
}

/// The canonical URI of a link's AI data (key, qualifiers, AI attributes; no other
/// query parameters), e.g. `https://id.gs1.org/01/00000012345670/21/7`.
pub(crate) fn canonical_item(dl: &DigitalLink) -> Result<String, ApiError> {
    DigitalLink::from_elements_with(&dl.elements, None, &link_options())
        .map(|c| c.to_uri(None))
        .map_err(|e| ApiError::bad_request("bad_digital_link", e.to_string()))
}

/// Whether the ledger knows the item a link names; `Err` is the 404 (or 400) to
/// answer. Trade items: the product, the lot if named, and a serial named by some
/// event. SSCCs and GIAIs: named by some event. GLNs: a registered location.
pub(crate) fn check_known(s: &AppState, dl: &DigitalLink) -> Result<(), ApiError> {
    let (key, value) = dl
        .key()
        .ok_or_else(|| ApiError::bad_request("bad_digital_link", "the link has no primary key"))?;
    let snap = s.store.snapshot()?;
    let named_by_an_event = |snap: &waybill_store::StateSnapshot| -> Result<bool, ApiError> {
        let anchor = canonical_item(dl)?;
        let id = waybill_epcis::epc::parse(&anchor)
            .map_err(|e| ApiError::bad_request("bad_digital_link", e.to_string()))?
            .canonical;
        Ok(!trace::events_naming(snap, &id, 1)?.is_empty())
    };
    match key {
        "01" => check_trade_item(&snap, dl, value, || named_by_an_event(&snap))?,
        "00" | "8004" => {
            if !named_by_an_event(&snap)? {
                let (code, what) = if key == "00" {
                    ("unknown_sscc", "logistic unit (SSCC)")
                } else {
                    ("unknown_giai", "asset (GIAI)")
                };
                return Err(ApiError::not_found(
                    code,
                    format!("no event on this consortium's ledger names {what} {value}"),
                ));
            }
        }
        "414" => {
            let gln: Gln = value
                .parse()
                .map_err(|e: waybill_gs1::Gs1Error| {
                    ApiError::bad_request("bad_gln", e.to_string())
                })?;
            if catalog::load_location(&snap, &gln)?.is_none() {
                return Err(ApiError::not_found(
                    "unknown_location",
                    format!("location {gln} is not registered on this consortium's ledger"),
                ));
            }
        }
        other => {
            return Err(ApiError::not_found(
                "unresolved_key",
                format!(
                    "this node resolves GTINs (01), SSCCs (00), GLNs (414) and GIAIs (8004), not AI {other}"
                ),
            ))
        }
    }
    Ok(())
}

/// Whether the ledger knows a trade item: its product, its lot if named, and its
/// serial if named (`named_by_an_event`).
fn check_trade_item(
    snap: &waybill_store::StateSnapshot,
    dl: &DigitalLink,
    gtin: &str,
    named_by_an_event: impl FnOnce() -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    let gtin: Gtin = gtin
        .parse()
        .map_err(|e: waybill_gs1::Gs1Error| ApiError::bad_request("bad_gtin", e.to_string()))?;
    if catalog::load_product(snap, &gtin)?.is_none() {
        return Err(ApiError::not_found(
            "unknown_product",
            format!("product {gtin} is not registered on this consortium's ledger"),
        ));
    }
    if let Some(l) = dl.lot() {
        if catalog::load_lot(snap, &gtin, l)?.is_none() {
            return Err(ApiError::not_found(
                "unknown_lot",
                format!("lot {l} of product {gtin} is not registered"),
            ));
        }
    }
    if let Some(serial) = dl.serial() {
        if !named_by_an_event()? {
            return Err(ApiError::not_found(
                "unknown_item",
                format!(
                    "no event on this consortium's ledger names item {serial} of product {gtin}: the serial is unknown here (check the label)"
                ),
            ));
        }
    }
    Ok(())
}
