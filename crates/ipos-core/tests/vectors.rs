//! The shared vectors of `docs/vectors/`: the same files run here against the core and in
//! `__test__/vectors.test.js` against the JS front, so the two languages cannot drift apart.
//! Every failing vector is reported, not just the first.

use std::path::PathBuf;

use ipos_core::path::describe;
use ipos_core::{limits, same, to_json, CoreError, Decoder, Engine, Limits, Seg, Value};
use serde_json::Value as J;

fn load(name: &str) -> J {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn vectors(name: &str) -> Vec<J> {
    match load(name).get("vectors") {
        Some(J::Array(v)) if !v.is_empty() => v.clone(),
        _ => panic!("{name}: no vectors"),
    }
}

fn name(v: &J) -> String {
    v["name"]
        .as_str()
        .expect("every vector has a name")
        .to_string()
}

fn text(j: &J) -> String {
    serde_json::to_string(j).unwrap()
}

/// Runs `check` on every vector of `file` and fails with all the failures at once.
fn run(file: &str, check: impl Fn(&J) -> Result<(), String>) {
    let vs = vectors(file);
    let failures: Vec<String> = vs
        .iter()
        .filter_map(|v| check(v).err().map(|e| format!("{file}: {}: {e}", name(v))))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vs.len(),
        failures.join("\n")
    );
}

/// `Limits` with a vector's `options` applied.
fn limits_of(v: &J) -> Limits {
    let mut l = Limits::default();
    let o = &v["options"];
    if let Some(n) = o["maxFrameBytes"].as_u64() {
        l.max_frame_bytes = n as usize;
    }
    if let Some(n) = o["maxDepth"].as_u64() {
        l.max_depth = n as usize;
    }
    if let Some(b) = o["functions"].as_bool() {
        l.functions = b;
    }
    if let Some(n) = o["maxArrayLength"].as_u64() {
        l.max_array_length = n as usize;
    }
    l
}

fn decoder(l: &Limits) -> Decoder {
    Decoder {
        max_depth: l.max_depth,
        functions: l.functions,
    }
}

fn decode(dec: &Decoder, wire: &str) -> Result<Value, CoreError> {
    dec.value_text(wire, 0, "v")
}

/// The message names the path `at` (after `op N: ` when a batch carried it), as every value and
/// op error does.
fn check_error(e: &CoreError, v: &J) -> Result<(), String> {
    let code = v["code"].as_str().or(v["error"]["code"].as_str()).unwrap();
    if e.code != code {
        return Err(format!("code {} ({}), want {code}", e.code, e.message));
    }
    let at = v["at"].as_str().or(v["error"]["at"].as_str());
    match at {
        Some(at)
            if !(e.message.starts_with(&format!("`{at}`: "))
                || e.message.contains(&format!(": `{at}`: "))) =>
        {
            Err(format!("message {:?} does not name `{at}`", e.message))
        }
        _ => Ok(()),
    }
}

#[test]
fn values() {
    run("values.json", |v| {
        let wire = v["wire"].as_str().unwrap();
        let functions = v["functions"].as_bool().unwrap_or(false);
        let dec = Decoder {
            max_depth: limits::DEFAULT_MAX_DEPTH,
            functions,
        };
        let value = decode(&dec, wire).map_err(|e| format!("refused: {e}"))?;
        let want = v["canonical"].as_str().unwrap_or(wire);
        let got = to_json(&value);
        if got != want {
            return Err(format!("encodes as {got}, want {want}"));
        }
        // The canonical text decodes to the same value.
        let again = decode(&dec, want).map_err(|e| format!("canonical refused: {e}"))?;
        if !same(&value, &again) {
            return Err(format!("{want} decodes differently from {wire}"));
        }
        Ok(())
    });
}

