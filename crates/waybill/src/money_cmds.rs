//! `waybill accounts …`: accounts and their balances, read with a member's signature;
//! `waybill reconcile`: a payment provider's statement against the ledger.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use waybill_client::Client;
use waybill_types::money::{Amount, Currency};

use crate::trace_cmds::Paging;
use crate::who::member_key;

/// `waybill accounts list`: every account the member may list (a regulator: all of
/// them; anyone else: its organization's), as JSON or a table.
pub async fn list(
    client: &Client,
    dir: &Path,
    who: &str,
    paging: Paging,
    as_json: bool,
) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let want = paging.page_size.min(paging.max.saturating_sub(items.len()));
        if want == 0 {
            break;
        }
        let mut path = format!("/v1/accounts?limit={want}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&after={c}"));
        }
        let page = client.get_as(&path, &key).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        cursor = page["next_after"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "items": items, "next_after": cursor }))?
        );
    } else {
        println!(
            "{:<56} {:>20} {:>20} {:>20}",
            "account", "posted", "pending", "available"
        );
        for a in &items {
            let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
            println!(
                "{:<56} {:>20} {:>20} {:>20}",
                s(&a["id"]),
                s(&a["balance"]["posted"]),
                s(&a["balance"]["pending"]),
                s(&a["balance"]["available"])
            );
        }
        println!("(amounts in minor units: fen, cents)");
    }
    if cursor.is_some() {
        eprintln!(
            "{} accounts shown; more remain: pass a larger --max",
            items.len()
        );
    }
    Ok(())
}

/// `waybill accounts show ID`: one account, as JSON.
pub async fn show(client: &Client, dir: &Path, who: &str, id: &str) -> anyhow::Result<()> {
    let key = member_key(dir, who)?;
    let a = client.get_as(&format!("/v1/accounts/{id}"), &key).await?;
    println!("{}", serde_json::to_string_pretty(&a)?);
    Ok(())
}

/// One payment on a provider's statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    /// The provider's reference.
    pub reference: String,
    /// Minor units.
    pub amount: Amount,
    /// Its currency.
    pub currency: Currency,
    /// Money received by the provider (`CRDT`: a deposit) or paid out (`DBIT`).
    pub credit: bool,
    /// Where it is in the file (`line 4`, `Ntry 2`), for messages.
    pub place: String,
}

/// A statement's payments, and its period if it states one ([from, to) ms).
pub struct Statement {
    pub lines: Vec<StatementLine>,
    pub period: Option<(u64, u64)>,
}

/// Read a statement: ISO 20022 camt.053 XML if the file starts with `<`, else CSV with
/// a header naming the columns `reference`, `amount` (major units, e.g. `123.45`),
/// `currency` and `direction` (`CRDT`/`DBIT`, or `credit`/`debit`); other columns are
/// ignored.
pub fn parse_statement(text: &str) -> anyhow::Result<Statement> {
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with('<') {
        parse_camt053(body)
    } else {
        Ok(Statement {
            lines: parse_csv(body)?,
            period: None,
        })
    }
}

/// `123.45` in a currency with exponent 2 → 12345 minor units; more decimals than the
/// currency has, a sign or anything but digits and one point is refused.
fn major_to_minor(s: &str, currency: Currency) -> anyhow::Result<Amount> {
    let exp = usize::from(currency.exponent());
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > exp {
        bail!("`{s}` is not an amount of {currency} (digits, at most {exp} decimals)");
    }
    let padded = format!("{int}{frac:0<exp$}");
    let v: u128 = padded
        .parse()
        .with_context(|| format!("`{s}` is too large an amount"))?;
    Ok(Amount(v))
}

fn direction(s: &str, place: &str) -> anyhow::Result<bool> {
    match s.trim().to_ascii_uppercase().as_str() {
        "CRDT" | "CREDIT" => Ok(true),
        "DBIT" | "DEBIT" => Ok(false),
        other => bail!("{place}: direction `{other}` is neither CRDT nor DBIT"),
    }
}

/// RFC 4180 fields of one CSV record (quotes, doubled quotes inside them).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("one field at least");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => field.push(c),
        }
    }
    fields
}

