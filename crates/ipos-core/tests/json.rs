//! The value reader against serde_json: on plain JSON (no tags, no reserved keys) it must accept
//! exactly what serde_json accepts and read the same numbers and strings, whatever the text's
//! spacing, escapes or damage.

use ipos_core::value::order_props;
use ipos_core::{decode_value, same, Limits, Value};
use proptest::prelude::*;
use serde_json::Value as J;

const LIMITS: Limits = Limits {
    max_frame_bytes: usize::MAX,
    max_depth: 1000,
    functions: false,
    max_array_length: ipos_core::apply::MAX_ARRAY_LENGTH,
};

/// Plain JSON as the core models it: later duplicate keys win, in the first one's place, and
/// keys that are array indices come first, ascending, as in a JS object.
fn model(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Num(n.as_f64().unwrap()),
        J::String(s) => Value::Str(s.as_str().into()),
        J::Array(a) => Value::array(a.iter().map(model)),
        J::Object(o) => {
            let mut v = Value::object(o.iter().map(|(k, v)| (k.clone(), model(v))));
            if let Value::Object(obj) = &mut v {
                order_props(&mut std::rc::Rc::get_mut(obj).unwrap().map);
            }
            v
        }
    }
}

/// True if the value has something the core reads differently from plain JSON.
fn special(j: &J) -> bool {
    match j {
        J::Array(a) => a.iter().any(special),
        J::Object(o) => o.iter().any(|(k, v)| {
            matches!(k.as_str(), "~" | "__proto__" | "constructor" | "prototype") || special(v)
        }),
        _ => false,
    }
}

fn compare(text: &str) -> Result<(), TestCaseError> {
    let theirs = serde_json::from_str::<J>(text);
    let mine = decode_value(text, &LIMITS);
    match (&theirs, &mine) {
        (Err(e), Ok(v)) => prop_assert!(false, "{text}: serde refused ({e}), the core read {v:?}"),
        // Tags are the core's own business. A tag error may also come before a later syntax
        // error (the reader reads in one pass), and a bad value under a key that a later
        // duplicate replaces is refused (serde_json drops it unread).
        _ if text.contains('~') => {}
        (Ok(j), _) if special(j) => {}
        (Ok(j), Ok(v)) => prop_assert!(same(&model(j), v), "{text}: {j} vs {v:?}"),
        (Err(_), Err(e)) => prop_assert_eq!(e.code, "ERR_IPOS_BAD_FRAME", "{}", text),
        (Ok(j), Err(e)) => prop_assert!(false, "{text}: serde read {j}, the core refused: {e}"),
    }
    Ok(())
}

fn number() -> impl Strategy<Value = String> {
    "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?"
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z~ ]{0,6}",
        any::<String>(),
        // Escapes, including surrogate pairs and lone halves.
        proptest::collection::vec(
            prop_oneof![
                Just("\\n".to_string()),
                Just("\\\"".to_string()),
                Just("\\/".to_string()),
                Just("\\u00e9".to_string()),
                Just("\\ud83d\\ude00".to_string()),
                Just("\\ud83d".to_string()),
                Just("\\ude00".to_string()),
                Just("\\uD83D\\uDE00".to_string()),
                Just("\\x".to_string()),
                Just("a".to_string()),
            ],
            0..4
        )
        .prop_map(|v| v.concat()),
    ]
    .prop_map(|s| {
        if s.contains('\\') && !s.contains('"') {
            format!("\"{s}\"")
        } else {
            serde_json::to_string(&s).unwrap()
        }
    })
}

fn text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        number(),
        string(),
        Just("true".to_string()),
        Just("null".to_string()),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(
                (
                    prop_oneof![9 => "[a-c]{1,2}", 1 => Just("~".to_string())],
                    inner
                ),
                0..5
            )
            .prop_map(|v| {
                let m: Vec<String> = v.iter().map(|(k, x)| format!("\"{k}\" : {x}")).collect();
                format!("{{ {} }}", m.join(" ,"))
            }),
        ]
    })
}

fn damage(s: &str, edits: &[(u8, usize, u8)]) -> String {
    let mut b = s.as_bytes().to_vec();
    for &(kind, at, pick) in edits {
        if b.is_empty() {
            break;
        }
        let at = at % b.len();
        match kind % 3 {
            0 => {
                let alphabet = b"{}[]\",:0123456789-+.eE \\tfnu";
                b[at] = alphabet[pick as usize % alphabet.len()];
            }
            1 => {
                b.remove(at);
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reads_json_as_serde_does(t in text()) {
        compare(&t)?;
    }

    #[test]
    fn refuses_damage_as_serde_does(
        t in text(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        compare(&damage(&t, &edits))?;
    }

    #[test]
    fn numbers_are_exact(n in number()) {
        compare(&n)?;
        compare(&format!("[{n}]"))?;
    }
}

#[test]
fn known_corners() {
    for t in [
        "-0",
        "-0.0",
        "0e0",
        "1E+2",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "9007199254740993",
        "123456789012345678901234567890",
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "\"\\u0000\"",
        "\"\u{7f}\"",
        "\"\t\"",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        " [ ] ",
        "nul",
        "truex",
        "[true false]",
        "\"\\ud800\\u0041\"",
        "\"\\uDFFF\"",
    ] {
        compare(t).unwrap();
    }
}
