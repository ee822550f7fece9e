//! Resync: a child that cannot follow its parent asks for a snapshot, drops the parent's `q`
//! frames until it arrives, and takes it in with its pending batches: those the snapshot holds
//! are dropped, the others replayed on top and confirmed later as usual.

use super::*;
use crate::error;

fn engine(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e
}

/// The `q` the root makes of a child's `b`.
fn sequence(root: &mut Engine, b: &str) -> String {
    root.receive(b, false).unwrap().frame.unwrap()
}

fn verdict(e: &mut Engine, frame: &str) -> String {
    e.receive(frame, true).unwrap().verdict
}

#[test]
fn snapshots_carry_the_last_sequenced_batch_of_each_origin() {
    let mut root = engine("aa");
    assert_eq!(root.snapshot(), r#"{"t":"s","q":0,"ns":{},"f":[]}"#);
    root.local(r#"[["c","m",{"~":"M","v":[]}]]"#).unwrap();
    sequence(&mut root, r#"{"t":"b","o":"bb","n":4,"ops":[]}"#);
    assert_eq!(
        root.snapshot(),
        r#"{"t":"s","q":2,"ns":{"aa":1,"bb":4},"f":[["m",{"~":"M","v":[]}]]}"#
    );
    for bad in [
        r#"{"t":"s","q":0,"ns":[],"f":[]}"#,
        r#"{"t":"s","q":0,"ns":{"zz":1},"f":[]}"#,
        r#"{"t":"s","q":0,"ns":{"aa":-1},"f":[]}"#,
        r#"{"t":"s","q":0,"ns":{"aa":1.5},"f":[]}"#,
        r#"{"t":"s","q":0,"ns":{"aa":1,"aa":2},"f":[]}"#,
    ] {
        assert_eq!(
            engine("cc").receive(bad, true).unwrap_err().code,
            error::BAD_FRAME,
            "{bad}"
        );
    }
    let many: Vec<String> = (0..=crate::limits::MAX_ORIGINS)
        .map(|i| format!(r#""{i:x}":1"#))
        .collect();
    let frame = format!(r#"{{"t":"s","q":0,"ns":{{{}}},"f":[]}}"#, many.join(","));
    assert_eq!(
        engine("cc").receive(&frame, true).unwrap_err().code,
        error::BAD_FRAME
    );
}

#[test]
fn origins_are_remembered_up_to_a_bound() {
    let mut root = engine("aa");
    for i in 0..crate::limits::MAX_ORIGINS + 10 {
        sequence(
            &mut root,
            &format!(r#"{{"t":"b","o":"{i:x}","n":1,"ops":[]}}"#),
        );
    }
    let snap = root.snapshot();
    assert!(!snap.contains(r#""0":1"#), "the oldest origin is forgotten");
    assert!(snap.contains(&format!(r#""{:x}":1"#, crate::limits::MAX_ORIGINS + 9)));
    let mut child = engine("bb");
    child.receive(&snap, true).unwrap();
}

#[test]
fn a_child_behind_resyncs_and_keeps_its_pending_writes() {
    let mut root = engine("aa");
    root.local(r#"[["c","m",{"~":"M","v":[]}],["c","o",{"x":1}]]"#)
        .unwrap();
    let mut child = engine("bb");
    verdict(&mut child, &root.snapshot());
    // Two pending batches; the root sequences the first, plus a write of its own.
    let b1 = child.local(r#"[["ms","m",[],"c1",1]]"#).unwrap();
    let b2 = child
        .local(r#"[["ms","m",[],"c2",2],["s","o",["x"],2]]"#)
        .unwrap();
    let q1 = sequence(&mut root, &b1);
    let r = root
        .local(r#"[["ms","m",[],"r",0],["s","o",["x"],3]]"#)
        .unwrap();
    // The parent sends a gap: the child cannot follow.
    let gap = q1.replace(r#""q":2"#, r#""q":9"#);
    assert_eq!(
        child.receive(&gap, true).unwrap_err().code,
        error::BAD_SEQUENCE
    );
    assert!(child.behind());
    assert!(child.take_resync(), "one resync request");
    assert!(!child.take_resync());
    // Until the snapshot, the parent's `q` frames are dropped (the snapshot holds them), and
    // another bad one asks for nothing more.
    assert_eq!(verdict(&mut child, &q1), r#"{"k":"d"}"#);
    assert_eq!(verdict(&mut child, &r), r#"{"k":"d"}"#);
    assert!(child.receive("{garbage", true).is_err());
    assert!(!child.take_resync());
    // Writes go on meanwhile.
    let b3 = child.local(r#"[["ms","m",[],"c3",3]]"#).unwrap();
    assert_eq!(child.pending_len(), 3);
    // The snapshot holds b1 (sequenced): it is dropped; b2 and b3 are replayed on top.
    let v = verdict(&mut child, &root.snapshot());
    assert!(v.starts_with(r#"{"k":"s","ops":["#), "{v}");
    assert!(!child.behind());
    assert_eq!(child.pending_len(), 2);
    assert_eq!(
        child.dump(),
        r#"{"m":{"~":"M","v":[["c1",1],["r",0],["c2",2],["c3",3]]},"o":{"x":2}}"#
    );
    // Their `q` frames follow, and are our own batches as predicted.
    let q2 = sequence(&mut root, &b2);
    let q3 = sequence(&mut root, &b3);
    assert_eq!(
        verdict(&mut child, &q2),
        r#"{"k":"q","o":"bb","apply":"none","own":true}"#
    );
    assert_eq!(
        verdict(&mut child, &q3),
        r#"{"k":"q","o":"bb","apply":"none","own":true}"#
    );
    assert_eq!(child.pending_len(), 0);
    assert_eq!(child.dump(), root.dump());
    assert_eq!(child.seq(), root.seq());
}

#[test]
fn a_pending_batch_the_snapshot_no_longer_admits_is_rejected_by_the_root_as_a_conflict() {
    let mut root = engine("aa");
    root.local(r#"[["c","o",{"x":{"y":1}}]]"#).unwrap();
    let mut child = engine("bb");
    verdict(&mut child, &root.snapshot());
    let q_other = root.local(r#"[["d","o",["x"]]]"#).unwrap();
    let b = child.local(r#"[["s","o",["x","y"],2]]"#).unwrap();
    // A rejected frame of the parent's (a reserved key) also means we are behind.
    let bad = q_other.replace(r#"["x"]"#, r#"["__proto__"]"#);
    assert!(child.receive(&bad, true).is_err());
    assert!(child.take_resync());
    let v = verdict(&mut child, &root.snapshot());
    assert_eq!(
        v, r#"{"k":"s","ops":[["c","o",{}]]}"#,
        "the write no longer applies"
    );
    assert_eq!(child.pending_len(), 1);
    let q = sequence(&mut root, &b);
    assert_eq!(
        verdict(&mut child, &q),
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ok":false,"ops":[]}"#
    );
    assert_eq!(child.dump(), root.dump());
}

#[test]
fn only_a_child_asks_for_a_resync_and_only_a_lost_sequenced_frame_makes_it() {
    let mut root = engine("aa");
    assert_eq!(
        root.receive(r#"{"t":"R"}"#, false).unwrap().verdict,
        r#"{"k":"R"}"#
    );
    assert_eq!(
        root.receive(r#"{"t":"R"}"#, true).unwrap_err().code,
        error::BAD_SEQUENCE
    );
    let mut child = engine("bb");
    verdict(&mut child, &root.snapshot());
    assert!(child.receive(r#"{"t":"zz"}"#, true).is_err());
    assert!(child
        .receive(r#"{"t":"N","code":"bad","m":""}"#, true)
        .is_err());
    assert!(!child.behind(), "neither frame carried state");
    // A root has no parent to follow.
    assert!(root
        .receive(r#"{"t":"q","q":7,"o":"cc","n":1,"ok":true,"ops":[]}"#, true)
        .is_err());
    assert!(!root.behind());
}

#[test]
fn becoming_the_root_ends_waiting_for_a_snapshot() {
    let mut root = engine("aa");
    root.local(r#"[["c","n",1]]"#).unwrap();
    let mut child = engine("bb");
    verdict(&mut child, &root.snapshot());
    assert!(child
        .receive(r#"{"t":"q","q":7,"o":"cc","n":1,"ok":true,"ops":[]}"#, true)
        .is_err());
    assert!(child.behind());
    child.become_root();
    assert!(!child.behind());
    assert!(!child.take_resync());
}
