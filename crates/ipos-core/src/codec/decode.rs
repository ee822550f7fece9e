//! JSON → `Value`, validating every tag. Inbound values are untrusted: anything that is not
//! exactly the PROTOCOL.md encoding is refused, so the JS side can rebuild what the core accepted
//! without meeting a surprise.

use std::rc::Rc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value as J;

use crate::error::{self, is_reserved, CoreError};
use crate::path::{num_index, Seg};
use crate::value::{normalize_key, Bytes, BytesKind, MapEntries, MapKey, Obj, SetMembers, Value};

/// Limits that apply while decoding values.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    /// Most containers a value may nest, counted from the field root.
    pub max_depth: usize,
    /// Whether function values (tag `F`) are accepted.
    pub functions: bool,
}

/// A decode failure, with the path inside the value collected while unwinding (only failures pay
/// for building it). Boxed so that the `Result`s of the recursive decoder stay one word wide:
/// decoding recurses once per nesting level and every byte of its frames counts at depth 1000.
#[derive(Debug)]
pub struct DecodeError(Box<ErrInner>);

#[derive(Debug)]
struct ErrInner {
    code: &'static str,
    what: String,
    rev_path: Vec<String>,
}

type R<T> = Result<T, DecodeError>;

impl DecodeError {
    #[cold]
    #[inline(never)]
    fn new(code: &'static str, what: impl Into<String>) -> Self {
        DecodeError(Box::new(ErrInner {
            code,
            what: what.into(),
            rev_path: Vec::new(),
        }))
    }

    #[cold]
    #[inline(never)]
    fn at(mut self, part: String) -> Self {
        self.0.rev_path.push(part);
        self
    }

    #[cold]
    #[inline(never)]
    fn at_index(self, i: usize) -> Self {
        self.at(format!("[{i}]"))
    }

    #[cold]
    #[inline(never)]
    fn at_indexed(self, before: &str, i: usize, after: &str) -> Self {
        self.at(format!("{before}{i}{after}"))
    }

    #[cold]
    #[inline(never)]
    fn at_class(self, name: &str) -> Self {
        self.at(format!(" (instance of {name})"))
    }

    #[cold]
    #[inline(never)]
    fn at_prop(self, k: &str) -> Self {
        self.at(prop_part(k))
    }

    /// The error code (`ERR_IPOS_*`).
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The error for a value found at `prefix` (a JS-like path such as `cfg.a`).
    pub fn into_core(self, prefix: &str) -> CoreError {
        let mut p = prefix.to_string();
        for part in self.0.rev_path.iter().rev() {
            p.push_str(part);
        }
        CoreError::new(self.0.code, format!("`{p}`: {}", self.0.what))
    }
}

// Hashing and insertion stay out of the recursive frames: inlined, their locals would be paid
// for at every nesting level.
#[inline(never)]
fn new_entries(cap: usize) -> Rc<MapEntries> {
    Rc::new(MapEntries::with_capacity(cap))
}

#[inline(never)]
fn new_members(cap: usize) -> Rc<SetMembers> {
    Rc::new(SetMembers::with_capacity(cap))
}

#[inline(never)]
fn new_obj(null_proto: bool, cap: usize) -> Rc<Obj> {
    Rc::new(Obj {
        null_proto,
        map: IndexMap::with_capacity(cap),
    })
}

// The containers are fresh, so `make_mut` never clones here.
#[inline(never)]
fn insert_entry(m: &mut Rc<MapEntries>, k: Value, v: Value, i: usize) -> R<()> {
    let m = Rc::make_mut(m);
    let mk = MapKey::of(&k);
    if m.contains_key(&mk) {
        return Err(indexed("Map key #", i, " repeats an earlier key"));
    }
    m.insert(mk, (k, v));
    Ok(())
}

#[inline(never)]
fn insert_member(s: &mut Rc<SetMembers>, x: Value, i: usize) -> R<()> {
    let s = Rc::make_mut(s);
    let mk = MapKey::of(&x);
    if s.contains_key(&mk) {
        return Err(indexed("Set member #", i, " repeats an earlier member"));
    }
    s.insert(mk, x);
    Ok(())
}

#[inline(never)]
fn insert_prop(obj: &mut Rc<Obj>, k: &str, v: Value) {
    Rc::make_mut(obj).map.insert(k.to_string(), v);
}

#[cold]
#[inline(never)]
fn indexed(before: &str, i: usize, after: &str) -> DecodeError {
    bad(format!("{before}{i}{after}"))
}

