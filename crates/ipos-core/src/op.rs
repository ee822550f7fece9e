//! Ops: the intent-level changes of PROTOCOL.md, decoded from and encoded to their wire arrays.

use crate::codec::{encode_value, write_js_number, write_str};
use crate::path::Seg;
use crate::value::Value;
use ecow::EcoString;

mod read;

pub(crate) use read::read_ops;
pub use read::{decode_ops, decode_ops_text};

/// One op. `key` is the field; `path` leads from the field's value to the container acted on
/// (for `Set`/`Delete`/`Assign`: down to and including the property).
#[derive(Debug, Clone)]
pub enum Op {
    /// `c`: create or overwrite a field.
    Create { key: EcoString, value: Value },
    /// `x`: remove a field.
    Remove { key: EcoString },
    /// `s`: set an object key, array index or array `length`.
    Set {
        key: EcoString,
        path: Vec<Seg>,
        value: Value,
    },
    /// `d`: delete an object key or array element (leaving a hole).
    Delete { key: EcoString, path: Vec<Seg> },
    /// `p`: array splice.
    Splice {
        key: EcoString,
        path: Vec<Seg>,
        index: usize,
        delete: usize,
        items: Vec<Value>,
    },
    /// `a` (`push`: appended at the array's end, wherever that is when the op applies) or `u`
    /// (`unshift`: inserted at its start). Unlike a `p` at an index, the intent survives
    /// concurrent appends: each writer's items keep their order.
    Push {
        key: EcoString,
        path: Vec<Seg>,
        items: Vec<Value>,
        /// True for `u`.
        front: bool,
    },
    /// `ms`: `Map#set`.
    MapSet {
        key: EcoString,
        path: Vec<Seg>,
        map_key: Seg,
        value: Value,
    },
    /// `md`: `Map#delete`.
    MapDelete {
        key: EcoString,
        path: Vec<Seg>,
        map_key: Seg,
    },
    /// `sa`: `Set#add`.
    SetAdd {
        key: EcoString,
        path: Vec<Seg>,
        value: Value,
    },
    /// `sd`: `Set#delete`.
    SetDelete {
        key: EcoString,
        path: Vec<Seg>,
        member: Seg,
    },
    /// `cl`: `Map#clear` / `Set#clear`.
    Clear { key: EcoString, path: Vec<Seg> },
    /// `ev`: `dispatchEvent(event)` on a shared `EventTarget`. Changes no state: every process
    /// dispatches the rebuilt event on its own target, in order with the other ops.
    Dispatch {
        key: EcoString,
        path: Vec<Seg>,
        event: Value,
    },
    /// `r` (local only): this path now holds this value; the core turns it into a diff.
    Assign {
        key: EcoString,
        path: Vec<Seg>,
        value: Value,
    },
}

impl Op {
    /// The field the op acts on.
    pub fn key(&self) -> &str {
        match self {
            Op::Create { key, .. }
            | Op::Remove { key }
            | Op::Set { key, .. }
            | Op::Delete { key, .. }
            | Op::Splice { key, .. }
            | Op::Push { key, .. }
            | Op::MapSet { key, .. }
            | Op::MapDelete { key, .. }
            | Op::SetAdd { key, .. }
            | Op::SetDelete { key, .. }
            | Op::Clear { key, .. }
            | Op::Dispatch { key, .. }
            | Op::Assign { key, .. } => key,
        }
    }

    /// The path, empty for field-level ops.
    pub fn path(&self) -> &[Seg] {
        match self {
            Op::Create { .. } | Op::Remove { .. } => &[],
            Op::Set { path, .. }
            | Op::Delete { path, .. }
            | Op::Splice { path, .. }
            | Op::Push { path, .. }
            | Op::MapSet { path, .. }
            | Op::MapDelete { path, .. }
            | Op::SetAdd { path, .. }
            | Op::SetDelete { path, .. }
            | Op::Clear { path, .. }
            | Op::Dispatch { path, .. }
            | Op::Assign { path, .. } => path,
        }
    }

