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