#[test]
fn bad_values() {
    run("bad-values.json", |v| {
        let Some(wire) = v["wire"].as_str() else {
            return Ok(()); // a value only JS can hold; the JS suite runs it
        };
        let l = limits_of(v);
        match decode(&decoder(&l), wire) {
            Ok(x) => Err(format!("accepted as {}", to_json(&x))),
            Err(e) => check_error(&e, v),
        }?;
        // A frame carrying it is refused the same way, and nothing changes.
        let mut engine = Engine::new(l);
        let op = format!(r#"[["c","v",{wire}]]"#);
        match engine.local(&op) {
            Ok(_) => Err("a batch creating it was accepted".into()),
            Err(e) if engine.dump() != "{}" => Err(format!("refused ({e}) but changed the state")),
            Err(e) => check_error(&e, v),
        }
    });
}

/// A fresh root engine holding `state` (created locally).
fn root_with(l: Limits, state: &J) -> Result<Engine, String> {
    let mut e = Engine::new(l);
    e.set_origin("aa".into());
    let ops: Vec<J> = fields(state)
        .iter()
        .map(|(k, v)| J::Array(vec![J::from("c"), J::from(k.as_str()), v.clone()]))
        .collect();
    if !ops.is_empty() {
        e.local(&text(&J::Array(ops)))
            .map_err(|e| format!("state refused: {e}"))?;
    }
    Ok(e)
}

fn fields(state: &J) -> Vec<(String, J)> {
    match state {
        J::Object(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        J::Null => Vec::new(),
        _ => panic!("a state is an object of fields"),
    }
}

/// Compares the engine's fields with `want`, an object of encoded values, in field order.
fn check_state(engine: &Engine, want: &J) -> Result<(), String> {
    let want = fields(want);
    let got = engine.fields();
    let got_keys: Vec<&str> = got.keys().map(String::as_str).collect();
    let want_keys: Vec<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
    if got_keys != want_keys {
        return Err(format!("fields {got_keys:?}, want {want_keys:?}"));
    }
    let dec = decoder(&engine.limits());
    for (k, w) in &want {
        let w = decode(&dec, &text(w)).map_err(|e| format!("expected `{k}` refused: {e}"))?;
        if !same(&got[k.as_str()], &w) {
            return Err(format!(
                "`{k}` is {}, want {}",
                to_json(&got[k.as_str()]),
                to_json(&w)
            ));
        }
    }
    Ok(())
}

#[test]
fn ops() {
    run("ops.json", |v| {
        let mut engine = root_with(limits_of(v), &v["state"])?;
        let before = engine.dump();
        match (engine.local(&text(&v["ops"])), &v["result"]) {
            (Ok(_), J::Null) => Err("accepted".into()),
            (Ok(_), want) => check_state(&engine, want),
            (Err(e), J::Null) => {
                check_error(&e, v)?;
                if engine.dump() != before {
                    return Err(format!("refused ({e}) but changed the state"));
                }
                Ok(())
            }
            (Err(e), _) => Err(format!("refused: {e}")),
        }
    });
}

#[test]
fn frames() {
    run("frames.json", |v| {
        let l = limits_of(v);
        let mut engine = match v["role"].as_str() {
            Some("root") => root_with(l, &v["state"])?,
            Some("child") => {
                let mut e = Engine::new(l);
                e.set_origin("aa".into());
                let f: Vec<J> = fields(&v["state"])
                    .into_iter()
                    .map(|(k, x)| J::Array(vec![J::from(k), x]))
                    .collect();
                let snap = format!(r#"{{"t":"s","q":0,"f":{}}}"#, text(&J::Array(f)));
                e.receive(&snap, true)
                    .map_err(|e| format!("snapshot refused: {e}"))?;
                e
            }
            r => panic!("role {r:?}"),
        };
        let before = (
            engine.dump(),
            engine.seq(),
            engine.pending_len(),
            engine.is_root(),
        );
        let frame = v["frame"].as_str().unwrap();
        let from_parent = v["fromParent"].as_bool().unwrap();
        match engine.receive(frame, from_parent) {
            Ok(r) => Err(format!("accepted: {}", r.verdict)),
            Err(e) => {
                check_error(&e, v)?;
                let after = (
                    engine.dump(),
                    engine.seq(),
                    engine.pending_len(),
                    engine.is_root(),
                );
                if after != before {
                    return Err(format!("refused ({e}) but changed the engine"));
                }
                Ok(())
            }
        }
    });
}

#[test]
fn paths() {
    run("paths.json", |v| {
        let dec = decoder(&Limits::default());
        let root = decode(&dec, &text(&v["root"])).map_err(|e| format!("root refused: {e}"))?;
        let segs = v["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| dec.seg(s, 0))
            .collect::<Result<Vec<Seg>, _>>()
            .map_err(|e| format!("path refused: {}", e.into_core("")))?;
        let got = describe(v["key"].as_str().unwrap(), &segs, Some(&root));
        let want = v["text"].as_str().unwrap();
        if got != want {
            return Err(format!("reads {got}, want {want}"));
        }
        Ok(())
    });
}

#[test]
fn limits_are_the_cores() {
    let l = &load("limits.json")["limits"];
    let d = Limits::default();
    assert_eq!(l["maxGap"], limits::MAX_GAP);
    assert_eq!(l["maxDepth"], limits::DEFAULT_MAX_DEPTH);
    assert_eq!(l["maxDepth"], d.max_depth);
    assert_eq!(l["maxFrameBytes"], limits::DEFAULT_MAX_FRAME_BYTES);
    assert_eq!(l["maxFrameBytes"], d.max_frame_bytes);
    assert_eq!(l["maxNackChars"], limits::MAX_NACK_CHARS);
    assert_eq!(l["maxArrayLength"], limits::MAX_ARRAY_LENGTH);
    assert_eq!(l["maxArrayLength"], d.max_array_length);
    assert_eq!(l.as_object().unwrap().len(), 5, "every limit is checked");
}
