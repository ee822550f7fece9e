use super::*;
use crate::error;
use crate::value::{same, Value};

const DEC: Decoder = Decoder {
    max_depth: 1000,
    functions: false,
};

fn decode(text: &str) -> Result<Value, crate::CoreError> {
    decode_with(&DEC, text)
}

fn decode_with(dec: &Decoder, text: &str) -> Result<Value, crate::CoreError> {
    dec.value_text(text, 0, "v")
}

/// Decodes, checks the re-encoding is byte-identical, and returns the value.
fn round(text: &str) -> Value {
    let v = decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(to_json(&v), text);
    v
}

fn code(text: &str) -> &'static str {
    decode(text).expect_err(text).code
}

#[test]
fn every_tag_round_trips() {
    for t in [
        "null",
        "true",
        "0",
        "-1.5",
        r#""""#,
        r#""a\"b\\c\n\u0001é😀""#,
        r#"{"~":"u"}"#,
        r#"{"~":"n","v":"NaN"}"#,
        r#"{"~":"n","v":"Infinity"}"#,
        r#"{"~":"n","v":"-Infinity"}"#,
        r#"{"~":"n","v":"-0"}"#,
        r#"{"~":"B","v":"-123456789012345678901234567890"}"#,
        r#"[1,{"~":"_"},{"~":"_"},3]"#,
        r#"{"~":"D","v":null}"#,
        r#"{"~":"D","v":1700000000000}"#,
        r#"{"~":"D","v":-8640000000000000}"#,
        r#"{"~":"R","v":["a+b/\\d","gimsuy"]}"#,
        r#"{"~":"M","v":[[1,"a"],[{"a":1},{"b":2}],[{"a":1},null],[{"~":"n","v":"NaN"},1]]}"#,
        r#"{"~":"S","v":[1,"1",{"~":"B","v":"1"},[],[]]}"#,
        r#"{"~":"o","v":{"~":1,"a":{"~":"o","v":{"~":{"~":"u"}}}}}"#,
        r#"{"~":"N","v":{"~":1,"x":{"~":"N","v":{}}}}"#,
        r#"{"~":"AB","v":"AAEC"}"#,
        r#"{"~":"Buf","v":"aGk="}"#,
        r#"{"~":"TA","v":["Float64Array","AAAAAAAA8D8="]}"#,
        r#"{"~":"TA","v":["DataView",""]}"#,
        r#"{"~":"C","v":["Point",{"x":1,"y":[2]}]}"#,
        r#"{"~":"E"}"#,
        r#"{"a":1,"b":[],"c":{}}"#,
        "[]",
        "{}",
    ] {
        round(t);
    }
}

#[test]
fn special_numbers_are_exact() {
    let Value::Num(f) = round(r#"{"~":"n","v":"-0"}"#) else {
        panic!()
    };
    assert!(f == 0.0 && f.is_sign_negative());
    let Value::Num(f) = round(r#"{"~":"n","v":"NaN"}"#) else {
        panic!()
    };
    assert!(f.is_nan());
    assert!(same(
        &round("[1,2]"),
        &Value::array([Value::Num(1.0), Value::Num(2.0)])
    ));
}

#[test]
fn numbers_print_like_js() {
    let cases: [(f64, &str); 15] = [
        // Exactly between two 17-digit spellings: JS takes the even one.
        (-1078566525676143.25, "-1078566525676143.2"),
        (1.0, "1"),
        (-42.0, "-42"),
        (0.1, "0.1"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789.125, "123456789.125"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740993.0, "9007199254740992"),
        (2f64.powi(64), "18446744073709552000"),
        (-1.234e-10, "-1.234e-10"),
        (0.30000000000000004, "0.30000000000000004"),
    ];
    for (f, s) in cases {
        let mut out = String::new();
        write_js_number(f, &mut out);
        assert_eq!(out, s);
        let back: f64 = serde_json::from_str(&out).unwrap();
        assert_eq!(back.to_bits(), f.to_bits());
    }
}