fn parse_csv(text: &str) -> anyhow::Result<Vec<StatementLine>> {
    let mut rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = rows.next().context("the statement is empty")?;
    let names: Vec<String> = csv_fields(header)
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| {
        names.iter().position(|n| n == name).with_context(|| {
            format!("the CSV header has no `{name}` column (it needs reference, amount, currency, direction)")
        })
    };
    let (ir, ia, ic, id) = (
        col("reference")?,
        col("amount")?,
        col("currency")?,
        col("direction")?,
    );
    let mut out = Vec::new();
    for (n, line) in rows {
        let place = format!("line {}", n + 1);
        let f = csv_fields(line.trim_end_matches('\r'));
        let get = |i: usize| {
            f.get(i)
                .map(|s| s.trim().to_string())
                .with_context(|| format!("{place}: has {} fields, fewer than the header", f.len()))
        };
        let currency = Currency::new(&get(ic)?).with_context(|| place.clone())?;
        out.push(StatementLine {
            reference: get(ir)?,
            amount: major_to_minor(&get(ia)?, currency).with_context(|| place.clone())?,
            currency,
            credit: direction(&get(id)?, &place)?,
            place,
        });
    }
    Ok(out)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The ms at the start (UTC) of the day `YYYY-MM-DD` (the first ten characters of `s`).
pub fn day_start_ms(s: &str) -> anyhow::Result<u64> {
    let bad = || anyhow::anyhow!("`{s}` is not a date YYYY-MM-DD");
    let d = s.get(..10).ok_or_else(bad)?;
    let (y, rest) = d.split_once('-').ok_or_else(bad)?;
    let (m, day) = rest.split_once('-').ok_or_else(bad)?;
    let (y, m, day): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        day.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || y < 1970 {
        return Err(bad());
    }
    u64::try_from(days_from_civil(y, m, day) * 86_400_000).map_err(|_| bad())
}

fn parse_camt053(text: &str) -> anyhow::Result<Statement> {
    let doc = roxmltree::Document::parse(text).context("the statement is not well-formed XML")?;
    let named =
        |n: roxmltree::Node<'_, '_>, name: &str| n.is_element() && n.tag_name().name() == name;
    let first = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.descendants()
            .find(|d| named(*d, name))
            .and_then(|d| d.text())
            .map(str::trim)
            .map(str::to_string)
    };
    if !doc.descendants().any(|n| named(n, "BkToCstmrStmt")) {
        bail!("the XML is no ISO 20022 camt.053 statement (no BkToCstmrStmt)");
    }
    let period = match doc.descendants().find(|n| named(*n, "FrToDt")) {
        Some(p) => {
            let from = first(p, "FrDtTm").context("FrToDt without FrDtTm")?;
            let to = first(p, "ToDtTm").context("FrToDt without ToDtTm")?;
            Some((day_start_ms(&from)?, day_start_ms(&to)? + 86_400_000))
        }
        None => None,
    };
    let mut lines = Vec::new();
    for (i, e) in doc.descendants().filter(|n| named(*n, "Ntry")).enumerate() {
        let place = format!("Ntry {}", i + 1);
        let amt = e
            .children()
            .find(|c| named(*c, "Amt"))
            .with_context(|| format!("{place}: no Amt"))?;
        let currency = Currency::new(amt.attribute("Ccy").unwrap_or_default())
            .with_context(|| format!("{place}: Amt's Ccy"))?;
        let amount = major_to_minor(amt.text().unwrap_or_default().trim(), currency)
            .with_context(|| place.clone())?;
        let credit = direction(
            &first(e, "CdtDbtInd").with_context(|| format!("{place}: no CdtDbtInd"))?,
            &place,
        )?;
        let tx_ref = e
            .descendants()
            .find(|d| named(*d, "Refs"))
            .and_then(|r| first(r, "AcctSvcrRef"));
        let reference = tx_ref
            .or_else(|| first(e, "AcctSvcrRef"))
            .or_else(|| first(e, "NtryRef"))
            .or_else(|| first(e, "EndToEndId"))
            .with_context(|| {
                format!("{place}: no reference (AcctSvcrRef, NtryRef or EndToEndId)")
            })?;
        lines.push(StatementLine {
            reference,
            amount,
            currency,
            credit,
            place,
        });
    }
    Ok(Statement { lines, period })
}

/// A booked payment as the ledger has it.
struct Booked {
    amount: Amount,
    currency: String,
    credit: bool,
    time_ms: u64,
    transfer: Value,
}

