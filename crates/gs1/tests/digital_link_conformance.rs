//! Runs every GS1 Digital Link and AI vector in `shared/conformance/digital-link/*.jsonl`
//! through `waybill_gs1::{ai, digital_link}`.
//!
//! Each test checks every line of its file, collects the failures (each naming the line
//! and its content) and reports them all at once, then checks the pinned line counts.

use std::path::PathBuf;

use serde_json::Value;
use waybill_gs1::ai::{self, AiError, LintFailure, Linter};
use waybill_gs1::digital_link::{
    generate_with, uri_escape, uri_unescape, DigitalLink, ParseOptions, UriComponent,
};

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance");

/// One vector line: its 1-based number, its text and its JSON.
struct Line {
    no: usize,
    text: String,
    json: Value,
}

impl Line {
    fn str(&self, key: &str) -> &str {
        self.json
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("line {}: {key:?} is missing or not a string", self.no))
    }

    fn opt_str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    fn bool(&self, key: &str) -> bool {
        self.json
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or_else(|| panic!("line {}: {key:?} is missing or not a bool", self.no))
    }

    /// The parser settings named in `options`.
    fn options(&self) -> ParseOptions {
        let mut options = ParseOptions::default();
        let Some(map) = self.json.get("options").and_then(Value::as_object) else {
            return options;
        };
        for (name, value) in map {
            let on = value
                .as_bool()
                .unwrap_or_else(|| panic!("line {}: option {name} is not a bool", self.no));
            match name.as_str() {
                "permitConvenienceAlphas" => options.permit_convenience_alphas = on,
                "permitZeroSuppressedGTINinDLuris" => options.permit_zero_suppressed_gtin = on,
                "permitUnknownAIs" => options.permit_unknown_ais = on,
                "validation_UNKNOWN_AI_NOT_DL_ATTR" => options.reject_unknown_ai_attributes = on,
                other => panic!("line {}: unsupported option {other:?}", self.no),
            }
        }
        options
    }

    fn fail(&self, failures: &mut Vec<String>, what: String) {
        failures.push(format!("line {}: {what}\n    {}", self.no, self.text));
    }
}

fn read_vectors(name: &str, expected_lines: usize) -> Vec<Line> {
    let path = PathBuf::from(CONFORMANCE).join("digital-link").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .map(|(i, line)| Line {
            no: i + 1,
            text: line.to_owned(),
            json: serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name} line {} is not JSON: {e}", i + 1)),
        })
        .collect();
    assert_eq!(
        lines.len(),
        expected_lines,
        "unexpected line count in {name}"
    );
    lines
}