#[test]
fn values_decode_to_what_js_builds() {
    // -0 Map keys and Set members become +0, as in JS.
    let m = decode(r#"{"~":"M","v":[[{"~":"n","v":"-0"},1]]}"#).unwrap();
    assert_eq!(to_json(&m), r#"{"~":"M","v":[[0,1]]}"#);
    let b = decode(r#"{"~":"B","v":"-000"}"#).unwrap();
    assert_eq!(to_json(&b), r#"{"~":"B","v":"0"}"#);
    let o = decode(r#"{"~":"o","v":{"a":1}}"#).unwrap();
    assert_eq!(to_json(&o), r#"{"a":1}"#);
    let big = decode("123456789012345678901234567890").unwrap();
    assert!(matches!(big, Value::Num(f) if f == 1.2345678901234568e29));
}

#[test]
fn tag_confusion_is_rejected() {
    for t in [
        r#"{"~":1}"#,
        r#"{"~":"zz","v":1}"#,
        r#"{"~":"u","v":1}"#,
        r#"{"~":"E","x":1}"#,
        r#"{"~":"n"}"#,
        r#"{"~":"n","v":"nan"}"#,
        r#"{"~":"n","v":1,"w":2}"#,
        r#"{"~":"B","v":"1.5"}"#,
        r#"{"~":"B","v":"-"}"#,
        r#"{"~":"B","v":12}"#,
        r#"{"~":"D","v":"2020"}"#,
        r#"{"~":"D","v":1.5}"#,
        r#"{"~":"D","v":9e15}"#,
        r#"{"~":"R","v":["a"]}"#,
        r#"{"~":"R","v":["a","gg"]}"#,
        r#"{"~":"R","v":["a","x"]}"#,
        r#"{"~":"M","v":{}}"#,
        r#"{"~":"M","v":[[1]]}"#,
        r#"{"~":"M","v":[[1,2],[1,3]]}"#,
        r#"{"~":"M","v":[[0,2],[{"~":"n","v":"-0"},3]]}"#,
        r#"{"~":"S","v":[{"~":"n","v":"NaN"},{"~":"n","v":"NaN"}]}"#,
        r#"{"~":"S","v":1}"#,
        r#"{"~":"o","v":[]}"#,
        r#"{"~":"N","v":1}"#,
        r#"{"~":"AB","v":"AAE"}"#,
        r#"{"~":"AB","v":"AA=E"}"#,
        r#"{"~":"Buf","v":"a*=="}"#,
        r#"{"~":"TA","v":["Float64Array","AAAA"]}"#,
        r#"{"~":"TA","v":["Array","AAAA"]}"#,
        r#"{"~":"C","v":["",1]}"#,
        r#"{"~":"C","v":"P"}"#,
        r#"{"~":"_"}"#,
        r#"{"a":{"~":"_"}}"#,
        r#"{"~":"S","v":[{"~":"_"}]}"#,
        r##"{"~":"#","v":0}"##,
        r##"[{"~":"#","v":0}]"##,
        r##"{"~":"M","v":[[{"~":"#","v":0},1]]}"##,
    ] {
        assert_eq!(code(t), error::BAD_VALUE, "{t}");
    }
}

#[test]
fn reserved_keys_are_rejected() {
    for t in [
        r#"{"__proto__":1}"#,
        r#"{"a":[{"constructor":1}]}"#,
        r#"{"~":"N","v":{"prototype":1}}"#,
        r#"{"~":"o","v":{"~":1,"__proto__":{}}}"#,
        r#"{"~":"C","v":["P",{"__proto__":1}]}"#,
    ] {
        assert_eq!(code(t), error::RESERVED_KEY, "{t}");
    }
    // Map keys are not object keys.
    round(r#"{"~":"M","v":[["__proto__",1]]}"#);
    let e = decode(r#"{"a":[0,{"b":{"__proto__":1}}]}"#).unwrap_err();
    assert!(e.message.contains("`v.a[1].b`"), "{}", e.message);
}

#[test]
fn functions_need_opt_in() {
    let t = r#"{"f":{"~":"F","v":"x => x + 1"}}"#;
    assert_eq!(code(t), error::FUNCTIONS_DISABLED);
    let dec = Decoder {
        functions: true,
        ..DEC
    };
    let v = decode_with(&dec, t).unwrap();
    assert_eq!(to_json(&v), t);
}

fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// Deep values recurse in decode, encode and drop: give debug builds room.
fn big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn depth_limit() {
    big_stack(|| {
        let ok = decode(&nested(1000)).unwrap();
        assert_eq!(ok.depth(), 1000);
        assert_eq!(code(&nested(1001)), error::TOO_DEEP);
        // Tag wrappers do not count: a Map level is one level.
        let mut t = "1".to_string();
        for _ in 0..1000 {
            t = format!(r#"{{"~":"M","v":[[1,{t}]]}}"#);
        }
        assert_eq!(decode(&t).unwrap().depth(), 1000);
        let t = format!(r#"{{"~":"M","v":[[1,{t}]]}}"#);
        assert_eq!(code(&t), error::TOO_DEEP);
        let dec = Decoder {
            max_depth: 2,
            ..DEC
        };
        assert!(decode_with(&dec, r#"{"a":{"b":1}}"#).is_ok());
        let e = decode_with(&dec, r#"{"a":{"b":{}}}"#).unwrap_err();
        assert_eq!(e.code, error::TOO_DEEP);
        assert!(e.message.contains("v.a.b"), "{}", e.message);
    });
}

#[test]
fn hostile_depth_is_rejected_by_the_prescan() {
    // No big stack here: the pre-scan must refuse this before anything recurses.
    let s = "[".repeat(200_000);
    let t = std::time::Instant::now();
    assert_eq!(code(&s), error::TOO_DEEP);
    let s = format!("{}{}", "{\"a\":".repeat(200_000), "}".repeat(200_000));
    assert_eq!(code(&s), error::TOO_DEEP);
    assert!(t.elapsed().as_millis() < 500);
}

#[test]
fn not_json_is_a_bad_frame() {
    for t in ["", "[", "{\"a\"}", "nul", "[1,]", "\"\\ud800\""] {
        assert_eq!(code(t), error::BAD_FRAME, "{t}");
    }
}

#[test]
fn strings_escape_like_json_stringify() {
    let mut out = String::new();
    write_str("a\u{0}\u{1f}\u{7f}\"\\\u{2028}", &mut out);
    assert_eq!(out, "\"a\\u0000\\u001f\u{7f}\\\"\\\\\u{2028}\"");
    let back: String = serde_json::from_str(&out).unwrap();
    assert_eq!(back, "a\u{0}\u{1f}\u{7f}\"\\\u{2028}");
}

/// What Node 20 can build with `new globalThis[name](...)`; PROTOCOL.md lists the same names.
const BUILDABLE: [(&str, &str); 12] = [
    ("Int8Array", "AQ=="),
    ("Uint8Array", "AQ=="),
    ("Uint8ClampedArray", "AQ=="),
    ("Int16Array", "AQI="),
    ("Uint16Array", "AQI="),
    ("Int32Array", "AQIDBA=="),
    ("Uint32Array", "AQIDBA=="),
    ("Float32Array", "AQIDBA=="),
    ("Float64Array", "AAAAAAAA8D8="),
    ("BigInt64Array", "AAAAAAAA8D8="),
    ("BigUint64Array", "AAAAAAAA8D8="),
    ("DataView", "AQ=="),
];

#[test]
fn only_typed_arrays_the_receiver_can_build_are_accepted() {
    for (name, data) in BUILDABLE {
        round(&format!(r#"{{"~":"TA","v":["{name}","{data}"]}}"#));
    }
    for name in [
        "Float16Array",
        "Array",
        "Buffer",
        "ArrayBuffer",
        "SharedArrayBuffer",
        "float64array",
        "",
    ] {
        let t = format!(r#"{{"~":"TA","v":["{name}","AQI="]}}"#);
        let e = decode(&t).expect_err(&t);
        assert_eq!(e.code, error::BAD_VALUE, "{t}");
        assert!(e.message.contains("not a typed array"), "{}", e.message);
    }
}

#[test]
fn a_frame_with_an_unbuildable_tag_is_rejected_whole() {
    use crate::engine::{Engine, Limits};
    let mut root = Engine::new(Limits::default());
    root.set_origin("aa".into());
    root.local(r#"[["c","a",1]]"#).unwrap();
    let mut child = Engine::new(Limits::default());
    child.set_origin("bb".into());
    child.receive(&root.snapshot(), true).unwrap();
    let before = child.dump();
    let f16 = r#"{"~":"TA","v":["Float16Array","AQI="]}"#;
    for frame in [
        format!(
            r#"{{"t":"q","q":2,"o":"aa","n":2,"ok":true,"ops":[["c","b",2],["c","c",{f16}]]}}"#
        ),
        format!(r#"{{"t":"s","q":1,"f":[["a",1],["b",[{f16}]]]}}"#),
    ] {
        let e = child.receive(&frame, true).expect_err(&frame);
        assert_eq!(e.code, error::BAD_VALUE, "{frame}");
        assert_eq!(child.dump(), before, "{frame}");
        assert_eq!(child.seq(), 1);
    }
    let e = root
        .local(&format!(r#"[["c","b",2],["c","c",{f16}]]"#))
        .unwrap_err();
    assert_eq!(e.code, error::BAD_VALUE);
    assert_eq!(root.dump(), r#"{"a":1}"#);
}

proptest::proptest! {
    /// The fast number path spells every finite number with shortest digits that read back
    /// exactly, in JS's notation: as the digit-by-digit rules do, but for ties between two
    /// shortest spellings (the even one, as JS picks; see `numbers_print_like_js`).
    #[test]
    fn fast_numbers_match_the_js_rules(bits in proptest::num::u64::ANY, scale in -30i32..30) {
        let f = f64::from_bits(bits);
        let f = if f.is_finite() { f } else { (bits % 1_000_000) as f64 / 7.0 * 10f64.powi(scale) };
        let mut fast = String::new();
        write_js_number(f, &mut fast);
        let mut slow = String::new();
        if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            slow.push_str(&(f as i64).to_string());
        } else {
            super::encode::write_js_number_slow(f, &mut slow);
        }
        let back: f64 = serde_json::from_str(&fast).unwrap();
        proptest::prop_assert_eq!(back.to_bits(), f.to_bits());
        if fast != slow {
            proptest::prop_assert_eq!(fast.len(), slow.len());
            proptest::prop_assert_eq!(fast.contains('.'), slow.contains('.'));
        }
    }
}

/// The packed text of the first element of the array `text` decodes to, if it was packed.
fn packed_first(dec: &Decoder, text: &str) -> Option<String> {
    let Value::Array(a) = decode_with(dec, text).unwrap_or_else(|e| panic!("{text}: {e}")) else {
        panic!("{text}: not an array")
    };
    match &a[0] {
        Value::Object(o) => o.map.packed_text().map(str::to_string),
        _ => None,
    }
}

#[test]
fn a_record_in_its_packed_form_is_taken_as_it_is_and_any_other_spelling_packs_the_same() {
    // Each pair: a canonical record (read straight as its text) and another spelling of the
    // same record (read the general way), which must pack to the same text.
    let pairs = [
        (
            r#"{"id":1,"name":"user1","tags":["a","b"]}"#,
            r#"{ "id" : 1.0, "name":"\u0075ser1","tags":[ "a","b" ] }"#,
        ),
        (
            r#"{"n":-15,"t":true,"f":false,"z":null,"e":[],"s":""}"#,
            r#"{"n":-1.5e1,"t":true,"f":false,"z":null,"e":[ ],"s":""}"#,
        ),
        (
            r#"{"é":"ünï","big":123456789012345}"#,
            r#"{"\u00e9":"\u00fcn\u00ef","big":123456789012345.0}"#,
        ),
        (r#"{"a":[[1,[2]],"x"]}"#, r#"{"a":[[1,[2]], "x"]}"#),
    ];
    for (canon, other) in pairs {
        let fast = packed_first(&DEC, &format!("[{canon}]"));
        assert_eq!(fast.as_deref(), Some(canon), "{canon}");
        assert_eq!(
            packed_first(&DEC, &format!("[{other}]")).as_deref(),
            Some(canon),
            "{other}"
        );
    }
    // The general way decides these, exactly as before: reordered index keys, a repeated key
    // (the last value, the first place), escapes, fractions, long integers, -0.
    for (text, want) in [
        (r#"{"b":1,"1":2}"#, Some(r#"{"1":2,"b":1}"#)),
        (r#"{"a":1,"b":2,"a":3}"#, Some(r#"{"a":3,"b":2}"#)),
        (r#"{"q":"say \"hi\"\n"}"#, Some(r#"{"q":"say \"hi\"\n"}"#)),
        (
            r#"{"x":0.5,"y":1234567890123456789}"#,
            Some(r#"{"x":0.5,"y":1234567890123456800}"#),
        ),
        (r#"{"z":-0}"#, Some(r#"{"z":{"~":"n","v":"-0"}}"#)),
    ] {
        assert_eq!(
            packed_first(&DEC, &format!("[{text}]")).as_deref(),
            want,
            "{text}"
        );
    }
    // Never packed either way: `{}`, nested objects' owners past the budget, tags, too many keys.
    let many: String = (0..17)
        .map(|i| format!(r#""k{i}":{i}"#))
        .collect::<Vec<_>>()
        .join(",");
    let long = format!(r#"{{"s":"{}"}}"#, "x".repeat(300));
    for text in ["{}", &long, r#"{"~":"D","v":0}"#, &format!("{{{many}}}")] {
        assert_eq!(packed_first(&DEC, &format!("[{text}]")), None, "{text}");
    }
    // Reserved keys are refused the general way, and depth limits hold.
    assert_eq!(code(r#"[{"constructor":1}]"#), error::RESERVED_KEY);
    let shallow = Decoder {
        max_depth: 2,
        functions: false,
    };
    assert!(decode_with(&shallow, r#"[{"a":[1]}]"#).is_err());
    assert_eq!(
        packed_first(&shallow, r#"[{"a":1}]"#).as_deref(),
        Some(r#"{"a":1}"#)
    );
}
