//! Path segments and how they read in messages. A segment's meaning depends on the container it
//! steps into (a wire integer is an array index, a Set position or a numeric Map key), so `Seg`
//! keeps the wire form and the container decides at apply time.

use ecow::EcoString;
use std::fmt::Write;

use crate::codec::{write_js_number, write_str};
use crate::value::{normalize_key, MapKey, Value};

/// One step of a path, as it came off the wire.
#[derive(Debug, Clone)]
pub enum Seg {
    /// A JSON string: an object key, a Map string key or `"length"` of an array.
    Key(EcoString),
    /// A number: an array index, a Set position or a numeric Map key.
    Num(f64),
    /// Any other Map key / Set member encoded as a value (`null`, `true`, tags, or an object that
    /// names a new entry in `ms`).
    Other(Value),
    /// A position reference `{"~":"#","v":pos}`: the entry of a Map or Set at that position.
    Pos(usize),
}

/// Largest integer a JS number holds exactly; indices beyond it are meaningless.
pub const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

impl Seg {
    /// The segment that names Map key / Set member `v` by value.
    pub fn of_key(v: &Value) -> Seg {
        match v {
            Value::Str(s) => Seg::Key(s.clone()),
            Value::Num(f) => Seg::Num(*f),
            v => Seg::Other(v.clone()),
        }
    }

    /// `of_key`, taking the value.
    pub fn from_key(v: Value) -> Seg {
        match v {
            Value::Str(s) => Seg::Key(s),
            Value::Num(f) => Seg::Num(f),
            v => Seg::Other(v),
        }
    }

    /// The segment for array index or Set position `i`.
    pub fn index(i: usize) -> Seg {
        Seg::Num(i as f64)
    }

    /// As an array index: a non-negative integer, or its canonical decimal string.
    pub fn as_index(&self) -> Option<usize> {
        match self {
            Seg::Num(f) => num_index(*f),
            Seg::Key(s) => str_index(s),
            Seg::Pos(p) => Some(*p),
            Seg::Other(_) => None,
        }
    }

    /// As an object key: the string, or an integer written the way JS would.
    pub fn as_obj_key(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Seg::Key(s) => Some(std::borrow::Cow::Borrowed(s)),
            Seg::Num(f) => num_index(*f).map(|i| std::borrow::Cow::Owned(i.to_string())),
            _ => None,
        }
    }

    /// As a Map key / Set member value (never for `Pos`), with -0 made +0 as JS Maps do.
    pub fn key_value(&self) -> Option<Value> {
        match self {
            Seg::Key(s) => Some(Value::Str(s.clone())),
            Seg::Num(f) => Some(normalize_key(Value::Num(*f))),
            Seg::Other(v) => Some(normalize_key(v.clone())),
            Seg::Pos(_) => None,
        }
    }

    /// The SameValueZero key for lookup; `None` for `Pos` and for object values (which can only be
    /// found by position).
    pub fn map_key(&self) -> Option<MapKey> {
        match self {
            Seg::Key(s) => Some(MapKey::Str(s.clone())),
            Seg::Num(f) => MapKey::primitive(&Value::Num(*f)),
            Seg::Other(v) => MapKey::primitive(v),
            Seg::Pos(_) => None,
        }
    }
}

/// A non-negative integer number as an index.
pub fn num_index(f: f64) -> Option<usize> {
    if (0.0..=MAX_SAFE).contains(&f) && f.fract() == 0.0 {
        Some(f as usize)
    } else {
        None
    }
}

