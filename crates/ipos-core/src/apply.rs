//! Applying ops to the mirror, with PROTOCOL.md's semantics. Every op checks everything before it
//! mutates anything, so a failed op leaves the state as it was, and returns its inverse so that a
//! batch can be rolled back (see `txn`).

use std::rc::Rc;

use crate::error::{self, is_reserved, CoreError};
use crate::op::Op;
use crate::path::{describe, num_index, Seg};
use crate::value::{
    insert_prop, normalize_key, Fields, Key, MapEntries, MapKey, SetMembers, Value,
};

/// How to undo one op: what it replaced, moved out of the state rather than cloned. Fields are
/// named by position: undone last op first, the state is exactly as the op left it, so the
/// position still names the same field (and nothing is allocated to remember it).
pub(crate) enum Inverse {
    /// The op changed nothing.
    None,
    /// The field at this position was created by the op.
    FieldNew(usize),
    /// The field at this position held this value.
    FieldOld(usize, Value),
    /// This field was removed from this position (boxed: rare, and the log stays compact).
    FieldBack(usize, Box<(String, Value)>),
    /// A container inside the field at position `.0`, at the first `.1` segments of the op's
    /// path, was changed as `.2` says.
    At(usize, usize, Undo),
}

/// The inverse of one change to a container.
pub(crate) enum Undo {
    /// Nothing changed.
    Nothing,
    /// The op added this object key, at this position.
    PropNew(usize),
    /// The object key at this position held this value.
    PropOld(usize, Value),
    /// This object key was removed from this position.
    PropBack(usize, Box<(Key, Value)>),
    /// Array element `.0` held `.1` (possibly a hole).
    Elem(usize, Value),
    /// The array grew from this length.
    Truncate(usize),
    /// The array shrank: these were its last elements.
    Extend(Vec<Value>),
    /// `splice(index, inserted count)` removed these items.
    Splice(usize, usize, Vec<Value>),
    /// Map entry at this position held this value, or was appended by the op (`None`).
    Entry(usize, Option<Value>),
    /// This Map entry was removed from this position.
    EntryBack(usize, Box<(MapKey, (Value, Value))>),
    /// A run of sets on the Map (see `map_run_inv`): it had this many entries, and the entries
    /// at these positions held these values, in the order the run replaced them.
    MapRun(usize, Vec<(usize, Value)>),
    /// This Set member was removed from this position.
    MemberBack(usize, Box<(MapKey, Value)>),
    /// A member was appended to the Set.
    PopMember,
    /// A cleared Map or Set, whole.
    Whole(Value),
}

pub use crate::limits::{MAX_ARRAY_LENGTH, MAX_GAP};

pub use crate::growth::Growth;

/// A failure inside one field: `at` is how many path segments the message's path shows.
pub(crate) struct Fail {
    code: &'static str,
    at: usize,
    what: String,
}

pub(crate) fn fail(code: &'static str, at: usize, what: impl Into<String>) -> Fail {
    Fail {
        code,
        at,
        what: what.into(),
    }
}

/// Result of the steps inside one field; the caller turns `Fail` into a `CoreError` with the path.
pub(crate) type R<T> = Result<T, Fail>;

/// Applies one op; on error `fields` is unchanged. `Assign` sets the value at its path directly.
pub fn apply_op(fields: &mut Fields, op: &Op) -> Result<(), CoreError> {
    apply_op_inv(fields, op, &mut Growth::default()).map(drop)
}

/// Applies one op and returns how to undo it. Old values are moved into the inverse, never
/// cloned, so no container gains a second owner and copy-on-write never copies. Array growth is
/// charged to `g`.
pub(crate) fn apply_op_inv(
    fields: &mut Fields,
    op: &Op,
    g: &mut Growth,
) -> Result<Inverse, CoreError> {
    let key = op.key();
    match op {
        Op::Create { value, .. } => return Ok(put_field(fields, key, value.clone())),
        Op::Assign { path, value, .. } if path.is_empty() => {
            return Ok(put_field(fields, key, value.clone()))
        }
        Op::Remove { .. } => {
            return match fields.shift_remove_full(key) {
                Some((i, k, v)) => Ok(Inverse::FieldBack(i, Box::new((k, v)))),
                None => Err(unknown_field(key)),
            };
        }
        _ => {}
    }
    let Some((fi, _, root)) = fields.get_full_mut(key) else {
        return Err(unknown_field(key));
    };
    let r = act(root, op, g);
    r.map(|(walk_len, slot)| match slot {
        Undo::Nothing => Inverse::None,
        slot => Inverse::At(fi, walk_len, slot),
    })
    .map_err(|f| {
        let p = describe(
            key,
            &op.path()[..f.at.min(op.path().len())],
            fields.get(key),
        );
        CoreError::new(f.code, format!("`{p}`: {}", f.what))
    })
}