#[cold]
#[inline(never)]
fn bad_keys(tag: &str, bare: bool) -> DecodeError {
    bad(if bare {
        format!("tag `{tag}` has no other key than `~`")
    } else {
        format!("tag `{tag}` has exactly the keys `~` and `v`")
    })
}

#[cold]
#[inline(never)]
fn unknown_tag(tag: &str) -> DecodeError {
    bad(format!("unknown tag `{tag}` (a user object with a `~` key is sent as {{\"~\":\"o\",\"v\":{{...}}}})"))
}

#[cold]
#[inline(never)]
fn payload(tag: &str, what: &str) -> DecodeError {
    bad(format!("tag `{tag}` needs {what}"))
}

#[cold]
#[inline(never)]
fn reserved(k: &str) -> DecodeError {
    DecodeError::new(
        error::RESERVED_KEY,
        format!("`{k}` cannot be an object key"),
    )
}

#[cold]
#[inline(never)]
fn bad(what: impl Into<String>) -> DecodeError {
    DecodeError::new(error::BAD_VALUE, what)
}

fn prop_part(k: &str) -> String {
    let mut s = String::new();
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        s.push('.');
        s.push_str(k);
    } else {
        s.push('[');
        super::write_str(k, &mut s);
        s.push(']');
    }
    s
}

/// Parses JSON whose nesting was already bounded by the pre-scan, so serde_json's own recursion
/// limit (128, far below `max_depth`) can be lifted.
pub fn from_str_unbounded<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = T::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Nesting up to which text is parsed on the caller's stack. serde_json recurses once per level
/// (a few hundred bytes each); deeper text, which only unusual values produce, is parsed on a
/// helper thread with a stack sized for it, so the caller (Node's thread) needs no spare stack.
const INLINE_JSON_DEPTH: usize = 256;

/// Pre-scans `text` for nesting deeper than `json_limit`, then parses it.
pub fn parse_json(text: &str, json_limit: usize) -> Result<J, CoreError> {
    let Some(depth) = super::json_depth_within(text, json_limit) else {
        return Err(CoreError::new(
            error::TOO_DEEP,
            format!("the text nests deeper than {json_limit} JSON levels"),
        ));
    };
    let parse = || from_str_unbounded::<J>(text);
    let parsed = if depth <= INLINE_JSON_DEPTH {
        parse()
    } else {
        on_big_stack(depth, &parse)
    };
    parsed.map_err(|e| CoreError::bad_frame(format!("not valid JSON: {e}")))
}

/// Runs `f` on a scoped thread with 8 KiB of stack per nesting level (or on this thread if
/// no thread can be started).
fn on_big_stack<T: Send>(depth: usize, f: &(dyn Fn() -> T + Sync)) -> T {
    // Generous: only the pages a parse touches are ever committed, and debug builds need more.
    let stack = (1 << 20) + depth.saturating_mul(8 << 10);
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("ipos-parse".into())
            .stack_size(stack)
            .spawn_scoped(s, f)
        {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => f(),
        }
    })
}

const TYPED: [(&str, usize); 13] = [
    ("Int8Array", 1),
    ("Uint8Array", 1),
    ("Uint8ClampedArray", 1),
    ("Int16Array", 2),
    ("Uint16Array", 2),
    ("Float16Array", 2),
    ("Int32Array", 4),
    ("Uint32Array", 4),
    ("Float32Array", 4),
    ("Float64Array", 8),
    ("BigInt64Array", 8),
    ("BigUint64Array", 8),
    ("DataView", 1),
];

/// Checks padded standard base64 and returns the decoded byte length.
fn base64_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let pad = b.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let body = &b[..b.len() - pad];
    if !body
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
    {
        return None;
    }
    Some(b.len() / 4 * 3 - pad)
}

fn canonical_bigint(s: &str) -> Option<String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    Some(match (digits.is_empty(), neg) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{digits}"),
        (false, false) => digits.to_string(),
    })
}

fn valid_flags(f: &str) -> bool {
    let mut seen = [false; 8];
    f.chars().all(|c| match "dgimsuvy".find(c) {
        Some(i) if !seen[i] => {
            seen[i] = true;
            true
        }
        _ => false,
    }) && !(f.contains('u') && f.contains('v'))
}

impl Decoder {
    /// Nesting the JSON text of a frame may have before parsing: a Map level costs three JSON
    /// levels (`{"~":"M","v":[[k,v]]}`), and the frame wraps values in a few more.
    pub fn json_limit(&self) -> usize {
        self.max_depth.saturating_mul(3).saturating_add(8)
    }

    /// Decodes a value that sits inside `depth` containers (0 for a field's value).
    pub fn value(&self, j: &J, depth: usize) -> R<Value> {
        self.any(j, depth, false)
    }

