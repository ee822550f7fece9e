use super::super::fold::tests::pair;
use super::super::{Engine, Received};

fn set(e: &mut Engine, key: &str) -> String {
    e.local(&format!(r#"[["ms","m",[],"{key}",1]]"#)).unwrap()
}

fn keys(e: &mut Engine) -> String {
    e.dump()
}

#[test]
fn remote_keys_land_last_while_writes_are_pending_and_the_map_is_sorted_once_when_none_are() {
    let (mut root, mut child) = pair();
    let up1 = set(&mut child, "c1");
    let q1 = set(&mut root, "p1");
    let up2 = set(&mut child, "c2");
    let q2 = set(&mut root, "p2");
    for q in [q1, q2] {
        let v = child.receive(&q, true).unwrap().verdict;
        assert!(!v.contains("mm"), "no move while writes are pending: {v}");
    }
    assert_eq!(
        keys(&mut child),
        r#"{"m":{"~":"M","v":[["k0",0],["c1",1],["c2",1],["p1",1],["p2",1]]}}"#
    );
    let Received { frame: f1, .. } = root.receive(&up1, false).unwrap();
    let Received { frame: f2, .. } = root.receive(&up2, false).unwrap();
    let v = child.receive(&f1.unwrap(), true).unwrap().verdict;
    assert_eq!(v, r#"{"k":"q","o":"bb","apply":"none","own":true}"#);
    // The last pending batch confirmed: only the entries out of place move, once, in one op.
    let v = child.receive(&f2.unwrap(), true).unwrap().verdict;
    assert_eq!(
        v,
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ops":[["mp","m",[],[1,2]]]}"#
    );
    assert_eq!(keys(&mut child), keys(&mut root));
    assert_eq!(
        keys(&mut root),
        r#"{"m":{"~":"M","v":[["k0",0],["p1",1],["p2",1],["c1",1],["c2",1]]}}"#
    );
}

#[test]
fn a_remote_delete_in_a_map_waiting_for_its_order_still_ends_in_the_root_order() {
    let (mut root, mut child) = pair();
    let up = set(&mut child, "c1");
    let q1 = set(&mut root, "p1");
    let q2 = root.local(r#"[["md","m",[],"k0"]]"#).unwrap();
    let q3 = set(&mut root, "p3");
    for q in [q1, q2, q3] {
        child.receive(&q, true).unwrap();
    }
    let Received { frame, .. } = root.receive(&up, false).unwrap();
    let v = child.receive(&frame.unwrap(), true).unwrap().verdict;
    assert_eq!(
        v,
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ops":[["mp","m",[],[0]]]}"#
    );
    assert_eq!(keys(&mut child), keys(&mut root));
}

#[test]
fn a_process_that_becomes_the_root_puts_its_maps_in_order_first() {
    let (mut root, mut child) = pair();
    set(&mut child, "c1");
    let q = set(&mut root, "p1");
    child.receive(&q, true).unwrap();
    assert_eq!(child.reorder(), r#"[["mp","m",[],[1]]]"#);
    assert_eq!(child.reorder(), "[]");
    let frames = child.become_root();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        keys(&mut child),
        r#"{"m":{"~":"M","v":[["k0",0],["p1",1],["c1",1]]}}"#
    );
}

#[test]
fn a_snapshot_taken_while_a_map_waits_for_its_order_replaces_it_in_order() {
    let (mut root, mut child) = pair();
    let up = set(&mut child, "c1");
    let q = set(&mut root, "p1");
    child.receive(&q, true).unwrap();
    root.receive(&up, false).unwrap();
    // The root's state (c1 sequenced after p1) as a snapshot: the patch puts the Map in order.
    child.receive(&root.snapshot(), true).unwrap();
    assert_eq!(keys(&mut child), keys(&mut root));
    assert_eq!(child.pending_len(), 0);
}

#[test]
fn entries_that_move_are_named_by_their_places_before_the_first_move() {
    let (mut root, mut child) = pair();
    let up1 = set(&mut child, "c1");
    let q = set(&mut root, "p1");
    child.receive(&q, true).unwrap();
    let up2 = child.local(r#"[["ms","m",[],{"o":1},"x"]]"#).unwrap();
    let Received { frame: f1, .. } = root.receive(&up1, false).unwrap();
    let Received { frame: f2, .. } = root.receive(&up2, false).unwrap();
    child.receive(&f1.unwrap(), true).unwrap();
    let v = child.receive(&f2.unwrap(), true).unwrap().verdict;
    // [k0, c1, p1, {o}] -> c1 (at 1) goes to the end, then the object key (at 3).
    assert_eq!(
        v,
        r##"{"k":"q","o":"bb","apply":"patch","own":true,"ops":[["mp","m",[],[1,3]]]}"##
    );
    assert_eq!(keys(&mut child), keys(&mut root));
}

#[test]
fn a_short_tail_of_a_long_map_and_a_long_tail_end_in_the_root_order_alike() {
    // Out of place: 4 entries after 11 that stay and, in a second round, all but the first of 12
    // (the keys each batch adds are found where the one before ended, not looked up).
    for (settled, writes) in [(10, 2), (0, 6)] {
        let (mut root, mut child) = pair();
        for i in 0..settled {
            let q = set(&mut root, &format!("b{i}"));
            child.receive(&q, true).unwrap();
        }
        let mut ups = Vec::new();
        for i in 0..writes {
            ups.push(set(&mut child, &format!("c{i}")));
            let q = set(&mut root, &format!("p{i}"));
            child.receive(&q, true).unwrap();
        }
        let mut last = String::new();
        for up in ups {
            let Received { frame, .. } = root.receive(&up, false).unwrap();
            last = child.receive(&frame.unwrap(), true).unwrap().verdict;
        }
        assert!(
            last.contains(r#"["mp","m",[],[1"#) || last.contains(r#"["mp","m",[],[11"#),
            "{last}"
        );
        assert_eq!(
            keys(&mut child),
            keys(&mut root),
            "{settled} settled, {writes} writes"
        );
    }
}

#[test]
fn a_few_entries_of_a_long_map_are_named_by_key_an_object_key_by_its_place_when_its_turn_comes() {
    let (mut root, mut child) = pair();
    for i in 0..20 {
        let q = set(&mut root, &format!("b{i}"));
        child.receive(&q, true).unwrap();
    }
    let up1 = set(&mut child, "c1");
    let q = set(&mut root, "p1");
    child.receive(&q, true).unwrap();
    let up2 = child.local(r#"[["ms","m",[],{"o":1},"x"]]"#).unwrap();
    let Received { frame: f1, .. } = root.receive(&up1, false).unwrap();
    let Received { frame: f2, .. } = root.receive(&up2, false).unwrap();
    child.receive(&f1.unwrap(), true).unwrap();
    let v = child.receive(&f2.unwrap(), true).unwrap().verdict;
    // [k0, b0..b19, c1, p1, {o}] -> c1 goes to the end, then the object key, standing at 22 by then.
    assert_eq!(
        v,
        r##"{"k":"q","o":"bb","apply":"patch","own":true,"ops":[["mm","m",[],["c1",{"~":"#","v":22}]]]}"##
    );
    assert_eq!(keys(&mut child), keys(&mut root));
}
