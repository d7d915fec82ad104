//! Small pieces of JavaScript semantics the reference implementation relies on
//! (truthiness, own-property order, `String()` of values), so the ports in this
//! module behave like js/src/*.ts on every input, not just the happy path.

use serde_json::{Map, Value};

/// JavaScript truthiness of a JSON value (`if (x)`): `null`, `false`, `0`, `NaN` and
/// `""` are falsy; every object and array (even empty) is truthy.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Whether `key` is a canonical array index ("0", "1", ... up to 2^32 - 2), which
/// JavaScript objects enumerate before all other keys, in ascending order.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = key.parse().ok()?;
    (n < u64::from(u32::MAX)).then_some(n as u32)
}

/// The entries of `map` in the order a JavaScript `for...in` / `Object.entries` visits
/// them: integer-like keys ascending, then the rest in insertion order.
pub fn entries_in_js_order(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut indexed: Vec<(u32, (&String, &Value))> = Vec::new();
    let mut rest: Vec<(&String, &Value)> = Vec::with_capacity(map.len());
    for (k, v) in map {
        match array_index(k) {
            Some(i) => indexed.push((i, (k, v))),
            None => rest.push((k, v)),
        }
    }
    if indexed.is_empty() {
        return rest;
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, e)| e).chain(rest).collect()
}

/// `{ ...value }` for a value that is not a plain object: arrays and strings spread
/// into index keys, everything else into nothing.
pub fn spread(value: &Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m.clone(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        Value::String(s) => s
            .encode_utf16()
            .enumerate()
            .map(|(i, u)| {
                let ch = char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER);
                (i.to_string(), Value::String(ch.to_string()))
            })
            .collect(),
        _ => Map::new(),
    }
}

/// A number formatted like JavaScript's `String(n)` for the common cases (integers
/// without `.0`, everything else as Rust's shortest round-trip form).
pub fn number_to_string(n: &serde_json::Number) -> String {
    let mut out = String::new();
    push_number(&mut out, n);
    out
}

/// Appends `String(n)`: integers as they are, other numbers by ECMAScript's
/// Number::toString (shortest round-trip digits, exponent form below 1e-6 and from 1e21).
pub fn push_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(itoa::Buffer::new().format(i));
        return;
    }
    if let Some(u) = n.as_u64() {
        out.push_str(itoa::Buffer::new().format(u));
        return;
    }
    push_f64(out, n.as_f64().unwrap_or(f64::NAN));
}

fn push_f64(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if f == 0.0 {
        out.push('0');
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    // ryu gives the shortest round-trip digits; lay them out as ECMAScript does.
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(f.abs());
    let (mantissa, exp) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = int.chars().chain(frac.chars()).collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0');
    let k = digits.len() as i32;
    // value = 0.digits × 10^n
    let n = int.len() as i32 - leading as i32 + exp;
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(itoa::Buffer::new().format((n - 1).abs()));
    }
}

/// `JSON.stringify(value)` (no indentation), with JavaScript number formatting.
pub fn json_stringify(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value, "", 0);
    out
}

/// `JSON.stringify(value, null, indent)` appended to `out`, at nesting `level`.
pub fn write_json(out: &mut String, value: &Value, indent: &str, level: usize) {
    let newline = |out: &mut String, level: usize| {
        if !indent.is_empty() {
            out.push('\n');
            for _ in 0..level {
                out.push_str(indent);
            }
        }
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_json(out, item, indent, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in entries_in_js_order(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if !indent.is_empty() {
                    out.push(' ');
                }
                write_json(out, v, indent, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
        Value::Number(n) => push_number(out, n),
        other => out.push_str(&other.to_string()),
    }
}

/// `String.prototype.trim()` emptiness: whether `s` is only JavaScript whitespace.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(crate::syntax::frontmatter::is_js_space)
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        // Outputs of String(x) in Node 20.
        let cases: &[(f64, &str)] = &[
            (12.5, "12.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-2.5, "-2.5"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (0.00000123, "0.00000123"),
            (1e21, "1e+21"),
            (1.2345678901234568e20, "123456789012345680000"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (123.456, "123.456"),
            (100.0, "100"),
            (-0.0, "0"),
        ];
        for (f, want) in cases {
            let mut out = String::new();
            push_f64(&mut out, *f);
            assert_eq!(out, *want, "{f:e}");
        }
        assert_eq!(number_to_string(&serde_json::Number::from(-42)), "-42");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_table() {
        let cases = [
            (json!(null), false),
            (json!(false), false),
            (json!(0), false),
            (json!(0.0), false),
            (json!(""), false),
            (json!(true), true),
            (json!(-1), true),
            (json!("0"), true),
            (json!([]), true),
            (json!({}), true),
        ];
        for (v, want) in cases {
            assert_eq!(truthy(&v), want, "truthy({v})");
        }
    }

    #[test]
    fn key_order_puts_indices_first() {
        let v = json!({"b": 1, "10": 2, "a": 3, "2": 4, "01": 5, "-1": 6});
        let keys: Vec<&str> = entries_in_js_order(v.as_object().unwrap())
            .into_iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["2", "10", "b", "a", "01", "-1"]);
    }

    #[test]
    fn stringify_like_javascript() {
        assert_eq!(json_stringify(&json!(1.0)), "1");
        assert_eq!(json_stringify(&json!(1.5)), "1.5");
        assert_eq!(
            json_stringify(&json!({"a": [1, "x", null]})),
            r#"{"a":[1,"x",null]}"#
        );
    }

    #[test]
    fn spread_strings_and_arrays() {
        assert_eq!(
            Value::Object(spread(&json!("ab"))),
            json!({"0": "a", "1": "b"})
        );
        assert_eq!(Value::Object(spread(&json!([true]))), json!({"0": true}));
        assert_eq!(Value::Object(spread(&json!(3))), json!({}));
    }

    #[test]
    fn blank_uses_javascript_whitespace() {
        assert!(is_blank(" \n\u{FEFF}\u{A0}"));
        assert!(!is_blank(" x "));
        assert!(!is_blank("\u{85}"));
    }
}
