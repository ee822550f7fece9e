//! Applying ops to the mirror, with PROTOCOL.md's semantics. Every op checks everything before it
//! mutates anything, so a failed op leaves the state as it was; a batch of several ops keeps an
//! undo log of the fields it touches and restores them if a later op fails.

use std::rc::Rc;

use indexmap::IndexMap;

use crate::error::{self, is_reserved, CoreError};
use crate::op::Op;
use crate::path::{describe, num_index, Seg};
use crate::value::{normalize_key, Fields, MapEntries, MapKey, SetMembers, Value};

/// How far past an array's end an index or `length` may reach (the rest becomes holes).
pub const MAX_GAP: usize = 100_000;

/// A failure inside one field: `at` is how many path segments the message's path shows.
struct Fail {
    code: &'static str,
    at: usize,
    what: String,
}

fn fail(code: &'static str, at: usize, what: impl Into<String>) -> Fail {
    Fail {
        code,
        at,
        what: what.into(),
    }
}

type R<T> = Result<T, Fail>;

/// Applies a batch atomically: on error `fields` is unchanged.
pub fn apply_batch(fields: &mut Fields, ops: &[Op]) -> Result<(), CoreError> {
    match ops {
        [] => Ok(()),
        // A single op is atomic by itself.
        [op] => apply_op(fields, op),
        _ => {
            let mut txn = Txn::default();
            for op in ops {
                if let Err(e) = txn.apply(fields, op) {
                    txn.rollback(fields);
                    return Err(e);
                }
            }
            Ok(())
        }
    }
}

/// An undo log for applying several ops atomically. It remembers each touched field as it was
/// before its first change (an `Rc` clone: O(1)), so the cost is per touched field, not per
/// field of the state as a full clone would be.
#[derive(Default)]
pub struct Txn {
    /// Field name → (position, value) before the transaction, or `None` if it did not exist.
    saved: IndexMap<String, Option<(usize, Value)>>,
}

impl Txn {
    /// Applies one op, remembering what it touches.
    pub fn apply(&mut self, fields: &mut Fields, op: &Op) -> Result<(), CoreError> {
        let key = op.key();
        if !self.saved.contains_key(key) {
            let before = fields.get_full(key).map(|(i, _, v)| (i, v.clone()));
            self.saved.insert(key.to_string(), before);
        }
        apply_op(fields, op)
    }

    /// Puts every touched field back as it was, at its old position.
    pub fn rollback(self, fields: &mut Fields) {
        for key in self.saved.keys() {
            fields.shift_remove(key);
        }
        // Untouched fields kept their relative order; re-inserting the others by ascending old
        // position puts each exactly where it was.
        let mut back: Vec<(usize, String, Value)> = self
            .saved
            .into_iter()
            .filter_map(|(k, b)| b.map(|(i, v)| (i, k, v)))
            .collect();
        back.sort_by_key(|(i, _, _)| *i);
        for (i, k, v) in back {
            fields.shift_insert(i.min(fields.len()), k, v);
        }
    }
}

/// Applies one op; on error `fields` is unchanged. `Assign` sets the value at its path directly.
pub fn apply_op(fields: &mut Fields, op: &Op) -> Result<(), CoreError> {
    let key = op.key();
    match op {
        Op::Create { value, .. } => {
            // Overwriting keeps the field's position, as assigning an existing JS property does.
            fields.insert(key.to_string(), value.clone());
            return Ok(());
        }
        Op::Remove { .. } => {
            return match fields.shift_remove(key) {
                Some(_) => Ok(()),
                None => Err(unknown_field(key)),
            };
        }
        Op::Assign { path, value, .. } if path.is_empty() => {
            fields.insert(key.to_string(), value.clone());
            return Ok(());
        }
        _ => {}
    }
    let Some(root) = fields.get_mut(key) else {
        return Err(unknown_field(key));
    };
    let r = act(root, op);
    r.map_err(|f| {
        let p = describe(
            key,
            &op.path()[..f.at.min(op.path().len())],
            fields.get(key),
        );
        CoreError::new(f.code, format!("`{p}`: {}", f.what))
    })
}

fn unknown_field(key: &str) -> CoreError {
    CoreError::new(
        error::UNKNOWN_FIELD,
        format!("there is no field `{key}`; initialise it with `.create()`"),
    )
}

