//! Folding a remote batch under this process's pending batches. The shown state is the root's
//! state with the pending batches on top; a remote batch lands under them. Recomputing that
//! (`rebase`: copy the root's state, replay the pending batches, diff the result against what is
//! shown) costs in proportion to the state. Most remote batches touch other places than the
//! pending ones do, and then they commute: applied on top they give the same values. What can
//! still differ is the order of a Map whose new keys (the remote batch's) must come before the
//! ones this process added and the root has not ordered yet: that is put right later, once
//! (see `order`). So a commuting batch is applied to both states as it is, and JS gets the
//! batch's ops. The cost is in proportion to the ops involved. Anything else falls back to
//! `rebase`.
//!
//! "Touches the same place" is decided on paths alone, conservatively: a path counts up to its
//! first array index (an array's elements shift and its length moves, so any two ops inside one
//! array are taken to meet), and a path that names an entry by position, or an object key, is
//! not folded at all.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use crate::apply::Growth;
use crate::error::CoreError;
use crate::op::{encode_op_after, Op};
use crate::path::Seg;
use crate::txn::apply_batch_in;
use crate::value::{Hasher, MapKey, Value};

use super::Engine;

/// One path segment as far as meeting is concerned.
#[derive(PartialEq)]
enum Step<'a> {
    /// An object key or a Map's string key.
    Name(&'a str),
    /// A Map key that is neither a string nor a number.
    Tagged(MapKey),
    /// An array index or `length`, a Set position, or a Map's number key (indistinguishable
    /// here): the location ends before it.
    Index,
    /// A position reference or an object key: not folded.
    Bail,
}

fn step(seg: &Seg) -> Step<'_> {
    match seg {
        Seg::Key(s) if s == "length" || seg.as_index().is_some() => Step::Index,
        Seg::Key(s) => Step::Name(s),
        Seg::Num(_) => Step::Index,
        Seg::Other(Value::Str(s)) if s == "length" || Seg::Key(s.clone()).as_index().is_some() => {
            Step::Index
        }
        Seg::Other(Value::Str(s)) => Step::Name(s.as_str()),
        Seg::Other(v) => match MapKey::primitive(v) {
            Some(MapKey::Num(_)) => Step::Index,
            Some(k) => Step::Tagged(k),
            None => Step::Bail,
        },
        Seg::Pos(_) => Step::Bail,
    }
}

/// What an op changes besides the value at its location.
#[derive(Clone, Copy, PartialEq)]
enum Sibling {
    /// Nothing else.
    None,
    /// The order of the fields (`c`).
    Field,
    /// The order of the object holding it (`s`/`d` of a named key; parent hash).
    Prop(u64),
    /// The order of the Map holding it (`ms`/`md` of a named key; parent hash).
    Entry(u64),
}

/// Where an op acts: fills `hashes` with the hashes of its location's prefixes, shortest first,
/// the last being the location itself (none for an op that changes no state), and returns what
/// else it changes. Hash collisions only ever make two places look the same, which costs a
/// fallback, never a wrong answer. (`hashes` is the caller's, reused: allocating it per op was
/// three quarters of the cost of this function.)
fn foot(op: &Op, hs: &Hasher, hashes: &mut Vec<u64>) -> Option<Sibling> {
    hashes.clear();
    let (segs, last, structural): (&[Seg], Option<&Seg>, bool) = match op {
        Op::Dispatch { .. } => return Some(Sibling::None),
        Op::Assign { .. } => return None,
        Op::Create { .. } | Op::Remove { .. } => (&[], None, false),
        Op::Set { path, .. } | Op::Delete { path, .. } => (path, None, true),
        Op::MapSet { path, map_key, .. } | Op::MapDelete { path, map_key, .. } => {
            (path, Some(map_key), true)
        }
        Op::Splice { path, .. }
        | Op::Push { path, .. }
        | Op::SetAdd { path, .. }
        | Op::SetDelete { path, .. }
        | Op::Clear { path, .. } => (path, None, false),
    };
    let mut h = hs.hash_one(("f", op.key()));
    hashes.push(h);
    let mut whole = true;
    for seg in segs.iter().chain(last) {
        match step(seg) {
            Step::Name(s) => h = hs.hash_one((h, 0u8, s)),
            Step::Tagged(k) => h = hs.hash_one((h, 1u8, k)),
            Step::Index => {
                whole = false;
                break;
            }
            Step::Bail => return None,
        }
        hashes.push(h);
    }
    let parent = || hashes[hashes.len() - 2];
    Some(match op {
        Op::Create { .. } => Sibling::Field,
        Op::Set { .. } | Op::Delete { .. } if whole && structural && hashes.len() > 1 => {
            Sibling::Prop(parent())
        }
        Op::MapSet { .. } | Op::MapDelete { .. } if whole => Sibling::Entry(parent()),
        _ => Sibling::None,
    })
}

