//! Diff: the ops that turn one value into another exactly, key order included. Used for `r`
//! (a reset ships only what changed) and for rebase patches. Unchanged subtrees are skipped with
//! `Rc::ptr_eq` (inside `same`), so diffing two states that share structure costs what changed.

use std::rc::Rc;

use crate::apply::get_at;
use crate::op::Op;
use crate::path::Seg;
use crate::value::{same, Fields, MapEntries, Obj, SetMembers, Value};
use ecow::EcoString;

/// How the node being diffed is replaced when it cannot be patched in place.
#[derive(Clone, Copy)]
enum Slot {
    /// The field itself: `c`.
    Field,
    /// An object property or array element: `s` at the path.
    Prop,
    /// A Map value: `ms` on the parent path with the last segment as key.
    MapValue,
}

/// Ops turning field `key` from `old` into `new` (`None` = the field does not exist).
pub fn diff(key: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<Op> {
    let mut out = Vec::new();
    match (old, new) {
        (None, None) => {}
        (Some(_), None) => out.push(Op::Remove { key: key.into() }),
        (None, Some(n)) => out.push(Op::Create {
            key: key.into(),
            value: n.clone(),
        }),
        (Some(o), Some(n)) => diff_at(key, &mut Vec::new(), o, n, &mut out),
    }
    out
}

/// Appends ops turning the value at `path` (a value that exists in field `key`) from `old` into
/// `new`. An empty path is the field itself. The container holding the value decides how it is
/// replaced, so `path`'s last segment must have been produced for that container: pass
/// `in_map = true` when it is a Map key.
pub fn diff_in(
    key: &str,
    path: &mut Vec<Seg>,
    in_map: bool,
    old: &Value,
    new: &Value,
    out: &mut Vec<Op>,
) {
    let slot = if path.is_empty() {
        Slot::Field
    } else if in_map {
        Slot::MapValue
    } else {
        Slot::Prop
    };
    Differ { key, out }.node(path, slot, old, new);
}

fn diff_at(key: &str, path: &mut Vec<Seg>, old: &Value, new: &Value, out: &mut Vec<Op>) {
    Differ { key, out }.node(path, Slot::Field, old, new);
}

struct Differ<'a> {
    key: &'a str,
    out: &'a mut Vec<Op>,
}

/// True if appending `added` keys after the `kept` ones (in `new`'s order) reproduces `new`'s
/// order: kept keys keep their relative order from `old`, and every added key comes after them.
fn order_ok(new_positions_in_old: impl Iterator<Item = Option<usize>>) -> bool {
    let mut last = None;
    let mut seen_added = false;
    for p in new_positions_in_old {
        match p {
            Some(i) => {
                if seen_added || last.is_some_and(|l| i < l) {
                    return false;
                }
                last = Some(i);
            }
            None => seen_added = true,
        }
    }
    true
}