/// `waybill reconcile --statement FILE --as M`: match a payment provider's statement to
/// the payments the ledger booked for it, by the provider's reference (not by date),
/// and list every difference. Exits 1 if there is one.
pub async fn reconcile(
    client: &Client,
    dir: &Path,
    who: &str,
    statement: &Path,
    provider: Option<&str>,
    period: (Option<&str>, Option<&str>),
    as_json: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(statement)
        .with_context(|| format!("reading {}", statement.display()))?;
    let st = parse_statement(&text).with_context(|| format!("reading {}", statement.display()))?;
    let key = member_key(dir, who)?;
    let provider = match provider {
        Some(p) => p.to_string(),
        None => {
            let m = client
                .get(&format!("/v1/members/{}", key.public().to_hex()))
                .await?;
            m["org"]
                .as_str()
                .context("the member has no organization")?
                .to_string()
        }
    };
    let from = period.0.map(day_start_ms).transpose()?;
    let to = period
        .1
        .map(|d| day_start_ms(d).map(|t| t + 86_400_000))
        .transpose()?;
    let window = match (from, to, st.period) {
        (None, None, p) => p,
        (f, t, _) => Some((f.unwrap_or(0), t.unwrap_or(u64::MAX))),
    };
    let booked = fetch_booked(client, &key, &provider).await?;
    let diffs = differences(&st.lines, &booked, window);
    let matched = st.lines.len()
        - diffs
            .iter()
            .filter(|d| d["statement"] != Value::Null)
            .count();
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "provider": provider,
                "statement_lines": st.lines.len(),
                "matched": matched,
                "differences": diffs,
            }))?
        );
    } else {
        println!(
            "{matched} of {} statement lines match the ledger",
            st.lines.len()
        );
        for d in &diffs {
            println!(
                "{}: {} — {}",
                d["kind"].as_str().unwrap_or("?"),
                d["reference"].as_str().unwrap_or("?"),
                d["detail"].as_str().unwrap_or("")
            );
        }
    }
    if !diffs.is_empty() {
        bail!(
            "{} difference(s) between the statement and the ledger",
            diffs.len()
        );
    }
    Ok(())
}

async fn fetch_booked(
    client: &Client,
    key: &waybill_types::SecretKey,
    provider: &str,
) -> anyhow::Result<BTreeMap<String, Booked>> {
    let mut booked = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/providers/{provider}/references?limit=1000");
        if let Some(c) = &cursor {
            path.push_str(&format!(
                "&after={}",
                waybill_gs1::digital_link::uri_escape(
                    c,
                    waybill_gs1::digital_link::UriComponent::Query
                )
            ));
        }
        let page = client.get_as(&path, key).await?;
        for item in page["items"].as_array().cloned().unwrap_or_default() {
            let t = &item["transfer"];
            let reference = item["reference"]
                .as_str()
                .context("a reference")?
                .to_string();
            let amount: Amount = serde_json::from_value(t["amount"].clone())?;
            let credit_acct = t["credit"].as_str().unwrap_or_default();
            booked.insert(
                reference,
                Booked {
                    amount,
                    currency: credit_acct
                        .split(':')
                        .nth(2)
                        .unwrap_or_default()
                        .to_string(),
                    // A deposit: the provider received the money; a payout: it paid.
                    credit: t["kind"] == "deposit",
                    time_ms: t["time_ms"].as_u64().unwrap_or_default(),
                    transfer: t.clone(),
                },
            );
        }
        cursor = page["next_after"].as_str().map(str::to_string);
        if cursor.is_none() {
            return Ok(booked);
        }
    }
}