fn str_index(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.is_empty()
        || b.len() > 16
        || !b.iter().all(u8::is_ascii_digit)
        || (b[0] == b'0' && b.len() > 1)
    {
        return None;
    }
    s.parse::<u64>()
        .ok()
        .filter(|&n| n as f64 <= MAX_SAFE)
        .map(|n| n as usize)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn push_prop(out: &mut String, key: &str) {
    if is_ident(key) {
        out.push('.');
        out.push_str(key);
    } else {
        out.push('[');
        write_str(key, out);
        out.push(']');
    }
}

/// A primitive Map key as JS source would spell it (`"a"`, `1.5`, `5n`, `undefined`), or `None`
/// for an object key, which has no spelling of its own.
fn key_literal(v: &Value, out: &mut String) -> bool {
    match v {
        Value::Undefined => out.push_str("undefined"),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Num(f) => write_js_number(*f, out),
        Value::BigInt(s) => {
            out.push_str(s);
            out.push('n');
        }
        Value::Str(s) => write_str(s, out),
        _ => return false,
    }
    true
}

/// `.get(key)` for the Map entry with key `key` at position `pos`: a primitive key as JS source
/// spells it, an object key as `<key #pos>`. Messages of both languages spell Map steps so.
pub(crate) fn push_get(out: &mut String, key: &Value, pos: usize) {
    out.push_str(".get(");
    if !key_literal(key, out) {
        let _ = write!(out, "<key #{pos}>");
    }
    out.push(')');
}

/// A Map key segment that names no entry of a known Map, for messages.
fn push_key_literal(out: &mut String, seg: &Seg) {
    match seg {
        Seg::Key(s) => write_str(s, out),
        Seg::Num(f) => write_js_number(*f, out),
        Seg::Pos(p) => {
            let _ = write!(out, "<key #{p}>");
        }
        Seg::Other(v) => {
            if !key_literal(v, out) {
                out.push('<');
                out.push_str(v.describe());
                out.push('>');
            }
        }
    }
}

/// The JS-like spelling of `key` + `segs` (`list[3].done`, `users.get("a").name`). `root` is the
/// field's current value when known: the container each segment steps into decides its spelling.
pub fn describe(key: &str, segs: &[Seg], root: Option<&Value>) -> String {
    let mut out = String::new();
    if is_ident(key) {
        out.push_str(key);
    } else {
        out.push('[');
        write_str(key, &mut out);
        out.push(']');
    }
    let mut cur = root;
    for seg in segs {
        let mut next = None;
        match cur {
            Some(Value::Map(m)) => {
                let i = match seg {
                    Seg::Pos(p) => Some(*p),
                    s => s.map_key().and_then(|k| m.get_index_of(&k)),
                };
                match i.and_then(|i| m.get_index(i).map(|(_, e)| (i, e))) {
                    Some((i, (k, v))) => {
                        push_get(&mut out, k, i);
                        next = Some(v);
                    }
                    None => {
                        out.push_str(".get(");
                        push_key_literal(&mut out, seg);
                        out.push(')');
                    }
                }
            }
            Some(Value::Set(s)) => {
                let _ = match seg.as_index() {
                    Some(i) => {
                        next = s.get_index(i).map(|(_, v)| v);
                        write!(out, ".values()[{i}]")
                    }
                    None => write!(out, ".values()[?]"),
                };
            }
            Some(Value::Array(a)) if seg.as_index().is_some() => {
                let i = seg.as_index().unwrap_or(0);
                let _ = write!(out, "[{i}]");
                next = a.get(i);
            }
            Some(Value::Object(o)) if seg.as_obj_key().is_some() => {
                let k = seg.as_obj_key().unwrap_or_default();
                push_prop(&mut out, &k);
                next = o.map.get(k.as_ref());
            }
            _ => match seg {
                Seg::Key(k) => push_prop(&mut out, k),
                Seg::Num(f) => {
                    out.push('[');
                    write_js_number(*f, &mut out);
                    out.push(']');
                }
                s => {
                    out.push_str(".get(");
                    push_key_literal(&mut out, s);
                    out.push(')');
                }
            },
        }
        cur = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::Key(s.into())
    }

    #[test]
    fn spells_paths_like_js() {
        let list = Value::array([
            Value::Null,
            Value::Null,
            Value::Null,
            Value::object([("done", Value::Bool(false))]),
        ]);
        assert_eq!(
            describe("list", &[Seg::Num(3.0), k("done")], Some(&list)),
            "list[3].done"
        );
        let users = Value::map([(
            Value::Str("a".into()),
            Value::object([("name", Value::Null)]),
        )]);
        assert_eq!(
            describe("users", &[k("a"), k("name")], Some(&users)),
            "users.get(\"a\").name"
        );
        assert_eq!(
            describe("cfg", &[k("limits"), k("max")], None),
            "cfg.limits.max"
        );
        assert_eq!(
            describe("my key", &[k("a b")], None),
            "[\"my key\"][\"a b\"]"
        );
        let s = Value::set([Value::Num(1.0)]);
        assert_eq!(describe("s", &[Seg::Num(0.0)], Some(&s)), "s.values()[0]");
        let m = Value::map([(Value::BigInt("5".into()), Value::Null)]);
        assert_eq!(
            describe("m", &[Seg::Other(Value::BigInt("5".into()))], Some(&m)),
            "m.get(5n)"
        );
    }

    #[test]
    fn indices() {
        assert_eq!(k("12").as_index(), Some(12));
        assert_eq!(k("012").as_index(), None);
        assert_eq!(k("length").as_index(), None);
        assert_eq!(Seg::Num(1.5).as_index(), None);
        assert_eq!(Seg::Num(-1.0).as_index(), None);
        assert_eq!(Seg::Num(-0.0).as_index(), Some(0));
        assert_eq!(Seg::Num(7.0).as_obj_key().as_deref(), Some("7"));
    }
}
