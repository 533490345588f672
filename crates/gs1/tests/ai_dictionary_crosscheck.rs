//! Cross-checks the hand-written AI table in `waybill_gs1::ai` against the GS1 Barcode
//! Syntax Dictionary in `shared/conformance/digital-link/gs1-syntax-dictionary.txt`,
//! read at run time: every AI the dictionary defines must be in the table with the same
//! title, format, linters, flags, Digital Link rules and pairing rules, and the table
//! must define no other AIs.

use std::collections::BTreeSet;

use waybill_gs1::ai::{self, AiInfo, Charset, Component, Linter};

const DICTIONARY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/digital-link/gs1-syntax-dictionary.txt"
);

/// One component as the dictionary writes it, e.g. `N13,csum,gcppos1` or `[X..17]`.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    charset: char,
    min: usize,
    max: usize,
    optional: bool,
    linters: Vec<String>,
}

fn parse_component(token: &str) -> Spec {
    let mut parts = token.split(',');
    let head = parts.next().unwrap_or_default();
    let optional = head.starts_with('[');
    let head = head.trim_start_matches('[').trim_end_matches(']');
    let mut chars = head.chars();
    let charset = chars
        .next()
        .unwrap_or_else(|| panic!("empty component {token}"));
    let len = chars.as_str();
    let (min, max) = match len.strip_prefix("..") {
        Some(max) => (
            1,
            max.parse().unwrap_or_else(|_| panic!("bad length {token}")),
        ),
        None => {
            let n = len.parse().unwrap_or_else(|_| panic!("bad length {token}"));
            (n, n)
        }
    };
    Spec {
        charset,
        min,
        max,
        optional,
        linters: parts.map(str::to_owned).collect(),
    }
}

fn spec_of(component: &Component) -> Spec {
    Spec {
        charset: component.charset.code(),
        min: component.min_len,
        max: component.max_len,
        optional: component.optional,
        linters: component
            .linters
            .iter()
            .map(|l| l.name().to_owned())
            .collect(),
    }
}

fn groups(text: &str) -> Vec<Vec<String>> {
    text.split(',')
        .map(|g| g.split('+').map(str::to_owned).collect())
        .collect()
}