/// Every difference between `lines` and `booked` (the latter within `window`, if
/// given): on the statement only, on the ledger only, twice on the statement, or on
/// both with another amount, currency or direction.
fn differences(
    lines: &[StatementLine],
    booked: &BTreeMap<String, Booked>,
    window: Option<(u64, u64)>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let line_json = |l: &StatementLine| json!({ "place": l.place, "amount": l.amount, "currency": l.currency, "direction": if l.credit { "CRDT" } else { "DBIT" } });
    let mut diff = |kind: &str, reference: &str, detail: String, st: Value, ledger: Value| {
        out.push(json!({ "kind": kind, "reference": reference, "detail": detail, "statement": st, "ledger": ledger }));
    };
    for l in lines {
        if !seen.insert(l.reference.clone()) {
            diff(
                "duplicate_on_statement",
                &l.reference,
                format!("{} repeats a reference", l.place),
                line_json(l),
                Value::Null,
            );
            continue;
        }
        let Some(b) = booked.get(&l.reference) else {
            diff(
                "missing_on_ledger",
                &l.reference,
                format!(
                    "{}: {} {} not booked on the ledger",
                    l.place, l.amount, l.currency
                ),
                line_json(l),
                Value::Null,
            );
            continue;
        };
        let mut why = Vec::new();
        if b.amount != l.amount {
            why.push(format!(
                "amount {} on the statement, {} on the ledger",
                l.amount, b.amount
            ));
        }
        if b.currency != l.currency.code() {
            why.push(format!(
                "currency {} on the statement, {} on the ledger",
                l.currency, b.currency
            ));
        }
        if b.credit != l.credit {
            why.push(format!(
                "{} on the statement, {} on the ledger",
                if l.credit { "CRDT" } else { "DBIT" },
                if b.credit { "CRDT" } else { "DBIT" }
            ));
        }
        if !why.is_empty() {
            diff(
                "differs",
                &l.reference,
                format!("{}: {}", l.place, why.join("; ")),
                line_json(l),
                b.transfer.clone(),
            );
        }
    }
    for (reference, b) in booked {
        let inside = window.is_none_or(|(f, t)| (f..t).contains(&b.time_ms));
        if inside && !seen.contains(reference) {
            diff(
                "missing_on_statement",
                reference,
                format!(
                    "{} {} booked at block time {} ms, not on the statement",
                    b.amount, b.currency, b.time_ms
                ),
                Value::Null,
                b.transfer.clone(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny() -> Currency {
        Currency::new("CNY").expect("CNY")
    }

    #[test]
    fn amounts_in_major_units_become_minor_units_exactly() {
        assert_eq!(major_to_minor("123.45", cny()).expect("ok"), Amount(12_345));
        assert_eq!(major_to_minor("7", cny()).expect("ok"), Amount(700));
        assert_eq!(major_to_minor("0.5", cny()).expect("ok"), Amount(50));
        let jpy = Currency::new("JPY").expect("JPY");
        assert_eq!(major_to_minor("1500", jpy).expect("ok"), Amount(1_500));
        for bad in ["1.234", "-1", "", "1,5", "1e3", ".5"] {
            assert!(major_to_minor(bad, cny()).is_err(), "{bad}");
        }
        assert!(major_to_minor("1.5", jpy).is_err(), "yen have no decimals");
    }

    #[test]
    fn csv_fields_follow_rfc_4180_quoting() {
        assert_eq!(
            csv_fields("a,\"b,c\",\"d \"\"e\"\"\""),
            ["a", "b,c", "d \"e\""]
        );
        let st = parse_statement("Reference,Amount,Currency,Direction\r\nR-1,1.00,CNY,credit\r\n")
            .expect("parses");
        assert_eq!(st.lines.len(), 1);
        assert!(st.lines[0].credit);
        assert!(
            parse_statement("reference,amount\nR,1\n").is_err(),
            "columns missing"
        );
        let e = parse_statement("reference,amount,currency,direction\nR,1.00,CNY,sideways\n")
            .err()
            .expect("refused");
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
    }

    #[test]
    fn days_count_from_the_epoch() {
        assert_eq!(day_start_ms("1970-01-01").expect("ok"), 0);
        assert_eq!(
            day_start_ms("2026-12-06T10:00:00Z").expect("ok"),
            1_796_515_200_000
        );
        assert_eq!(
            day_start_ms("2024-03-01").expect("ok"),
            1_709_251_200_000,
            "after a leap day"
        );
        assert!(day_start_ms("2026-13-01").is_err());
    }

    #[test]
    fn a_camt053_statement_gives_its_entries_and_period() {
        let xml = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
            <FrToDt><FrDtTm>2026-12-01T00:00:00</FrDtTm><ToDtTm>2026-12-06T23:59:59</ToDtTm></FrToDt>
            <Ntry><NtryRef>N-1</NtryRef><Amt Ccy="USD">12.30</Amt><CdtDbtInd>DBIT</CdtDbtInd></Ntry>
            <Ntry><AcctSvcrRef>A-2</AcctSvcrRef><Amt Ccy="CNY">5</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>
            </Stmt></BkToCstmrStmt></Document>"#;
        let st = parse_statement(xml).expect("parses");
        assert_eq!(st.lines.len(), 2);
        assert_eq!(
            (
                st.lines[0].reference.as_str(),
                st.lines[0].amount,
                st.lines[0].credit
            ),
            ("N-1", Amount(1_230), false)
        );
        assert_eq!(
            (st.lines[1].reference.as_str(), st.lines[1].amount),
            ("A-2", Amount(500))
        );
        assert_eq!(
            st.period,
            Some((
                day_start_ms("2026-12-01").expect("ok"),
                day_start_ms("2026-12-07").expect("ok")
            ))
        );
        assert!(parse_statement("<Document><Other/></Document>").is_err());
        assert!(parse_statement("<Document>").is_err(), "not well-formed");
    }
}