/// `c`: overwriting keeps the field's position, as assigning an existing JS property does.
fn put_field(fields: &mut Fields, key: &str, value: Value) -> Inverse {
    match fields.get_full_mut(key) {
        Some((i, _, slot)) => Inverse::FieldOld(i, std::mem::replace(slot, value)),
        None => Inverse::FieldNew(fields.insert_full(key.to_string(), value).0),
    }
}

fn unknown_field(key: &str) -> CoreError {
    CoreError::new(
        error::UNKNOWN_FIELD,
        format!("there is no field `{key}`; initialise it with `.create()`"),
    )
}

fn act(root: &mut Value, op: &Op, g: &mut Growth) -> R<(usize, Undo)> {
    let path = op.path();
    let walk_len = match op {
        // Decoding guarantees a last segment; ops built in Rust might not have one.
        Op::Set { .. } | Op::Delete { .. } | Op::Assign { .. } => {
            path.len().checked_sub(1).ok_or_else(|| {
                fail(
                    error::BAD_PATH,
                    0,
                    format!("`{}` needs a non-empty path", op.kind()),
                )
            })?
        }
        _ => path.len(),
    };
    let t = walk(root, &path[..walk_len])?;
    let at = walk_len;
    let undo = match op {
        Op::Set { value, .. } => set(t, &path[at], value.clone(), at, g)?,
        Op::Assign { value, .. } => match t {
            Value::Map(m) => map_set(m, &path[at], value.clone(), at)?,
            Value::Set(_) => {
                return Err(fail(
                    error::BAD_PATH,
                    at + 1,
                    "a Set member cannot be replaced in place",
                ))
            }
            t => set(t, &path[at], value.clone(), at, g)?,
        },
        Op::Delete { .. } => delete(t, &path[at], at)?,
        Op::Splice {
            index,
            delete,
            items,
            ..
        } => {
            let Value::Array(a) = t else {
                return Err(not_a(t, "an array", at));
            };
            let (index, delete) = (*index, *delete);
            if index > a.len() || delete > a.len() - index {
                return Err(fail(
                    error::OUT_OF_RANGE,
                    at,
                    format!(
                        "splice({index}, {delete}) is out of range for length {}",
                        a.len()
                    ),
                ));
            }
            let len = a.len();
            g.grow(len, len - delete + items.len(), items.len(), at)?;
            let removed = Rc::make_mut(a)
                .splice(index..index + delete, items.iter().cloned())
                .collect();
            Undo::Splice(index, items.len(), removed)
        }
        Op::Push { items, front, .. } => {
            let Value::Array(a) = t else {
                return Err(not_a(t, "an array", at));
            };
            let len = a.len();
            g.grow(len, len + items.len(), items.len(), at)?;
            let a = Rc::make_mut(a);
            if *front {
                a.splice(0..0, items.iter().cloned());
                Undo::Splice(0, items.len(), Vec::new())
            } else {
                a.extend(items.iter().cloned());
                Undo::Truncate(len)
            }
        }
        Op::MapSet { map_key, value, .. } => {
            let Value::Map(m) = t else {
                return Err(not_a(t, "a Map", at));
            };
            map_set(m, map_key, value.clone(), at)?
        }
        Op::MapDelete { map_key, .. } => {
            let Value::Map(m) = t else {
                return Err(not_a(t, "a Map", at));
            };
            let i = match map_key {
                Seg::Pos(p) => Some(*p).filter(|p| *p < m.len()),
                s => s.map_key().and_then(|k| m.get_index_of(&k)),
            };
            match i.and_then(|i| Rc::make_mut(m).shift_remove_index(i).map(|e| (i, e))) {
                Some((i, (k, e))) => Undo::EntryBack(i, Box::new((k, e))),
                None => Undo::Nothing,
            }
        }
        Op::SetAdd { value, .. } => {
            let Value::Set(s) = t else {
                return Err(not_a(t, "a Set", at));
            };
            let v = normalize_key(value.clone());
            match MapKey::primitive(&v) {
                Some(k) if s.contains_key(&k) => Undo::Nothing,
                k => {
                    Rc::make_mut(s).insert(k.unwrap_or_else(MapKey::fresh), v);
                    Undo::PopMember
                }
            }
        }
        Op::Dispatch { .. } => match t {
            Value::EventTarget => Undo::Nothing,
            t => return Err(not_a(t, "an EventTarget", at)),
        },
        Op::SetDelete { member, .. } => {
            let Value::Set(s) = t else {
                return Err(not_a(t, "a Set", at));
            };
            let i = match member {
                Seg::Pos(p) => Some(*p).filter(|p| *p < s.len()),
                m => m.map_key().and_then(|k| s.get_index_of(&k)),
            };
            match i.and_then(|i| Rc::make_mut(s).shift_remove_index(i).map(|e| (i, e))) {
                Some((i, (k, m))) => Undo::MemberBack(i, Box::new((k, m))),
                None => Undo::Nothing,
            }
        }
        Op::Clear { .. } => match t {
            Value::Map(m) if !m.is_empty() => Undo::Whole(Value::Map(std::mem::replace(
                m,
                Rc::new(MapEntries::default()),
            ))),
            Value::Set(s) if !s.is_empty() => Undo::Whole(Value::Set(std::mem::replace(
                s,
                Rc::new(SetMembers::default()),
            ))),
            Value::Map(_) | Value::Set(_) => Undo::Nothing,
            t => return Err(not_a(t, "a Map or Set", at)),
        },
        Op::Create { .. } | Op::Remove { .. } => Undo::Nothing,
    };
    Ok((walk_len, undo))
}

