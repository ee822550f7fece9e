//! Values at the depth limit go through every recursive path (parse, decode, apply, encode,
//! diff, drop) on a thread with a small stack. Node runs the core on its main thread or a worker
//! thread, so the core must not need more stack than those have to spare.

use ipos_core::{Engine, Limits};

fn nest(shape: &str, levels: usize) -> String {
    let mut t = "1".to_string();
    for _ in 0..levels {
        t = match shape {
            "map" => format!(r#"{{"~":"M","v":[[1,{t}]]}}"#),
            "set" => format!(r#"{{"~":"S","v":[{t}]}}"#),
            "obj" => format!(r#"{{"a":{t}}}"#),
            "null" => format!(r#"{{"~":"N","v":{{"a":{t}}}}}"#),
            "class" => format!(r#"{{"~":"C","v":["P",{t}]}}"#),
            _ => format!("[{t}]"),
        };
    }
    t
}

fn round_trip(shape: &'static str) {
    let value = nest(shape, 1000);
    let mut child = Engine::new(Limits::default());
    child
        .receive(&format!(r#"{{"t":"s","q":0,"f":[["a",{value}]]}}"#), true)
        .unwrap();
    let mut root = Engine::new(Limits::default());
    root.set_origin("aa".into());
    root.local(&format!(r#"[["c","a",{value}]]"#)).unwrap();
    assert_eq!(root.dump(), child.dump());
    let snap = root.snapshot();
    // An assign of an equal value walks both trees to the bottom and finds nothing.
    assert_eq!(
        root.local(&format!(r#"[["r","a",[],{value}]]"#)).unwrap(),
        ""
    );
    root.local(r#"[["r","a",[],1]]"#).unwrap();
    child.receive(&snap, true).unwrap();
    let too_deep = nest(shape, 1001);
    let e = child
        .local(&format!(r#"[["c","b",{too_deep}]]"#))
        .unwrap_err();
    assert_eq!(e.code, "ERR_IPOS_TOO_DEEP");
}

#[test]
fn deep_values_need_little_stack() {
    // Release builds need under 400 KiB here; debug builds several times more.
    let stack = if cfg!(debug_assertions) {
        4 << 20
    } else {
        1 << 20
    };
    for shape in ["arr", "map", "set", "obj", "null", "class"] {
        std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || round_trip(shape))
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{shape}"));
    }
}