    /// The wire name of the op.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Create { .. } => "c",
            Op::Remove { .. } => "x",
            Op::Set { .. } => "s",
            Op::Delete { .. } => "d",
            Op::Splice { .. } => "p",
            Op::Push { front: false, .. } => "a",
            Op::Push { front: true, .. } => "u",
            Op::MapSet { .. } => "ms",
            Op::MapDelete { .. } => "md",
            Op::SetAdd { .. } => "sa",
            Op::SetDelete { .. } => "sd",
            Op::Clear { .. } => "cl",
            Op::Dispatch { .. } => "ev",
            Op::Assign { .. } => "r",
        }
    }
}

/// Appends the wire form of a path segment.
pub fn encode_seg(seg: &Seg, out: &mut String) {
    match seg {
        Seg::Key(s) => write_str(s, out),
        Seg::Num(f) if f.is_finite() && !(*f == 0.0 && f.is_sign_negative()) => {
            write_js_number(*f, out)
        }
        Seg::Num(f) => encode_value(&Value::Num(*f), out),
        Seg::Other(v) => encode_value(v, out),
        Seg::Pos(p) => {
            out.push_str(r##"{"~":"#","v":"##);
            out.push_str(&p.to_string());
            out.push('}');
        }
    }
}

/// `encode_seg(&Seg::of_key(v), out)` without building the segment (a copy of the key).
pub fn encode_key(v: &Value, out: &mut String) {
    match v {
        Value::Str(s) => write_str(s, out),
        Value::Num(f) if f.is_finite() && !(*f == 0.0 && f.is_sign_negative()) => {
            write_js_number(*f, out)
        }
        v => encode_value(v, out),
    }
}

fn encode_path(path: &[Seg], out: &mut String) {
    out.push('[');
    for (i, s) in path.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_seg(s, out);
    }
    out.push(']');
}

/// Appends the wire form of one op.
pub fn encode_op(op: &Op, out: &mut String) {
    out.push_str("[\"");
    out.push_str(op.kind());
    out.push_str("\",");
    write_str(op.key(), out);
    match op {
        Op::Create { value, .. } => {
            out.push(',');
            encode_value(value, out);
        }
        Op::Remove { .. } => {}
        _ => {
            out.push(',');
            encode_path(op.path(), out);
        }
    }
    match op {
        Op::Set { value, .. }
        | Op::SetAdd { value, .. }
        | Op::Assign { value, .. }
        | Op::Dispatch { event: value, .. } => {
            out.push(',');
            encode_value(value, out);
        }
        Op::Splice {
            index,
            delete,
            items,
            ..
        } => {
            out.push_str(&format!(",{index},{delete}"));
            encode_items(items, out);
        }
        Op::Push { items, .. } => encode_items(items, out),
        Op::MapSet { map_key, value, .. } => {
            out.push(',');
            encode_seg(map_key, out);
            out.push(',');
            encode_value(value, out);
        }
        Op::MapDelete { map_key: s, .. } | Op::SetDelete { member: s, .. } => {
            out.push(',');
            encode_seg(s, out);
        }
        _ => {}
    }
    out.push(']');
}

/// Appends `,[item, ...]`.
fn encode_items(items: &[Value], out: &mut String) {
    out.push_str(",[");
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_value(x, out);
    }
    out.push(']');
}

/// Appends a JSON array of ops.
pub fn encode_ops(ops: &[Op], out: &mut String) {
    out.push('[');
    let mut prev = None;
    for op in ops {
        encode_op_after(prev, op, out);
        prev = Some(op);
    }
    out.push(']');
}

/// Whether two paths are written alike (the same path).
fn same_segs(a: &[Seg], b: &[Seg]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.is_empty() {
        return true;
    }
    let (mut x, mut y) = (String::new(), String::new());
    for (p, q) in a.iter().zip(b) {
        encode_seg(p, &mut x);
        encode_seg(q, &mut y);
        x.push(',');
        y.push(',');
    }
    x == y
}

