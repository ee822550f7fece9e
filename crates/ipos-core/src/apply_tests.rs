use super::*;
use crate::codec::{encode_value, parse_json, Decoder};
use crate::error;
use crate::op::decode_ops;
use crate::txn::apply_batch;

const DEC: Decoder = Decoder {
    max_depth: 1000,
    functions: false,
};

fn ops(text: &str) -> Vec<Op> {
    let j = parse_json(text, 100).unwrap();
    decode_ops(&j, &DEC, true).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn dump(f: &Fields) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in f.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("{k:?}:"));
        encode_value(v, &mut s);
    }
    s.push('}');
    s
}

/// Applies `batch` to a state built by `init` and returns the dump, or the error.
fn run(init: &str, batch: &str) -> Result<String, CoreError> {
    let mut f = Fields::default();
    apply_batch(&mut f, &ops(init)).unwrap();
    let before = dump(&f);
    let r = apply_batch(&mut f, &ops(batch));
    if r.is_err() {
        assert_eq!(dump(&f), before, "a failed batch changes nothing");
    }
    r.map(|_| dump(&f))
}

fn ok(init: &str, batch: &str) -> String {
    run(init, batch).unwrap_or_else(|e| panic!("{batch}: {e}"))
}

fn err(init: &str, batch: &str) -> CoreError {
    run(init, batch).expect_err(batch)
}

const OBJ: &str = r#"[["c","o",{"a":1,"b":{"c":[1,2,3]}}]]"#;
const ARR: &str = r#"[["c","l",[1,2,3]]]"#;
const MAP: &str =
    r#"[["c","m",{"~":"M","v":[["a",{"x":1}],[[],{"y":2}],[{"~":"n","v":"NaN"},3]]}]]"#;
const SET: &str = r#"[["c","s",{"~":"S","v":[1,"a",{"k":[1]}]}]]"#;

