use super::*;
use crate::engine::Limits;
use crate::value::same_fields;

fn engine(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e
}

/// A root holding every kind of container, big ones nested in big ones, so that small chunks
/// cut inside each of them.
fn root() -> Engine {
    let mut e = engine("aa");
    let mut big = String::from("{");
    for i in 0..300 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&format!(
            r#""k{i}":{{"id":{i},"name":"n{i}","tags":["x","y"],"deep":[[{i},[{i}]]]}}"#
        ));
    }
    big.push('}');
    let list: Vec<String> = (0..200).map(|i| format!(r#"{{"~":"_"}},{i}"#)).collect();
    let map: Vec<String> = (0..100)
        .map(|i| format!(r#"[{i},{{"~":"S","v":[{i},"s{i}",[{i}]]}}],[[{i}],"obj-key"]"#))
        .collect();
    let ops = format!(
        r#"[["c","small",1],["c","big",{big}],["c","list",[{}]],["c","map",{{"~":"M","v":[{}]}}],["c","np",{{"~":"N","v":{{"a":[1,2,3],"b":{{"~":"u"}}}}}}],["c","tilde",{{"~":"o","v":{{"~":"t","x":[1,2,3,4,5,6,7,8,9]}}}}],["c","empty",[]]]"#,
        list.join(","),
        map.join(",")
    );
    e.local(&ops).unwrap();
    e
}

/// Every chunk of a stream, written with `target` bytes each.
fn chunks(w: &mut SnapshotWriter, target: usize) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(c) = w.next_chunk(target) {
        out.push(c);
    }
    out
}

#[test]
fn streamed_snapshot_rebuilds_the_state() {
    for target in [64, 200, 1000, 100_000] {
        let mut root = root();
        let mut w = root.snapshot_writer();
        let all = chunks(&mut w, target);
        assert!(w.done());
        if target < 1000 {
            assert!(all.len() > 20, "{target}: {} chunks", all.len());
        }
        let mut child = engine("bb");
        for (i, c) in all.iter().enumerate() {
            // A chunk passes its size by at most one entry written whole (a quarter of it).
            assert!(
                c.len() <= target * 2 + 200,
                "chunk {i} is {} bytes",
                c.len()
            );
            let r = child.receive(c, true).unwrap();
            if i + 1 < all.len() {
                let fresh = if i == 0 { r#","fresh":true"# } else { "" };
                assert_eq!(r.verdict, format!(r#"{{"k":"S","i":{i}{fresh}}}"#));
                assert!(child.fields().is_empty(), "nothing shows before the end");
            } else {
                assert_eq!(r.verdict, format!(r#"{{"k":"S","i":{i},"end":true}}"#));
            }
        }
        assert!(
            same_fields(child.fields(), root.fields()),
            "target {target}"
        );
        assert_eq!(child.seq(), root.seq());
        assert_eq!(child.snapshot(), root.snapshot());
    }
}

#[test]
fn an_empty_state_is_one_chunk() {
    let mut root = engine("aa");
    let mut w = root.snapshot_writer();
    let all = chunks(&mut w, 1000);
    assert_eq!(
        all,
        vec![r#"{"t":"S","q":0,"i":0,"ns":{},"p":[[0,[]]],"end":true}"#]
    );
    let mut child = engine("bb");
    assert_eq!(
        child.receive(&all[0], true).unwrap().verdict,
        r#"{"k":"S","i":0,"end":true}"#
    );
}

#[test]
fn writes_during_the_stream_follow_it_exactly_once() {
    let mut root = root();
    let mut w = root.snapshot_writer();
    let first = w.next_chunk(300).unwrap();
    // Writes to the state being streamed, including the containers the writer is inside.
    let mut later = vec![];
    later.push(
        root.local(r#"[["s","big",["k0","name"],"changed"]]"#)
            .unwrap(),
    );
    later.push(
        root.local(r#"[["a","list",[],[7,8]],["x","small"]]"#)
            .unwrap(),
    );
    let mut rest = chunks(&mut w, 300);
    later.push(root.local(r#"[["ms","map",[],"new",1]]"#).unwrap());
    rest.insert(0, first);
    let mut child = engine("bb");
    for c in &rest {
        child.receive(c, true).unwrap();
    }
    assert!(
        !same_fields(child.fields(), root.fields()),
        "the snapshot predates the writes"
    );
    for q in &later {
        let v = child.receive(q, true).unwrap().verdict;
        assert!(v.contains(r#""apply":"frame""#), "{v}");
    }
    assert!(same_fields(child.fields(), root.fields()));
    assert_eq!(child.dump(), root.dump());
}

#[test]
fn a_process_holding_state_gets_a_patch_at_the_end() {
    let mut root = root();
    let mut child = engine("bb");
    child.local(r#"[["c","mine",1],["c","small",2]]"#).unwrap();
    let all = chunks(&mut root.snapshot_writer(), 500);
    for c in &all[..all.len() - 1] {
        let v = child.receive(c, true).unwrap().verdict;
        assert!(!v.contains("fresh"), "{v}");
    }
    let v = child.receive(&all[all.len() - 1], true).unwrap().verdict;
    assert!(v.contains(r#""end":true,"ops":["#), "{v}");
    assert!(v.contains(r#"["x","mine"]"#), "{v}");
    assert!(same_fields(child.fields(), root.fields()));
}

#[test]
fn state_removed_during_the_stream_still_gets_a_patch() {
    let mut root = root();
    let mut child = engine("bb");
    child.local(r#"[["c","mine",1]]"#).unwrap();
    let all = chunks(&mut root.snapshot_writer(), 500);
    child.receive(&all[0], true).unwrap();
    child.local(r#"[["x","mine"]]"#).unwrap();
    for c in &all[1..all.len() - 1] {
        child.receive(c, true).unwrap();
    }
    let v = child.receive(&all[all.len() - 1], true).unwrap().verdict;
    assert!(v.contains(r#""end":true,"ops":[["c","small",1]"#), "{v}");
}

fn rejects(frames: &[&str], code: &str) {
    let mut child = engine("bb");
    let (last, before) = frames.split_last().unwrap();
    for f in before {
        child.receive(f, true).unwrap();
    }
    let e = child.receive(last, true).unwrap_err();
    assert_eq!(e.code, code, "{last}: {}", e.message);
    assert!(!child.receiving_snapshot(), "an error abandons the stream");
    assert!(child.fields().is_empty());
}

#[test]
fn chunks_are_checked() {
    use crate::error::*;
    let c0 = r#"{"t":"S","q":3,"i":0,"p":[[0,[["a",[1,2]]]]]}"#;
    rejects(&[r#"{"t":"S","q":3,"i":1,"p":[]}"#], BAD_SEQUENCE);
    rejects(&[c0, r#"{"t":"S","q":3,"i":2,"p":[]}"#], BAD_SEQUENCE);
    rejects(&[c0, r#"{"t":"S","q":4,"i":1,"p":[]}"#], BAD_SEQUENCE);
    rejects(
        &[c0, r#"{"t":"S","q":3,"i":1,"p":[[1,{"x":1}]]}"#],
        BAD_FRAME,
    );
    rejects(&[c0, r#"{"t":"S","q":3,"i":1,"p":[[2,[1]]]}"#], BAD_FRAME);
    rejects(&[c0, r#"{"t":"S","q":3,"i":1,"p":[[1,5]]}"#], BAD_FRAME);
    rejects(
        &[c0, r#"{"t":"S","q":3,"i":1,"p":[[0,[["a",1]]]]}"#],
        BAD_FRAME,
    );
    rejects(&[c0, r#"{"t":"S","q":3,"i":1,"p":[[1001,[]]]}"#], TOO_DEEP);
    rejects(&[c0, r#"{"t":"S","q":3,"i":1,"p":[[1.5,[]]]}"#], TOO_DEEP);
    rejects(&[c0, r#"{"t":"S","q":3,"i":1,"p":{}}"#], BAD_FRAME);
    rejects(&[c0, r#"{"t":"S","q":3,"i":1}"#], BAD_FRAME);
    rejects(
        &[r#"{"t":"S","q":3,"i":0,"p":[[0,[["__proto__",1]]]]}"#],
        RESERVED_KEY,
    );
    rejects(&[r#"{"t":"S","q":3,"i":0,"p":[[1,[]]]}"#], BAD_FRAME);
    let mut child = engine("bb");
    let e = child.receive(c0, false).unwrap_err();
    assert_eq!(e.code, BAD_SEQUENCE);
}

#[test]
fn pieces_count_toward_the_limits() {
    let c0 = r#"{"t":"S","q":0,"i":0,"p":[[0,[["a",[[1]]]]]]}"#;
    let mut limits = Limits::default();
    limits.max_array_length = 3;
    limits.max_depth = 3;
    let mut child = Engine::new(limits);
    child.receive(c0, true).unwrap();
    child
        .receive(r#"{"t":"S","q":0,"i":1,"p":[[2,[2,3]]]}"#, true)
        .unwrap();
    let e = child
        .receive(r#"{"t":"S","q":0,"i":2,"p":[[2,[4]]]}"#, true)
        .unwrap_err();
    assert_eq!(e.code, crate::error::LIMIT);
    let mut child = Engine::new(limits);
    child.receive(c0, true).unwrap();
    // Level 2 plus two more levels of nesting is deeper than 3.
    let e = child
        .receive(r#"{"t":"S","q":0,"i":1,"p":[[2,[[[1]]]]]}"#, true)
        .unwrap_err();
    assert_eq!(e.code, crate::error::TOO_DEEP);
}

#[test]
fn a_new_stream_replaces_an_unfinished_one() {
    let mut child = engine("bb");
    child
        .receive(r#"{"t":"S","q":3,"i":0,"p":[[0,[["a",[1]]]]]}"#, true)
        .unwrap();
    let v = child
        .receive(
            r#"{"t":"S","q":5,"i":0,"p":[[0,[["b",2]]]],"end":true}"#,
            true,
        )
        .unwrap()
        .verdict;
    assert_eq!(v, r#"{"k":"S","i":0,"end":true}"#);
    assert_eq!(child.dump(), r#"{"b":2}"#);
    assert_eq!(child.seq(), 5);
}

#[test]
fn other_frames_may_not_carry_pieces() {
    let mut e = engine("aa");
    let err = e.receive(r#"{"t":"p","i":1,"p":[1,}"#, false).unwrap_err();
    assert_eq!(err.code, crate::error::BAD_FRAME);
}
