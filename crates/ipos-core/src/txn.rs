//! Atomic batches. Every op is atomic by itself (it checks before it mutates); a batch of several
//! ops logs each op's inverse and, if a later op fails, undoes them in reverse. The inverses hold
//! the old values moved out of the state, so a batch never copies a container: pushing onto a
//! 100,000-element array costs the same inside a batch as alone.

use std::rc::Rc;

use crate::apply::{apply_op_inv, map_run, map_run_inv, walk, Growth, Inverse, Undo};
use crate::error::CoreError;
use crate::op::Op;
use crate::value::{Fields, Value};

/// Applies a batch atomically: on error `fields` is unchanged. Arrays may grow as
/// `Growth::default()` allows.
pub fn apply_batch(fields: &mut Fields, ops: &[Op]) -> Result<(), CoreError> {
    apply_batch_in(fields, ops, &mut Scratch::default(), Growth::default())
}

/// An undo log's buffer, kept between batches. A fresh log for a large batch costs more than
/// applying its ops: every page of it is new memory the kernel has to fault in and clear.
#[derive(Default)]
pub(crate) struct Scratch(Vec<(usize, Inverse)>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch(capacity {})", self.0.capacity())
    }
}

/// Most log entries a `Scratch` keeps room for between batches (about 4.5 MiB).
const KEEP_ENTRIES: usize = 1 << 16;

/// `apply_batch`, with its undo log in `scratch` and the batch's allowance for growing arrays.
pub(crate) fn apply_batch_in(
    fields: &mut Fields,
    ops: &[Op],
    scratch: &mut Scratch,
    growth: Growth,
) -> Result<(), CoreError> {
    match ops {
        [] => Ok(()),
        [op] => apply_op_inv(fields, op, &mut growth.clone()).map(drop),
        _ => {
            let mut txn = Txn {
                log: std::mem::take(&mut scratch.0),
                applied: 0,
                growth,
            };
            // Room for every inverse at once: growing the log by doubling copies it each time.
            txn.log.reserve(ops.len());
            let mut result = Ok(());
            let mut i = 0;
            while i < ops.len() {
                // Sets on one Map that follow each other (an `ms` op's pairs) go in together.
                let n = map_run(&ops[i..]);
                if n > 1 {
                    if let Some(inv) = map_run_inv(fields, &ops[i..i + n]) {
                        txn.log.push((i, inv));
                        txn.applied += n;
                        i += n;
                        continue;
                    }
                }
                if let Err(e) = txn.apply(fields, &ops[i]) {
                    txn.undo(fields, ops);
                    result = Err(e);
                    break;
                }
                i += 1;
            }
            txn.log.clear();
            if txn.log.capacity() <= KEEP_ENTRIES {
                scratch.0 = txn.log;
            }
            result
        }
    }
}

/// An undo log for applying several ops as one.
#[derive(Default)]
pub struct Txn {
    /// (index of the op among those applied, its inverse), for ops that changed something.
    log: Vec<(usize, Inverse)>,
    applied: usize,
    /// What the ops may still grow arrays by: the batch's, shared by all its ops.
    growth: Growth,
}

impl Txn {
    /// A transaction whose ops together may grow arrays as `growth` allows.
    pub fn new(growth: Growth) -> Self {
        Txn {
            growth,
            ..Txn::default()
        }
    }

    /// Applies one op, logging its inverse. A failed op changed nothing and logs nothing.
    pub fn apply(&mut self, fields: &mut Fields, op: &Op) -> Result<(), CoreError> {
        let inv = apply_op_inv(fields, op, &mut self.growth)?;
        if !matches!(inv, Inverse::None) {
            self.log.push((self.applied, inv));
        }
        self.applied += 1;
        Ok(())
    }

    /// Undoes every logged op, last first, leaving `fields` as before the first. `ops` are the
    /// ops that `apply` applied, in order (a failed op may follow them).
    pub fn rollback(mut self, fields: &mut Fields, ops: &[Op]) {
        self.undo(fields, ops);
    }

