//! Property tests of the codec and diff: every value survives the wire, and diffs are exact.

mod common;

use common::{arb_value, gen_op, mutate, Rng};
use ipos_core::{
    apply_batch, decode_ops, decode_value, diff_values, ops_to_json, parse_json, same, to_json,
    Decoder, Fields, Limits, Op, Value,
};
use proptest::prelude::*;

const LIMITS: Limits = Limits {
    max_frame_bytes: usize::MAX,
    max_depth: 1000,
    functions: true,
    max_array_length: ipos_core::apply::MAX_ARRAY_LENGTH,
};

/// Diffs `a` → `b`, sends the ops over the wire, applies them to `a` and checks the result is `b`.
fn check_diff(a: &Value, b: &Value) -> Result<Vec<Op>, TestCaseError> {
    let ops = diff_values("f", a, b);
    let text = ops_to_json(&ops);
    let dec = Decoder {
        max_depth: 1000,
        functions: true,
    };
    let wire = decode_ops(&parse_json(&text, 3008).unwrap(), &dec, false)
        .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    let mut f = Fields::default();
    f.insert("f".into(), a.clone());
    apply_batch(&mut f, &wire).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
    prop_assert!(
        same(&f["f"], b),
        "diff {} applied to {} gave {}, want {}",
        text,
        to_json(a),
        to_json(&f["f"]),
        to_json(b)
    );
    Ok(ops)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_is_identity(v in arb_value()) {
        let text = to_json(&v);
        let back = decode_value(&text, &LIMITS).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(same(&v, &back), "{} came back as {}", text, to_json(&back));
        prop_assert_eq!(to_json(&back), text);
    }

    #[test]
    fn failed_batches_change_nothing(seed in any::<u64>(), setup in 1usize..6, len in 1usize..12) {
        let mut rng = Rng(seed);
        let mut fields = Fields::default();
        for _ in 0..setup {
            let op = gen_op(&fields, &mut rng);
            ipos_core::apply_op(&mut fields, &op).unwrap();
        }
        // Valid ops (each checked against the state the previous ones leave), then one that fails.
        let mut scratch = fields.clone();
        let mut ops = Vec::new();
        for _ in 0..len {
            let op = gen_op(&scratch, &mut rng);
            ipos_core::apply_op(&mut scratch, &op).unwrap();
            ops.push(op);
        }
        let mut ok = fields.clone();
        apply_batch(&mut ok, &ops).unwrap();
        prop_assert!(ipos_core::same_fields(&ok, &scratch));
        ops.push(Op::Remove { key: "missing".into() });
        let before = fields.clone();
        prop_assert!(apply_batch(&mut fields, &ops).is_err());
        prop_assert!(
            ipos_core::same_fields(&fields, &before),
            "{} left {:?}", ops_to_json(&ops), fields.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn diff_of_equal_values_is_empty(v in arb_value()) {
        prop_assert!(diff_values("f", &v, &v.clone()).is_empty());
        // A structurally equal copy shares no Rc: the diff must still find nothing.
        let copy = decode_value(&to_json(&v), &LIMITS).unwrap();
        let ops = diff_values("f", &v, &copy);
        prop_assert!(ops.is_empty(), "{}", ops_to_json(&ops));
    }

    #[test]
    fn diff_of_random_pairs_is_exact(a in arb_value(), b in arb_value()) {
        check_diff(&a, &b)?;
        check_diff(&b, &a)?;
    }

    #[test]
    fn diff_of_mutations_is_exact_and_small(a in arb_value(), seed in any::<u64>(), rounds in 1usize..4) {
        let mut rng = Rng(seed);
        let mut b = a.clone();
        for _ in 0..rounds {
            b = mutate(&b, &mut rng);
        }
        let ops = check_diff(&a, &b)?;
        check_diff(&b, &a)?;
        // Small changes make small patches: never more than a replacement plus a handful.
        let patch = ops_to_json(&ops).len();
        prop_assert!(patch <= to_json(&b).len() + 200 * rounds, "{} for {}", ops_to_json(&ops), to_json(&b));
    }
}

/// `text` with a space after every `{`, `[`, `:` and `,` outside strings: the same JSON, in a
/// spelling the decoder never takes as a packed record's text.
fn spaced(text: &str) -> String {
    let (mut out, mut in_str, mut esc) = (String::new(), false, false);
    for c in text.chars() {
        out.push(c);
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
        } else if matches!(c, '{' | '[' | ':' | ',') {
            out.push(' ');
        }
    }
    out
}

/// Whether each object of `v`, in document order, is kept packed, and as what text.
fn packs(v: &Value, out: &mut Vec<Option<String>>) {
    match v {
        Value::Object(o) => {
            out.push(o.map.packed_text().map(str::to_string));
            for (_, x) in o.map.iter() {
                packs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| packs(x, out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    /// A record read straight as its text (canonical spelling) and the same record read the
    /// general way (any other spelling) give the same value, packed alike.
    #[test]
    fn packed_records_read_either_way_alike(v in arb_value()) {
        let text = format!("[{}]", to_json(&v));
        let fast = decode_value(&text, &LIMITS).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let slow = decode_value(&spaced(&text), &LIMITS).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(same(&fast, &slow), "{}", text);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        packs(&fast, &mut a);
        packs(&slow, &mut b);
        prop_assert_eq!(a, b, "{}", text);
    }
}

/// JSON texts of arrays of small records, spelled as a peer might: keys JS reorders (`"1"`) in
/// any order, repeated keys, escapes, numbers in several spellings and at the edges of exact
/// integers, non-ASCII text.
fn arb_record_texts() -> impl Strategy<Value = String> {
    let num = prop_oneof![
        (-1000i64..1000).prop_map(|n| n.to_string()),
        Just("999999999999999".to_string()),
        Just("-999999999999999".to_string()),
        Just("1000000000000000".to_string()),
        Just("9007199254740993".to_string()),
        Just("1.0".to_string()),
        Just("0.5".to_string()),
        Just("-0".to_string()),
        Just("1e2".to_string()),
        Just("1E21".to_string()),
    ];
    let string = prop_oneof![
        "[ab é]{0,6}".prop_map(|s| format!("\"{s}\"")),
        Just(r#""a\"b""#.to_string()),
        Just(r#""\u0061""#.to_string()),
        Just(r#""x\ny""#.to_string()),
    ];
    let scalar = prop_oneof![
        3 => num,
        3 => string.clone(),
        1 => Just("true".to_string()),
        1 => Just("null".to_string()),
    ];
    let val = prop_oneof![
        4 => scalar.clone(),
        1 => prop::collection::vec(scalar, 0..3).prop_map(|v| format!("[{}]", v.join(","))),
    ];
    let key = prop_oneof![
        4 => "[abc]|id|name|é|x y".prop_map(|s| format!("\"{s}\"")),
        1 => "1|0|12|01".prop_map(|s| format!("\"{s}\"")),
        1 => string,
    ];
    let rec = prop::collection::vec((key, val), 0..6).prop_map(|kv| {
        let members: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("{{{}}}", members.join(","))
    });
    prop::collection::vec(rec, 1..4).prop_map(|r| format!("[{}]", r.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same records read from their own spelling (possibly taken straight as packed text)
    /// and from a spelling with spaces (always read the general way) are the same values,
    /// packed alike, whatever a peer wrote.
    #[test]
    fn records_in_any_spelling_read_as_the_general_reader_reads_them(text in arb_record_texts()) {
        let fast = decode_value(&text, &LIMITS).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let slow = decode_value(&spaced(&text), &LIMITS).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(same(&fast, &slow), "{}", text);
        prop_assert_eq!(to_json(&fast), to_json(&slow), "{}", text);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        packs(&fast, &mut a);
        packs(&slow, &mut b);
        prop_assert_eq!(a, b, "{}", text);
    }
}
