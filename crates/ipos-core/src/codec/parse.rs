//! JSON text → `Value`, validating every tag as it reads. One pass, no intermediate tree: strings
//! are copied once into the values that keep them, containers are built at their final size.
//!
//! The readers recurse once per nesting level, so their frames are kept small: everything that
//! is not the recursion itself (hashing, insertion, leaves, errors) lives in out-of-line helpers.

use std::borrow::Cow;
use std::rc::Rc;

use super::decode::{
    bad, bad_keys, base64_len, canonical_bigint, indexed, payload, reserved, unknown_tag,
    valid_flags, DecodeError, Decoder, R, TYPED,
};
use super::read::Reader;
use crate::error::{self, is_reserved, CoreError};
use crate::path::{describe, num_index, Seg};
use crate::value::{
    normalize_key, order_props, Bytes, BytesKind, Fields, MapEntries, MapKey, Obj, ObjMap,
    SetMembers, Value,
};

const KNOWN: [&str; 17] = [
    "u", "_", "E", "n", "B", "D", "R", "M", "S", "o", "N", "AB", "Buf", "TA", "C", "F", "#",
];

fn bare(tag: &str) -> bool {
    matches!(tag, "u" | "_" | "E")
}

#[inline(never)]
fn insert_entry(m: &mut MapEntries, k: Value, v: Value, i: usize) -> R<()> {
    let mk = MapKey::of(&k);
    if m.contains_key(&mk) {
        return Err(indexed("Map key #", i, " repeats an earlier key"));
    }
    m.insert(mk, (k, v));
    Ok(())
}

#[inline(never)]
fn insert_member(s: &mut SetMembers, x: Value, i: usize) -> R<()> {
    let mk = MapKey::of(&x);
    if s.contains_key(&mk) {
        return Err(indexed("Set member #", i, " repeats an earlier member"));
    }
    s.insert(mk, x);
    Ok(())
}

/// The object whose members are `r.members[base..]`, built at its exact size.
#[inline(never)]
fn finish_obj(r: &mut Reader, base: usize, null_proto: bool) -> Value {
    let mut map = ObjMap::with_capacity(r.members.len() - base);
    // Inserting keeps JSON.parse's rule for a repeated key: the last value, the first place.
    map.extend(r.members.drain(base..));
    order_props(&mut map);
    Value::Object(Rc::new(Obj { null_proto, map }))
}

#[cold]
#[inline(never)]
fn not_a_tag() -> DecodeError {
    bad("an object with a `~` key must be a tag (escape user objects as {\"~\":\"o\",\"v\":{...}})")
}

/// A string payload of a leaf tag, or the payload error.
fn str_payload<'a>(r: &mut Reader<'a>, tag: &str, what: &str) -> R<Cow<'a, str>> {
    if r.peek() == Some(b'"') {
        r.string()
    } else {
        Err(payload(tag, what))
    }
}

/// `[string, string]`, or `None` if the payload has another shape.
fn str_pair<'a>(r: &mut Reader<'a>) -> R<Option<(Cow<'a, str>, Cow<'a, str>)>> {
    if !r.eat(b'[') || r.peek() != Some(b'"') {
        return Ok(None);
    }
    let a = r.string()?;
    if !r.eat(b',') || r.peek() != Some(b'"') {
        return Ok(None);
    }
    let b = r.string()?;
    Ok(r.eat(b']').then_some((a, b)))
}

impl Decoder {
    /// A value inside `depth` containers; `in_array` admits holes.
    pub(crate) fn read_value(&self, r: &mut Reader, depth: usize, in_array: bool) -> R<Value> {
        Ok(match r.peek() {
            Some(b'"') => Value::Str(r.string()?.into()),
            Some(b'-' | b'0'..=b'9') => Value::Num(r.number()?),
            Some(b'[') => self.read_array(r, depth)?,
            Some(b'{') => self.read_object(r, depth, in_array)?,
            Some(b't') => r.literal("true").map(|()| Value::Bool(true))?,
            Some(b'f') => r.literal("false").map(|()| Value::Bool(false))?,
            Some(b'n') => r.literal("null").map(|()| Value::Null)?,
            _ => return Err(r.unexpected("a value")),
        })
    }

    #[inline(never)]
    fn read_array(&self, r: &mut Reader, depth: usize) -> R<Value> {
        r.expect(b'[')?;
        let d = self.enter(depth)?;
        let base = r.elems.len();
        if !r.eat(b']') {
            loop {
                let i = r.elems.len() - base;
                let x = self.read_value(r, d, true).map_err(|e| e.at_index(i))?;
                r.elems.push(x);
                if !r.more(b']')? {
                    break;
                }
            }
        }
        // Exactly as long as the array (growing a `Vec` would leave up to half of it unused).
        let out: Vec<Value> = r.elems.drain(base..).collect();
        Ok(Value::Array(Rc::new(out)))
    }

