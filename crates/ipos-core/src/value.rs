//! The value model: one enum for everything ipos can share. Containers sit behind `Rc` so a
//! clone of the whole state costs O(number of fields), and mutation goes through `Rc::make_mut`
//! (copy-on-write). That is what makes snapshots for rollback and rebase cheap and lets diff skip
//! untouched subtrees with `Rc::ptr_eq`.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use ecow::EcoString;
use indexmap::IndexMap;

/// The hasher of every map in the value model: foldhash, randomly seeded per process. SipHash (the
/// std default) cost more than a third of decoding small objects; foldhash keeps a per-process
/// random seed, so a peer still cannot precompute keys that collide.
pub type Hasher = foldhash::fast::RandomState;

/// The shared state: field name to value, in creation order.
pub type Fields = IndexMap<String, Value, Hasher>;

/// An object key. Shared rather than owned: a batch of records with the same keys holds each
/// key's text once (the decoder interns them), which saves an allocation per key and most of
/// the memory small objects take.
pub type Key = Rc<str>;

mod objmap;
pub(crate) mod packed;

pub use objmap::{ObjMap, SMALL};
pub(crate) use packed::pack;

/// The array index a property key names in JS: a canonical decimal from 0 to 2^32 - 2. JS
/// objects list such keys first, ascending, before every other key in insertion order; the
/// mirror keeps objects in that order too, so that it encodes exactly as the live object does.
pub fn array_index(k: &str) -> Option<u32> {
    let b = k.as_bytes();
    if b.is_empty() || b.len() > 10 || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    if !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    k.parse::<u64>()
        .ok()
        .filter(|&n| n < u32::MAX as u64)
        .map(|n| n as u32)
}

/// Adds a key that `map` does not hold where JS would put it (see `array_index`); returns its
/// position.
pub fn insert_prop(map: &mut ObjMap, k: Key, v: Value) -> usize {
    let at = match array_index(&k) {
        Some(n) => map
            .keys()
            .position(|x| array_index(x).is_none_or(|m| m > n))
            .unwrap_or(map.len()),
        None => map.len(),
    };
    if at == map.len() {
        map.insert(k, v);
    } else {
        map.shift_insert(at, k, v);
    }
    at
}

