//! JSON as the Event Hash ID reads it: the same values `serde_json` reads, except that
//! a number keeps the exact text it was written with.
//!
//! `serde_json` (without its `arbitrary_precision` feature, which would change every
//! number in the workspace) keeps a number as a `u64`, `i64` or `f64`, so
//! `340123450000000000017` and `340123450000000000024` read as the same `f64`. The
//! Event Hash ID must hash numbers in their exact decimal form, so this module parses
//! the JSON text itself: [`parse`] accepts exactly the JSON texts `serde_json` accepts
//! (RFC 8259; nesting up to [`JSON_DEPTH_MAX`]; a repeated object key keeps its first
//! position and its last value, as a `serde_json::Map` with `preserve_order` does), and
//! [`Json::to_json_string`] writes compact JSON byte for byte as `serde_json::to_string`
//! does, but with every number as written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// The deepest nesting of arrays and objects [`parse`] reads (`serde_json`'s limit).
pub const JSON_DEPTH_MAX: usize = 128;

/// A JSON value whose numbers keep their text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(JsonNumber),
    /// A string (escapes decoded).
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in the order written.
    Object(JsonObject),
}

/// A JSON number literal (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), kept as
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonNumber(String);

/// A JSON object: its members in the order written, each key once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonObject {
    entries: Vec<(String, Json)>,
}

/// Why a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The text breaks the JSON grammar at byte `offset`.
    #[error("not valid JSON at byte {offset}: expected {expected}")]
    Syntax {
        /// Byte offset into the text.
        offset: usize,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// Arrays and objects nest deeper than [`JSON_DEPTH_MAX`].
    #[error("JSON nests deeper than {max} levels at byte {offset}")]
    TooDeep {
        /// Byte offset into the text.
        offset: usize,
        /// [`JSON_DEPTH_MAX`].
        max: usize,
    },
}

impl JsonNumber {
    /// The number `literal`, if it is a JSON number literal.
    pub fn new(literal: &str) -> Option<JsonNumber> {
        (number_len(literal.as_bytes(), 0) == Some(literal.len()))
            .then(|| JsonNumber(literal.to_owned()))
    }

    /// The text as written.
    pub fn literal(&self) -> &str {
        &self.0
    }

    /// The exact decimal value in plain notation: no exponent, no `+`, no leading zeros,
    /// no trailing zeros after the decimal point (and no point if nothing follows it),
    /// `0` for any zero. `None` when writing it needs more than `zeros_max` zeros beyond
    /// the digits written (`1e400` needs 400).
    ///
    /// `1.50` → `1.5`; `4.52e2` → `452`; `-0.0` → `0`; `1.5E-7` → `0.00000015`;
    /// `340123450000000000017` stays as it is.
    pub fn exact_decimal(&self, zeros_max: usize) -> Option<String> {
        let text = self.0.as_str();
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], parse_exponent(&body[i + 1..])),
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        let significant = digits.trim_end_matches('0');
        if significant.is_empty() {
            return Some("0".to_owned());
        }
        // value = significant × 10^scale
        let trailing = (digits.len() - significant.len()) as i64;
        let scale = exponent - frac.len() as i64 + trailing;
        let zeros_max = zeros_max as i64;
        let mut out = String::with_capacity(significant.len() + 8);
        if negative {
            out.push('-');
        }
        if scale >= 0 {
            if scale > zeros_max {
                return None;
            }
            out.push_str(significant);
            out.extend(std::iter::repeat_n('0', scale as usize));
        } else {
            let point = significant.len() as i64 + scale;
            if point > 0 {
                let (whole, fraction) = significant.split_at(point as usize);
                out.push_str(whole);
                out.push('.');
                out.push_str(fraction);
            } else {
                if -point > zeros_max {
                    return None;
                }
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (-point) as usize));
                out.push_str(significant);
            }
        }
        Some(out)
    }
}

/// An exponent's digits (with an optional sign), saturating far beyond any limit.
fn parse_exponent(text: &str) -> i64 {
    const CAP: i64 = 1 << 40;
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = digits
        .bytes()
        .fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(CAP));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

impl JsonObject {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `key` to `value`: in place if present, else at the end.
    pub fn insert(&mut self, key: impl Into<String>, value: Json) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// A mutable reference to the value of `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The members in order, mutably (keys stay as they are).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Json)> {
        self.entries.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    /// Reorders the members by `order`, a permutation of `0..len` (panics otherwise).
    pub fn reorder(&mut self, order: &[usize]) {
        assert_eq!(
            order.len(),
            self.entries.len(),
            "a permutation of the members"
        );
        let mut taken: Vec<Option<(String, Json)>> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(Some)
            .collect();
        for &i in order {
            let entry = taken
                .get_mut(i)
                .and_then(Option::take)
                .expect("each member index appears once");
            self.entries.push(entry);
        }
    }
}

