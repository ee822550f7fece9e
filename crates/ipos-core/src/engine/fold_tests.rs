use super::super::{Engine, Limits, Received};

pub(crate) fn engine(origin: &str) -> Engine {
    let mut e = Engine::new(Limits::default());
    e.set_origin(origin.into());
    e
}

/// A root holding Map `m` = {k0: 0} and a child synced to it.
pub(crate) fn pair() -> (Engine, Engine) {
    let mut root = engine("aa");
    root.local(r#"[["c","m",{"~":"M","v":[["k0",0]]}]]"#)
        .unwrap();
    let mut child = engine("bb");
    child.receive(&root.snapshot(), true).unwrap();
    (root, child)
}

/// The child writes `key`, the root writes `theirs` before it sees that: returns the child's
/// verdicts for the root's batch and for its own (confirmed), after which both agree.
fn cross(root: &mut Engine, child: &mut Engine, key: &str, theirs: &str) -> (String, String) {
    let up = child
        .local(&format!(r#"[["ms","m",[],"{key}",1]]"#))
        .unwrap();
    let down = root
        .local(&format!(r#"[["ms","m",[],"{theirs}",2]]"#))
        .unwrap();
    let verdict = child.receive(&down, true).unwrap().verdict;
    let Received { frame, .. } = root.receive(&up, false).unwrap();
    let own = child.receive(&frame.unwrap(), true).unwrap().verdict;
    assert_eq!(child.dump(), root.dump());
    (verdict, own)
}

#[test]
fn a_commuting_batch_is_its_own_ops_and_the_pending_keys_move_back_once_confirmed() {
    let (mut root, mut child) = pair();
    let (v, own) = cross(&mut root, &mut child, "c1", "p1");
    // Applied as it came: JS takes the frame's own ops.
    assert_eq!(v, r#"{"k":"q","o":"aa","apply":"frame"}"#);
    assert_eq!(
        own,
        r#"{"k":"q","o":"bb","apply":"patch","own":true,"ops":[["mp","m",[],[1]]]}"#
    );
    assert_eq!(
        root.dump(),
        r#"{"m":{"~":"M","v":[["k0",0],["p1",2],["c1",1]]}}"#
    );
}

#[test]
fn a_batch_that_meets_a_pending_one_is_diffed() {
    let (mut root, mut child) = pair();
    let (v, own) = cross(&mut root, &mut child, "k0", "k0");
    assert_eq!(own, r#"{"k":"q","o":"bb","apply":"none","own":true}"#);
    // The root's `k0` came first, ours lands on it: nothing shows a change.
    assert_eq!(v, r#"{"k":"q","o":"aa","apply":"patch","ops":[]}"#);
}

#[test]
fn a_commuting_batch_with_an_event_is_a_patch_with_the_event_last() {
    let (mut root, mut child) = pair();
    let down = root.local(r#"[["c","e",{"~":"E"}]]"#).unwrap();
    child.receive(&down, true).unwrap();
    child.local(r#"[["ms","m",[],"c1",1]]"#).unwrap();
    let down = root
        .local(r#"[["ev","e",[],{"type":"x"}],["ms","m",[],"p1",2]]"#)
        .unwrap();
    let v = child.receive(&down, true).unwrap().verdict;
    assert_eq!(
        v,
        r#"{"k":"q","o":"aa","apply":"patch","ops":[["ms","m",[],"p1",2],["ev","e",[],{"type":"x"}]]}"#
    );
}