    fn undo(&mut self, fields: &mut Fields, ops: &[Op]) {
        for (k, inv) in self.log.drain(..).rev() {
            match inv {
                Inverse::None => {}
                Inverse::FieldNew(i) => {
                    fields.shift_remove_index(i);
                }
                Inverse::FieldOld(i, v) => {
                    if let Some((_, slot)) = fields.get_index_mut(i) {
                        *slot = v;
                    }
                }
                Inverse::FieldBack(i, kv) => {
                    let (k, v) = *kv;
                    fields.shift_insert(i.min(fields.len()), k, v);
                }
                Inverse::At(i, walk_len, undo) => {
                    // The state is exactly as the op left it, so its path still leads here.
                    let path = ops.get(k).map(|op| &op.path()[..walk_len]);
                    let target = fields
                        .get_index_mut(i)
                        .zip(path)
                        .and_then(|((_, root), path)| walk(root, path).ok());
                    debug_assert!(target.is_some(), "undo path vanished");
                    if let Some(t) = target {
                        undo_in(t, undo);
                    }
                }
            }
        }
    }
}

fn undo_in(t: &mut Value, undo: Undo) {
    match (t, undo) {
        (_, Undo::Nothing) => {}
        (Value::Object(o), undo) => {
            let map = &mut Rc::make_mut(o).map;
            match undo {
                // Everything after it is undone already, so it is still where it was added.
                Undo::PropNew(i) => {
                    map.shift_remove_index(i);
                }
                Undo::PropOld(i, v) => {
                    if let Some((_, slot)) = map.get_index_mut(i) {
                        *slot = v;
                    }
                }
                Undo::PropBack(i, kv) => {
                    let (k, v) = *kv;
                    map.shift_insert(i.min(map.len()), k, v);
                }
                _ => debug_assert!(false, "not an object undo"),
            }
        }
        (Value::Array(a), undo) => {
            let a = Rc::make_mut(a);
            match undo {
                Undo::Elem(i, v) => {
                    if let Some(slot) = a.get_mut(i) {
                        *slot = v;
                    }
                }
                Undo::Truncate(n) => a.truncate(n),
                Undo::Extend(tail) => a.extend(tail),
                Undo::Splice(i, n, removed) => {
                    let end = (i + n).min(a.len());
                    a.splice(i.min(end)..end, removed);
                }
                _ => debug_assert!(false, "not an array undo"),
            }
        }
        (t @ (Value::Map(_) | Value::Set(_)), Undo::Whole(v)) => *t = v,
        (Value::Map(m), undo) => {
            let m = Rc::make_mut(m);
            match undo {
                Undo::Entry(i, Some(v)) => {
                    if let Some((_, e)) = m.get_index_mut(i) {
                        e.1 = v;
                    }
                }
                Undo::Entry(i, None) => {
                    m.shift_remove_index(i);
                }
                Undo::EntryBack(i, ke) => {
                    let (k, e) = *ke;
                    m.shift_insert(i.min(m.len()), k, e);
                }
                Undo::MapRun(len, replaced) => {
                    for (i, v) in replaced.into_iter().rev() {
                        if let Some((_, e)) = m.get_index_mut(i) {
                            e.1 = v;
                        }
                    }
                    // What the run appended is last.
                    m.truncate(len);
                }
                _ => debug_assert!(false, "not a Map undo"),
            }
        }
        (Value::Set(s), undo) => {
            let s = Rc::make_mut(s);
            match undo {
                Undo::PopMember => {
                    s.pop();
                }
                Undo::MemberBack(i, kv) => {
                    let (k, v) = *kv;
                    s.shift_insert(i.min(s.len()), k, v);
                }
                _ => debug_assert!(false, "not a Set undo"),
            }
        }
        _ => debug_assert!(false, "undo does not match its container"),
    }
}
