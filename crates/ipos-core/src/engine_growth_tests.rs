//! Bounded cost per frame (array growth) and append/prepend ops that keep each writer's order.

use super::*;
use crate::value::Value;

/// A `b` frame from origin `cc` with these ops.
fn b(n: u64, ops: &str) -> String {
    format!(r#"{{"t":"b","o":"cc","n":{n},"ops":{ops}}}"#)
}

/// `ipos.arr[99998] = 1` as a child sends it, repeated `times` times with indices each 99,999
/// further: every op alone is allowed, together they would ask for `times` × 100,000 elements.
fn far_sets(times: usize) -> String {
    let ops: Vec<String> = (0..times)
        .map(|i| format!(r#"["s","arr",[{}],1]"#, 99_998 + i * 99_999))
        .collect();
    format!("[{}]", ops.join(","))
}

fn arr_len(e: &Engine) -> usize {
    match e.fields().get("arr") {
        Some(Value::Array(a)) => a.len(),
        other => panic!("arr is {other:?}"),
    }
}

#[test]
fn holes_come_out_of_a_fixed_allowance_per_batch() {
    let mut root = engine("aa");
    root.local(r#"[["c","arr",[]]]"#).unwrap();
    // One far index is fine.
    let r = root.receive(&b(1, &far_sets(1)), false).unwrap();
    assert!(r.verdict.contains(r#""ok":true"#), "{}", r.verdict);
    assert_eq!(arr_len(&root), 99_999);
    // 2,000 of them in one frame (about 50 KB) are refused whole, before any allocation.
    let frame = b(2, &far_sets(2000));
    assert!(frame.len() < 60_000);
    let r = root.receive(&frame, false).unwrap();
    assert!(
        r.verdict.contains(r#""ok":false"#) && r.verdict.contains(error::LIMIT),
        "{}",
        r.verdict
    );
    assert_eq!(arr_len(&root), 99_999, "nothing applied");
    // A `length` growth counts too; shrinking and explicit elements do not.
    let r = root
        .receive(
            &b(
                3,
                r#"[["s","arr",["length"],0],["s","arr",["length"],60000],["s","arr",["length"],120000]]"#,
            ),
            false,
        )
        .unwrap();
    assert!(r.verdict.contains(error::LIMIT), "{}", r.verdict);
    let r = root
        .receive(
            &b(4, r#"[["s","arr",["length"],0],["s","arr",["length"],100000],["p","arr",[],0,0,[1,2]],["a","arr",[],[3]]]"#),
            false,
        )
        .unwrap();
    assert!(r.verdict.contains(r#""ok":true"#), "{}", r.verdict);
    assert_eq!(arr_len(&root), 100_003);
    // The next frame has an allowance of its own.
    let r = root.receive(&b(5, &far_sets(1)), false).unwrap();
    assert!(r.verdict.contains(r#""ok":true"#), "{}", r.verdict);
}

#[test]
fn max_array_length_bounds_every_way_of_growing() {
    let mut e = Engine::new(Limits {
        max_array_length: 10,
        ..Limits::default()
    });
    e.set_origin("aa".into());
    e.local(r#"[["c","arr",[1,2,3,4,5,6,7,8]]]"#).unwrap();
    for batch in [
        r#"[["s","arr",[10],1]]"#,
        r#"[["s","arr",["length"],11]]"#,
        r#"[["p","arr",[],0,0,[1,2,3]]]"#,
        r#"[["a","arr",[],[1,2,3]]]"#,
        r#"[["u","arr",[],[1,2,3]]]"#,
        r#"[["a","arr",[],[1,2]],["a","arr",[],[3]]]"#,
    ] {
        let err = e.local(batch).expect_err(batch);
        assert_eq!(err.code, error::LIMIT, "{batch}: {err}");
        assert!(err.message.contains("maxArrayLength (10)"), "{err}");
    }
    e.local(r#"[["a","arr",[],[9]],["u","arr",[],[0]]]"#)
        .unwrap();
    assert_eq!(
        e.dump(),
        r#"{"arr":[0,1,2,3,4,5,6,7,8,9]}"#,
        "exactly the limit is allowed"
    );
}

#[test]
fn appends_keep_each_writers_order_under_concurrency() {
    let (mut root, mut child) = pair();
    root.local(r#"[["c","log",[]]]"#).unwrap();
    let snap = root.snapshot();
    child.receive(&snap, true).unwrap();
    // The child appends twice before hearing of anything.
    let b1 = child.local(r#"[["a","log",[],["c1","c2"]]]"#).unwrap();
    let b2 = child
        .local(r#"[["a","log",[],["c3"]],["u","log",[],["c0"]]]"#)
        .unwrap();
    // Meanwhile the root appends and prepends its own.
    let q0 = root
        .local(r#"[["a","log",[],["r1"]],["u","log",[],["r0"]]]"#)
        .unwrap();
    // The child folds the root's batch under its own pending ones.
    let v = child.receive(&q0, true).unwrap().verdict;
    assert!(v.contains(r#""apply":"patch""#), "{v}");
    assert_eq!(
        child.dump(),
        r#"{"o":{"a":1,"l":[1,2]},"n":0,"log":["c0","r0","r1","c1","c2","c3"]}"#
    );
    // The root sequences the child's batches at its current end, not at a stale index.
    let q1 = root.receive(&b1, false).unwrap();
    let q2 = root.receive(&b2, false).unwrap();
    assert_eq!(root.dump(), child.dump());
    for q in [q1, q2] {
        let v = child.receive(q.elided.as_deref().unwrap(), true).unwrap();
        assert!(v.verdict.contains(r#""apply":"none""#), "{}", v.verdict);
    }
    assert_eq!(root.dump(), child.dump());
    assert_eq!(child.pending_len(), 0);
}