impl Json {
    /// This value's object, if it is one.
    pub fn as_object(&self) -> Option<&JsonObject> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }

    /// This value's string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value at an RFC 6901 JSON pointer.
    pub fn pointer(&self, pointer: &str) -> Option<&Json> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |v, token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            match v {
                Json::Object(m) => m.get(&token),
                Json::Array(items) => {
                    if token.len() > 1 && token.starts_with('0') {
                        return None;
                    }
                    items.get(token.parse::<usize>().ok()?)
                }
                _ => None,
            }
        })
    }

    /// Compact JSON, as `serde_json::to_string` writes it, with numbers as written.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None, 0);
        out
    }

    /// Indented JSON (two spaces, as `serde_json::to_string_pretty` writes it), with
    /// numbers as written.
    pub fn to_json_string_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some("  "), 0);
        out
    }

    fn write(&self, out: &mut String, indent: Option<&str>, level: usize) {
        let newline = |out: &mut String, level: usize| {
            if let Some(unit) = indent {
                out.push('\n');
                for _ in 0..level {
                    out.push_str(unit);
                }
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n.literal()),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    item.write(out, indent, level + 1);
                }
                if !items.is_empty() {
                    newline(out, level);
                }
                out.push(']');
            }
            Json::Object(map) => {
                out.push('{');
                for (i, (key, value)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    write_string(out, key);
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    value.write(out, indent, level + 1);
                }
                if !map.is_empty() {
                    newline(out, level);
                }
                out.push('}');
            }
        }
    }

    /// As a `serde_json::Value`; a number becomes what `serde_json` reads from its text
    /// (so precision beyond an `f64` is lost). For `@context` and the like, never for
    /// hashing.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => serde_json::from_str(n.literal()).unwrap_or(Value::Null),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl From<&Value> for Json {
    /// A `serde_json::Value`; its numbers are written as `serde_json` writes them
    /// (integers exactly, floats in their shortest round-trip form).
    fn from(value: &Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(JsonNumber(n.to_string())),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(JsonObject::from(map)),
        }
    }
}

impl From<&serde_json::Map<String, Value>> for JsonObject {
    fn from(map: &serde_json::Map<String, Value>) -> JsonObject {
        JsonObject {
            entries: map
                .iter()
                .map(|(k, v)| (k.clone(), Json::from(v)))
                .collect(),
        }
    }
}

/// A JSON string literal, escaped as `serde_json` escapes it.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// Parse a JSON text (one value, surrounded by optional whitespace).
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    p.skip_whitespace();
    let value = p.value(0)?;
    p.skip_whitespace();
    if p.at != p.bytes.len() {
        return Err(p.error("the end of the text"));
    }
    Ok(value)
}

