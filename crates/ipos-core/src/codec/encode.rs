//! `Value` → JSON text, written straight into a `String` (no intermediate tree), producing exactly
//! the PROTOCOL.md encoding.

use std::fmt::Write;

use crate::value::{BytesKind, Key, Value};

/// Appends `s` as a JSON string literal, escaping what JSON requires (like `JSON.stringify`).
pub fn write_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Only ASCII bytes are escaped, so `i` is always a char boundary.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a finite number the way JS `Number#toString` spells it (shortest round-trip digits,
/// exponent only below 1e-6 or from 1e21). Non-finite numbers are spelled `NaN`/`Infinity`, for
/// messages; `encode_value` tags them instead.
pub fn write_js_number(f: f64, out: &mut String) {
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
    // Integers below 2^53 print exactly; that is also their shortest form.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        out.push_str(itoa::Buffer::new().format(f as i64));
        return;
    }
    // zmij gives the same shortest round-trip digits; where it writes no exponent (and the
    // number has a fraction, so no trailing ".0") its spelling is also JS's.
    // (It also breaks a tie between two shortest spellings towards the even digit, as JS does.)
    if f.fract() != 0.0 {
        let mut buf = zmij::Buffer::new();
        let fast = buf.format_finite(f);
        if !fast.contains('e') {
            out.push_str(fast);
            return;
        }
    }
    write_js_number_slow(f, out);
}

/// `write_js_number` for what zmij spells with an exponent: JS's own cut-offs differ.
pub(super) fn write_js_number_slow(f: f64, out: &mut String) {
    // Rust's `{:e}` gives the shortest digits that round-trip; rearrange them as JS does.
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{}", if n > 0 { '+' } else { '-' }, (n - 1).abs());
    }
}

fn write_num(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str(r#"{"~":"n","v":"NaN"}"#);
    } else if f == f64::INFINITY {
        out.push_str(r#"{"~":"n","v":"Infinity"}"#);
    } else if f == f64::NEG_INFINITY {
        out.push_str(r#"{"~":"n","v":"-Infinity"}"#);
    } else if f == 0.0 && f.is_sign_negative() {
        out.push_str(r#"{"~":"n","v":"-0"}"#);
    } else {
        write_js_number(f, out);
    }
}

fn write_entries<'a>(out: &mut String, entries: impl Iterator<Item = (&'a Key, &'a Value)>) {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(k, out);
        out.push(':');
        encode_value(v, out);
    }
    out.push('}');
}

/// Appends the PROTOCOL.md encoding of `v`.
pub fn encode_value(v: &Value, out: &mut String) {
    match v {
        Value::Undefined => out.push_str(r#"{"~":"u"}"#),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Num(f) => write_num(*f, out),
        Value::BigInt(s) => {
            out.push_str(r#"{"~":"B","v":"#);
            write_str(s, out);
            out.push('}');
        }
        Value::Str(s) => write_str(s, out),
        Value::Hole => out.push_str(r#"{"~":"_"}"#),
        Value::Date(t) => {
            out.push_str(r#"{"~":"D","v":"#);
            match t {
                Some(t) => write_js_number(*t, out),
                None => out.push_str("null"),
            }
            out.push('}');
        }
        Value::RegExp(r) => {
            out.push_str(r#"{"~":"R","v":["#);
            write_str(&r.0, out);
            out.push(',');
            write_str(&r.1, out);
            out.push_str("]}");
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_value(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            if let Some(text) = o.map.packed_text() {
                return out.push_str(text);
            }
            // A null-prototype object, or a plain one whose own "~" key would read as a tag, is
            // wrapped; its inner object's keys are then taken literally by the decoder.
            let wrap = if o.null_proto {
                Some("N")
            } else if o.map.contains_key("~") {
                Some("o")
            } else {
                None
            };
            if let Some(tag) = wrap {
                out.push_str(r#"{"~":""#);
                out.push_str(tag);
                out.push_str(r#"","v":"#);
                write_entries(out, o.map.iter());
                out.push('}');
            } else {
                write_entries(out, o.map.iter());
            }
        }
        Value::Map(m) => {
            out.push_str(r#"{"~":"M","v":["#);
            for (i, (k, v)) in m.values().enumerate() {
                out.push_str(if i > 0 { ",[" } else { "[" });
                encode_value(k, out);
                out.push(',');
                encode_value(v, out);
                out.push(']');
            }
            out.push_str("]}");
        }
        Value::Set(s) => {
            out.push_str(r#"{"~":"S","v":["#);
            for (i, x) in s.values().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_value(x, out);
            }
            out.push_str("]}");
        }
        Value::Bytes(b) => match &b.kind {
            BytesKind::ArrayBuffer | BytesKind::Buffer => {
                let tag = if b.kind == BytesKind::Buffer {
                    "Buf"
                } else {
                    "AB"
                };
                out.push_str(r#"{"~":""#);
                out.push_str(tag);
                out.push_str(r#"","v":"#);
                write_str(&b.data, out);
                out.push('}');
            }
            BytesKind::Typed(name) => {
                out.push_str(r#"{"~":"TA","v":["#);
                write_str(name, out);
                out.push(',');
                write_str(&b.data, out);
                out.push_str("]}");
            }
        },
        Value::Class(c) => {
            out.push_str(r#"{"~":"C","v":["#);
            write_str(&c.0, out);
            out.push(',');
            encode_value(&c.1, out);
            out.push_str("]}");
        }
        Value::EventTarget => out.push_str(r#"{"~":"E"}"#),
        Value::Function(src) => {
            out.push_str(r#"{"~":"F","v":"#);
            write_str(src, out);
            out.push('}');
        }
    }
}

/// The PROTOCOL.md encoding of `v` as a new string.
pub fn to_json(v: &Value) -> String {
    let mut out = String::new();
    encode_value(v, &mut out);
    out
}
