use super::*;
use crate::codec::{parse_json, Decoder};
use crate::op::{decode_ops, ops_to_json};
use crate::txn::apply_batch;
use crate::value::Fields;

const DEC: Decoder = Decoder {
    max_depth: 1000,
    functions: false,
};

fn val(text: &str) -> Value {
    DEC.value(&parse_json(text, 100).unwrap(), 0).unwrap()
}

/// Diffs `a` → `b`, checks the ops (after a trip over the wire) turn `a` into exactly `b`, and
/// returns their wire form.
fn check(a: &str, b: &str) -> String {
    let (a, b) = (val(a), val(b));
    let ops = diff("f", Some(&a), Some(&b));
    let text = ops_to_json(&ops);
    let ops = decode_ops(&parse_json(&text, 100).unwrap(), &DEC, false).unwrap();
    let mut f = Fields::default();
    f.insert("f".into(), a);
    apply_batch(&mut f, &ops).unwrap();
    assert!(same(&f["f"], &b), "{text}");
    text
}

#[test]
fn equal_values_have_no_diff() {
    assert_eq!(
        check(
            r#"{"a":[1,{"~":"n","v":"NaN"}]}"#,
            r#"{"a":[1,{"~":"n","v":"NaN"}]}"#
        ),
        "[]"
    );
    let v = val(r#"{"a":[1,2]}"#);
    assert!(diff("f", Some(&v), Some(&v.clone())).is_empty());
}

#[test]
fn field_level() {
    let v = val("1");
    assert_eq!(ops_to_json(&diff("f", None, Some(&v))), r#"[["c","f",1]]"#);
    assert_eq!(ops_to_json(&diff("f", Some(&v), None)), r#"[["x","f"]]"#);
    assert!(diff("f", None, None).is_empty());
    assert_eq!(check("1", "2"), r#"[["c","f",2]]"#);
    assert_eq!(
        check("0", r#"{"~":"n","v":"-0"}"#),
        r#"[["c","f",{"~":"n","v":"-0"}]]"#
    );
}

#[test]
fn objects() {
    assert_eq!(
        check(r#"{"a":1,"b":2}"#, r#"{"a":1,"b":3}"#),
        r#"[["s","f",["b"],3]]"#
    );
    assert_eq!(
        check(r#"{"a":1,"b":2}"#, r#"{"b":2}"#),
        r#"[["d","f",["a"]]]"#
    );
    assert_eq!(
        check(r#"{"a":1}"#, r#"{"a":1,"z":{"q":1}}"#),
        r#"[["s","f",["z"],{"q":1}]]"#
    );
    assert_eq!(
        check(r#"{"a":{"b":{"c":1}}}"#, r#"{"a":{"b":{"c":2}}}"#),
        r#"[["s","f",["a","b","c"],2]]"#
    );
    // Reordering cannot be expressed by patches: replace.
    assert_eq!(
        check(r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#),
        r#"[["c","f",{"b":2,"a":1}]]"#
    );
    assert_eq!(
        check(r#"{"x":{"a":1,"b":2}}"#, r#"{"x":{"c":1,"a":1}}"#),
        r#"[["s","f",["x"],{"c":1,"a":1}]]"#
    );
    assert_eq!(check(r#"{"a":1}"#, r#"{"b":1}"#), r#"[["c","f",{"b":1}]]"#);
    assert_eq!(
        check(r#"{"a":1}"#, r#"{"~":"N","v":{"a":1}}"#),
        r#"[["c","f",{"~":"N","v":{"a":1}}]]"#
    );
    check(
        r#"{"~":"o","v":{"~":1,"a":2}}"#,
        r#"{"~":"o","v":{"~":2,"a":2}}"#,
    );
}

#[test]
fn arrays() {
    assert_eq!(check("[1,2,3]", "[1,2,3,4]"), r#"[["p","f",[],3,0,[4]]]"#);
    assert_eq!(check("[1,2,3]", "[0,1,2,3]"), r#"[["p","f",[],0,0,[0]]]"#);
    assert_eq!(check("[1,2,3]", "[1,3]"), r#"[["p","f",[],1,1,[]]]"#);
    assert_eq!(check("[1,2,3]", "[1,9,3]"), r#"[["s","f",[1],9]]"#);
    assert_eq!(
        check(r#"[{"a":1},{"a":2}]"#, r#"[{"a":1},{"a":3}]"#),
        r#"[["s","f",[1,"a"],3]]"#
    );
    assert_eq!(check("[1,2,3]", r#"[1,{"~":"_"},3]"#), r#"[["d","f",[1]]]"#);
    assert_eq!(
        check(r#"[1,{"~":"_"},3]"#, "[1,2,3]"),
        r#"[["s","f",[1],2]]"#
    );
    assert_eq!(
        check("[1]", r#"[1,{"~":"_"},{"~":"u"}]"#),
        r#"[["p","f",[],1,0,[{"~":"u"},{"~":"u"}]],["d","f",[1]]]"#
    );
    assert_eq!(check("[1,1]", "[1]"), r#"[["p","f",[],1,1,[]]]"#);
    check("[]", r#"[{"~":"_"}]"#);
    check(r#"[{"~":"_"}]"#, "[]");
    check("[1,2,3,4,5]", "[5,4,3,2,1]");
}

#[test]
fn maps() {
    let m = |v: &str| format!(r#"{{"~":"M","v":[{v}]}}"#);
    assert_eq!(
        check(&m(r#"["a",1],["b",2]"#), &m(r#"["a",1],["b",3]"#)),
        r#"[["ms","f",[],"b",3]]"#
    );
    assert_eq!(
        check(&m(r#"["a",1],["b",2]"#), &m(r#"["b",2]"#)),
        r#"[["md","f",[],"a"]]"#
    );
    assert_eq!(
        check(&m(r#"["a",1]"#), &m(r#"["a",1],[{"~":"u"},2]"#)),
        r#"[["ms","f",[],{"~":"u"},2]]"#
    );
    assert_eq!(
        check(
            &m(r#"[{"~":"B","v":"1"},{"x":[1]}]"#),
            &m(r#"[{"~":"B","v":"1"},{"x":[1,2]}]"#)
        ),
        r#"[["p","f",[{"~":"B","v":"1"},"x"],1,0,[2]]]"#
    );
    assert_eq!(
        check(
            &m(r#"[{"~":"n","v":"NaN"},{"x":1}]"#),
            &m(r#"[{"~":"n","v":"NaN"},[1]]"#)
        ),
        r#"[["ms","f",[],{"~":"n","v":"NaN"},[1]]]"#
    );
    assert_eq!(
        check(&m(r#"[1,[1]],[2,2]"#), &m(r#"[2,2],[1,[1]]"#)),
        format!(r#"[["c","f",{}]]"#, m(r#"[2,2],[1,[1]]"#))
    );
    // A concurrent writer's entries ordered before this process's own: only the moved entries
    // travel (deleted and set again), not the whole Map.
    assert_eq!(
        check(
            &m(r#"[1,1],[2,2],[3,3],[4,4],["mine",5]"#),
            &m(r#"[1,1],[2,2],[3,3],[4,4],["theirs",6],["mine",5]"#)
        ),
        r#"[["md","f",[],"mine"],["ms","f",[],"theirs",6,"mine",5]]"#
    );
    // Object keys: replaced whole.
    let t = check(&m(r#"[[],1]"#), &m(r#"[[],2]"#));
    assert!(t.starts_with(r#"[["c","f",{"~":"M""#), "{t}");
    check(
        &m(r#"["k",{"~":"M","v":[[1,{"a":1}]]}]"#),
        &m(r#"["k",{"~":"M","v":[[1,{"a":2}]]}]"#),
    );
}

#[test]
fn sets() {
    let s = |v: &str| format!(r#"{{"~":"S","v":[{v}]}}"#);
    assert_eq!(check(&s("1,2"), &s("1,2,3")), r#"[["sa","f",[],3]]"#);
    assert_eq!(check(&s("1,2"), &s("2")), r#"[["sd","f",[],1]]"#);
    assert_eq!(
        check(&s("1,2"), &s("2,1")),
        format!(r#"[["c","f",{}]]"#, s("2,1"))
    );
    assert!(check(&s("[1]"), &s("[2]")).starts_with(r#"[["c","f",{"~":"S""#));
    assert_eq!(
        check(
            &format!(r#"{{"a":{}}}"#, s("[1]")),
            &format!(r#"{{"a":{}}}"#, s("[2]"))
        ),
        format!(r#"[["s","f",["a"],{}]]"#, s("[2]"))
    );
}

#[test]
fn leaves_are_replaced() {
    check(r#"{"~":"D","v":1}"#, r#"{"~":"D","v":null}"#);
    check(
        r#"{"a":{"~":"C","v":["P",{"x":1}]}}"#,
        r#"{"a":{"~":"C","v":["P",{"x":2}]}}"#,
    );
    check(r#"[{"~":"AB","v":"AA=="}]"#, r#"[{"~":"Buf","v":"AA=="}]"#);
    check(r#"{"~":"R","v":["a","g"]}"#, r#"{"~":"R","v":["a","i"]}"#);
}

#[test]
fn diff_in_map_value_uses_ms() {
    let (a, b) = (val("[1]"), val("2"));
    let mut out = Vec::new();
    diff_in("f", &mut vec![Seg::Key("k".into())], true, &a, &b, &mut out);
    assert_eq!(ops_to_json(&out), r#"[["ms","f",[],"k",2]]"#);
}