#[test]
fn create_and_remove() {
    assert_eq!(
        ok("[]", r#"[["c","a",1],["c","b",2],["c","a",3]]"#),
        r#"{"a":3,"b":2}"#
    );
    assert_eq!(ok(OBJ, r#"[["x","o"]]"#), "{}");
    assert_eq!(err("[]", r#"[["x","o"]]"#).code, error::UNKNOWN_FIELD);
    assert_eq!(
        err("[]", r#"[["s","o",["a"],1]]"#).code,
        error::UNKNOWN_FIELD
    );
}

#[test]
fn set_on_objects_keeps_order() {
    assert_eq!(
        ok(OBJ, r#"[["s","o",["a"],5]]"#),
        r#"{"o":{"a":5,"b":{"c":[1,2,3]}}}"#
    );
    assert_eq!(
        ok(OBJ, r#"[["s","o",["z"],5]]"#),
        r#"{"o":{"a":1,"b":{"c":[1,2,3]},"z":5}}"#
    );
    assert_eq!(
        ok(OBJ, r#"[["s","o",["b","c",1],{"~":"u"}]]"#),
        r#"{"o":{"a":1,"b":{"c":[1,{"~":"u"},3]}}}"#
    );
    let e = err(OBJ, r#"[["s","o",["q","r"],1]]"#);
    assert_eq!(e.code, error::BAD_PATH);
    assert!(e.message.starts_with("`o.q`"), "{}", e.message);
    let e = err(OBJ, r#"[["s","o",["a","r"],1]]"#);
    assert_eq!(e.code, error::BAD_PATH);
    assert!(
        e.message.contains("`o.a`") && e.message.contains("a number"),
        "{}",
        e.message
    );
    assert_eq!(
        err(OBJ, r#"[["s","o",["__proto__"],1]]"#).code,
        error::RESERVED_KEY
    );
    assert_eq!(
        err(OBJ, r#"[["s","o",["constructor","x"],1]]"#).code,
        error::RESERVED_KEY
    );
}

#[test]
fn set_on_arrays() {
    assert_eq!(ok(ARR, r#"[["s","l",[0],9]]"#), r#"{"l":[9,2,3]}"#);
    assert_eq!(ok(ARR, r#"[["s","l",["1"],9]]"#), r#"{"l":[1,9,3]}"#);
    assert_eq!(
        ok(ARR, r#"[["s","l",[5],9]]"#),
        r#"{"l":[1,2,3,{"~":"_"},{"~":"_"},9]}"#
    );
    assert_eq!(ok(ARR, r#"[["s","l",["length"],1]]"#), r#"{"l":[1]}"#);
    assert_eq!(
        ok(ARR, r#"[["s","l",["length"],4]]"#),
        r#"{"l":[1,2,3,{"~":"_"}]}"#
    );
    assert!(run(ARR, r#"[["s","l",[100002],1]]"#).is_ok());
    assert_eq!(
        err(ARR, r#"[["s","l",[100003],1]]"#).code,
        error::OUT_OF_RANGE
    );
    assert!(run(ARR, r#"[["s","l",["length"],100003]]"#).is_ok());
    assert_eq!(
        err(ARR, r#"[["s","l",["length"],100004]]"#).code,
        error::OUT_OF_RANGE
    );
    assert_eq!(
        err(ARR, r#"[["s","l",["length"],-1]]"#).code,
        error::OUT_OF_RANGE
    );
    assert_eq!(
        err(ARR, r#"[["s","l",["length"],"2"]]"#).code,
        error::OUT_OF_RANGE
    );
    assert_eq!(err(ARR, r#"[["s","l",["x"],1]]"#).code, error::BAD_PATH);
    assert_eq!(err(ARR, r#"[["s","l",[1.5],1]]"#).code, error::BAD_PATH);
    assert_eq!(err(ARR, r#"[["s","l",[7,"a"],1]]"#).code, error::BAD_PATH);
    let e = err(r#"[["c","l",[1,{"~":"_"}]]]"#, r#"[["s","l",[1,"a"],1]]"#);
    assert!(
        e.message.contains("`l[1]`") && e.message.contains("hole"),
        "{}",
        e.message
    );
}

#[test]
fn delete() {
    assert_eq!(
        ok(OBJ, r#"[["d","o",["a"]]]"#),
        r#"{"o":{"b":{"c":[1,2,3]}}}"#
    );
    assert_eq!(ok(OBJ, r#"[["d","o",["zz"]]]"#), ok(OBJ, "[]"));
    assert_eq!(ok(ARR, r#"[["d","l",[1]]]"#), r#"{"l":[1,{"~":"_"},3]}"#);
    assert_eq!(ok(ARR, r#"[["d","l",[10]]]"#), r#"{"l":[1,2,3]}"#);
    assert_eq!(err(ARR, r#"[["d","l",["length"]]]"#).code, error::BAD_PATH);
    assert_eq!(err(MAP, r#"[["d","m",["a"]]]"#).code, error::BAD_PATH);
}

#[test]
fn splice() {
    assert_eq!(
        ok(ARR, r#"[["p","l",[],3,0,[4,5]]]"#),
        r#"{"l":[1,2,3,4,5]}"#
    );
    assert_eq!(ok(ARR, r#"[["p","l",[],0,2,[]]]"#), r#"{"l":[3]}"#);
    assert_eq!(
        ok(ARR, r#"[["p","l",[],1,1,["a","b"]]]"#),
        r#"{"l":[1,"a","b",3]}"#
    );
    assert_eq!(
        err(ARR, r#"[["p","l",[],4,0,[]]]"#).code,
        error::OUT_OF_RANGE
    );
    assert_eq!(
        err(ARR, r#"[["p","l",[],2,2,[]]]"#).code,
        error::OUT_OF_RANGE
    );
    assert_eq!(err(OBJ, r#"[["p","o",[],0,0,[]]]"#).code, error::BAD_PATH);
    assert_eq!(
        ok(OBJ, r#"[["p","o",["b","c"],1,1,[]]]"#),
        r#"{"o":{"a":1,"b":{"c":[1,3]}}}"#
    );
}

#[test]
fn map_ops() {
    let m = |v: &str| format!(r#"{{"m":{{"~":"M","v":[{v}]}}}}"#);
    assert_eq!(
        ok(MAP, r#"[["ms","m",[],"a",0]]"#),
        m(r#"["a",0],[[],{"y":2}],[{"~":"n","v":"NaN"},3]"#)
    );
    assert_eq!(
        ok(MAP, r#"[["ms","m",[],{"~":"n","v":"NaN"},0]]"#),
        m(r#"["a",{"x":1}],[[],{"y":2}],[{"~":"n","v":"NaN"},0]"#)
    );
    assert_eq!(
        ok(MAP, r##"[["ms","m",[],{"~":"#","v":1},0]]"##),
        m(r#"["a",{"x":1}],[[],0],[{"~":"n","v":"NaN"},3]"#)
    );
    assert_eq!(
        ok(
            MAP,
            r#"[["ms","m",[],[],0],["ms","m",[],{"~":"n","v":"-0"},1]]"#
        ),
        m(r#"["a",{"x":1}],[[],{"y":2}],[{"~":"n","v":"NaN"},3],[[],0],[0,1]"#)
    );
    assert_eq!(
        ok(MAP, r#"[["s","m",["a","x"],5]]"#),
        m(r#"["a",{"x":5}],[[],{"y":2}],[{"~":"n","v":"NaN"},3]"#)
    );
    assert_eq!(
        ok(MAP, r##"[["s","m",[{"~":"#","v":1},"y"],5]]"##),
        m(r#"["a",{"x":1}],[[],{"y":5}],[{"~":"n","v":"NaN"},3]"#)
    );
    assert_eq!(
        ok(MAP, r#"[["md","m",[],"a"],["md","m",[],"zz"]]"#),
        m(r#"[[],{"y":2}],[{"~":"n","v":"NaN"},3]"#)
    );
    assert_eq!(
        ok(MAP, r##"[["md","m",[],{"~":"#","v":1}],["md","m",[],[]]]"##),
        m(r#"["a",{"x":1}],[{"~":"n","v":"NaN"},3]"#)
    );
    assert_eq!(ok(MAP, r#"[["cl","m",[]]]"#), m(""));
    assert_eq!(err(MAP, r#"[["s","m",[[],"y"],5]]"#).code, error::BAD_PATH);
    assert_eq!(err(MAP, r#"[["s","m",["b","y"],5]]"#).code, error::BAD_PATH);
    assert_eq!(
        err(MAP, r##"[["ms","m",[],{"~":"#","v":3},0]]"##).code,
        error::BAD_PATH
    );
    assert_eq!(err(MAP, r#"[["s","m",["a"],0]]"#).code, error::BAD_PATH);
    assert_eq!(err(ARR, r#"[["ms","l",[],1,0]]"#).code, error::BAD_PATH);
    let e = err(MAP, r#"[["s","m",["a","x","y"],5]]"#);
    assert!(e.message.contains(r#"`m.get("a").x`"#), "{}", e.message);
}

#[test]
fn set_ops() {
    let s = |v: &str| format!(r#"{{"s":{{"~":"S","v":[{v}]}}}}"#);
    assert_eq!(
        ok(SET, r#"[["sa","s",[],1],["sa","s",[],2]]"#),
        s(r#"1,"a",{"k":[1]},2"#)
    );
    assert_eq!(
        ok(SET, r#"[["sa","s",[],{"k":[1]}]]"#),
        s(r#"1,"a",{"k":[1]},{"k":[1]}"#)
    );
    assert_eq!(
        ok(SET, r#"[["sd","s",[],"a"],["sd","s",[],"zz"]]"#),
        s(r#"1,{"k":[1]}"#)
    );
    assert_eq!(
        ok(
            SET,
            r##"[["sd","s",[],{"~":"#","v":2}],["sd","s",[],{"k":[1]}]]"##
        ),
        s(r#"1,"a""#)
    );
    assert_eq!(
        ok(SET, r#"[["p","s",[2,"k"],1,0,[2]]]"#),
        s(r#"1,"a",{"k":[1,2]}"#)
    );
    assert_eq!(
        ok(SET, r##"[["s","s",[{"~":"#","v":2},"k"],0]]"##),
        s(r#"1,"a",{"k":0}"#)
    );
    assert_eq!(ok(SET, r#"[["cl","s",[]]]"#), s(""));
    assert_eq!(err(SET, r#"[["s","s",[3,"k"],0]]"#).code, error::BAD_PATH);
    assert_eq!(err(SET, r#"[["s","s",[0,"k"],0]]"#).code, error::BAD_PATH);
    assert_eq!(err(SET, r#"[["s","s",["a","k"],0]]"#).code, error::BAD_PATH);
    assert_eq!(err(OBJ, r#"[["sa","o",[],0]]"#).code, error::BAD_PATH);
    assert_eq!(err(OBJ, r#"[["cl","o",[]]]"#).code, error::BAD_PATH);
}

#[test]
fn assign_sets_directly() {
    assert_eq!(ok("[]", r#"[["r","a",[],1]]"#), r#"{"a":1}"#);
    assert_eq!(ok(OBJ, r#"[["r","o",["b"],2]]"#), r#"{"o":{"a":1,"b":2}}"#);
    assert_eq!(
        ok(MAP, r#"[["r","m",["zz"],2]]"#),
        ok(MAP, r#"[["ms","m",[],"zz",2]]"#)
    );
    assert_eq!(err(SET, r#"[["r","s",[0],2]]"#).code, error::BAD_PATH);
}

#[test]
fn cannot_step_into_leaves() {
    let init = r#"[["c","d",{"~":"D","v":0}],["c","c",{"~":"C","v":["P",{"x":1}]}]]"#;
    assert_eq!(err(init, r#"[["s","d",["x"],1]]"#).code, error::BAD_PATH);
    assert_eq!(err(init, r#"[["s","c",["x"],1]]"#).code, error::BAD_PATH);
}

#[test]
fn batches_are_atomic() {
    let e = err(
        OBJ,
        r#"[["s","o",["a"],2],["c","n",1],["x","o"],["s","o",["a"],3]]"#,
    );
    assert_eq!(e.code, error::UNKNOWN_FIELD);
    let e = err(ARR, r#"[["p","l",[],0,3,[]],["s","l",[0,"x"],1]]"#);
    assert_eq!(e.code, error::BAD_PATH);
}

#[test]
fn copy_on_write_leaves_snapshots_alone() {
    let mut a = Fields::default();
    apply_batch(&mut a, &ops(OBJ)).unwrap();
    let snap = a.clone();
    apply_batch(&mut a, &ops(r#"[["p","o",["b","c"],0,1,[]]]"#)).unwrap();
    assert_eq!(dump(&snap), r#"{"o":{"a":1,"b":{"c":[1,2,3]}}}"#);
    assert_eq!(dump(&a), r#"{"o":{"a":1,"b":{"c":[2,3]}}}"#);
}

#[test]
fn get_at_reads_paths() {
    let mut f = Fields::default();
    apply_batch(&mut f, &ops(MAP)).unwrap();
    let m = f.get("m").unwrap();
    let j = parse_json(r#"[["d","m",["a","x"]]]"#, 10).unwrap();
    let path = decode_ops(&j, &DEC, false).unwrap()[0].path().to_vec();
    assert!(matches!(get_at(m, &path), Some(Value::Num(f)) if *f == 1.0));
    assert!(get_at(m, &path[..1]).is_some());
    assert!(get_at(m, &[Seg::Key("q".into())]).is_none());
}

#[test]
fn rollback_restores_field_order() {
    let init = r#"[["c","d",1],["c","a",[1]],["c","c",{"x":1}],["c","b",2]]"#;
    for batch in [
        r#"[["x","a"],["s","c",["x"],2],["x","nope"]]"#,
        r#"[["x","a"],["c","a",5],["c","e",6],["x","d"],["p","a",[],0,0,[]]]"#,
        r#"[["c","b",3],["x","b"],["c","b",4],["x","c"],["x","d"],["c","d",0],["x","zz"]]"#,
        r#"[["p","a",[],1,0,[2]],["x","a"],["c","a",[]],["p","a",[],0,0,[1]],["s","a",[5,"q"],1]]"#,
    ] {
        assert!(run(init, batch).is_err(), "{batch}");
    }
}

#[test]
fn dispatch_needs_an_event_target_and_changes_nothing() {
    const ET: &str = r#"[["c","e",{"~":"E"}],["c","o",{"t":{"~":"E"}}]]"#;
    let before = ok(ET, "[]");
    assert_eq!(
        ok(ET, r#"[["ev","e",[],{"type":"x","detail":{"n":1}}]]"#),
        before
    );
    assert_eq!(
        ok(
            ET,
            r#"[["ev","o",["t"],{"~":"C","v":["CustomEvent",{"type":"x"}]}]]"#
        ),
        before
    );
    assert_eq!(
        err(OBJ, r#"[["ev","o",[],{"type":"x"}]]"#).code,
        error::BAD_PATH
    );
    assert_eq!(
        err(ET, r#"[["ev","o",["nope"],{"type":"x"}]]"#).code,
        error::BAD_PATH
    );
}

#[test]
fn a_run_of_map_sets_goes_in_whole_or_not_at_all() {
    const M: &str =
        r#"[["c","m",{"~":"M","v":[["a",1],["b",2]]}],["c","o",{"m":{"~":"M","v":[]}}]]"#;
    // Replaced, appended, appended then replaced, a key set twice: as op after op.
    let run = r#"["ms","m",[],"a",9,"z",1,"a",10,"y",2,"z",3,{"k":1},4]"#;
    assert_eq!(
        ok(M, &format!("[{run}]")),
        r#"{"m":{"~":"M","v":[["a",10],["b",2],["z",3],["y",2],[{"k":1},4]]},"o":{"m":{"~":"M","v":[]}}}"#
    );
    // A nested Map, then the Map at a path that is not a Map (applied op by op: the usual error).
    assert_eq!(
        ok(M, r#"[["ms","o",["m"],"p",1,"q",2]]"#),
        r#"{"m":{"~":"M","v":[["a",1],["b",2]]},"o":{"m":{"~":"M","v":[["p",1],["q",2]]}}}"#
    );
    assert_eq!(
        err(M, r#"[["ms","o",[],"p",1,"q",2]]"#).code,
        "ERR_IPOS_BAD_PATH"
    );
    // A later op fails: every value the run replaced is back, and what it appended is gone.
    for tail in [
        r#"["x","nope"]"#,
        r#"["ms","o",["m"],"p",1],["s","o",["m","x","y"],1]"#,
    ] {
        err(M, &format!("[{run},{tail}]"));
    }
}