impl Differ<'_> {
    fn key(&self) -> EcoString {
        self.key.into()
    }

    fn replace(&mut self, path: &[Seg], slot: Slot, new: &Value) {
        let key = self.key();
        let value = new.clone();
        self.out.push(match slot {
            Slot::Field => Op::Create { key, value },
            Slot::Prop => Op::Set {
                key,
                path: path.to_vec(),
                value,
            },
            Slot::MapValue => {
                let (k, parent) = path.split_last().expect("a Map value has a key segment");
                Op::MapSet {
                    key,
                    path: parent.to_vec(),
                    map_key: k.clone(),
                    value,
                }
            }
        });
    }

    fn node(&mut self, path: &mut Vec<Seg>, slot: Slot, old: &Value, new: &Value) {
        if same(old, new) {
            return;
        }
        let patched = match (old, new) {
            (Value::Object(a), Value::Object(b)) if a.null_proto == b.null_proto => {
                self.object(path, a, b)
            }
            (Value::Array(a), Value::Array(b)) => {
                self.array(path, a, b);
                true
            }
            (Value::Map(a), Value::Map(b)) => self.map(path, a, b),
            (Value::Set(a), Value::Set(b)) => self.set(path, a, b),
            _ => false,
        };
        if !patched {
            self.replace(path, slot, new);
        }
    }

    fn object(&mut self, path: &mut Vec<Seg>, a: &Obj, b: &Obj) -> bool {
        let kept = b.map.keys().filter(|k| a.map.contains_key(k)).count();
        if kept == 0 && !a.map.is_empty() {
            return false; // nothing in common: one replacement is smaller
        }
        if !order_ok(b.map.keys().map(|k| a.map.get_index_of(k))) {
            return false;
        }
        for k in a.map.keys().filter(|k| !b.map.contains_key(k)) {
            path.push(Seg::Key(k.as_ref().into()));
            self.out.push(Op::Delete {
                key: self.key(),
                path: path.clone(),
            });
            path.pop();
        }
        for (k, nv) in &b.map {
            path.push(Seg::Key(k.as_ref().into()));
            match a.map.get(k) {
                Some(ov) => self.node(path, Slot::Prop, ov, nv),
                None => self.out.push(Op::Set {
                    key: self.key(),
                    path: path.clone(),
                    value: nv.clone(),
                }),
            }
            path.pop();
        }
        true
    }

    fn array(&mut self, path: &mut Vec<Seg>, a: &[Value], b: &[Value]) {
        let min = a.len().min(b.len());
        let pre = a.iter().zip(b).take_while(|(x, y)| same(x, y)).count();
        let suf = a[pre..]
            .iter()
            .rev()
            .zip(b[pre..].iter().rev())
            .take(min - pre)
            .take_while(|(x, y)| same(x, y))
            .count();
        let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
        if am.len() == bm.len() {
            for (i, (x, y)) in am.iter().zip(bm).enumerate() {
                path.push(Seg::index(pre + i));
                match (x, y) {
                    (Value::Hole, Value::Hole) => {}
                    (_, Value::Hole) => self.out.push(Op::Delete {
                        key: self.key(),
                        path: path.clone(),
                    }),
                    (Value::Hole, y) => self.out.push(Op::Set {
                        key: self.key(),
                        path: path.clone(),
                        value: y.clone(),
                    }),
                    (x, y) => self.node(path, Slot::Prop, x, y),
                }
                path.pop();
            }
            return;
        }
        // JS `splice` cannot insert holes: insert undefined, then punch the holes with `d`.
        let items = bm
            .iter()
            .map(|v| {
                if matches!(v, Value::Hole) {
                    Value::Undefined
                } else {
                    v.clone()
                }
            })
            .collect();
        self.out.push(Op::Splice {
            key: self.key(),
            path: path.clone(),
            index: pre,
            delete: am.len(),
            items,
        });
        for (i, _) in bm
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v, Value::Hole))
        {
            path.push(Seg::index(pre + i));
            self.out.push(Op::Delete {
                key: self.key(),
                path: path.clone(),
            });
            path.pop();
        }
    }

    fn map(&mut self, path: &mut Vec<Seg>, a: &Rc<MapEntries>, b: &Rc<MapEntries>) -> bool {
        // Object keys have no identity across processes: such Maps are replaced whole.
        if a.keys().chain(b.keys()).any(|k| k.is_obj()) {
            return false;
        }
        let kept = b.keys().filter(|k| a.contains_key(*k)).count();
        if kept == 0 && !a.is_empty() {
            return false;
        }
        // Entries `b` keeps in `a`'s order up to `moved_from`; from there on, kept entries are
        // deleted and set again in `b`'s order. That is what a concurrent writer's entries
        // landing before this process's own pending ones need: a patch in proportion to the
        // entries that moved, not to the Map (a Map cannot insert in the middle).
        let moved_from = if order_ok(b.keys().map(|k| a.get_index_of(k))) {
            b.len()
        } else {
            let in_place = a
                .keys()
                .filter(|k| b.contains_key(*k))
                .zip(b.keys())
                .take_while(|(x, y)| x == y)
                .count();
            if 2 * (b.len() - in_place) > b.len() {
                return false; // most entries move: one replacement is smaller
            }
            in_place
        };
        for (k, (kv, _)) in a.iter() {
            let gone = match b.get_index_of(k) {
                None => true,
                Some(i) => i >= moved_from,
            };
            if gone {
                self.out.push(Op::MapDelete {
                    key: self.key(),
                    path: path.clone(),
                    map_key: Seg::of_key(kv),
                });
            }
        }
        for (i, (k, (kv, nv))) in b.iter().enumerate() {
            match a.get(k).filter(|_| i < moved_from) {
                Some((_, ov)) => {
                    path.push(Seg::of_key(kv));
                    self.node(path, Slot::MapValue, ov, nv);
                    path.pop();
                }
                None => self.out.push(Op::MapSet {
                    key: self.key(),
                    path: path.clone(),
                    map_key: Seg::of_key(kv),
                    value: nv.clone(),
                }),
            }
        }
        true
    }

    fn set(&mut self, path: &[Seg], a: &Rc<SetMembers>, b: &Rc<SetMembers>) -> bool {
        // An object member cannot be patched in place (its position is not stable under `sa`).
        if a.keys().chain(b.keys()).any(|k| k.is_obj()) {
            return false;
        }
        let kept = b.keys().filter(|k| a.contains_key(*k)).count();
        if (kept == 0 && !a.is_empty()) || !order_ok(b.keys().map(|k| a.get_index_of(k))) {
            return false;
        }
        for (_, m) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
            self.out.push(Op::SetDelete {
                key: self.key(),
                path: path.to_vec(),
                member: Seg::of_key(m),
            });
        }
        for (_, m) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
            self.out.push(Op::SetAdd {
                key: self.key(),
                path: path.to_vec(),
                value: m.clone(),
            });
        }
        true
    }
}