/// The places the pending batches touch, counted: a batch joining or leaving the pending ones
/// costs its own ops, not all of theirs.
pub(super) struct Touched {
    hs: Hasher,
    /// Every location.
    at: Counts,
    /// Every prefix of every location.
    under: Counts,
    /// Objects and Maps whose entries they add or remove.
    parents: Counts,
    /// Ops that create or remove fields.
    fields: u32,
    /// Ops whose place cannot be told (nothing commutes with them).
    opaque: u32,
}

impl std::fmt::Debug for Touched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Touched({} places)", self.at.len())
    }
}

/// Counts per place hash. The hashes are already seeded at random per process, and SipHash (the
/// std default) over them cost most of the time of counting.
type Counts = HashMap<u64, u32, Hasher>;

fn bump(m: &mut Counts, h: u64, add: bool) {
    if add {
        *m.entry(h).or_default() += 1;
    } else if let Some(n) = m.get_mut(&h) {
        *n -= 1;
        if *n == 0 {
            m.remove(&h);
        }
    }
}

impl Touched {
    fn new() -> Self {
        Touched {
            hs: Hasher::default(),
            at: Counts::default(),
            under: Counts::default(),
            parents: Counts::default(),
            fields: 0,
            opaque: 0,
        }
    }

    /// Counts the places of `ops` in (`add`) or out (they were counted in before).
    pub(super) fn count(&mut self, ops: &[Op], add: bool) {
        let step = |n: &mut u32| if add { *n += 1 } else { *n -= 1 };
        let mut hashes = Vec::new();
        for op in ops {
            let Some(sibling) = foot(op, &self.hs, &mut hashes) else {
                step(&mut self.opaque);
                continue;
            };
            let Some(&at) = hashes.last() else { continue };
            bump(&mut self.at, at, add);
            for &h in &hashes {
                bump(&mut self.under, h, add);
            }
            match sibling {
                Sibling::Field => step(&mut self.fields),
                Sibling::Prop(p) | Sibling::Entry(p) => bump(&mut self.parents, p, add),
                Sibling::None => {}
            }
            if matches!(op, Op::Remove { .. }) {
                step(&mut self.fields);
            }
        }
    }
}

/// Whether two `ms` ops set entries of one Map (same field, same path).
fn same_map(a: &Op, b: &Op) -> bool {
    matches!((a, b), (Op::MapSet { key: k1, path: p1, .. }, Op::MapSet { key: k2, path: p2, .. })
        if k1 == k2 && same_path(p1, p2))
}

/// Whether two paths name the same place (as far as `step` tells).
pub(super) fn same_path(a: &[Seg], b: &[Seg]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| step(x) == step(y))
}

