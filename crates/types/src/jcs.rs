//! The JSON Canonicalization Scheme (RFC 8785): one byte string per JSON value, so a
//! value can be committed to and the commitment checked by anyone who has the value.
//! Sealed fields commit to `SHA-256(salt ‖ JCS(value))` ([`crate::seal`]).
//!
//! The rules: no whitespace; object members sorted by their names' UTF-16 code units;
//! strings escaped only where JSON requires it (`"`, `\`, control characters, with
//! `\b \t \n \f \r` and otherwise `\u00xx` in lowercase hex); numbers printed as
//! ECMAScript's `Number.prototype.toString` prints the IEEE-754 double they denote.

use serde_json::Value;

/// A value's canonical form (RFC 8785).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_value(out, member);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as the double it denotes, printed the ECMAScript way. (JSON numbers
/// beyond 2^53 lose precision here exactly as they do in a browser; money is never a
/// JSON number in Waybill — amounts are decimal strings.)
fn write_number(out: &mut String, n: &serde_json::Number) {
    let f = match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => i as f64,
        (None, Some(u)) => u as f64,
        _ => n.as_f64().unwrap_or(f64::NAN),
    };
    out.push_str(&es_number(f));
}

/// ECMAScript `Number.prototype.toString(x)` for a finite double (ECMA-262, 7.1.12.1):
/// the shortest digits that round-trip, placed by the decimal exponent.
pub fn es_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        // JSON has no NaN or infinity; serde_json cannot produce one.
        return "null".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let (digits, n) = shortest_digits(x.abs());
    let k = digits.len() as i32;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e < 0 {
            format!("-{}", -e)
        } else {
            format!("+{e}")
        };
        if k == 1 {
            format!("{digits}e{e}")
        } else {
            format!("{}.{}e{e}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

/// Split Rust's `{:e}` form "d[.ddd]e<exp>" into its digits and `n`, where the value
/// is 0.digits × 10^n.
fn split_sci(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().expect("`{:e}` prints an integer exponent");
    (digits, exp + 1)
}

/// The shortest digits that read back as `x` (> 0), and `n` (x ≈ 0.digits × 10^n).
/// Rust prints the shortest round-trip digits; when two such digit strings are
/// equally close to `x` (x lies exactly half-way), ECMAScript takes the even one,
/// which Rust does not promise, so that case is settled here from `x`'s exact
/// decimal expansion.
fn shortest_digits(x: f64) -> (String, i32) {
    let (digits, n) = split_sci(&format!("{x:e}"));
    let k = digits.len();
    // Every f64 has an exact decimal expansion of at most 767 significant digits.
    let (exact, exact_n) = split_sci(&format!("{x:.800e}"));
    let exact = exact.trim_end_matches('0');
    let tie = exact_n == n && exact.len() == k + 1 && exact.ends_with('5');
    if !tie || (digits.as_bytes()[k - 1] - b'0').is_multiple_of(2) {
        return (digits, n);
    }
    let down = exact[..k].to_owned();
    let alternative = if digits == down {
        // Rust rounded down to an odd digit; up is the even one. Up from a 9 carries
        // into fewer digits, which would have been the shortest form Rust printed.
        if down.ends_with('9') {
            return (digits, n);
        }
        let mut up = down.into_bytes();
        *up.last_mut().expect("k >= 1") += 1;
        String::from_utf8(up).expect("ASCII digits")
    } else {
        down
    };
    let reads_back = format!("0.{alternative}e{n}").parse::<f64>() == Ok(x);
    if reads_back {
        (alternative, n)
    } else {
        (digits, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8785 Appendix B: IEEE-754 doubles (as bit patterns) and their canonical text.
    #[test]
    fn numbers_print_as_rfc_8785_appendix_b_says() {
        let cases: [(u64, &str); 26] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
            (0x3ff0000000000000, "1"),
            (0x3fe0000000000000, "0.5"),
        ];
        for (bits, want) in cases {
            assert_eq!(es_number(f64::from_bits(bits)), want, "{bits:#018x}");
        }
    }

    /// RFC 8785 section 3.2.3 and its sample: members sorted by UTF-16 code units
    /// (U+20AC sorts before U+1F600's surrogates, unlike UTF-8 byte order), strings
    /// escaped minimally, numbers in ECMAScript form.
    #[test]
    fn objects_sort_by_utf16_and_strings_escape_minimally() {
        let input = r#"{
            "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        let v: Value = serde_json::from_str(input).expect("valid JSON");
        assert_eq!(
            to_string(&v),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        let sorting = serde_json::json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{0080}": "Control",
            "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        let names: Vec<String> = {
            let out = to_string(&sorting);
            let back: serde_json::Map<String, Value> =
                serde_json::from_str(&out).expect("valid JSON");
            back.keys().cloned().collect()
        };
        assert_eq!(
            names,
            [
                "\r",
                "1",
                "\u{0080}",
                "\u{00f6}",
                "\u{20ac}",
                "\u{1f600}",
                "\u{fb33}"
            ]
        );
    }
}
