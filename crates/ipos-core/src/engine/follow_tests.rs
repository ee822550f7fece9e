use crate::engine::{Engine, Limits};
use crate::error;

/// A follower that installed the log's empty starting snapshot.
fn follower(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e.receive(r#"{"t":"s","q":0,"f":[]}"#, true).unwrap();
    e
}

/// Feeds every entry of `log` to every engine, in log order; returns the verdicts per engine.
fn follow(engines: &mut [&mut Engine], log: &[String]) -> Vec<Vec<String>> {
    engines
        .iter_mut()
        .map(|e| {
            log.iter()
                .map(|entry| e.receive_logged(entry).unwrap().verdict)
                .collect()
        })
        .collect()
}

#[test]
fn followers_converge_on_log_order() {
    let mut a = follower("aa");
    let mut b = follower("bb");
    let log = vec![
        a.local(r#"[["c","x",{"l":[]}]]"#).unwrap(),
        b.local(r#"[["c","y",1]]"#).unwrap(),
        a.local(r#"[["a","x",["l"],[1]]]"#).unwrap(),
        b.local(r#"[["c","x",{"l":[9]}]]"#).unwrap(),
    ];
    assert!(log.iter().all(|f| f.starts_with(r#"{"t":"b""#)));
    let v = follow(&mut [&mut a, &mut b], &log);
    assert_eq!(v[0][0], r#"{"k":"q","o":"aa","apply":"none","own":true}"#);
    assert_eq!(a.dump(), b.dump());
    assert_eq!(a.dump(), r#"{"x":{"l":[9]},"y":1}"#);
    assert_eq!((a.seq(), b.seq()), (4, 4));
    assert_eq!((a.pending_len(), b.pending_len()), (0, 0));
}

#[test]
fn a_batch_that_does_not_apply_is_skipped_by_all() {
    let mut a = follower("aa");
    let mut b = follower("bb");
    let seed = a.local(r#"[["c","x",{"k":1}]]"#).unwrap();
    follow(&mut [&mut a, &mut b], &[seed]);
    // Concurrently: a removes the field, b writes into it.
    let log = vec![
        a.local(r#"[["x","x"]]"#).unwrap(),
        b.local(r#"[["s","x",["k"],2]]"#).unwrap(),
    ];
    let v = follow(&mut [&mut a, &mut b], &log);
    assert_eq!(v[0][1], r#"{"k":"q","o":"bb","apply":"none","skip":true}"#);
    assert!(
        v[1][1].contains(r#""own":true,"ok":false"#),
        "the origin learns it was skipped: {}",
        v[1][1]
    );
    assert_eq!(a.dump(), "{}");
    assert_eq!(b.dump(), "{}");
    assert_eq!((a.seq(), b.seq()), (3, 3));
    assert_eq!(b.pending_len(), 0);
}

#[test]
fn unreadable_entries_are_skipped_with_a_code() {
    let mut a = follower("aa");
    let mut b = follower("bb");
    let log: Vec<String> = [
        "not json",
        r#"{"t":"q","q":1,"o":"cc","n":1,"ok":true,"ops":[]}"#,
        r#"{"t":"b","o":"not hex","n":1,"ops":[]}"#,
        r#"{"t":"b","o":"cc","n":1,"ops":[["zz","x"]]}"#,
        r#"{"t":"b","o":"cc","n":1,"ops":{}}"#,
        r#"{"t":"b","o":"cc","n":1,"ops":[["c","x",1]],"f":[}"#,
        r#"{"t":"b","o":"cc","n":2,"ops":[["c","ok",1]]}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = follow(&mut [&mut a, &mut b], &log);
    for verdict in &v[0][..6] {
        assert!(
            verdict.contains(r#""skip":true,"code":"ERR_IPOS_"#),
            "{verdict}"
        );
    }
    assert_eq!(v[0], v[1]);
    assert_eq!(a.dump(), r#"{"ok":1}"#);
    assert_eq!(b.dump(), a.dump());
    assert_eq!(a.seq(), 7);
}

#[test]
fn an_entry_forging_our_origin_is_not_taken_for_ours() {
    let mut a = follower("aa");
    let mut b = follower("bb");
    let mine = a.local(r#"[["c","x",1]]"#).unwrap();
    let forged = r#"{"t":"b","o":"aa","n":1,"ops":[["c","x",2]]}"#.to_string();
    let v = follow(&mut [&mut a, &mut b], &[forged, mine]);
    assert_eq!(v[0][0], r#"{"k":"q","o":"aa","apply":"patch","ops":[]}"#);
    assert_eq!(a.dump(), r#"{"x":1}"#);
    assert_eq!(b.dump(), a.dump());
    assert_eq!(a.pending_len(), 0);
}

#[test]
fn children_of_a_follower_get_the_sequence() {
    let mut a = follower("aa");
    let mut child = Engine::new(Limits::default());
    child.set_origin("cc".into());
    let first = a.local(r#"[["c","x",[]]]"#).unwrap();
    a.receive_logged(&first).unwrap();
    child.receive(&a.snapshot(), true).unwrap();
    let up = child.local(r#"[["a","x",[],[1]]]"#).unwrap();
    let mine = a.local(r#"[["a","x",[],[2]]]"#).unwrap();
    let bad = "garbage".to_string();
    // The log goes on: the child's batch (relayed up by a), garbage, then a's own.
    for entry in [up, bad, mine] {
        let r = a.receive_logged(&entry).unwrap();
        let frame = r.frame.expect("a follower always relays a q");
        let to_child = if entry.contains(r#""o":"cc""#) {
            r.elided.unwrap()
        } else {
            frame
        };
        child.receive(&to_child, true).unwrap();
    }
    assert_eq!(child.dump(), r#"{"x":[1,2]}"#);
    assert_eq!(a.dump(), child.dump());
    assert_eq!(child.pending_len(), 0);
    assert_eq!(child.seq(), a.seq());
}

#[test]
fn only_a_joined_process_follows() {
    let mut e = Engine::new(Limits::default());
    let err = e
        .receive_logged(r#"{"t":"b","o":"cc","n":1,"ops":[]}"#)
        .unwrap_err();
    assert_eq!(err.code, error::BAD_SEQUENCE);
    assert_eq!(e.seq(), 0);
}

#[test]
fn a_snapshot_a_follower_writes_holds_what_it_sequenced_of_every_origin() {
    let mut a = follower("aa");
    let mut b = follower("bb");
    let seed = a.local(r#"[["c","x",{"l":[]}]]"#).unwrap();
    follow(&mut [&mut a, &mut b], &[seed]);
    // b's write is in the log and a read it; b has not read it back yet (still pending there)
    // when it reloads the snapshot a wrote from that state.
    let entry = b.local(r#"[["a","x",["l"],[1]]]"#).unwrap();
    a.receive_logged(&entry).unwrap();
    let snap = a.snapshot();
    assert!(
        snap.contains(r#""bb":1"#),
        "the snapshot's ns holds b's batch: {snap}"
    );
    assert_eq!(b.pending_len(), 1);
    b.receive(&snap, true).unwrap();
    assert_eq!(
        b.pending_len(),
        0,
        "the batch in the snapshot is not kept pending"
    );
    assert_eq!(b.dump(), r#"{"x":{"l":[1]}}"#);
    assert_eq!(a.dump(), b.dump());
}