/// Puts the keys of an object built in text order into JS order (see `array_index`): a stable
/// sort that only runs when some key starts with a digit.
pub fn order_props(map: &mut ObjMap) {
    if !map
        .keys()
        .any(|k| k.as_bytes().first().is_some_and(u8::is_ascii_digit))
    {
        return;
    }
    map.sort_by(|a, _, b, _| match (array_index(a), array_index(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

/// Entries of a Map: SameValueZero key to (key as a value, value).
pub type MapEntries = IndexMap<MapKey, (Value, Value), Hasher>;

/// Members of a Set: SameValueZero key to the member.
pub type SetMembers = IndexMap<MapKey, Value, Hasher>;

/// Which JS binary type a `Bytes` value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BytesKind {
    /// `ArrayBuffer` (tag `AB`).
    ArrayBuffer,
    /// Node `Buffer` (tag `Buf`).
    Buffer,
    /// A typed array or `DataView`, by constructor name (tag `TA`).
    Typed(String),
}

/// Binary data. The base64 text is kept as received (after checking its charset): the core never
/// needs the bytes, so decoding them would be wasted work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes {
    /// The JS type.
    pub kind: BytesKind,
    /// Padded standard base64.
    pub data: String,
}

/// A plain or null-prototype object.
#[derive(Debug, Clone, Default)]
pub struct Obj {
    /// True for `Object.create(null)` objects (tag `N`).
    pub null_proto: bool,
    /// Own enumerable keys in insertion order.
    pub map: ObjMap,
}

/// Every value ipos can share.
#[derive(Debug, Clone)]
pub enum Value {
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any f64, including NaN, ±Infinity and -0.
    Num(f64),
    /// A BigInt as a canonical decimal string.
    BigInt(EcoString),
    /// A string: up to 15 bytes inline, longer ones in one shared allocation, so that short
    /// strings (most record fields) cost no allocation and `Value` stays at 24 bytes.
    Str(EcoString),
    /// An array hole; only ever an array element.
    Hole,
    /// A Date: its time value, or `None` for an invalid date.
    Date(Option<f64>),
    /// A RegExp: (source, flags).
    RegExp(Rc<(String, String)>),
    /// An array.
    Array(Rc<Vec<Value>>),
    /// A plain or null-prototype object.
    Object(Rc<Obj>),
    /// A Map.
    Map(Rc<MapEntries>),
    /// A Set.
    Set(Rc<SetMembers>),
    /// ArrayBuffer, Buffer, typed array or DataView.
    Bytes(Rc<Bytes>),
    /// A registered class instance: (class name, serialised value).
    Class(Rc<(String, Value)>),
    /// An `EventTarget`.
    EventTarget,
    /// A function, by source text.
    Function(Rc<String>),
}

/// A Map key or Set member under SameValueZero. Objects have no identity across processes, so an
/// object key gets a fresh id when it enters a Map or Set and is only ever found by position.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MapKey {
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// Bits of the number, with every NaN made one NaN and -0 made +0.
    Num(u64),
    /// A BigInt.
    BigInt(EcoString),
    /// A string.
    Str(EcoString),
    /// An object key: unique per entry, never equal to anything else.
    Obj(u64),
}

static NEXT_OBJ_ID: AtomicU64 = AtomicU64::new(1);

/// The bits SameValueZero compares: one NaN, and -0 equal to +0.
pub fn num_key_bits(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

impl MapKey {
    /// The key of a primitive, or `None` for an object-like value.
    pub fn primitive(v: &Value) -> Option<MapKey> {
        Some(match v {
            Value::Undefined => MapKey::Undefined,
            Value::Null => MapKey::Null,
            Value::Bool(b) => MapKey::Bool(*b),
            Value::Num(f) => MapKey::Num(num_key_bits(*f)),
            Value::BigInt(s) => MapKey::BigInt(s.clone()),
            Value::Str(s) => MapKey::Str(s.clone()),
            _ => return None,
        })
    }

    /// A key no other key equals, for an object entering a Map or Set.
    pub fn fresh() -> MapKey {
        MapKey::Obj(NEXT_OBJ_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// The key for `v`: by value for primitives, fresh for objects.
    pub fn of(v: &Value) -> MapKey {
        Self::primitive(v).unwrap_or_else(Self::fresh)
    }

    /// True for keys of objects.
    pub fn is_obj(&self) -> bool {
        matches!(self, MapKey::Obj(_))
    }
}

/// A Map key or Set member as JS stores it: `Map#set(-0, x)` stores the key +0.
pub fn normalize_key(v: Value) -> Value {
    match v {
        Value::Num(f) if f.is_sign_negative() && f == 0.0 => Value::Num(0.0),
        v => v,
    }
}

/// Same number representation: NaN equals NaN, -0 differs from +0.
pub fn same_num(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Exact representation equality: what a receiver would rebuild is indistinguishable. Order of
/// object keys, Map entries and Set members matters; NaN equals NaN; -0 differs from +0.
pub fn same(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Undefined, Undefined) | (Null, Null) | (Hole, Hole) | (EventTarget, EventTarget) => true,
        (Bool(x), Bool(y)) => x == y,
        (Num(x), Num(y)) => same_num(*x, *y),
        (BigInt(x), BigInt(y)) | (Str(x), Str(y)) => x == y,
        (Date(x), Date(y)) => match (x, y) {
            (None, None) => true,
            (Some(x), Some(y)) => same_num(*x, *y),
            _ => false,
        },
        (RegExp(x), RegExp(y)) => Rc::ptr_eq(x, y) || x == y,
        (Array(x), Array(y)) => {
            Rc::ptr_eq(x, y)
                || (x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q)))
        }
        (Object(x), Object(y)) => Rc::ptr_eq(x, y) || same_obj(x, y),
        (Map(x), Map(y)) => {
            Rc::ptr_eq(x, y)
                || (x.len() == y.len()
                    && x.values()
                        .zip(y.values())
                        .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2)))
        }
        (Set(x), Set(y)) => {
            Rc::ptr_eq(x, y)
                || (x.len() == y.len() && x.values().zip(y.values()).all(|(p, q)| same(p, q)))
        }
        (Bytes(x), Bytes(y)) => Rc::ptr_eq(x, y) || x == y,
        (Class(x), Class(y)) => Rc::ptr_eq(x, y) || (x.0 == y.0 && same(&x.1, &y.1)),
        (Function(x), Function(y)) => x == y,
        _ => false,
    }
}

fn same_obj(x: &Obj, y: &Obj) -> bool {
    // Packed texts are canonical encodings: equal exactly when the objects are the same.
    if let (Some(a), Some(b)) = (x.map.packed_text(), y.map.packed_text()) {
        return a == b;
    }
    x.null_proto == y.null_proto
        && x.map.len() == y.map.len()
        && x.map
            .iter()
            .zip(y.map.iter())
            .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
}

/// `same` over whole states: same field names in the same order with `same` values.
pub fn same_fields(a: &Fields, b: &Fields) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
}

impl Value {
    /// True for values that are not JS objects (usable as Map keys by value).
    pub fn is_primitive(&self) -> bool {
        matches!(
            self,
            Value::Undefined
                | Value::Null
                | Value::Bool(_)
                | Value::Num(_)
                | Value::BigInt(_)
                | Value::Str(_)
        )
    }