    /// Decodes an array element (holes allowed) inside `depth` containers.
    pub fn element(&self, j: &J, depth: usize) -> R<Value> {
        self.any(j, depth, true)
    }

    /// Decodes a path segment, Map key or Set member reference (position references allowed).
    pub fn seg(&self, j: &J, depth: usize) -> R<Seg> {
        match j {
            J::String(s) => Ok(Seg::Key(s.clone())),
            J::Number(n) => Ok(Seg::Num(n.as_f64().unwrap_or(f64::NAN))),
            J::Object(o) if o.get("~").and_then(J::as_str) == Some("#") => {
                if o.len() != 2 {
                    return Err(bad("a position reference has exactly the keys `~` and `v`"));
                }
                match o.get("v").and_then(J::as_f64).and_then(num_index) {
                    Some(p) => Ok(Seg::Pos(p)),
                    None => Err(bad("a position reference needs a non-negative integer `v`")),
                }
            }
            j => Ok(Seg::of_key(&self.value(j, depth)?)),
        }
    }

    fn enter(&self, depth: usize) -> R<usize> {
        if depth >= self.max_depth {
            Err(self.too_deep())
        } else {
            Ok(depth + 1)
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> DecodeError {
        DecodeError::new(
            error::TOO_DEEP,
            format!("nests deeper than maxDepth ({})", self.max_depth),
        )
    }

    fn any(&self, j: &J, depth: usize, in_array: bool) -> R<Value> {
        Ok(match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => self.array(a, depth)?,
            J::Object(o) => match o.get("~") {
                None => self.object(o, depth, false)?,
                Some(tag) => self.tagged(o, tag, depth, in_array)?,
            },
        })
    }

    #[inline(never)]
    fn array(&self, a: &[J], depth: usize) -> R<Value> {
        let d = self.enter(depth)?;
        let mut out = Vec::with_capacity(a.len());
        for (i, x) in a.iter().enumerate() {
            out.push(self.any(x, d, true).map_err(|e| e.at_index(i))?);
        }
        Ok(Value::Array(Rc::new(out)))
    }

    #[inline(never)]
    fn object(&self, o: &serde_json::Map<String, J>, depth: usize, null_proto: bool) -> R<Value> {
        let d = self.enter(depth)?;
        let mut obj = new_obj(null_proto, o.len());
        for (k, v) in o {
            if is_reserved(k) {
                return Err(reserved(k));
            }
            let v = self.value(v, d).map_err(|e| e.at_prop(k))?;
            insert_prop(&mut obj, k, v);
        }
        Ok(Value::Object(obj))
    }

    /// A tag object: checks its keys, then decodes containers here (they recurse) and leaves in
    /// `leaf` (kept out of line so the recursive frames stay small).
    #[inline(never)]
    fn tagged(
        &self,
        o: &serde_json::Map<String, J>,
        tag: &J,
        depth: usize,
        in_array: bool,
    ) -> R<Value> {
        let Some(tag) = tag.as_str() else {
            return Err(bad("an object with a `~` key must be a tag (escape user objects as {\"~\":\"o\",\"v\":{...}})"));
        };
        const KNOWN: [&str; 17] = [
            "u", "_", "E", "n", "B", "D", "R", "M", "S", "o", "N", "AB", "Buf", "TA", "C", "F", "#",
        ];
        if !KNOWN.contains(&tag) {
            return Err(unknown_tag(tag));
        }
        let bare = matches!(tag, "u" | "_" | "E");
        if o.len() != if bare { 1 } else { 2 } || (!bare && !o.contains_key("v")) {
            return Err(bad_keys(tag, bare));
        }
        let v = o.get("v").unwrap_or(&J::Null);
        match tag {
            "M" => self.map(v, depth),
            "S" => self.set(v, depth),
            "o" | "N" => match v.as_object() {
                Some(inner) => self.object(inner, depth, tag == "N"),
                None => Err(payload(tag, "an object")),
            },
            "C" => self.class(v, depth),
            _ => self.leaf(tag, v, in_array),
        }
    }

    fn class(&self, v: &J, depth: usize) -> R<Value> {
        match v.as_array().map(Vec::as_slice) {
            Some([J::String(name), inner]) if !name.is_empty() => {
                let d = self.enter(depth)?;
                let inner = self.value(inner, d).map_err(|e| e.at_class(name))?;
                Ok(Value::Class(Rc::new((name.clone(), inner))))
            }
            _ => Err(payload("C", "[className, value]")),
        }
    }

    #[inline(never)]
    fn leaf(&self, tag: &str, v: &J, in_array: bool) -> R<Value> {
        Ok(match tag {
            "u" => Value::Undefined,
            "E" => Value::EventTarget,
            "_" if in_array => Value::Hole,
            "_" => return Err(bad("a hole can only be an array element")),
            "n" => Value::Num(match v.as_str() {
                Some("NaN") => f64::NAN,
                Some("Infinity") => f64::INFINITY,
                Some("-Infinity") => f64::NEG_INFINITY,
                Some("-0") => -0.0,
                _ => {
                    return Err(payload(
                        tag,
                        "\"NaN\", \"Infinity\", \"-Infinity\" or \"-0\"",
                    ))
                }
            }),
            "B" => match v.as_str().and_then(canonical_bigint) {
                Some(s) => Value::BigInt(s),
                None => return Err(payload(tag, "a decimal string")),
            },
            "D" => match v {
                J::Null => Value::Date(None),
                J::Number(n) => match n.as_f64() {
                    Some(t) if t.fract() == 0.0 && t.abs() <= 8.64e15 => Value::Date(Some(t + 0.0)),
                    _ => return Err(payload(tag, "an integer time value within ±8.64e15")),
                },
                _ => return Err(payload(tag, "a number or null")),
            },
            "R" => match v.as_array().map(Vec::as_slice) {
                Some([J::String(src), J::String(flags)]) if valid_flags(flags) => {
                    Value::RegExp(Rc::new((src.clone(), flags.clone())))
                }
                _ => return Err(payload(tag, "[source, flags] with valid flags")),
            },
            "AB" | "Buf" => match v.as_str().filter(|s| base64_len(s).is_some()) {
                Some(s) => Value::Bytes(Rc::new(Bytes {
                    kind: if tag == "AB" {
                        BytesKind::ArrayBuffer
                    } else {
                        BytesKind::Buffer
                    },
                    data: s.to_string(),
                })),
                None => return Err(payload(tag, "a padded base64 string")),
            },
            "TA" => {
                let (name, data) = match v.as_array().map(Vec::as_slice) {
                    Some([J::String(n), J::String(d)]) => (n, d),
                    _ => return Err(payload(tag, "[typeName, base64]")),
                };
                let Some((_, size)) = TYPED.iter().find(|(n, _)| n == name) else {
                    return Err(bad(format!("`{name}` is not a typed array or DataView")));
                };
                match base64_len(data) {
                    Some(len) if len % size == 0 => Value::Bytes(Rc::new(Bytes {
                        kind: BytesKind::Typed(name.clone()),
                        data: data.clone(),
                    })),
                    _ => return Err(bad(format!("bad base64 data for a {name}"))),
                }
            }
            "F" => {
                if !self.functions {
                    return Err(DecodeError::new(
                        error::FUNCTIONS_DISABLED,
                        "functions travel only when both sides pass { functions: true }",
                    ));
                }
                match v.as_str() {
                    Some(s) => Value::Function(Rc::new(s.to_string())),
                    None => return Err(payload(tag, "a source string")),
                }
            }
            "#" => {
                return Err(bad(
                    "a position reference can only name a Map key or Set member in an op",
                ))
            }
            t => return Err(unknown_tag(t)),
        })
    }

    #[inline(never)]
    fn map(&self, v: &J, depth: usize) -> R<Value> {
        let Some(pairs) = v.as_array() else {
            return Err(bad("tag `M` needs an array of [key, value] pairs"));
        };
        let d = self.enter(depth)?;
        let mut m = new_entries(pairs.len());
        for (i, pair) in pairs.iter().enumerate() {
            let Some([k, v]) = pair.as_array().map(Vec::as_slice) else {
                return Err(indexed("Map entry #", i, " is not a [key, value] pair"));
            };
            let k = self
                .value(k, d)
                .map_err(|e| e.at_indexed(" (key #", i, ")"))?;
            let k = normalize_key(k);
            let v = self
                .value(v, d)
                .map_err(|e| e.at_indexed(".get(<key #", i, ">)"))?;
            insert_entry(&mut m, k, v, i)?;
        }
        Ok(Value::Map(m))
    }

    #[inline(never)]
    fn set(&self, v: &J, depth: usize) -> R<Value> {
        let Some(members) = v.as_array() else {
            return Err(bad("tag `S` needs an array of members"));
        };
        let d = self.enter(depth)?;
        let mut s = new_members(members.len());
        for (i, x) in members.iter().enumerate() {
            let x = self
                .value(x, d)
                .map_err(|e| e.at_indexed(".values()[", i, "]"))?;
            let x = normalize_key(x);
            insert_member(&mut s, x, i)?;
        }
        Ok(Value::Set(s))
    }
}
