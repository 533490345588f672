//! Runs every GS1 mod-10 check-digit vector in
//! `shared/conformance/digital-link/check_digit_csum.jsonl` through `waybill_gs1`.

use std::path::Path;

use serde_json::Value;
use waybill_gs1::{check_digit, verify_check_digit, with_check_digit, Gln, Gs1Error, Gtin, Sscc};

/// Lines in `check_digit_csum.jsonl`; pinned so a truncated file fails loudly.
const CHECK_DIGIT_VECTORS: usize = 14;

fn str_field<'a>(line_no: usize, v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("line {line_no}: {key:?} is missing or not a string"))
}

/// Checks the key types agree with the bare check-digit verdict for inputs of their length.
fn check_key_types(line_no: usize, input: &str, valid: bool) {
    let len = input.len();
    if [8, 12, 13, 14].contains(&len) {
        let parsed = input.parse::<Gtin>();
        assert_eq!(
            parsed.is_ok(),
            valid,
            "line {line_no}: GTIN {input:?}: {parsed:?}"
        );
        if let Ok(gtin) = parsed {
            assert_eq!(gtin.as_str().len(), 14);
            assert!(gtin.as_str().ends_with(input));
        }
    }
    if len == 13 {
        let parsed = input.parse::<Gln>();
        assert_eq!(
            parsed.is_ok(),
            valid,
            "line {line_no}: GLN {input:?}: {parsed:?}"
        );
    }
    if len == 18 {
        let parsed = input.parse::<Sscc>();
        assert_eq!(
            parsed.is_ok(),
            valid,
            "line {line_no}: SSCC {input:?}: {parsed:?}"
        );
    }
}

#[test]
fn every_check_digit_vector() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/digital-link/check_digit_csum.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let line_count = text.lines().count();
    assert_eq!(
        line_count,
        CHECK_DIGIT_VECTORS,
        "unexpected number of lines in {}",
        path.display()
    );

    let mut checked = 0;
    let mut valid_count = 0;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {line_no} is not JSON: {e}: {line:?}"));
        assert_eq!(str_field(line_no, &v, "linter"), "csum", "line {line_no}");
        let input = str_field(line_no, &v, "input");
        let valid = v
            .get("valid")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| panic!("line {line_no}: \"valid\" is missing or not a bool"));

        let result = verify_check_digit(input);
        if valid {
            assert_eq!(result, Ok(()), "line {line_no}: {input:?} should be valid");
            let (data, last) = input.split_at(input.len() - 1);
            let expected = last.parse::<u8>().expect("valid input ends in a digit");
            assert_eq!(check_digit(data), Ok(expected), "line {line_no}");
            assert_eq!(
                with_check_digit(data).as_deref(),
                Ok(input),
                "line {line_no}"
            );
            valid_count += 1;
        } else {
            let expected_error = str_field(line_no, &v, "expected_error");
            let highlight = str_field(line_no, &v, "expected_highlight");
            let err = result.expect_err("invalid vectors must be rejected");
            match expected_error {
                "GS1_LINTER_TOO_SHORT_FOR_CHECK_DIGIT" => assert!(
                    matches!(err, Gs1Error::TooShort { .. }),
                    "line {line_no}: {err}"
                ),
                "GS1_LINTER_INCORRECT_CHECK_DIGIT" => {
                    // The highlight marks the check digit: "1234567*3*".
                    let found_text = highlight
                        .strip_suffix('*')
                        .and_then(|h| h.rsplit_once('*'))
                        .map(|(_, digit)| digit)
                        .unwrap_or_else(|| panic!("line {line_no}: odd highlight {highlight:?}"));
                    let (data, _) = input.split_at(input.len() - 1);
                    let expected = check_digit(data).expect("the data digits are digits");
                    assert_eq!(
                        err,
                        Gs1Error::CheckDigitMismatch {
                            kind: waybill_gs1::Gs1Kind::Digits,
                            value: input.to_owned(),
                            expected,
                            found: found_text.parse().expect("the highlight is a digit"),
                        },
                        "line {line_no}"
                    );
                }
                "GS1_LINTER_NON_DIGIT_CHARACTER" => {
                    // The highlight wraps the offending character in asterisks.
                    let position = highlight
                        .find('*')
                        .unwrap_or_else(|| panic!("line {line_no}: odd highlight {highlight:?}"))
                        + 1;
                    assert!(
                        matches!(err, Gs1Error::NonDigit { position: p, .. } if p == position),
                        "line {line_no}: expected a non-digit at position {position}, got {err}"
                    );
                }
                other => panic!("line {line_no}: unknown expected_error {other:?}"),
            }
        }
        check_key_types(line_no, input, valid);
        checked += 1;
    }
    assert!(checked > 0, "no check-digit vectors were checked");
    assert_eq!(checked, line_count);
    assert_eq!(valid_count, 5, "valid lines in the file");
    eprintln!("check digits: {checked} lines checked, {valid_count} valid");
}