    /// What this value is, for error messages ("a number", "a Map").
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Num(_) => "a number",
            Value::BigInt(_) => "a BigInt",
            Value::Str(_) => "a string",
            Value::Hole => "a hole",
            Value::Date(_) => "a Date",
            Value::RegExp(_) => "a RegExp",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            Value::Map(_) => "a Map",
            Value::Set(_) => "a Set",
            Value::Bytes(_) => "binary data",
            Value::Class(_) => "a class instance",
            Value::EventTarget => "an EventTarget",
            Value::Function(_) => "a function",
        }
    }

    /// A plain object from key/value pairs (later duplicates win, as in JS).
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(Rc::new(Obj {
            null_proto: false,
            map: pairs
                .into_iter()
                .map(|(k, v)| (Key::from(k.into()), v))
                .collect(),
        }))
    }

    /// An array from elements.
    pub fn array(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Array(Rc::new(items.into_iter().collect()))
    }

    /// A Map built as `new Map(pairs)` would: -0 keys become +0, a repeated primitive key keeps
    /// its first position and takes the last value.
    pub fn map(pairs: impl IntoIterator<Item = (Value, Value)>) -> Value {
        let mut m = MapEntries::default();
        for (k, v) in pairs {
            let k = normalize_key(k);
            match m.entry(MapKey::of(&k)) {
                indexmap::map::Entry::Occupied(mut e) => e.get_mut().1 = v,
                indexmap::map::Entry::Vacant(e) => {
                    e.insert((k, v));
                }
            }
        }
        Value::Map(Rc::new(m))
    }

    /// A Set built as `new Set(members)` would.
    pub fn set(members: impl IntoIterator<Item = Value>) -> Value {
        let mut s = SetMembers::default();
        for m in members {
            let m = normalize_key(m);
            s.entry(MapKey::of(&m)).or_insert(m);
        }
        Value::Set(Rc::new(s))
    }

    /// Depth of container nesting: 0 for a primitive, 1 for `[]`, 2 for `[[]]`.
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(a) => 1 + a.iter().map(Value::depth).max().unwrap_or(0),
            Value::Object(o) => 1 + o.map.values().map(Value::depth).max().unwrap_or(0),
            Value::Map(m) => {
                1 + m
                    .values()
                    .map(|(k, v)| k.depth().max(v.depth()))
                    .max()
                    .unwrap_or(0)
            }
            Value::Set(s) => 1 + s.values().map(Value::depth).max().unwrap_or(0),
            Value::Class(c) => 1 + c.1.depth(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_is_representation_equality() {
        assert!(same(&Value::Num(f64::NAN), &Value::Num(-f64::NAN)));
        assert!(!same(&Value::Num(0.0), &Value::Num(-0.0)));
        assert!(!same(&Value::Undefined, &Value::Hole));
        let a = Value::object([("x", Value::Num(1.0)), ("y", Value::Num(2.0))]);
        let b = Value::object([("y", Value::Num(2.0)), ("x", Value::Num(1.0))]);
        assert!(!same(&a, &b), "key order matters");
        assert!(same(&a, &a.clone()));
        let n = Value::Object(Rc::new(Obj {
            null_proto: true,
            map: ObjMap::default(),
        }));
        assert!(!same(&n, &Value::object(Vec::<(String, Value)>::new())));
    }

    #[test]
    fn map_keys_are_same_value_zero() {
        let m = Value::map([
            (Value::Num(-0.0), Value::Num(1.0)),
            (Value::Num(0.0), Value::Num(2.0)),
            (Value::Num(f64::NAN), Value::Null),
            (Value::Num(-f64::NAN), Value::Bool(true)),
            (Value::array([]), Value::Null),
            (Value::array([]), Value::Null),
        ]);
        let Value::Map(m) = m else { unreachable!() };
        assert_eq!(m.len(), 4, "0/-0 and NaNs collapse, objects never do");
        let (k, v) = &m[0];
        assert!(same(k, &Value::Num(0.0)) && same(v, &Value::Num(2.0)));
        assert!(same(&m[1].1, &Value::Bool(true)));
        assert!(m.keys().nth(2).unwrap().is_obj());
        let s = Value::set([Value::Str("a".into()), Value::Str("a".into())]);
        let Value::Set(s) = s else { unreachable!() };
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn maps_with_object_keys_compare_by_content() {
        let a = Value::map([(Value::array([]), Value::Null)]);
        let b = Value::map([(Value::array([]), Value::Null)]);
        assert!(same(&a, &b));
        assert!(!same(
            &a,
            &Value::map([(Value::array([Value::Null]), Value::Null)])
        ));
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(Value::Num(1.0).depth(), 0);
        assert_eq!(Value::array([]).depth(), 1);
        assert_eq!(
            Value::array([Value::map([(Value::Null, Value::array([]))])]).depth(),
            3
        );
    }
}
