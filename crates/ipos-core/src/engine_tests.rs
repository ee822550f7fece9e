use super::*;
use crate::error;

fn engine(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e
}

/// A root with fields, and a child synced to it.
fn pair() -> (Engine, Engine) {
    let mut root = engine("aa");
    root.local(r#"[["c","o",{"a":1,"l":[1,2]}],["c","n",0]]"#)
        .unwrap();
    let mut child = engine("bb");
    let Received {
        verdict: v,
        frame: out,
        ..
    } = child.receive(&root.snapshot(), true).unwrap();
    assert_eq!(v, r#"{"k":"s"}"#);
    assert!(out.is_none());
    (root, child)
}

/// A rejected `q` from the parent leaves the state alone but makes the child wait for a snapshot
/// (see `resync_tests`); the tests of rejection go on as if it had arrived.
fn caught_up(e: &mut Engine) {
    e.behind = false;
    e.resync_due = false;
}

/// Everything observable, to prove a rejected frame changed nothing.
fn state(e: &mut Engine) -> (String, u64, usize, String, bool) {
    (
        e.dump(),
        e.seq(),
        e.pending_len(),
        e.snapshot(),
        e.is_root(),
    )
}

#[test]
fn root_local_sequences() {
    let mut e = engine("aa");
    assert!(e.is_root());
    let f = e.local(r#"[["c","a",1]]"#).unwrap();
    assert_eq!(
        f,
        r#"{"t":"q","q":1,"o":"aa","n":1,"ok":true,"ops":[["c","a",1]]}"#
    );
    assert_eq!(e.local("[]").unwrap(), "");
    assert_eq!(
        e.local(r#"[["r","a",[],1]]"#).unwrap(),
        "",
        "an assign of the same value is no change"
    );
    let f = e.local(r#"[["s","a",["x"],1]]"#);
    assert_eq!(f.unwrap_err().code, error::BAD_PATH);
    assert_eq!(e.seq(), 1);
    let f = e.local(r#"[["r","a",[],2]]"#).unwrap();
    assert_eq!(
        f,
        r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":[["c","a",2]]}"#
    );
    assert_eq!(e.dump(), r#"{"a":2}"#);
    assert_eq!(e.pending_len(), 0);
}

#[test]
fn assign_ships_a_diff() {
    let (mut root, _) = pair();
    let f = root.local(r#"[["r","o",[],{"a":1,"l":[1,2,3]}]]"#).unwrap();
    assert!(f.ends_with(r#""ops":[["p","o",["l"],2,0,[3]]]}"#), "{f}");
    let f = root
        .local(r#"[["r","o",["l",0],{"x":1}],["r","o",["l",0,"x"],2]]"#)
        .unwrap();
    assert!(
        f.ends_with(r#""ops":[["s","o",["l",0],{"x":1}],["s","o",["l",0,"x"],2]]}"#),
        "{f}"
    );
    let f = root
        .local(r#"[["r","o",["new"],5],["r","m",[],{"~":"M","v":[]}],["r","m",["k"],1]]"#)
        .unwrap();
    assert!(
        f.ends_with(r#"[["s","o",["new"],5],["c","m",{"~":"M","v":[]}],["ms","m",[],"k",1]]}"#),
        "{f}"
    );
    let before = state(&mut root);
    assert_eq!(
        root.local(r#"[["r","o",["zz","y"],1]]"#).unwrap_err().code,
        error::BAD_PATH
    );
    assert_eq!(
        root.local(r#"[["r","q",["y"],1]]"#).unwrap_err().code,
        error::UNKNOWN_FIELD
    );
    assert_eq!(state(&mut root), before);
}

#[test]
fn child_round_trip() {
    let (mut root, mut child) = pair();
    assert!(!child.is_root());
    assert_eq!(child.dump(), root.dump());
    assert_eq!(child.seq(), 1);
    let b = child.local(r#"[["s","n",[],1]]"#);
    assert_eq!(b.unwrap_err().code, error::BAD_FRAME, "s needs a path");
    let b = child.local(r#"[["c","n",5]]"#).unwrap();
    assert_eq!(b, r#"{"t":"b","o":"bb","n":1,"ops":[["c","n",5]]}"#);
    assert_eq!(child.pending_len(), 1);
    assert!(
        child.snapshot().contains(r#"["n",0]"#),
        "snapshot is the confirmed state"
    );
    let Received {
        verdict: v,
        frame: q,
        ..
    } = root.receive(&b, false).unwrap();
    assert_eq!(v, r#"{"k":"b","ok":true,"o":"bb"}"#);
    let q = q.unwrap();
    assert_eq!(
        q,
        r#"{"t":"q","q":2,"o":"bb","n":1,"ok":true,"ops":[["c","n",5]]}"#
    );
    let Received {
        verdict: v,
        frame: out,
        ..
    } = child.receive(&q, true).unwrap();
    assert_eq!(v, r#"{"k":"q","o":"bb","apply":"none","own":true}"#);
    assert!(out.is_none());
    assert_eq!(child.pending_len(), 0);
    assert_eq!(child.dump(), root.dump());
    assert_eq!(child.seq(), 2);
}

#[test]
fn root_copies_ops_text_verbatim() {
    let (mut root, _) = pair();
    let b = r#"{"t":"b","o":"cc","n":7,"ops":[ ["c","z", 1.0 ] ]}"#;
    let Received { frame: q, .. } = root.receive(b, false).unwrap();
    assert_eq!(
        q.unwrap(),
        r#"{"t":"q","q":2,"o":"cc","n":7,"ok":true,"ops":[ ["c","z", 1.0 ] ]}"#
    );
}

#[test]
fn root_rejects_a_conflicting_batch_in_sequence() {
    let (mut root, _) = pair();
    let before = root.dump();
    let Received {
        verdict: v,
        frame: q,
        ..
    } = root
        .receive(
            r#"{"t":"b","o":"cc","n":1,"ops":[["c","y",1],["s","gone",["a"],1]]}"#,
            false,
        )
        .unwrap();
    assert!(
        v.starts_with(r#"{"k":"b","ok":false,"o":"cc","code":"ERR_IPOS_UNKNOWN_FIELD","message":"#),
        "{v}"
    );
    assert_eq!(
        q.unwrap(),
        r#"{"t":"q","q":2,"o":"cc","n":1,"ok":false,"ops":[]}"#
    );
    assert_eq!(root.dump(), before);
    assert_eq!(root.seq(), 2);
    // Bad values still get an answer, so the child does not wait forever.
    let Received {
        verdict: v,
        frame: q,
        ..
    } = root
        .receive(
            r#"{"t":"b","o":"cc","n":2,"ops":[["c","f",{"~":"F","v":"x"}]]}"#,
            false,
        )
        .unwrap();
    assert!(v.contains("ERR_IPOS_FUNCTIONS_DISABLED"), "{v}");
    assert!(q.unwrap().contains(r#""ok":false"#));
}

#[test]
fn intermediate_forwards_batches_up() {
    let (_, mut child) = pair();
    let before = state(&mut child);
    let Received {
        verdict: v,
        frame: out,
        ..
    } = child
        .receive(r#"{"t":"b","o":"cc","n":1,"ops":[["c","y",1]]}"#, false)
        .unwrap();
    assert_eq!(v, r#"{"k":"b","up":true,"o":"cc","n":1}"#);
    assert!(out.is_none());
    assert_eq!(state(&mut child), before);
}

#[test]
fn foreign_batches_and_rebase() {
    let (mut root, mut child) = pair();
    // No pending: JS applies the frame itself.
    let q = root.local(r#"[["s","o",["a"],2]]"#).unwrap();
    assert_eq!(
        child.receive(&q, true).unwrap().verdict,
        r#"{"k":"q","o":"aa","apply":"frame"}"#
    );
    // Pending: confirmed + foreign + pending again, as a patch.
    let b = child.local(r#"[["p","o",["l"],2,0,[3]]]"#).unwrap();
    let q1 = root.local(r#"[["s","o",["l",0],9],["c","n",1]]"#).unwrap();
    let Received { verdict: v, .. } = child.receive(&q1, true).unwrap();
    assert_eq!(
        v,
        r#"{"k":"q","o":"aa","apply":"patch","ops":[["s","o",["l",0],9],["c","n",1]]}"#
    );
    assert_eq!(child.dump(), r#"{"o":{"a":2,"l":[9,2,3]},"n":1}"#);
    let Received { frame: q2, .. } = root.receive(&b, false).unwrap();
    assert_eq!(
        child.receive(&q2.unwrap(), true).unwrap().verdict,
        r#"{"k":"q","o":"bb","apply":"none","own":true}"#
    );
    assert_eq!(child.dump(), root.dump());
    assert_eq!(child.pending_len(), 0);
}

#[test]
fn own_batch_rejected_rolls_back() {
    let (mut root, mut child) = pair();
    let b1 = child.local(r#"[["s","o",["a"],5]]"#).unwrap();
    let b2 = child.local(r#"[["c","k",1]]"#).unwrap();
    assert_eq!(child.pending_len(), 2);
    let q = root.local(r#"[["x","o"]]"#).unwrap();
    let Received { verdict: v, .. } = child.receive(&q, true).unwrap();
    assert_eq!(v, r#"{"k":"q","o":"aa","apply":"patch","ops":[["x","o"]]}"#);
    let Received { frame: r1, .. } = root.receive(&b1, false).unwrap();
    let Received { frame: r2, .. } = root.receive(&b2, false).unwrap();
    let Received { verdict: v, .. } = child.receive(&r1.unwrap(), true).unwrap();
    assert_eq!(
        v,
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ok":false,"ops":[]}"#
    );
    child.receive(&r2.unwrap(), true).unwrap();
    assert_eq!(child.dump(), root.dump());
    assert_eq!(root.dump(), r#"{"n":0,"k":1}"#);
}

#[test]
fn rebase_patch_fixes_field_order() {
    let (mut root, mut child) = pair();
    child.local(r#"[["c","z",1]]"#).unwrap();
    let q = root.local(r#"[["c","y",2]]"#).unwrap();
    let Received { verdict: v, .. } = child.receive(&q, true).unwrap();
    assert_eq!(
        v,
        r#"{"k":"q","o":"aa","apply":"patch","ops":[["c","y",2],["x","z"],["c","z",1]]}"#
    );
    assert_eq!(child.dump(), r#"{"o":{"a":1,"l":[1,2]},"n":0,"y":2,"z":1}"#);
}

#[test]
fn hello_ping_and_friends() {
    let mut e = engine("aa");
    assert_eq!(
        e.receive(r#"{"t":"h","v":1,"id":"0f","fn":true}"#, true)
            .unwrap()
            .verdict,
        r#"{"k":"h","id":"0f","fn":true}"#
    );
    assert_eq!(
        e.receive(r#"{"t":"h","v":2,"id":"0f","fn":true}"#, true)
            .unwrap_err()
            .code,
        error::VERSION
    );
    assert_eq!(
        e.receive(r#"{"t":"h","v":1,"id":"x y","fn":true}"#, true)
            .unwrap_err()
            .code,
        error::BAD_FRAME
    );
    assert_eq!(
        e.receive(r#"{"t":"h","v":1,"id":"0f"}"#, true)
            .unwrap_err()
            .code,
        error::BAD_FRAME
    );
    assert_eq!(
        e.receive(r#"{"t":"p","i":4}"#, true).unwrap().verdict,
        r#"{"k":"p","i":4}"#
    );
    assert_eq!(
        e.receive(r#"{"t":"P","i":5}"#, false).unwrap().verdict,
        r#"{"k":"P","i":5}"#
    );
    assert_eq!(
        e.receive(r#"{"t":"A"}"#, false).unwrap().verdict,
        r#"{"k":"A"}"#
    );
    assert_eq!(
        e.receive(r#"{"t":"g"}"#, true).unwrap().verdict,
        r#"{"k":"g"}"#
    );
}

#[test]
fn rejected_frames_change_nothing() {
    // A 1001-deep value recurses in the parser: give debug builds room.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(rejected_frames_body)
        .unwrap()
        .join()
        .unwrap();
}

fn rejected_frames_body() {
    let (mut root, mut child) = pair();
    child.local(r#"[["c","p",1]]"#).unwrap();
    let q_ok = root.local(r#"[["s","o",["a"],3]]"#).unwrap();
    let small = Limits {
        max_frame_bytes: 64,
        max_depth: 4,
        functions: false,
        max_array_length: crate::apply::MAX_ARRAY_LENGTH,
    };
    let cases: Vec<(String, bool, &str)> = vec![
        ("garbage".into(), true, error::BAD_FRAME),
        ("".into(), true, error::BAD_FRAME),
        ("[]".into(), true, error::BAD_FRAME),
        (r#"{"t":1}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"zz"}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"p"}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"p","i":"1"}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"q","q":"2","o":"aa","n":2,"ok":true,"ops":[]}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":{}}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":[["s","o",["zz","y"],1]]}"#.into(), true, error::BAD_PATH),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":[["c","o",1],["s","o",["zz","y"],1]]}"#.into(), true, error::BAD_PATH),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":[["x","nope"]]}"#.into(), true, error::UNKNOWN_FIELD),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":false,"ops":[["x","o"]]}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":[["r","o",[],1]]}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"q","q":3,"o":"aa","n":2,"ok":true,"ops":[]}"#.into(), true, error::BAD_SEQUENCE),
        (r#"{"t":"q","q":1,"o":"aa","n":2,"ok":true,"ops":[]}"#.into(), true, error::BAD_SEQUENCE),
        (r#"{"t":"q","q":2,"o":"bb","n":9,"ok":true,"ops":[]}"#.into(), true, error::BAD_SEQUENCE),
        (q_ok.clone(), false, error::BAD_SEQUENCE),
        (root.snapshot(), false, error::BAD_SEQUENCE),
        (r#"{"t":"A"}"#.into(), true, error::BAD_SEQUENCE),
        (r#"{"t":"b","o":"cc","n":1,"ops":[]}"#.into(), true, error::BAD_SEQUENCE),
        (r#"{"t":"b","o":"cc","ops":[]}"#.into(), false, error::BAD_FRAME),
        (r#"{"t":"b","o":"cc","n":1,"ops":1}"#.into(), false, error::BAD_FRAME),
        (r#"{"t":"s","q":1,"f":[["a",1],["a",2]]}"#.into(), true, error::BAD_FRAME),
        (r#"{"t":"s","q":1,"f":[["__proto__",1]]}"#.into(), true, error::RESERVED_KEY),
        (r#"{"t":"s","q":1,"f":[["a",{"~":"x"}]]}"#.into(), true, error::BAD_VALUE),
        (r#"{"t":"s","q":1,"f":{}}"#.into(), true, error::BAD_FRAME),
        (format!(r#"{{"t":"s","q":1,"f":[["a",{}1{}]]}}"#, "[".repeat(1001), "]".repeat(1001)), true, error::TOO_DEEP),
        (format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)), true, error::TOO_DEEP),
    ];
    for (frame, from_parent, code) in cases {
        let before = state(&mut child);
        let e = child.receive(&frame, from_parent).expect_err(&frame);
        assert_eq!(e.code, code, "{frame}: {e}");
        assert_eq!(state(&mut child), before, "{frame}");
        caught_up(&mut child);
    }
    // The channel stays usable.
    assert_eq!(
        child.receive(&q_ok, true).unwrap().verdict,
        r#"{"k":"q","o":"aa","apply":"frame"}"#
    );
    // Frame size and depth limits of a small engine.
    let mut e = Engine::new(small);
    let big = format!(r#"{{"t":"p","i":1,"pad":"{}"}}"#, "x".repeat(64));
    assert_eq!(
        e.receive(&big, true).unwrap_err().code,
        error::FRAME_TOO_LARGE
    );
    assert_eq!(
        e.local(&format!(r#"[["c","a","{}"]]"#, "x".repeat(64)))
            .unwrap_err()
            .code,
        error::FRAME_TOO_LARGE
    );
    assert_eq!(
        e.local(r#"[["c","a",[[[[[1]]]]]]]"#).unwrap_err().code,
        error::TOO_DEEP
    );
    assert_eq!(e.dump(), "{}");
}

#[test]
fn snapshot_replaces_the_confirmed_state() {
    let (mut root, mut child) = pair();
    child.local(r#"[["c","p",1]]"#).unwrap();
    root.local(r#"[["c","r",1],["s","o",["a"],2]]"#).unwrap();
    child.receive(&root.snapshot(), true).unwrap();
    // The pending batch is not in the snapshot yet: it stays pending, replayed on top.
    assert_eq!(child.pending_len(), 1);
    assert_eq!(child.dump(), r#"{"o":{"a":2,"l":[1,2]},"n":0,"r":1,"p":1}"#);
    assert_eq!(child.seq(), root.seq());
}

#[test]
fn become_root_sequences_pending() {
    let (mut root, mut mid) = pair();
    let mut leaf = engine("cc");
    leaf.receive(&mid.snapshot(), true).unwrap();
    mid.local(r#"[["c","m",1]]"#).unwrap();
    mid.local(r#"[["s","o",["a"],7]]"#).unwrap();
    // The root removes `o` first; mid's second batch no longer applies.
    let q = root.local(r#"[["x","o"]]"#).unwrap();
    mid.receive(&q, true).unwrap();
    leaf.receive(&q, true).unwrap();
    let frames = mid.become_root();
    assert!(mid.is_root());
    assert_eq!(mid.pending_len(), 0);
    assert_eq!(frames.len(), 2);
    assert_eq!(
        frames[0],
        r#"{"t":"q","q":3,"o":"bb","n":1,"ok":true,"ops":[["c","m",1]]}"#
    );
    assert_eq!(
        frames[1],
        r#"{"t":"q","q":4,"o":"bb","n":2,"ok":false,"ops":[]}"#
    );
    for f in &frames {
        leaf.receive(f, true).unwrap();
    }
    assert_eq!(leaf.dump(), mid.dump());
    assert_eq!(mid.dump(), r#"{"n":0,"m":1}"#);
    assert!(mid.become_root().is_empty());
    // The new root sequences its own changes.
    let q = mid.local(r#"[["c","z",1]]"#).unwrap();
    assert!(q.starts_with(r#"{"t":"q","q":5,"#));
}

#[path = "engine_wire_tests.rs"]
mod wire;

#[path = "engine_growth_tests.rs"]
mod growth;
