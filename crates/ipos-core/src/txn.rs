//! Atomic batches. Every op is atomic by itself (it checks before it mutates); a batch of several
//! ops logs each op's inverse and, if a later op fails, undoes them in reverse. The inverses hold
//! the old values moved out of the state, so a batch never copies a container: pushing onto a
//! 100,000-element array costs the same inside a batch as alone.

use std::rc::Rc;

use crate::apply::{apply_op, apply_op_inv, walk, Inverse, Undo};
use crate::error::CoreError;
use crate::op::Op;
use crate::value::{Fields, Value};

/// Applies a batch atomically: on error `fields` is unchanged.
pub fn apply_batch(fields: &mut Fields, ops: &[Op]) -> Result<(), CoreError> {
    match ops {
        [] => Ok(()),
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

/// An undo log for applying several ops as one.
#[derive(Default)]
pub struct Txn {
    log: Vec<Inverse>,
}

impl Txn {
    /// Applies one op, logging its inverse. A failed op changed nothing and logs nothing.
    pub fn apply(&mut self, fields: &mut Fields, op: &Op) -> Result<(), CoreError> {
        let inv = apply_op_inv(fields, op)?;
        if !matches!(inv, Inverse::None) {
            self.log.push(inv);
        }
        Ok(())
    }

    /// Undoes every logged op, last first, leaving `fields` as before the first.
    pub fn rollback(self, fields: &mut Fields) {
        for inv in self.log.into_iter().rev() {
            match inv {
                Inverse::None => {}
                Inverse::Field(k, None) => {
                    fields.shift_remove(&k);
                }
                Inverse::Field(k, Some((i, v))) => match fields.get_mut(&k) {
                    Some(slot) => *slot = v,
                    None => {
                        fields.shift_insert(i.min(fields.len()), k, v);
                    }
                },
                Inverse::At(k, path, undo) => {
                    // The state is exactly as the op left it, so its path still leads here.
                    let target = fields.get_mut(&k).and_then(|root| walk(root, &path).ok());
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
        (Value::Object(o), Undo::Prop(k, old)) => {
            let map = &mut Rc::make_mut(o).map;
            match old {
                None => {
                    map.shift_remove(&k);
                }
                Some((i, v)) => match map.get_mut(&k) {
                    Some(slot) => *slot = v,
                    None => {
                        map.shift_insert(i.min(map.len()), k, v);
                    }
                },
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
                Undo::EntryBack(i, k, e) => {
                    m.shift_insert(i.min(m.len()), k, e);
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
                Undo::MemberBack(i, k, v) => {
                    s.shift_insert(i.min(s.len()), k, v);
                }
                _ => debug_assert!(false, "not a Set undo"),
            }
        }
        _ => debug_assert!(false, "undo does not match its container"),
    }
}