fn not_a(t: &Value, want: &str, at: usize) -> Fail {
    fail(
        error::BAD_PATH,
        at,
        format!("is {}, not {want}", t.describe()),
    )
}

/// Follows `segs` down from `cur`, cloning shared containers on the way (copy-on-write) only
/// once each step is known to exist.
pub(crate) fn walk<'a>(mut cur: &'a mut Value, segs: &[Seg]) -> R<&'a mut Value> {
    for (i, seg) in segs.iter().enumerate() {
        cur = step(cur, seg, i)?;
    }
    Ok(cur)
}

fn step<'a>(v: &'a mut Value, seg: &Seg, at: usize) -> R<&'a mut Value> {
    let missing = |what: String| fail(error::BAD_PATH, at + 1, what);
    match v {
        Value::Object(o) => {
            let k = obj_key(seg, at)?;
            if !o.map.contains_key(k.as_ref()) {
                return Err(missing("does not exist".into()));
            }
            let o = Rc::make_mut(o);
            o.map
                .get_mut(k.as_ref())
                .ok_or_else(|| missing("does not exist".into()))
        }
        Value::Array(a) => {
            let i = array_index(seg, at)?;
            match a.get(i) {
                None => return Err(missing(format!("is past the end (length {})", a.len()))),
                Some(Value::Hole) => return Err(missing("is a hole".into())),
                Some(_) => {}
            }
            Ok(&mut Rc::make_mut(a)[i])
        }
        Value::Map(m) => {
            let i = match seg {
                Seg::Pos(p) => Some(*p).filter(|p| *p < m.len()),
                s => match s.map_key() {
                    Some(k) => m.get_index_of(&k),
                    None => {
                        return Err(missing(
                            "an object key can only be named by position".into(),
                        ))
                    }
                },
            };
            let Some(i) = i else {
                return Err(missing("has no such key".into()));
            };
            let m = Rc::make_mut(m);
            m.get_index_mut(i)
                .map(|(_, e)| &mut e.1)
                .ok_or_else(|| missing("has no such key".into()))
        }
        Value::Set(s) => {
            let i = match seg {
                Seg::Pos(p) => Some(*p),
                Seg::Num(f) => num_index(*f),
                _ => None,
            };
            let Some(i) = i else {
                return Err(fail(
                    error::BAD_PATH,
                    at,
                    "is a Set: a path steps into it by position",
                ));
            };
            if i >= s.len() {
                return Err(missing(format!("is past the end (size {})", s.len())));
            }
            let s = Rc::make_mut(s);
            s.get_index_mut(i)
                .map(|(_, v)| v)
                .ok_or_else(|| missing("is past the end".into()))
        }
        v => Err(fail(
            error::BAD_PATH,
            at,
            format!("is {}: a path cannot step into it", v.describe()),
        )),
    }
}

