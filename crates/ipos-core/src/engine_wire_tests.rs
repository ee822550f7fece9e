//! Nack frames, elided `q` frames and deferred local batches.

use super::*;

fn rejects(e: &mut Engine, frame: &str, from_parent: bool, code: &str) {
    let before = state(e);
    let err = e.receive(frame, from_parent).expect_err(frame);
    assert_eq!(err.code, code, "{frame}: {err}");
    assert_eq!(state(e), before, "{frame}");
    caught_up(e);
}

#[test]
fn nack_is_reported_and_changes_nothing() {
    let (mut root, mut child) = pair();
    let before = state(&mut root);
    let frame =
        r#"{"t":"N","code":"ERR_IPOS_FUNCTIONS_DISABLED","m":"say \"no\"\n\u00e9 \ud83d\ude00"}"#;
    let r = root.receive(frame, false).unwrap();
    assert_eq!(
        r.verdict,
        "{\"k\":\"N\",\"code\":\"ERR_IPOS_FUNCTIONS_DISABLED\",\"m\":\"say \\\"no\\\"\\né 😀\"}"
    );
    assert_eq!((r.frame, r.elided), (None, None));
    assert_eq!(state(&mut root), before);
    // Both directions.
    let r = child.receive(r#"{"t":"N","code":"ERR_IPOS_X","m":""}"#, true);
    assert_eq!(
        r.unwrap().verdict,
        r#"{"k":"N","code":"ERR_IPOS_X","m":""}"#
    );
    // JS may cut a message inside a surrogate pair: the lone half becomes U+FFFD.
    let r = root.receive(r#"{"t":"N","code":"ERR_IPOS_X","m":"ab\ud83d"}"#, false);
    assert_eq!(
        r.unwrap().verdict,
        "{\"k\":\"N\",\"code\":\"ERR_IPOS_X\",\"m\":\"ab\u{fffd}\"}"
    );
    // 2000 characters (not bytes) is the limit.
    let m = "é".repeat(2000);
    let ok = format!(r#"{{"t":"N","code":"ERR_IPOS_A_B","m":"{m}"}}"#);
    assert!(root.receive(&ok, false).is_ok());
    let long = format!(r#"{{"t":"N","code":"ERR_IPOS_A_B","m":"{m}x"}}"#);
    rejects(&mut root, &long, false, error::BAD_FRAME);
    let code41 = format!(r#"{{"t":"N","code":"ERR_IPOS_{}","m":""}}"#, "A".repeat(41));
    let code40 = format!(r#"{{"t":"N","code":"ERR_IPOS_{}","m":""}}"#, "A".repeat(40));
    assert!(root.receive(&code40, false).is_ok());
    for bad in [
        code41.as_str(),
        r#"{"t":"N","code":"ERR_IPOS_","m":""}"#,
        r#"{"t":"N","code":"ERR_IPOS_lower","m":""}"#,
        r#"{"t":"N","code":"ERR_IPOS_A1","m":""}"#,
        r#"{"t":"N","code":"ERR_OTHER","m":""}"#,
        r#"{"t":"N","code":"ERR_IPOS_X","m":1}"#,
        r#"{"t":"N","code":"ERR_IPOS_X","m":["x"]}"#,
        r#"{"t":"N","code":"ERR_IPOS_X"}"#,
        r#"{"t":"N","m":"x"}"#,
        r#"{"t":"N","code":1,"m":"x"}"#,
    ] {
        rejects(&mut root, bad, false, error::BAD_FRAME);
        rejects(&mut child, bad, true, error::BAD_FRAME);
    }
}

#[test]
fn root_names_the_origin_and_elides() {
    let (mut root, _) = pair();
    let r = root
        .receive(r#"{"t":"b","o":"cc","n":4,"ops":[["c","z",1]]}"#, false)
        .unwrap();
    assert_eq!(r.verdict, r#"{"k":"b","ok":true,"o":"cc"}"#);
    assert_eq!(
        r.frame.unwrap(),
        r#"{"t":"q","q":2,"o":"cc","n":4,"ok":true,"ops":[["c","z",1]]}"#
    );
    assert_eq!(
        r.elided.unwrap(),
        r#"{"t":"q","q":2,"o":"cc","n":4,"ok":true}"#
    );
    let r = root
        .receive(r#"{"t":"b","o":"cc","n":5,"ops":[["x","nope"]]}"#, false)
        .unwrap();
    assert!(r
        .verdict
        .starts_with(r#"{"k":"b","ok":false,"o":"cc","code":"#));
    assert_eq!(
        r.elided.unwrap(),
        r#"{"t":"q","q":3,"o":"cc","n":5,"ok":false}"#
    );
}

#[test]
fn own_batch_comes_back_elided() {
    let (mut root, mut child) = pair();
    let b1 = child.local(r#"[["s","o",["a"],5]]"#).unwrap();
    let b2 = child.local(r#"[["c","k",1]]"#).unwrap();
    let r1 = root.receive(&b1, false).unwrap();
    let r2 = root.receive(&b2, false).unwrap();
    let r = child.receive(r1.elided.as_ref().unwrap(), true).unwrap();
    assert_eq!(r.verdict, r#"{"k":"q","o":"bb","apply":"none","own":true}"#);
    // A child of ours needs the whole frame: rebuilt, byte for byte what the root sent.
    assert_eq!(r.frame, r1.frame);
    assert_eq!(r.elided, r1.elided);
    assert_eq!(child.pending_len(), 1);
    let r = child.receive(r2.elided.as_ref().unwrap(), true).unwrap();
    assert_eq!(r.frame, r2.frame);
    assert_eq!(child.pending_len(), 0);
    assert_eq!(child.dump(), root.dump());
    // A grandchild behind `child` gets the full frames and converges too.
    let mut leaf = engine("cc");
    leaf.receive(&child.snapshot(), true).unwrap();
    assert_eq!(leaf.dump(), root.dump());
}

#[test]
fn rejected_own_batch_elided_rolls_back() {
    let (mut root, mut child) = pair();
    let b = child.local(r#"[["s","o",["a"],5]]"#).unwrap();
    let q = root.local(r#"[["x","o"]]"#).unwrap();
    child.receive(&q, true).unwrap();
    let r = root.receive(&b, false).unwrap();
    assert!(r.verdict.contains(r#""ok":false"#));
    let out = child.receive(r.elided.as_ref().unwrap(), true).unwrap();
    assert_eq!(
        out.verdict,
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ok":false,"ops":[]}"#
    );
    assert_eq!(out.frame, r.frame);
    assert_eq!(child.dump(), root.dump());
}

#[test]
fn elided_frames_only_for_the_next_own_batch() {
    let (mut root, mut child) = pair();
    let b = child.local(r#"[["c","k",1]]"#).unwrap();
    let r = root.receive(&b, false).unwrap();
    let elided = r.elided.unwrap();
    for bad in [
        // Another origin's batch, or a batch number that is not the next pending one.
        r#"{"t":"q","q":2,"o":"cc","n":1,"ok":true}"#,
        r#"{"t":"q","q":2,"o":"bb","n":2,"ok":true}"#,
        r#"{"t":"q","q":2,"o":"cc","n":1,"ok":true,"ops":null}"#,
    ] {
        rejects(&mut child, bad, true, error::BAD_FRAME);
    }
    rejects(
        &mut child,
        &elided.replace(r#""q":2"#, r#""q":3"#),
        true,
        error::BAD_SEQUENCE,
    );
    rejects(&mut child, &elided, false, error::BAD_SEQUENCE);
    // A root has nothing pending: an elided frame is no frame for it.
    rejects(
        &mut root,
        &elided.replace("bb", "aa"),
        true,
        error::BAD_FRAME,
    );
    assert!(child.receive(&elided, true).is_ok());
    // Nothing pending any more: the same frame is now refused.
    rejects(&mut child, &elided, true, error::BAD_FRAME);
}

#[test]
fn relays_name_the_origin() {
    let (mut root, mut mid) = pair();
    let mut leaf = engine("cc");
    leaf.receive(&mid.snapshot(), true).unwrap();
    let b = leaf.local(r#"[["c","k",1]]"#).unwrap();
    let up = mid.receive(&b, false).unwrap();
    assert_eq!(up.verdict, r#"{"k":"b","up":true,"o":"cc","n":1}"#);
    let r = root.receive(&b, false).unwrap();
    // `mid` relays the full frame it got, except to `cc`, which gets the elided one.
    let relay = mid.receive(r.frame.as_ref().unwrap(), true).unwrap();
    assert_eq!(relay.verdict, r#"{"k":"q","o":"cc","apply":"frame"}"#);
    assert_eq!(relay.frame, None);
    assert_eq!(relay.elided, r.elided);
    let v = leaf.receive(&relay.elided.unwrap(), true).unwrap();
    assert_eq!(v.verdict, r#"{"k":"q","o":"cc","apply":"none","own":true}"#);
    assert_eq!(leaf.dump(), root.dump());
    assert_eq!(mid.dump(), root.dump());
}

#[test]
fn deferred_frames_match_local() {
    for make in [pair as fn() -> (Engine, Engine), || (pair().1, pair().0)] {
        // The same history through `local` and through `local_deferred` (root, then child).
        let (mut a, _) = make();
        let (mut b, _) = make();
        for batch in [
            r#"[["s","o",["a"],2]]"#,
            r#" [ ["p","o",["l"],2,0,[3]], ["c","n",7] ] "#,
            r#"[["r","o",["a"],9]]"#,
            r#"[["c","m",{"~":"M","v":[[1,2]]}]]"#,
        ] {
            let fa = a.local(batch).unwrap();
            let fb = b.local_deferred(batch).unwrap();
            assert_eq!(fa, fb, "{batch}");
            assert_eq!((a.seq(), a.pending_len()), (b.seq(), b.pending_len()));
        }
        assert!(b.deferred_len() > 0);
        assert_eq!(b.dump(), a.dump(), "dump settles first");
        assert_eq!(b.deferred_len(), 0);
        assert_eq!(b.snapshot(), a.snapshot());
        assert!(b.settle().is_ok());
    }
}

#[test]
fn deferred_edge_cases() {
    let (_, mut child) = pair();
    assert_eq!(child.local_deferred("[]").unwrap(), "");
    assert_eq!(child.local_deferred(" [ \n ] ").unwrap(), "");
    assert_eq!(child.pending_len(), 0);
    assert_eq!(
        child.local_deferred("{}").unwrap_err().code,
        error::BAD_FRAME
    );
    let deep = format!("[{}{}]", "[".repeat(4000), "]".repeat(4000));
    assert_eq!(
        child.local_deferred(deep.as_str()).unwrap_err().code,
        error::TOO_DEEP
    );
    // An `r` after all: handled by `local`, at once.
    let f = child
        .local_deferred(r#"[["r","n",[],1]]"#.to_string())
        .unwrap();
    assert_eq!(f, r#"{"t":"b","o":"bb","n":1,"ops":[["c","n",1]]}"#);
    assert_eq!(child.deferred_len(), 0);
    let mut small = Engine::new(Limits {
        max_frame_bytes: 70,
        ..Limits::default()
    });
    small.set_origin("aa".into());
    let e = small
        .local_deferred(r#"[["c","abcdefghijklmnop",1]]"#)
        .unwrap_err();
    assert_eq!(e.code, error::FRAME_TOO_LARGE, "the frame is too large");
    assert_eq!((small.seq(), small.deferred_len()), (0, 0));
    assert!(small
        .local_deferred(r#"[["c","a",1]]"#)
        .unwrap()
        .contains(r#""q":1,"#));
}

#[test]
fn every_entry_point_settles_first() {
    let (mut root, mut child) = pair();
    // receive at the child: the deferred batch is pending under the foreign one.
    let b = child.local_deferred(r#"[["c","k",1]]"#).unwrap();
    let q = root.local(r#"[["c","j",2]]"#).unwrap();
    let v = child.receive(&q, true).unwrap().verdict;
    assert_eq!(
        v,
        r#"{"k":"q","o":"aa","apply":"patch","ops":[["c","j",2],["x","k"],["c","k",1]]}"#
    );
    // receive at the root, after a deferred batch of its own: sequence numbers stay in order.
    let q2 = root.local_deferred(r#"[["c","r",3]]"#).unwrap();
    assert!(q2.contains(r#""q":3,"#));
    let r = root.receive(&b, false).unwrap();
    assert!(r.frame.unwrap().contains(r#""q":4,"#));
    assert_eq!(
        root.dump(),
        r#"{"o":{"a":1,"l":[1,2]},"n":0,"j":2,"r":3,"k":1}"#
    );
    // local and become_root.
    let mut e = pair().1;
    e.local_deferred(r#"[["c","x",1]]"#).unwrap();
    e.local(r#"[["s","x",[],2]]"#).unwrap_err();
    e.local(r#"[["c","y",2]]"#).unwrap();
    assert_eq!(e.pending_len(), 2);
    let frames = e.become_root();
    assert_eq!(frames.len(), 2);
    assert!(frames[0].ends_with(r#""n":1,"ok":true,"ops":[["c","x",1]]}"#));
}

#[test]
fn a_batch_that_does_not_settle_is_reported_and_skipped() {
    let (mut root, mut child) = pair();
    // Not an `r`, but not readable either (a bad tag), then one that reads but does not apply.
    let b1 = child.local_deferred(r#"[["c","k",{"~":"zz"}]]"#).unwrap();
    let b2 = child.local_deferred(r#"[["s","o",["zz","y"],1]]"#).unwrap();
    let b3 = child.local_deferred(r#"[["c","m",1]]"#).unwrap();
    assert!(b3.contains(r#""n":3,"#));
    let e = child.settle().unwrap_err();
    assert_eq!(e.code, error::BAD_VALUE, "the first error: {e}");
    assert!(e.message.contains("local batch 1"), "{}", e.message);
    assert!(child.settle().is_ok(), "reported once");
    assert_eq!(child.pending_len(), 3);
    assert_eq!(child.dump(), r#"{"o":{"a":1,"l":[1,2]},"n":0,"m":1}"#);
    // The root rejects both bad batches; the child rolls back nothing and converges.
    for b in [b1, b2, b3] {
        let r = root.receive(&b, false).unwrap();
        child.receive(r.elided.as_ref().unwrap(), true).unwrap();
    }
    assert_eq!(child.pending_len(), 0);
    assert_eq!(child.dump(), root.dump());
    // An error met by another entry point waits for `settle`.
    child.local_deferred(r#"[["x","nope"]]"#).unwrap();
    child.dump();
    assert_eq!(child.settle().unwrap_err().code, error::UNKNOWN_FIELD);
}

#[test]
fn root_accepting_a_batch_that_never_applied_here() {
    let (_, mut child) = pair();
    child.local_deferred(r#"[["c","k",{"~":"zz"}]]"#).unwrap();
    child.local_deferred(r#"[["s","o",["zz","y"],1]]"#).unwrap();
    assert!(child.settle().is_err());
    // Unreadable here, accepted there: nothing to go on.
    let q1 = r#"{"t":"q","q":2,"o":"bb","n":1,"ok":true}"#;
    rejects(&mut child, q1, true, error::BAD_SEQUENCE);
    let q1 = r#"{"t":"q","q":2,"o":"bb","n":1,"ok":false}"#;
    assert!(child.receive(q1, true).is_ok());
    // Readable but not applicable here: the root's ops go on the confirmed state, as a patch.
    let q2 = r#"{"t":"q","q":3,"o":"bb","n":2,"ok":true,"ops":[["c","w",1]]}"#;
    let v = child.receive(q2, true).unwrap().verdict;
    assert_eq!(
        v,
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ok":true,"ops":[["c","w",1]]}"#
    );
    assert_eq!(child.pending_len(), 0);
}