/// Ops turning the state `old` into `new`, field order included. `c` appends a new field and
/// keeps an existing one's place, so fields that would land out of order are removed and
/// recreated in `new`'s order.
pub fn fields_patch(old: &Fields, new: &Fields) -> Vec<Op> {
    let mut ops: Vec<Op> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| Op::Remove {
            key: k.as_str().into(),
        })
        .collect();
    let kept = old.keys().filter(|k| new.contains_key(*k));
    let added = new.keys().filter(|k| !old.contains_key(*k));
    let in_place = kept
        .chain(added)
        .zip(new.keys())
        .take_while(|(a, b)| a == b)
        .count();
    for (i, (k, nv)) in new.iter().enumerate() {
        match old.get(k) {
            Some(ov) if i < in_place => ops.extend(diff(k, Some(ov), Some(nv))),
            Some(_) => {
                ops.push(Op::Remove {
                    key: k.as_str().into(),
                });
                ops.push(Op::Create {
                    key: k.as_str().into(),
                    value: nv.clone(),
                });
            }
            None => ops.push(Op::Create {
                key: k.as_str().into(),
                value: nv.clone(),
            }),
        }
    }
    ops
}

/// The ops an `r` (assign) op stands for on `fields`: a diff against the value it replaces, or a
/// plain `s`/`ms` where there is none. Other ops come back as they are.
pub fn assign_ops(fields: &Fields, op: Op) -> Vec<Op> {
    let Op::Assign {
        key,
        mut path,
        value,
    } = op
    else {
        return vec![op];
    };
    if path.is_empty() {
        return diff(&key, fields.get(key.as_str()), Some(&value));
    }
    let parent = fields
        .get(key.as_str())
        .and_then(|root| get_at(root, &path[..path.len() - 1]));
    let last = path.last().cloned();
    let (Some(parent), Some(last)) = (parent, last) else {
        // Let apply report what is wrong with the path.
        return vec![Op::Assign { key, path, value }];
    };
    let in_map = matches!(parent, Value::Map(_));
    let mut out = Vec::new();
    match (parent, get_at(parent, std::slice::from_ref(&last))) {
        (Value::Map(_) | Value::Object(_) | Value::Array(_), Some(old)) => {
            diff_in(&key, &mut path, in_map, old, &value, &mut out);
        }
        (Value::Map(_), None) => {
            path.pop();
            out.push(Op::MapSet {
                key,
                path,
                map_key: last,
                value,
            });
        }
        (Value::Object(_) | Value::Array(_), None) => out.push(Op::Set { key, path, value }),
        _ => out.push(Op::Assign { key, path, value }),
    }
    out
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