/// The length of the JSON number literal at `start`, if one starts there.
fn number_len(b: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i)?,
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i - start)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.at,
            expected,
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &'static str, value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error(word))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.bytes.get(self.at) {
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            Some(b'-' | b'0'..=b'9') => {
                let len = number_len(self.bytes, self.at).ok_or_else(|| self.error("a number"))?;
                let literal = &self.text[self.at..self.at + len];
                // serde_json, which reads the same document for validation, refuses a
                // number beyond the range of an f64 (`1e400`); so does this reader, so
                // that both accept the same texts. Precision is kept: only the range
                // is checked.
                if literal.parse::<f64>().map_or(true, f64::is_infinite) {
                    return Err(self.error("a number within the range of a 64-bit float"));
                }
                self.at += len;
                Ok(Json::Number(JsonNumber(literal.to_owned())))
            }
            _ => Err(self.error("a value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > JSON_DEPTH_MAX {
            return Err(JsonError::TooDeep {
                offset: self.at,
                max: JSON_DEPTH_MAX,
            });
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.enter(depth)?;
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("`,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.enter(depth)?;
        self.at += 1;
        let mut entries: Vec<(String, Json)> = Vec::new();
        // Where each key sits, so that a repeated key replaces its value in place
        // without a quadratic search.
        let mut positions: BTreeMap<String, usize> = BTreeMap::new();
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Json::Object(JsonObject { entries }));
        }
        loop {
            self.skip_whitespace();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("a string key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(self.error("`:`"));
            }
            self.at += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            match positions.get(&key) {
                Some(&i) => entries[i].1 = value,
                None => {
                    positions.insert(key.clone(), entries.len());
                    entries.push((key, value));
                }
            }
            self.skip_whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(JsonObject { entries }));
                }
                _ => return Err(self.error("`,` or `}`")),
            }
        }
    }

    /// A string literal starting at the opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let run_start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Only ASCII bytes end a run, so both ends are character boundaries.
            out.push_str(&self.text[run_start..self.at]);
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.bytes.get(self.at) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => {
                            return Err(
                                self.error("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
                            )
                        }
                    };
                    self.at += 1;
                    out.push(escaped);
                }
                Some(_) => return Err(self.error("no control character in a string; escape it")),
                None => return Err(self.error("`\"` closing the string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.error("four hex digits"))?;
        let value = digits.iter().fold(0u32, |acc, d| {
            acc * 16 + (*d as char).to_digit(16).unwrap_or(0)
        });
        self.at += 4;
        Ok(value)
    }

    /// The character of a `\uXXXX` escape (after `\u`), a surrogate pair taking two.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(self.error("a low surrogate `\\uDC00`-`\\uDFFF` after a high one"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("a low surrogate `\\uDC00`-`\\uDFFF` after a high one"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("no lone low surrogate")),
            other => other,
        };
        char::from_u32(code).ok_or_else(|| self.error("a Unicode scalar value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimals() {
        for (literal, expected) in [
            ("0", "0"),
            ("-0", "0"),
            ("-0.000e7", "0"),
            ("1", "1"),
            ("1.0", "1"),
            ("1.50", "1.5"),
            ("0.3434000", "0.3434"),
            ("452", "452"),
            ("4.52e2", "452"),
            ("4520E-1", "452"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("-1.5e2", "-150"),
            ("0.00005", "0.00005"),
            ("5e-5", "0.00005"),
            ("1.5e-7", "0.00000015"),
            ("1e21", "1000000000000000000000"),
            ("12345678901234567", "12345678901234567"),
            ("340123450000000000017", "340123450000000000017"),
            ("3.40123450000000000017e20", "340123450000000000017"),
            (
                "0.1000000000000000055511151231257827",
                "0.1000000000000000055511151231257827",
            ),
            ("-42.698334", "-42.698334"),
            ("10", "10"),
            ("100.001", "100.001"),
        ] {
            let n = JsonNumber::new(literal).expect("a literal");
            assert_eq!(n.exact_decimal(400).as_deref(), Some(expected), "{literal}");
        }
        let n = |s: &str| JsonNumber::new(s).expect("a literal");
        assert_eq!(n("1e400").exact_decimal(400).map(|s| s.len()), Some(401));
        assert_eq!(n("1e401").exact_decimal(400), None);
        assert_eq!(n("1e-401").exact_decimal(400).map(|s| s.len()), Some(403));
        assert_eq!(n("1e-402").exact_decimal(400), None);
        assert_eq!(n("1e99999999999999999999999").exact_decimal(400), None);
        assert_eq!(
            n("0e99999999999999999999999").exact_decimal(400).as_deref(),
            Some("0")
        );
        for bad in [
            "", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1_0", "NaN", "1 ",
        ] {
            assert_eq!(JsonNumber::new(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_what_serde_json_parses_and_writes_what_it_writes() {
        // (text, whether serde_json writes its numbers as they are written)
        let texts = [
            (
                r#"{"a":1,"b":[true,false,null],"c":{"d":"e\n\"\\\/\b\f\r\t\u0001\u00e9\ud83d\ude00"}}"#,
                true,
            ),
            (" [ 1.0 , -0 , 1e3 , 2.5E-3 , \"x\" ] ", false),
            (r#"{"k":1,"k":2,"j":3}"#, true),
            ("\"冷链 ✓\"", true),
            (r#"{"deep":[[[[{"x":[]}]]]],"empty":{}}"#, true),
            ("12345678901234567890", true),
        ];
        for (text, same_numbers) in texts {
            let ours = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let theirs: Value = serde_json::from_str(text).expect("serde_json parses it");
            assert_eq!(ours.to_value(), theirs, "{text}");
            let compact = serde_json::to_string(&theirs).expect("serializes");
            if same_numbers {
                assert_eq!(ours.to_json_string(), compact, "{text}");
            }
            assert_eq!(Json::from(&theirs).to_json_string(), compact, "{text}");
            assert_eq!(
                parse(&ours.to_json_string_pretty()).expect("reparses"),
                ours,
                "{text}"
            );
        }
        // A repeated key keeps its first place and its last value, as serde_json does.
        assert_eq!(
            parse(r#"{"k":1,"j":3,"k":2}"#)
                .expect("parses")
                .to_json_string(),
            r#"{"k":2,"j":3}"#
        );
        // Numbers keep their text.
        assert_eq!(
            parse("[1.0,1E3,-0,340123450000000000017]")
                .expect("parses")
                .to_json_string(),
            "[1.0,1E3,-0,340123450000000000017]"
        );
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "01",
            "\"\\x\"",
            "\"a\u{1}\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "[1] x",
            "nul",
            "'a'",
            "\u{feff}1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
        }
        let deep_ok = format!(
            "{}{}",
            "[".repeat(JSON_DEPTH_MAX),
            "]".repeat(JSON_DEPTH_MAX)
        );
        assert!(parse(&deep_ok).is_ok());
        let too_deep = format!(
            "{}{}",
            "[".repeat(JSON_DEPTH_MAX + 1),
            "]".repeat(JSON_DEPTH_MAX + 1)
        );
        assert!(matches!(parse(&too_deep), Err(JsonError::TooDeep { .. })));
    }

    #[test]
    fn pointers() {
        let v = parse(r#"{"a/b":{"c~d":[10,20]},"e":[{"f":1}]}"#).expect("parses");
        assert_eq!(
            v.pointer("/a~1b/c~0d/1")
                .map(Json::to_json_string)
                .as_deref(),
            Some("20")
        );
        assert_eq!(
            v.pointer("/e/0/f").map(Json::to_json_string).as_deref(),
            Some("1")
        );
        assert_eq!(v.pointer("/e/01"), None);
        assert_eq!(v.pointer("/x"), None);
        assert_eq!(v.pointer(""), Some(&v));
    }
}