fn act(root: &mut Value, op: &Op) -> R<()> {
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
    match op {
        Op::Set { value, .. } => set(t, &path[at], value.clone(), at),
        Op::Assign { value, .. } => match t {
            Value::Map(m) => map_set(m, &path[at], value.clone(), at),
            Value::Set(_) => Err(fail(
                error::BAD_PATH,
                at + 1,
                "a Set member cannot be replaced in place",
            )),
            t => set(t, &path[at], value.clone(), at),
        },
        Op::Delete { .. } => delete(t, &path[at], at),
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
            Rc::make_mut(a).splice(index..index + delete, items.iter().cloned());
            Ok(())
        }
        Op::MapSet { map_key, value, .. } => {
            let Value::Map(m) = t else {
                return Err(not_a(t, "a Map", at));
            };
            map_set(m, map_key, value.clone(), at)
        }
        Op::MapDelete { map_key, .. } => {
            let Value::Map(m) = t else {
                return Err(not_a(t, "a Map", at));
            };
            let i = match map_key {
                Seg::Pos(p) => Some(*p).filter(|p| *p < m.len()),
                s => s.map_key().and_then(|k| m.get_index_of(&k)),
            };
            if let Some(i) = i {
                Rc::make_mut(m).shift_remove_index(i);
            }
            Ok(())
        }
        Op::SetAdd { value, .. } => {
            let Value::Set(s) = t else {
                return Err(not_a(t, "a Set", at));
            };
            let v = normalize_key(value.clone());
            match MapKey::primitive(&v) {
                Some(k) if s.contains_key(&k) => {}
                Some(k) => {
                    Rc::make_mut(s).insert(k, v);
                }
                None => {
                    Rc::make_mut(s).insert(MapKey::fresh(), v);
                }
            }
            Ok(())
        }
        Op::SetDelete { member, .. } => {
            let Value::Set(s) = t else {
                return Err(not_a(t, "a Set", at));
            };
            let i = match member {
                Seg::Pos(p) => Some(*p).filter(|p| *p < s.len()),
                m => m.map_key().and_then(|k| s.get_index_of(&k)),
            };
            if let Some(i) = i {
                Rc::make_mut(s).shift_remove_index(i);
            }
            Ok(())
        }
        Op::Clear { .. } => {
            match t {
                Value::Map(m) if !m.is_empty() => *m = Rc::new(MapEntries::new()),
                Value::Set(s) if !s.is_empty() => *s = Rc::new(SetMembers::new()),
                Value::Map(_) | Value::Set(_) => {}
                t => return Err(not_a(t, "a Map or Set", at)),
            }
            Ok(())
        }
        Op::Create { .. } | Op::Remove { .. } => Ok(()),
    }
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
fn walk<'a>(mut cur: &'a mut Value, segs: &[Seg]) -> R<&'a mut Value> {
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

fn set(t: &mut Value, last: &Seg, value: Value, at: usize) -> R<()> {
    match t {
        Value::Object(o) => {
            let k = obj_key(last, at)?;
            Rc::make_mut(o).map.insert(k.into_owned(), value);
            Ok(())
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
                if len != a.len() {
                    Rc::make_mut(a).resize(len, Value::Hole);
                }
                return Ok(());
            }
            let i = array_index(last, at)?;
            if i < a.len() {
                Rc::make_mut(a)[i] = value;
            } else if i - a.len() < MAX_GAP {
                let a = Rc::make_mut(a);
                a.resize(i, Value::Hole);
                a.push(value);
            } else {
                return Err(fail(
                    error::OUT_OF_RANGE,
                    at + 1,
                    format!("is more than {MAX_GAP} past the end (length {})", a.len()),
                ));
            }
            Ok(())
        }
        t => Err(fail(
            error::BAD_PATH,
            at,
            format!("is {}: only objects and arrays take `s`", t.describe()),
        )),
    }
}

fn delete(t: &mut Value, last: &Seg, at: usize) -> R<()> {
    match t {
        Value::Object(o) => {
            let k = obj_key(last, at)?;
            if o.map.contains_key(k.as_ref()) {
                Rc::make_mut(o).map.shift_remove(k.as_ref());
            }
            Ok(())
        }
        Value::Array(a) => {
            let i = array_index(last, at)?;
            if i < a.len() && !matches!(a[i], Value::Hole) {
                Rc::make_mut(a)[i] = Value::Hole;
            }
            Ok(())
        }
        t => Err(fail(
            error::BAD_PATH,
            at,
            format!("is {}: only objects and arrays take `d`", t.describe()),
        )),
    }
}

fn map_set(m: &mut Rc<MapEntries>, map_key: &Seg, value: Value, at: usize) -> R<()> {
    if let Seg::Pos(p) = map_key {
        if *p >= m.len() {
            return Err(fail(
                error::BAD_PATH,
                at,
                format!("has no entry at position {p}"),
            ));
        }
        if let Some((_, e)) = Rc::make_mut(m).get_index_mut(*p) {
            e.1 = value;
        }
        return Ok(());
    }
    let k = map_key.key_value().unwrap_or(Value::Undefined);
    let m = Rc::make_mut(m);
    match MapKey::primitive(&k) {
        Some(mk) => match m.get_mut(&mk) {
            Some(e) => e.1 = value,
            None => {
                m.insert(mk, (k, value));
            }
        },
        None => {
            m.insert(MapKey::fresh(), (k, value));
        }
    }
    Ok(())
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