fn report(name: &str, total: usize, passed: usize, detail: &str, failures: &[String]) {
    println!("{name}: {passed}/{total} vectors pass ({detail})");
    assert!(
        failures.is_empty(),
        "{name}: {} of {total} vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, total, "{name}: not every vector was counted");
}

fn pairs(value: &Value) -> Option<Vec<(String, String)>> {
    value
        .as_array()?
        .iter()
        .map(|pair| {
            let pair = pair.as_array()?;
            Some((
                pair.first()?.as_str()?.to_owned(),
                pair.get(1)?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn sorted(mut elements: Vec<(String, String)>) -> Vec<(String, String)> {
    elements.sort();
    elements
}

#[test]
fn dl_parse_uri() {
    let lines = read_vectors("dl_parse_uri.jsonl", 118);
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for line in &lines {
        let uri = line.str("uri");
        let options = line.options();
        let result = DigitalLink::parse_with(uri, &options);
        if !line.bool("valid") {
            match result {
                Ok(dl) => line.fail(&mut failures, format!("accepted an invalid URI: {dl:?}")),
                Err(e) if e.to_string().is_empty() => {
                    line.fail(&mut failures, "error without a message".into())
                }
                Err(_) => invalid += 1,
            }
            continue;
        }
        let dl = match result {
            Ok(dl) => dl,
            Err(e) => {
                line.fail(&mut failures, format!("rejected a valid URI: {e}"));
                continue;
            }
        };
        let expected = line.json.get("expected_elements").and_then(pairs);
        let mut ok = true;
        if expected.as_ref() != Some(&dl.elements) {
            line.fail(
                &mut failures,
                format!("elements {:?}, expected {expected:?}", dl.elements),
            );
            ok = false;
        }
        if dl.bracketed() != line.str("expected_bracketed") {
            line.fail(&mut failures, format!("bracketed {:?}", dl.bracketed()));
            ok = false;
        }
        if dl.element_string() != line.str("expected_ai_data") {
            line.fail(
                &mut failures,
                format!("element string {:?}", dl.element_string()),
            );
            ok = false;
        }
        // The canonical form parses back to the same data and is a fixed point.
        let canonical = dl.to_uri(Some(&dl.stem));
        match DigitalLink::parse_with(&canonical, &options) {
            Ok(again) => {
                if sorted(again.elements.clone()) != sorted(dl.elements.clone())
                    || again.stem != dl.stem
                    || again.to_uri(Some(&again.stem)) != canonical
                {
                    line.fail(
                        &mut failures,
                        format!("canonical {canonical} parses to {again:?}"),
                    );
                    ok = false;
                }
            }
            Err(e) => {
                line.fail(
                    &mut failures,
                    format!("canonical {canonical} rejected: {e}"),
                );
                ok = false;
            }
        }
        if ok {
            valid += 1;
        }
    }
    report(
        "dl_parse_uri.jsonl",
        lines.len(),
        valid + invalid,
        &format!("{valid} valid URIs parsed, {invalid} invalid URIs rejected"),
        &failures,
    );
    assert_eq!((valid, invalid), (73, 45));
}

#[test]
fn dl_generate_uri() {
    let lines = read_vectors("dl_generate_uri.jsonl", 22);
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for line in &lines {
        let options = line.options();
        let stem = line.opt_str("stem");
        let bracketed = line.str("ai_data_bracketed");
        let result = ai::parse_bracketed_with(bracketed, options.permit_unknown_ais)
            .map_err(Into::into)
            .and_then(|elements| {
                generate_with(&elements, stem, &options).map(|uri| (elements, uri))
            });
        if !line.bool("valid") {
            match result {
                Ok((_, uri)) => line.fail(&mut failures, format!("generated {uri}")),
                Err(_) => invalid += 1,
            }
            continue;
        }
        let (elements, uri) = match result {
            Ok(ok) => ok,
            Err(e) => {
                line.fail(&mut failures, format!("rejected: {e}"));
                continue;
            }
        };
        if uri != line.str("expected_uri") {
            line.fail(&mut failures, format!("generated {uri}"));
            continue;
        }
        // Round trip: parsing the generated URI gives back the data (repeats dropped),
        // and the same link as building it from the data.
        let built = DigitalLink::from_elements_with(&elements, stem, &options);
        match (DigitalLink::parse_with(&uri, &options), built) {
            (Ok(parsed), Ok(built)) => {
                let mut unique = elements.clone();
                let mut seen = Vec::new();
                unique.retain(|e| {
                    let fresh = !seen.contains(e);
                    seen.push(e.clone());
                    fresh
                });
                if parsed != built || sorted(parsed.elements.clone()) != sorted(unique) {
                    line.fail(
                        &mut failures,
                        format!("round trip: parsed {parsed:?}, built {built:?}"),
                    );
                    continue;
                }
            }
            (parsed, built) => {
                line.fail(
                    &mut failures,
                    format!("round trip: parsed {parsed:?}, built {built:?}"),
                );
                continue;
            }
        }
        valid += 1;
    }
    report(
        "dl_generate_uri.jsonl",
        lines.len(),
        valid + invalid,
        &format!("{valid} URIs generated and round-tripped, {invalid} invalid inputs rejected"),
        &failures,
    );
}

#[test]
fn uri_escape_vectors() {
    let lines = read_vectors("uri_escape.jsonl", 10);
    let mut failures = Vec::new();
    let mut passed = 0;
    for line in &lines {
        let input = line.str("input");
        let path = uri_escape(input, UriComponent::Path);
        let query = uri_escape(input, UriComponent::Query);
        if path != line.str("expected_path_component") {
            line.fail(&mut failures, format!("path form {path:?}"));
        } else if query != line.str("expected_query_component") {
            line.fail(&mut failures, format!("query form {query:?}"));
        } else {
            passed += 1;
        }
    }
    report(
        "uri_escape.jsonl",
        lines.len(),
        passed,
        "path and query forms",
        &failures,
    );
}

/// The vectors write each decoded byte as the character with that code point.
fn latin1_bytes(line: &Line, s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .unwrap_or_else(|_| panic!("line {}: {c:?} is not a byte", line.no))
        })
        .collect()
}

#[test]
fn uri_unescape_vectors() {
    let lines = read_vectors("uri_unescape.jsonl", 21);
    let mut failures = Vec::new();
    let mut passed = 0;
    for line in &lines {
        let input = line.str("input");
        let path = uri_unescape(input, UriComponent::Path);
        let query = uri_unescape(input, UriComponent::Query);
        if path != latin1_bytes(line, line.str("expected_path_component")) {
            line.fail(&mut failures, format!("path form {path:?}"));
        } else if query != latin1_bytes(line, line.str("expected_query_component")) {
            line.fail(&mut failures, format!("query form {query:?}"));
        } else {
            passed += 1;
        }
    }
    report(
        "uri_unescape.jsonl",
        lines.len(),
        passed,
        "path and query forms",
        &failures,
    );
}

#[test]
fn ai_parse_bracketed() {
    let lines = read_vectors("ai_parse_bracketed.jsonl", 27);
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for line in &lines {
        let options = line.options();
        let input = line.str("ai_data_bracketed");
        let result = ai::parse_bracketed_with(input, options.permit_unknown_ais);
        match (line.bool("valid"), result) {
            (true, Ok(elements)) => {
                let expected = line.str("expected_ai_data");
                let got = ai::element_string(&elements);
                let again = ai::parse_bracketed_with(&ai::bracketed(&elements), true);
                if got != expected {
                    line.fail(&mut failures, format!("element string {got:?}"));
                } else if again.as_ref() != Ok(&elements) {
                    line.fail(&mut failures, format!("re-bracketed parses to {again:?}"));
                } else {
                    valid += 1;
                }
            }
            (true, Err(e)) => line.fail(&mut failures, format!("rejected: {e}")),
            (false, Ok(elements)) => line.fail(&mut failures, format!("accepted: {elements:?}")),
            (false, Err(_)) => invalid += 1,
        }
    }
    report(
        "ai_parse_bracketed.jsonl",
        lines.len(),
        valid + invalid,
        &format!("{valid} parsed, {invalid} rejected"),
        &failures,
    );
}

#[test]
fn ai_validate_associations() {
    let lines = read_vectors("ai_validate_associations.jsonl", 77);
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for line in &lines {
        let options = line.options();
        let input = line.str("ai_data_bracketed");
        let elements = match ai::parse_bracketed_with(input, options.permit_unknown_ais) {
            Ok(elements) => elements,
            Err(e) => {
                line.fail(&mut failures, format!("does not parse: {e}"));
                continue;
            }
        };
        let result = ai::validate_associations(&elements);
        match (line.bool("valid"), result) {
            (true, Ok(())) => valid += 1,
            (true, Err(e)) => line.fail(&mut failures, format!("rejected: {e}")),
            (false, Ok(())) => line.fail(&mut failures, "accepted".into()),
            (false, Err(e)) => {
                let right_rule = match line.str("check") {
                    "validateAIrepeats" => matches!(e, AiError::ConflictingRepeat { .. }),
                    "validateAImutex" => matches!(e, AiError::Excluded { .. }),
                    "validateAIrequisites" => matches!(e, AiError::MissingRequisite { .. }),
                    "validateDigSigRequiresSerialisedKey" => {
                        matches!(e, AiError::DigSigUnserialisedKey { .. })
                    }
                    other => panic!("line {}: unknown check {other:?}", line.no),
                };
                if right_rule {
                    invalid += 1;
                } else {
                    line.fail(&mut failures, format!("rejected by another rule: {e}"));
                }
            }
        }
    }
    report(
        "ai_validate_associations.jsonl",
        lines.len(),
        valid + invalid,
        &format!("{valid} accepted, {invalid} rejected by the named rule"),
        &failures,
    );
}

#[test]
fn check_digit_csum() {
    let lines = read_vectors("check_digit_csum.jsonl", 14);
    let mut failures = Vec::new();
    let mut passed = 0;
    for line in &lines {
        assert_eq!(line.str("linter"), "csum", "line {}", line.no);
        let input = line.str("input");
        let result = Linter::Csum.check(input);
        if line.bool("valid") {
            match result {
                Ok(()) => passed += 1,
                Err(e) => line.fail(&mut failures, format!("rejected: {e}")),
            }
            continue;
        }
        // The highlight marks the offending character with `*` on each side.
        let highlight = line.str("expected_highlight");
        let marked = highlight.find('*').unwrap_or(0) + 1;
        let right = match (line.str("expected_error"), &result) {
            ("GS1_LINTER_TOO_SHORT_FOR_CHECK_DIGIT", Err(LintFailure::TooShortForCheck { .. })) => {
                true
            }
            ("GS1_LINTER_INCORRECT_CHECK_DIGIT", Err(LintFailure::CheckMismatch { found, .. })) => {
                input.ends_with(found.as_str()) && marked == input.len()
            }
            ("GS1_LINTER_NON_DIGIT_CHARACTER", Err(LintFailure::BadCharacter { position, .. })) => {
                *position == marked
            }
            _ => false,
        };
        if right {
            passed += 1;
        } else {
            line.fail(&mut failures, format!("got {result:?}"));
        }
    }
    report(
        "check_digit_csum.jsonl",
        lines.len(),
        passed,
        "through the csum linter",
        &failures,
    );
}
