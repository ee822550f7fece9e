use super::*;
use crate::value::packed::PACK_MAX;

fn k(s: &str) -> Key {
    Key::from(s)
}

fn keys(m: &ObjMap) -> Vec<String> {
    m.keys().map(|k| k.to_string()).collect()
}

/// The same operations on a small map, a map that grows past `SMALL`, and an `IndexMap`
/// give the same keys, values and positions.
#[test]
fn small_and_large_behave_as_indexmap() {
    let mut ours = ObjMap::default();
    let mut theirs = Big::default();
    for i in 0..(SMALL * 2) {
        let key = format!("k{}", i % (SMALL + 3));
        assert_eq!(
            ours.insert(k(&key), Value::Num(i as f64)).is_some(),
            theirs.insert(k(&key), Value::Num(i as f64)).is_some()
        );
        if i % 5 == 0 {
            let at = ours.len() / 2;
            let nk = format!("s{i}");
            ours.shift_insert(at, k(&nk), Value::Null);
            theirs.shift_insert(at, k(&nk), Value::Null);
        }
        if i % 7 == 3 {
            assert_eq!(
                ours.shift_remove_full("k1").map(|(i, k, _)| (i, k)),
                theirs.shift_remove_full("k1").map(|(i, k, _)| (i, k))
            );
        }
        assert_eq!(
            keys(&ours),
            theirs.keys().map(|k| k.to_string()).collect::<Vec<_>>()
        );
        for (key, v) in &theirs {
            assert!(crate::value::same(ours.get(key).unwrap(), v));
            assert_eq!(ours.get_index_of(key), theirs.get_index_of(key.as_ref()));
        }
    }
    assert!(matches!(ours.0, Repr::Large(_)));
}

#[test]
fn extend_keeps_first_place_and_last_value() {
    let pairs = [("b", 1.0), ("a", 2.0), ("b", 3.0)];
    let m: ObjMap = pairs.iter().map(|(x, n)| (k(x), Value::Num(*n))).collect();
    assert_eq!(keys(&m), ["b", "a"]);
    assert!(matches!(m.get("b"), Some(Value::Num(n)) if *n == 3.0));
    let mut big = m.clone();
    big.extend((0..SMALL).map(|i| (k(&format!("x{i}")), Value::Null)));
    assert_eq!(big.len(), SMALL + 2);
    assert_eq!(&keys(&big)[..2], ["b", "a"]);
    let back: Vec<_> = big.into_iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(back.last().map(String::as_str), Some("x15"));
}

fn decoded(text: &str) -> Value {
    crate::decode_value(text, &crate::Limits::default()).unwrap()
}

fn record(v: &Value, key: &str) -> ObjMap {
    let Value::Object(o) = v else {
        panic!("an object")
    };
    let Some(Value::Object(r)) = o.map.get(key) else {
        panic!("a record at {key}")
    };
    r.map.clone()
}

/// Records inside a field are packed; the field's root, objects with a `~` key, and ones
/// holding what has identity or options (here a Map) are not.
#[test]
fn what_is_packed() {
    let v = decoded(
        r#"{"r":{"id":1,"name":"n","score":1.5,"tags":["x","y"],"in":{"a":null}},
            "t":{"~":"o","v":{"~":1}},"m":{"x":{"~":"M","v":[]}}}"#,
    );
    let Value::Object(o) = &v else { panic!() };
    assert!(o.map.packed_text().is_none());
    let r = record(&v, "r");
    assert_eq!(
        r.packed_text(),
        Some(r#"{"id":1,"name":"n","score":1.5,"tags":["x","y"],"in":{"a":null}}"#)
    );
    assert!(record(&v, "t").packed_text().is_none());
    assert!(record(&v, "m").packed_text().is_none());
    let long = format!(r#"{{"r":{{"s":"{}"}}}}"#, "x".repeat(PACK_MAX));
    assert!(record(&decoded(&long), "r").packed_text().is_none());
}

/// A packed map reads, writes and encodes exactly as the same map unpacked; a read opens it
/// beside its text, a write unpacks it.
#[test]
fn packed_behaves_as_unpacked() {
    let v = decoded(r#"{"r":{"b":1,"a":[2],"c":{"d":"e"}}}"#);
    let packed = record(&v, "r");
    let mut open: ObjMap = packed.iter().map(|(k, x)| (k.clone(), x.clone())).collect();
    assert!(open.packed_text().is_none());
    assert_eq!(keys(&packed), ["b", "a", "c"]);
    assert_eq!(packed.get_index_of("c"), Some(2));
    assert!(packed.packed_text().is_some(), "reading keeps the text");
    let mut text = String::new();
    crate::encode_value(&v, &mut text);
    assert_eq!(text, r#"{"r":{"b":1,"a":[2],"c":{"d":"e"}}}"#);
    let mut w = packed.clone();
    w.insert(k("z"), Value::Null);
    open.insert(k("z"), Value::Null);
    assert!(w.packed_text().is_none(), "a write unpacks");
    assert_eq!(keys(&w), keys(&open));
    let mut w = packed.clone();
    assert_eq!(w.shift_remove_full("a").map(|(i, _, _)| i), Some(1));
    assert_eq!(keys(&w), ["b", "c"]);
    let back: Vec<_> = packed.into_iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(back, ["b", "a", "c"]);
}

/// `same` compares two packed objects by their text, and a packed with an unpacked one by
/// value.
#[test]
fn same_sees_through_packing() {
    let a = decoded(r#"{"r":{"x":1,"y":[1,2]}}"#);
    let b = decoded(r#"{"r":{"x":1,"y":[1,2]}}"#);
    let c = decoded(r#"{"r":{"x":1,"y":[1,3]}}"#);
    let d = decoded(r#"{"r":{"y":[1,2],"x":1}}"#);
    assert!(crate::value::same(&a, &b));
    assert!(!crate::value::same(&a, &c));
    assert!(!crate::value::same(&a, &d), "key order counts");
    let Value::Object(o) = &a else { panic!() };
    let mut opened = (**o).clone();
    opened.map[0] = Value::Object(std::rc::Rc::new(crate::value::Obj {
        null_proto: false,
        map: record(&a, "r")
            .iter()
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect(),
    }));
    assert!(crate::value::same(
        &Value::Object(std::rc::Rc::new(opened)),
        &b
    ));
}

/// Ops reaching inside a packed record apply as they did before packing, in a root and in a
/// child that took the state from a snapshot.
#[test]
fn writes_inside_packed_records_apply() {
    let mut root = crate::Engine::new(crate::Limits::default());
    root.set_origin("aa".into());
    root.local(r#"[["c","big",{"k1":{"id":1,"tags":["x","y"]},"k2":{"id":2}}]]"#)
        .unwrap();
    let mut child = crate::Engine::new(crate::Limits::default());
    child.set_origin("bb".into());
    child.receive(&root.snapshot(), true).unwrap();
    let ops =
        r#"[["s","big",["k1","id"],5],["a","big",["k1","tags"],["z"]],["d","big",["k2","id"]]]"#;
    let frame = root.local(ops).unwrap();
    child.receive(&frame, true).unwrap();
    let want = r#"{"big":{"k1":{"id":5,"tags":["x","y","z"]},"k2":{}}}"#;
    assert_eq!(root.dump(), want);
    assert_eq!(child.dump(), want);
    let bad = root.local(r#"[["s","big",["k2","id","deeper"],1]]"#);
    assert!(bad.is_err(), "a path through a number is refused as before");
    assert_eq!(root.dump(), want);
}