fn obj_key(seg: &Seg, at: usize) -> R<std::borrow::Cow<'_, str>> {
    let k = seg.as_obj_key().ok_or_else(|| {
        fail(
            error::BAD_PATH,
            at,
            "is an object: a path steps into it by string key",
        )
    })?;
    if is_reserved(&k) {
        return Err(fail(
            error::RESERVED_KEY,
            at + 1,
            format!("`{k}` cannot be an object key"),
        ));
    }
    Ok(k)
}

fn array_index(seg: &Seg, at: usize) -> R<usize> {
    match seg {
        Seg::Num(_) | Seg::Key(_) => seg.as_index(),
        _ => None,
    }
    .ok_or_else(|| {
        fail(
            error::BAD_PATH,
            at,
            "is an array: a path steps into it by index",
        )
    })
}

fn set(t: &mut Value, last: &Seg, value: Value, at: usize, g: &mut Growth) -> R<Undo> {
    match t {
        Value::Object(o) => {
            let k = obj_key(last, at)?;
            let map = &mut Rc::make_mut(o).map;
            Ok(match map.get_full_mut(k.as_ref()) {
                Some((i, _, slot)) => Undo::PropOld(i, std::mem::replace(slot, value)),
                None => Undo::PropNew(insert_prop(map, Key::from(k.as_ref()), value)),
            })
        }
        Value::Array(a) => {
            if matches!(last, Seg::Key(k) if k == "length") {
                let len = match value {
                    Value::Num(f) => num_index(f).filter(|n| *n <= a.len() + MAX_GAP),
                    _ => None,
                };
                let Some(len) = len else {
                    return Err(fail(
                        error::OUT_OF_RANGE,
                        at + 1,
                        format!(
                            "must be an integer from 0 to {} (length + {MAX_GAP})",
                            a.len() + MAX_GAP
                        ),
                    ));
                };
                let old = a.len();
                if len > old {
                    g.grow(old, len, 0, at + 1)?;
                }
                return Ok(match len.cmp(&old) {
                    std::cmp::Ordering::Equal => Undo::Nothing,
                    std::cmp::Ordering::Less => Undo::Extend(Rc::make_mut(a).split_off(len)),
                    std::cmp::Ordering::Greater => {
                        Rc::make_mut(a).resize(len, Value::Hole);
                        Undo::Truncate(old)
                    }
                });
            }
            let i = array_index(last, at)?;
            if i < a.len() {
                let old = std::mem::replace(&mut Rc::make_mut(a)[i], value);
                Ok(Undo::Elem(i, old))
            } else if i - a.len() < MAX_GAP {
                let old = a.len();
                g.grow(old, i + 1, 1, at + 1)?;
                let a = Rc::make_mut(a);
                a.resize(i, Value::Hole);
                a.push(value);
                Ok(Undo::Truncate(old))
            } else {
                Err(fail(
                    error::OUT_OF_RANGE,
                    at + 1,
                    format!("is more than {MAX_GAP} past the end (length {})", a.len()),
                ))
            }
        }
        t => Err(fail(
            error::BAD_PATH,
            at,
            format!("is {}: only objects and arrays take `s`", t.describe()),
        )),
    }
}

fn delete(t: &mut Value, last: &Seg, at: usize) -> R<Undo> {
    match t {
        Value::Object(o) => {
            let k = obj_key(last, at)?;
            if !o.map.contains_key(k.as_ref()) {
                return Ok(Undo::Nothing);
            }
            Ok(match Rc::make_mut(o).map.shift_remove_full(k.as_ref()) {
                Some((i, k, v)) => Undo::PropBack(i, Box::new((k, v))),
                None => Undo::Nothing,
            })
        }
        Value::Array(a) => {
            let i = array_index(last, at)?;
            if i >= a.len() || matches!(a[i], Value::Hole) {
                return Ok(Undo::Nothing);
            }
            let old = std::mem::replace(&mut Rc::make_mut(a)[i], Value::Hole);
            Ok(Undo::Elem(i, old))
        }
        t => Err(fail(
            error::BAD_PATH,
            at,
            format!("is {}: only objects and arrays take `d`", t.describe()),
        )),
    }
}