    /// An object: a tag when its first key is `~` (as every encoder writes it), a plain object
    /// otherwise, unless a `~` key turns up later: then it is re-read as a tag.
    #[inline(never)]
    fn read_object(&self, r: &mut Reader, depth: usize, in_array: bool) -> R<Value> {
        // A record inside a field that is already in its packed form is taken as it is.
        if depth > 0 && r.peek() == Some(b'{') {
            if let Some(end) = super::canon::packable_object(r.b, r.pos, depth, self.max_depth) {
                let text = Box::from(&r.s[r.pos..end]);
                r.pos = end;
                return Ok(Value::Object(Rc::new(Obj {
                    null_proto: false,
                    map: ObjMap::packed(text),
                })));
            }
        }
        let start = r.pos;
        r.expect(b'{')?;
        if r.eat(b'}') {
            self.enter(depth)?;
            return Ok(Value::Object(Rc::new(Obj::default())));
        }
        let first = r.string()?;
        r.expect(b':')?;
        if first == "~" {
            return self.read_tag(r, depth, in_array);
        }
        match self.read_plain(r, depth, false, true, Some(first))? {
            Some(v) => Ok(v),
            None => {
                r.pos = start;
                self.read_tag_reordered(r, depth, in_array)
            }
        }
    }

    /// `{...}` with literal keys (`~` included): the payload of `o` and `N`.
    fn read_members(&self, r: &mut Reader, depth: usize, null_proto: bool) -> R<Value> {
        match self.read_plain(r, depth, null_proto, false, None)? {
            Some(v) => Ok(v),
            None => Err(bad("unreachable: literal keys")),
        }
    }