/// Writes `op` into a JSON array of ops being written, right after `prev` (`None`: `op` comes
/// first, the caller wrote any comma). A `Map#set` that follows one on the same Map becomes one
/// more pair of that `ms` op: the text, and the work to read it, is then mostly the pairs.
pub fn encode_op_after(prev: Option<&Op>, op: &Op, out: &mut String) {
    if let (
        Some(Op::MapSet {
            key: k0, path: p0, ..
        }),
        Op::MapSet {
            key,
            path,
            map_key,
            value,
        },
    ) = (prev, op)
    {
        if k0 == key
            && same_segs(p0, path)
            && path.len() <= read::MAX_PAIRS_PATH
            && out.ends_with(']')
        {
            out.pop();
            out.push(',');
            encode_seg(map_key, out);
            out.push(',');
            encode_value(value, out);
            out.push(']');
            return;
        }
    }
    if prev.is_some() {
        out.push(',');
    }
    encode_op(op, out);
}

/// The JSON array of `ops` as a new string.
pub fn ops_to_json(ops: &[Op]) -> String {
    let mut out = String::new();
    encode_ops(ops, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Decoder;
    use crate::error::{self, CoreError};
    use crate::value::same;
    use serde_json::Value as J;

    const DEC: Decoder = Decoder {
        max_depth: 1000,
        functions: false,
    };

    fn round(text: &str) -> String {
        let j: J = serde_json::from_str(text).unwrap();
        ops_to_json(&decode_ops(&j, &DEC, true).unwrap())
    }

    fn err(text: &str) -> CoreError {
        let j: J = serde_json::from_str(text).unwrap();
        decode_ops(&j, &DEC, false).unwrap_err()
    }

    #[test]
    fn every_kind_round_trips() {
        let t = r##"[["c","a",{"x":1}],["x","a"],["s","a",["b",0,"length"],3],["d","a",["b"]],["p","a",["l"],1,2,[1,{"~":"u"}]],["a","a",["l"],[1,[]]],["u","a",[],[{"~":"u"}]],["ms","a",[],{"~":"#","v":2},null],["md","a",[],{"~":"B","v":"5"}],["sa","a",[],[1]],["sd","a",[],{"~":"n","v":"NaN"}],["cl","a",[]],["r","a",[],1.5]]"##;
        assert_eq!(round(t), t);
    }

    #[test]
    fn holes_in_splice_items_become_undefined() {
        assert_eq!(
            round(r#"[["p","a",[],0,0,[{"~":"_"}]]]"#),
            r#"[["p","a",[],0,0,[{"~":"u"}]]]"#
        );
    }

    #[test]
    fn shape_errors() {
        for t in [
            r#"{}"#,
            r#"[1]"#,
            r#"[["z","a"]]"#,
            r#"[["c","a"]]"#,
            r#"[["c",1,2]]"#,
            r#"[["s","a","b",1]]"#,
            r#"[["s","a",[],1]]"#,
            r#"[["p","a",[],-1,0,[]]]"#,
            r#"[["p","a",[],0,1.5,[]]]"#,
            r#"[["p","a",[],0,0,{}]]"#,
            r#"[["r","a",[],1]]"#,
        ] {
            assert_eq!(err(t).code, error::BAD_FRAME, "{t}");
        }
        assert_eq!(err(r#"[["c","__proto__",1]]"#).code, error::RESERVED_KEY);
        assert_eq!(err(r#"[["s","a",["b"],{"~":"_"}]]"#).code, error::BAD_VALUE);
        assert_eq!(
            err(r#"[["s","a",["b"],{"~":"F","v":"x"}]]"#).code,
            error::FUNCTIONS_DISABLED
        );
        let e = err(r#"[["ok","a"],["s","a",["b",1,"c"],{"d":{"__proto__":1}}]]"#);
        assert_eq!(e.code, error::BAD_FRAME);
        let e = err(r#"[["x","a"],["s","a",["b",1,"c"],{"d":{"__proto__":1}}]]"#);
        assert_eq!(e.code, error::RESERVED_KEY);
        assert!(
            e.message.contains("op 1") && e.message.contains("a.b[1].c.d"),
            "{}",
            e.message
        );
    }

    #[test]
    fn depth_counts_the_path() {
        let dec = Decoder {
            max_depth: 3,
            functions: false,
        };
        let ok: J =
            serde_json::from_str(r#"[["s","a",["x","y"],[1]],["p","a",["x"],0,0,[[1]]]]"#).unwrap();
        assert!(decode_ops(&ok, &dec, false).is_ok());
        for t in [
            r#"[["s","a",["x","y"],[[1]]]]"#,
            r#"[["p","a",["x","y"],0,0,[[1]]]]"#,
            r#"[["d","a",[1,2,3,4]]]"#,
        ] {
            let j: J = serde_json::from_str(t).unwrap();
            assert_eq!(
                decode_ops(&j, &dec, false).unwrap_err().code,
                error::TOO_DEEP,
                "{t}"
            );
        }
    }

    #[test]
    fn segments_keep_their_wire_type() {
        let j: J =
            serde_json::from_str(r#"[["ms","m",["k",3,{"~":"n","v":"-0"},null],[],1]]"#).unwrap();
        let ops = decode_ops(&j, &DEC, false).unwrap();
        let Op::MapSet {
            path,
            map_key,
            value,
            ..
        } = &ops[0]
        else {
            panic!()
        };
        assert!(matches!(path[0], Seg::Key(_)) && matches!(path[1], Seg::Num(_)));
        assert!(matches!(path[2], Seg::Num(f) if f == 0.0 && f.is_sign_negative()));
        assert!(matches!(path[3], Seg::Other(Value::Null)));
        assert!(matches!(map_key, Seg::Other(Value::Array(_))));
        assert!(same(value, &Value::Num(1.0)));
        assert_eq!(
            ops_to_json(&ops),
            r#"[["ms","m",["k",3,{"~":"n","v":"-0"},null],[],1]]"#
        );
    }

    #[test]
    fn an_ms_with_several_pairs_is_one_op_per_pair() {
        let ops = decode_ops_text(
            r#"[["ms","m",["k"],"a",1,"b",[2],"a",3],["md","m",[],"z"]]"#,
            &DEC,
            false,
        )
        .unwrap();
        assert_eq!(ops.len(), 4);
        assert!(ops[..3].iter().all(|o| matches!(o, Op::MapSet { .. })));
        // Written back, a run of sets on one Map is one op again; another Map starts its own.
        assert_eq!(
            ops_to_json(&ops),
            r#"[["ms","m",["k"],"a",1,"b",[2],"a",3],["md","m",[],"z"]]"#
        );
        let two = decode_ops_text(
            r#"[["ms","m",[],"a",1],["ms","n",[],"b",2],["ms","m",[],"c",3]]"#,
            &DEC,
            false,
        )
        .unwrap();
        assert_eq!(
            ops_to_json(&two),
            r#"[["ms","m",[],"a",1],["ms","n",[],"b",2],["ms","m",[],"c",3]]"#
        );
    }

    #[test]
    fn an_ms_with_a_key_and_no_value_or_pairs_on_a_deep_path_is_refused() {
        let e = decode_ops_text(r#"[["ms","m",[],"a",1,"b"]]"#, &DEC, false).unwrap_err();
        assert_eq!(e.code, error::BAD_FRAME);
        assert!(e.message.contains("a key without a value"), "{}", e.message);
        let deep = r#"["a","b","c","d","e","f","g","h","i"]"#;
        let e = decode_ops_text(&format!(r#"[["ms","m",{deep},"a",1,"b",2]]"#), &DEC, false)
            .unwrap_err();
        assert!(e.message.contains("at most 8 segments"), "{}", e.message);
        // One pair on that path is an ordinary `ms`.
        assert_eq!(
            decode_ops_text(&format!(r#"[["ms","m",{deep},"a",1]]"#), &DEC, false)
                .unwrap()
                .len(),
            1
        );
    }
}