fn map_set(m: &mut Rc<MapEntries>, map_key: &Seg, value: Value, at: usize) -> R<Undo> {
    if let Seg::Pos(p) = map_key {
        if *p >= m.len() {
            return Err(fail(
                error::BAD_PATH,
                at,
                format!("has no entry at position {p}"),
            ));
        }
        return Ok(match Rc::make_mut(m).get_index_mut(*p) {
            Some((_, e)) => Undo::Entry(*p, Some(std::mem::replace(&mut e.1, value))),
            None => Undo::Nothing,
        });
    }
    let (i, old) = map_put(Rc::make_mut(m), map_key, value);
    Ok(Undo::Entry(i, old))
}

/// Sets the entry of `map_key` (not a position): returns its place and the value it replaced
/// (`None`: appended).
fn map_put(m: &mut MapEntries, map_key: &Seg, value: Value) -> (usize, Option<Value>) {
    let k = map_key.key_value().unwrap_or(Value::Undefined);
    // An object key is always a new entry; a primitive one is looked up once, and appended when
    // it is new.
    let mk = MapKey::primitive(&k).unwrap_or_else(MapKey::fresh);
    match m.entry(mk) {
        indexmap::map::Entry::Occupied(mut o) => {
            let i = o.index();
            (i, Some(std::mem::replace(&mut o.get_mut().1, value)))
        }
        indexmap::map::Entry::Vacant(v) => {
            let i = v.index();
            v.insert((k, value));
            (i, None)
        }
    }
}

/// How many ops from the start of `ops` set keys of one Map: `ms` ops of the same field and path
/// (named keys only) whose key is not a position. Once that Map is found, none of them can fail.
pub(crate) fn map_run(ops: &[Op]) -> usize {
    let Some(Op::MapSet { key, path, .. }) = ops.first() else {
        return 0;
    };
    let named = |p: &[Seg]| {
        p.len() == path.len()
            && p.iter()
                .zip(path)
                .all(|(a, b)| matches!((a, b), (Seg::Key(x), Seg::Key(y)) if x == y))
    };
    if !path.iter().all(|s| matches!(s, Seg::Key(_))) {
        return 0;
    }
    ops.iter()
        .take_while(|op| {
            matches!(op, Op::MapSet { key: k, path: p, map_key, .. }
                if k == key && !matches!(map_key, Seg::Pos(_)) && named(p))
        })
        .count()
}

/// Applies a run of sets on one Map (`map_run`) as one change: the field is found, the path
/// walked and the Map made its own once, not once per entry (a many-writers Map takes most of
/// its sets this way). `None`, with nothing changed, when the path does not lead to a Map here:
/// each op is then applied alone, which reports why.
pub(crate) fn map_run_inv(fields: &mut Fields, ops: &[Op]) -> Option<Inverse> {
    let first = ops.first()?;
    let (fi, _, root) = fields.get_full_mut(first.key())?;
    let path = first.path();
    let Ok(Value::Map(m)) = walk(root, path) else {
        return None;
    };
    let m = Rc::make_mut(m);
    let len = m.len();
    let mut replaced = Vec::new();
    for op in ops {
        let Op::MapSet { map_key, value, .. } = op else {
            debug_assert!(false, "a run holds only Map sets");
            continue;
        };
        if let (i, Some(old)) = map_put(m, map_key, value.clone()) {
            replaced.push((i, old));
        }
    }
    Some(Inverse::At(fi, path.len(), Undo::MapRun(len, replaced)))
}

/// The value at `segs` under `root`, read-only; `None` where the path leads nowhere (a hole is
/// no value).
pub fn get_at<'a>(root: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    let mut cur = root;
    for seg in segs {
        cur = match cur {
            Value::Object(o) => o.map.get(seg.as_obj_key()?.as_ref())?,
            Value::Array(a) => match seg {
                Seg::Num(_) | Seg::Key(_) => a.get(seg.as_index()?)?,
                _ => return None,
            },
            Value::Map(m) => {
                let i = match seg {
                    Seg::Pos(p) => *p,
                    s => m.get_index_of(&s.map_key()?)?,
                };
                &m.get_index(i)?.1 .1
            }
            Value::Set(s) => {
                let i = match seg {
                    Seg::Pos(p) => *p,
                    Seg::Num(f) => num_index(*f)?,
                    _ => return None,
                };
                s.get_index(i)?.1
            }
            _ => return None,
        };
        if matches!(cur, Value::Hole) {
            return None;
        }
    }
    Some(cur)
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