impl Engine {
    /// Applies remote batch `ops` (`bytes`: its text's size) to the root's state and the shown
    /// one; returns the patch for JS (a JSON array of ops), or `None` when JS is to apply the
    /// batch's own ops as they are (it commuted and holds no event: JS parses the frame anyway,
    /// so writing the same ops again here would only cost). An error (the batch does not apply
    /// to the root's state) changes nothing.
    ///
    /// A commuting batch is applied to the shown state only, and waits in `lag` for the confirmed
    /// copy: where it acts the two states agree, so it applies to one exactly when it applies to
    /// the other. `check_confirmed` applies it to the confirmed copy first all the same, for a
    /// caller that decides itself whether the batch applies (a follower of a log: every process
    /// must decide alike).
    pub(super) fn fold_remote(
        &mut self,
        ops: Vec<Op>,
        bytes: usize,
        check_confirmed: bool,
    ) -> Result<Option<String>, CoreError> {
        let max = self.limits.max_array_length;
        let growth = || Growth::new(max);
        if ops.is_empty() {
            return Ok(None);
        }
        if check_confirmed {
            self.catch_up();
            let confirmed = self.confirmed.get_or_insert_with(|| self.fields.clone());
            apply_batch_in(confirmed, &ops, &mut self.scratch, growth())?;
        }
        let folded = self.commuting(&ops).and_then(|maps| {
            apply_batch_in(&mut self.fields, &ops, &mut self.scratch, growth()).ok()?;
            Some(maps)
        });
        let mut out = String::from("[");
        let Some(maps) = folded else {
            if !check_confirmed {
                self.catch_up();
                let confirmed = self.confirmed.get_or_insert_with(|| self.fields.clone());
                apply_batch_in(confirmed, &ops, &mut self.scratch, growth())?;
            }
            let patch = self.rebase();
            push_ops(&mut out, patch.iter());
            // A state diff carries no events: the batch's dispatches follow the patch.
            push_ops(
                &mut out,
                ops.iter().filter(|o| matches!(o, Op::Dispatch { .. })),
            );
            out.push(']');
            return Ok(Some(out));
        };
        self.order_track(&ops);
        for &i in &maps {
            self.order_defer(&ops[i]);
        }
        let patch = if ops.iter().any(|o| matches!(o, Op::Dispatch { .. })) {
            push_ops(
                &mut out,
                ops.iter().filter(|o| !matches!(o, Op::Dispatch { .. })),
            );
            push_ops(
                &mut out,
                ops.iter().filter(|o| matches!(o, Op::Dispatch { .. })),
            );
            out.push(']');
            Some(out)
        } else {
            None
        };
        if !check_confirmed {
            self.lag_push(ops, bytes);
        }
        Ok(patch)
    }

    /// `Some` when `ops` commutes with every pending batch: the indices of its `ms` ops, one per
    /// Map, whose Map the pending batches also add to or remove from (its order may need
    /// restoring). `None` when it may not commute.
    fn commuting(&mut self, ops: &[Op]) -> Option<Vec<usize>> {
        if self.pending.iter().any(|p| !p.applied || p.unread) {
            return None;
        }
        let pending = &self.pending;
        let t = self.touched.get_or_insert_with(|| {
            let mut t = Touched::new();
            for p in pending {
                t.count(&p.ops, true);
            }
            t
        });
        if t.opaque > 0 {
            return None;
        }
        let hs = &t.hs;
        let mut maps = Vec::new();
        let mut seen = HashSet::<u64, Hasher>::default();
        let mut hashes = Vec::new();
        // The last op checked whole when it set a named key of a Map, and that Map's place: the
        // sets that follow it on the same Map (an `ms` with many pairs) share the place and the
        // checks of everything but their key.
        let mut run: Option<(&Op, u64)> = None;
        for (i, op) in ops.iter().enumerate() {
            if let (Some((first, map)), Op::MapSet { map_key, .. }) = (run, op) {
                if same_map(first, op) {
                    let at = match step(map_key) {
                        Step::Name(s) => hs.hash_one((map, 0u8, s)),
                        Step::Tagged(k) => hs.hash_one((map, 1u8, k)),
                        Step::Index | Step::Bail => u64::MAX,
                    };
                    if at != u64::MAX {
                        if t.at.contains_key(&at) || t.under.contains_key(&at) {
                            return None;
                        }
                        continue;
                    }
                }
            }
            run = None;
            let sibling = foot(op, hs, &mut hashes)?;
            let Some(&at) = hashes.last() else { continue };
            if hashes.iter().any(|h| t.at.contains_key(h)) || t.under.contains_key(&at) {
                return None;
            }
            if let (Op::MapSet { .. }, Sibling::Entry(map)) = (op, sibling) {
                run = Some((op, map));
            }
            match sibling {
                Sibling::Field if t.fields > 0 => return None,
                Sibling::Prop(p) if t.parents.contains_key(&p) => return None,
                Sibling::Entry(p)
                    if matches!(op, Op::MapSet { .. })
                        && t.parents.contains_key(&p)
                        && seen.insert(p) =>
                {
                    maps.push(i)
                }
                _ => {}
            }
        }
        Some(maps)
    }
}

/// Appends ops to a JSON array being written (`out` starts with `[`), a run of `Map#set`s on one
/// Map as one `ms` op.
fn push_ops<'a>(out: &mut String, ops: impl Iterator<Item = &'a Op>) {
    let mut prev = None;
    for op in ops {
        if prev.is_none() && out.len() > 1 {
            out.push(',');
        }
        encode_op_after(prev, op, out);
        prev = Some(op);
    }
}

#[cfg(test)]
#[path = "fold_tests.rs"]
pub(crate) mod tests;