fn owned(groups: &[&[&str]]) -> Vec<Vec<String>> {
    groups
        .iter()
        .map(|g| g.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

#[test]
fn table_matches_the_syntax_dictionary() {
    let text = std::fs::read_to_string(DICTIONARY)
        .unwrap_or_else(|e| panic!("cannot read {DICTIONARY}: {e}"));
    let mut failures = Vec::new();
    let mut dictionary_ais = BTreeSet::new();
    let mut entries = 0;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        entries += 1;
        let (body, title) = match line.split_once('#') {
            Some((body, title)) => (body, title.trim()),
            None => (line, ""),
        };
        let mut tokens = body.split_whitespace().peekable();
        let ais = tokens.next().unwrap_or_default();
        let (first, last) = ais.split_once('-').unwrap_or((ais, ais));
        let flags = match tokens.peek() {
            Some(t) if t.chars().all(|c| !c.is_ascii_alphanumeric() && c != '[') => {
                tokens.next().unwrap_or_default()
            }
            _ => "",
        };
        let mut components = Vec::new();
        let mut requires = Vec::new();
        let mut excludes = Vec::new();
        let mut dlpkey: Option<Vec<Vec<String>>> = None;
        for token in tokens {
            if let Some(r) = token.strip_prefix("req=") {
                assert!(requires.is_empty(), "line {line_no}: repeated req");
                requires = groups(r);
            } else if let Some(e) = token.strip_prefix("ex=") {
                excludes = e.split(',').map(str::to_owned).collect();
            } else if token == "dlpkey" {
                dlpkey = Some(Vec::new());
            } else if let Some(k) = token.strip_prefix("dlpkey=") {
                dlpkey = Some(
                    k.split('|')
                        .map(|seq| seq.split(',').map(str::to_owned).collect())
                        .collect(),
                );
            } else {
                components.push(parse_component(token));
            }
        }

        let width = first.len();
        let (lo, hi): (u32, u32) = (
            first.parse().expect("numeric AI"),
            last.parse().expect("numeric AI"),
        );
        for n in lo..=hi {
            let code = format!("{n:0width$}");
            dictionary_ais.insert(code.clone());
            let Some(info) = ai::lookup(&code) else {
                failures.push(format!("line {line_no}: AI {code} missing from the table"));
                continue;
            };
            let mut check = |what: &str, ok: bool, got: String| {
                if !ok {
                    failures.push(format!(
                        "line {line_no}: AI {code} {what}: table has {got}\n    {line}"
                    ));
                }
            };
            check("title", info.title == title, format!("{:?}", info.title));
            let table_specs: Vec<Spec> = info.components.iter().map(spec_of).collect();
            check(
                "format",
                table_specs == components,
                format!("{table_specs:?}"),
            );
            check(
                "predefined length flag",
                info.fnc1_required != flags.contains('*'),
                format!("fnc1_required={}", info.fnc1_required),
            );
            check(
                "DL data attribute flag",
                info.dl_data_attribute == flags.contains('?'),
                format!("dl_data_attribute={}", info.dl_data_attribute),
            );
            check(
                "DL primary key",
                info.dl_primary_key == dlpkey.is_some()
                    && owned(info.dl_qualifiers) == dlpkey.clone().unwrap_or_default(),
                format!("{} {:?}", info.dl_primary_key, info.dl_qualifiers),
            );
            check(
                "requires",
                owned(info.requires) == requires,
                format!("{:?}", info.requires),
            );
            check(
                "excludes",
                info.excludes == excludes.iter().map(String::as_str).collect::<Vec<_>>(),
                format!("{:?}", info.excludes),
            );
        }
    }

    // The table defines nothing the dictionary does not.
    let mut table_ais = BTreeSet::new();
    for info in ai::TABLE {
        let width = info.first.len();
        let lo: u32 = info.first.parse().expect("numeric AI");
        let hi: u32 = info.last.parse().expect("numeric AI");
        for n in lo..=hi {
            table_ais.insert(format!("{n:0width$}"));
        }
    }
    for extra in table_ais.difference(&dictionary_ais) {
        failures.push(format!("AI {extra} is in the table but not the dictionary"));
    }

    // Every linter name the dictionary uses is one the table knows.
    for info in ai::TABLE {
        for component in info.components {
            for linter in component.linters {
                assert_eq!(Linter::from_name(linter.name()), Some(*linter));
            }
        }
    }
    let enforced = Linter::ALL.iter().filter(|l| l.is_enforced()).count();
    println!(
        "gs1-syntax-dictionary.txt: {entries} entries, {} AIs; table: {} entries, {} AIs; \
         {enforced}/{} linters enforced",
        dictionary_ais.len(),
        ai::TABLE.len(),
        table_ais.len(),
        Linter::ALL.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_table_entry_describes_itself() {
    for info in ai::TABLE {
        let (min, max) = info.length_range();
        assert!(
            min >= 1 && min <= max,
            "{}: lengths {min}..{max}",
            info.first
        );
        assert!(!info.format().is_empty());
        // Only the last component may vary in length; optional ones come last.
        let n = info.components.len();
        for (i, c) in info.components.iter().enumerate() {
            assert!(
                c.is_fixed() || i + 1 == n,
                "{}: variable inner component",
                info.first
            );
            if i + 1 < n && c.optional {
                assert!(
                    info.components[i + 1].optional,
                    "{}: optional then mandatory",
                    info.first
                );
            }
        }
        let _: &AiInfo = ai::lookup(info.first).expect("first AI covered");
        let _: &AiInfo = ai::lookup(info.last).expect("last AI covered");
        assert!(info
            .components
            .iter()
            .all(|c| c.charset != Charset::Cset64 || n == 1));
    }
}