    /// The members of an object, from its `{` or (`first`) from after its first key's `:`.
    /// With `tags`, a `~` key stops the read (`None`).
    fn read_plain<'a>(
        &self,
        r: &mut Reader<'a>,
        depth: usize,
        null_proto: bool,
        tags: bool,
        first: Option<Cow<'a, str>>,
    ) -> R<Option<Value>> {
        let mut key = match first {
            Some(k) => Some(k),
            None => {
                r.expect(b'{')?;
                if r.eat(b'}') {
                    None
                } else {
                    let k = r.string()?;
                    r.expect(b':')?;
                    Some(k)
                }
            }
        };
        let d = self.enter(depth)?;
        let base = r.members.len();
        while let Some(k) = key {
            if tags && k == "~" {
                r.members.truncate(base);
                return Ok(None);
            }
            if is_reserved(&k) {
                return Err(reserved(&k));
            }
            let v = self.read_value(r, d, false).map_err(|e| e.at_prop(&k))?;
            let k = r.intern(k);
            r.members.push((k, v));
            key = if r.more(b'}')? {
                let k = r.string()?;
                r.expect(b':')?;
                Some(k)
            } else {
                None
            };
        }
        let mut v = finish_obj(r, base, null_proto);
        // A record inside a field is kept as its text (see value/objmap.rs); a field's own root
        // is where writes land, so it stays open.
        if depth > 0 {
            crate::value::pack(&mut v);
        }
        Ok(Some(v))
    }

    /// A tag object after its `"~":`.
    fn read_tag(&self, r: &mut Reader, depth: usize, in_array: bool) -> R<Value> {
        if r.peek() != Some(b'"') {
            return Err(not_a_tag());
        }
        let tag = r.string()?;
        if !KNOWN.contains(&tag.as_ref()) {
            return Err(unknown_tag(&tag));
        }
        let has_v = if r.eat(b',') {
            if r.string()? != "v" {
                return Err(bad_keys(&tag, bare(&tag)));
            }
            r.expect(b':')?;
            true
        } else {
            r.expect(b'}')?;
            false
        };
        if has_v == bare(&tag) {
            return Err(bad_keys(&tag, bare(&tag)));
        }
        let v = self.read_payload(r, &tag, depth, in_array)?;
        if has_v && !r.eat(b'}') {
            return Err(match r.peek() {
                Some(b',') => bad_keys(&tag, false),
                _ => r.unexpected("`}`"),
            });
        }
        Ok(v)
    }

    /// A tag object whose `~` key is not first (`{"v":...,"~":"M"}`): valid, just unusual.
    #[cold]
    #[inline(never)]
    fn read_tag_reordered(&self, r: &mut Reader, depth: usize, in_array: bool) -> R<Value> {
        let sh = r.shallow()?;
        let tag = match sh.tag {
            Some(Ok(t)) => t,
            _ => return Err(not_a_tag()),
        };
        if !KNOWN.contains(&tag.as_ref()) {
            return Err(unknown_tag(&tag));
        }
        let b = bare(&tag);
        if sh.keys != if b { 1 } else { 2 } || (!b && sh.v_at.is_none()) {
            return Err(bad_keys(&tag, b));
        }
        if let Some(at) = sh.v_at {
            r.pos = at;
        }
        let v = self.read_payload(r, &tag, depth, in_array)?;
        if !matches!(r.peek(), Some(b',' | b'}')) {
            return Err(r.unexpected("`,` or `}`"));
        }
        r.pos = sh.end;
        Ok(v)
    }

    /// The payload of `tag` (at `v`'s value, or nothing for bare tags).
    fn read_payload(&self, r: &mut Reader, tag: &str, depth: usize, in_array: bool) -> R<Value> {
        match tag {
            "M" => self.read_map(r, depth),
            "S" => self.read_set(r, depth),
            "o" | "N" if r.peek() == Some(b'{') => self.read_members(r, depth, tag == "N"),
            "o" | "N" => Err(payload(tag, "an object")),
            "C" => self.read_class(r, depth),
            _ => self.read_leaf(r, tag, in_array),
        }
    }

    fn read_class(&self, r: &mut Reader, depth: usize) -> R<Value> {
        let shape = || payload("C", "[className, value]");
        if !r.eat(b'[') || r.peek() != Some(b'"') {
            return Err(shape());
        }
        let name = r.string()?;
        if name.is_empty() || !r.eat(b',') {
            return Err(shape());
        }
        let d = self.enter(depth)?;
        let inner = self
            .read_value(r, d, false)
            .map_err(|e| e.at_class(&name))?;
        if !r.eat(b']') {
            return Err(shape());
        }
        Ok(Value::Class(Rc::new((name.into_owned(), inner))))
    }

    #[inline(never)]
    fn read_leaf(&self, r: &mut Reader, tag: &str, in_array: bool) -> R<Value> {
        Ok(match tag {
            "u" => Value::Undefined,
            "E" => Value::EventTarget,
            "_" if in_array => Value::Hole,
            "_" => return Err(bad("a hole can only be an array element")),
            "n" => {
                let want = "\"NaN\", \"Infinity\", \"-Infinity\" or \"-0\"";
                Value::Num(match str_payload(r, tag, want)?.as_ref() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    "-0" => -0.0,
                    _ => return Err(payload(tag, want)),
                })
            }
            "B" => match canonical_bigint(&str_payload(r, tag, "a decimal string")?) {
                Some(s) => Value::BigInt(s.into()),
                None => return Err(payload(tag, "a decimal string")),
            },
            "D" => match r.peek() {
                Some(b'n') => r.literal("null").map(|()| Value::Date(None))?,
                Some(b'-' | b'0'..=b'9') => match r.number()? {
                    t if t.fract() == 0.0 && t.abs() <= 8.64e15 => Value::Date(Some(t + 0.0)),
                    _ => return Err(payload(tag, "an integer time value within ±8.64e15")),
                },
                _ => return Err(payload(tag, "a number or null")),
            },
            "R" => match str_pair(r)? {
                Some((src, flags)) if valid_flags(&flags) => {
                    Value::RegExp(Rc::new((src.into_owned(), flags.into_owned())))
                }
                _ => return Err(payload(tag, "[source, flags] with valid flags")),
            },
            "AB" | "Buf" => {
                let s = str_payload(r, tag, "a padded base64 string")?;
                if base64_len(&s).is_none() {
                    return Err(payload(tag, "a padded base64 string"));
                }
                Value::Bytes(Rc::new(Bytes {
                    kind: if tag == "AB" {
                        BytesKind::ArrayBuffer
                    } else {
                        BytesKind::Buffer
                    },
                    data: s.into_owned(),
                }))
            }
            "TA" => {
                let Some((name, data)) = str_pair(r)? else {
                    return Err(payload(tag, "[typeName, base64]"));
                };
                let Some((_, size)) = TYPED.iter().find(|(n, _)| *n == name) else {
                    return Err(bad(format!("`{name}` is not a typed array or DataView")));
                };
                match base64_len(&data) {
                    Some(len) if len % size == 0 => Value::Bytes(Rc::new(Bytes {
                        kind: BytesKind::Typed(name.into_owned()),
                        data: data.into_owned(),
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
                Value::Function(Rc::new(
                    str_payload(r, tag, "a source string")?.into_owned(),
                ))
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
    fn read_map(&self, r: &mut Reader, depth: usize) -> R<Value> {
        if !r.eat(b'[') {
            return Err(bad("tag `M` needs an array of [key, value] pairs"));
        }
        let d = self.enter(depth)?;
        let mut m = MapEntries::default();
        if !r.eat(b']') {
            loop {
                let i = m.len();
                let not_pair = || indexed("Map entry #", i, " is not a [key, value] pair");
                if !r.eat(b'[') || r.peek() == Some(b']') {
                    return Err(not_pair());
                }
                let k = self
                    .read_value(r, d, false)
                    .map_err(|e| e.at_indexed(".keys()[", i, "]"))?;
                let k = normalize_key(k);
                if !r.eat(b',') {
                    return Err(not_pair());
                }
                let v = self.read_value(r, d, false).map_err(|e| e.at_get(&k, i))?;
                if !r.eat(b']') {
                    return Err(not_pair());
                }
                insert_entry(&mut m, k, v, i)?;
                if !r.more(b']')? {
                    break;
                }
            }
        }
        Ok(Value::Map(Rc::new(m)))
    }

    #[inline(never)]
    fn read_set(&self, r: &mut Reader, depth: usize) -> R<Value> {
        if !r.eat(b'[') {
            return Err(bad("tag `S` needs an array of members"));
        }
        let d = self.enter(depth)?;
        let mut s = SetMembers::default();
        if !r.eat(b']') {
            loop {
                let i = s.len();
                let x = self
                    .read_value(r, d, false)
                    .map_err(|e| e.at_indexed(".values()[", i, "]"))?;
                insert_member(&mut s, normalize_key(x), i)?;
                if !r.more(b']')? {
                    break;
                }
            }
        }
        Ok(Value::Set(Rc::new(s)))
    }

    /// A path segment, Map key or Set member reference (position references allowed).
    pub(crate) fn read_seg(&self, r: &mut Reader, depth: usize) -> R<Seg> {
        match r.peek() {
            Some(b'"') => Ok(Seg::Key(r.string()?.as_ref().into())),
            Some(b'-' | b'0'..=b'9') => Ok(Seg::Num(r.number()?)),
            Some(b'{') => {
                let start = r.pos;
                let sh = r.shallow()?;
                if !matches!(&sh.tag, Some(Ok(t)) if t == "#") {
                    r.pos = start;
                    return Ok(Seg::from_key(self.read_value(r, depth, false)?));
                }
                let (2, Some(at)) = (sh.keys, sh.v_at) else {
                    return Err(bad("a position reference has exactly the keys `~` and `v`"));
                };
                r.pos = at;
                let p = match r.peek() {
                    Some(b'-' | b'0'..=b'9') => num_index(r.number()?),
                    _ => None,
                };
                let Some(p) = p else {
                    return Err(bad("a position reference needs a non-negative integer `v`"));
                };
                if !matches!(r.peek(), Some(b',' | b'}')) {
                    return Err(r.unexpected("`,` or `}`"));
                }
                r.pos = sh.end;
                Ok(Seg::Pos(p))
            }
            _ => Ok(Seg::from_key(self.read_value(r, depth, false)?)),
        }
    }

    /// The `f` of a snapshot: `[[key, value], ...]`.
    pub(crate) fn read_fields(&self, r: &mut Reader) -> Result<Fields, CoreError> {
        let pairs = || CoreError::bad_frame("snapshot entries are [key, value] pairs");
        let syntax = |e: DecodeError| e.into_core("f");
        if !r.eat(b'[') {
            return Err(CoreError::bad_frame("snapshot `f` must be an array"));
        }
        let mut fields = Fields::default();
        if r.eat(b']') {
            return Ok(fields);
        }
        loop {
            if !r.eat(b'[') || r.peek() != Some(b'"') {
                return Err(pairs());
            }
            let k = r.string().map_err(syntax)?;
            if is_reserved(&k) {
                return Err(CoreError::new(
                    error::RESERVED_KEY,
                    format!("`{k}` cannot be a field name"),
                ));
            }
            if !r.eat(b',') {
                return Err(pairs());
            }
            let v = self
                .read_value(r, 0, false)
                .map_err(|e| e.into_core(&describe(&k, &[], None)))?;
            if !r.eat(b']') {
                return Err(pairs());
            }
            if fields.contains_key(k.as_ref()) {
                return Err(CoreError::bad_frame(format!(
                    "snapshot repeats field `{k}`"
                )));
            }
            fields.insert(k.into_owned(), v);
            if !r.more(b']').map_err(syntax)? {
                return Ok(fields);
            }
        }
    }
}
