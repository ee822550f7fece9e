//! Map order under pending batches, put right once rather than after every remote batch.
//!
//! A remote batch that commutes with the pending ones (see `fold`) is applied on top of them, so
//! the keys it adds to a Map land after the keys this process added and the root has not ordered
//! yet: by the invariant they belong before them. Moving the pending keys back after every remote
//! batch costs the number of pending keys each time, which is what many concurrent writers of one
//! Map pay most. Instead such a Map is noted as unordered from the first entry that may be out of
//! place, and put in order when nothing is pending any more (every key then has its place in the
//! confirmed state), or when the whole state is diffed anyway (`rebase`, a snapshot). Meanwhile
//! the values are the invariant's; only the entry order of those Maps is not. Every entry is
//! moved at most once per stretch of pending batches, with one `mm` op per Map.
//!
//! Positions stay right while a Map is unordered: its out-of-place tail only ever holds primitive
//! keys (an op that names a Map key by position, or by an object, is never folded; see `fold`),
//! and an object key this process adds lands last, after every key counted before it in either
//! order.

use std::collections::HashSet;
use std::rc::Rc;

use super::fold::same_path;
use super::Engine;
use crate::apply::{get_at, walk};
use crate::op::{encode_key, encode_seg, Op};
use crate::path::Seg;
use crate::value::{Fields, Hasher, MapEntries, MapKey, Value};
use ecow::EcoString;

/// A Map of the shown state whose entries from `from` on may be out of the invariant's order.
#[derive(Debug)]
pub(super) struct Unordered {
    key: EcoString,
    path: Vec<Seg>,
    from: usize,
}

/// Whether `op` may replace the Map at `path` in its field, or one of its ancestors.
fn may_replace(op: &Op, path: &[Seg]) -> bool {
    match op {
        Op::Dispatch { .. } => false,
        Op::Create { .. } | Op::Remove { .. } | Op::Assign { .. } => true,
        Op::Set { path: p, .. } | Op::Delete { path: p, .. } => p.len() <= path.len(),
        Op::MapSet { path: p, .. } | Op::MapDelete { path: p, .. } => p.len() < path.len(),
        Op::Splice { path: p, .. }
        | Op::Push { path: p, .. }
        | Op::SetAdd { path: p, .. }
        | Op::SetDelete { path: p, .. }
        | Op::Clear { path: p, .. } => p.len() <= path.len(),
    }
}

impl Engine {
    /// A batch was applied to the shown state (a remote one folded under the pending ones, or a
    /// local one): keeps each unordered Map's `from` a lower bound. A deletion in the Map moves
    /// the entries after it one place up; an op that may replace the Map has it checked whole.
    pub(super) fn order_track(&mut self, ops: &[Op]) {
        if self.unordered.is_empty() {
            return;
        }
        for op in ops {
            for u in self.unordered.iter_mut().filter(|u| u.key == op.key()) {
                match op {
                    Op::MapDelete { path, .. } if same_path(path, &u.path) => {
                        u.from = u.from.saturating_sub(1)
                    }
                    Op::Clear { path, .. } if same_path(path, &u.path) => u.from = 0,
                    _ if may_replace(op, &u.path) => u.from = 0,
                    _ => {}
                }
            }
        }
    }

    /// A commuting remote batch added entries (its `ms` op `set`) to a Map the pending batches
    /// add to: notes the Map as unordered from the first of the keys whose place the pending
    /// batches decide, unless those are still last.
    pub(super) fn order_defer(&mut self, set: &Op) {
        let Op::MapSet { key, path, .. } = set else {
            return;
        };
        if self
            .unordered
            .iter()
            .any(|u| &u.key == key && same_path(&u.path, path))
        {
            return;
        }
        self.catch_up();
        let theirs = self.pending_keys(key, path);
        let Some(Ok(Value::Map(m))) = self
            .fields
            .get_mut(key.as_str())
            .map(|root| walk(root, path))
        else {
            return;
        };
        let Some(from) = theirs.iter().filter_map(|k| m.get_index_of(k)).min() else {
            return;
        };
        let ours = theirs.iter().filter(|k| m.contains_key(*k)).count();
        if m.len() - from == ours {
            return; // still last
        }
        self.unordered.push(Unordered {
            key: key.clone(),
            path: path.clone(),
            from,
        });
    }

    /// The keys of the Map at `path` in field `key` whose place the pending batches decide: the
    /// ones they add, or delete and set again.
    fn pending_keys(&self, key: &str, path: &[Seg]) -> HashSet<MapKey, Hasher> {
        let base = self
            .confirmed
            .as_ref()
            .and_then(|c| c.get(key))
            .and_then(|root| get_at(root, path));
        let mut theirs = HashSet::default();
        let Some(Value::Map(base)) = base else {
            return theirs;
        };
        let mut deleted = HashSet::<MapKey, Hasher>::default();
        for op in self.pending.iter().flat_map(|p| p.ops.iter()) {
            let (Op::MapSet {
                key: k,
                path: p,
                map_key,
                ..
            }
            | Op::MapDelete {
                key: k,
                path: p,
                map_key,
            }) = op
            else {
                continue;
            };
            if k != key || !same_path(p, path) {
                continue;
            }
            let Some(mk) = map_key.map_key() else {
                continue;
            };
            if matches!(op, Op::MapDelete { .. }) {
                deleted.insert(mk);
            } else if deleted.contains(&mk) || !base.contains_key(&mk) {
                theirs.insert(mk);
            }
        }
        theirs.extend(deleted.into_iter().filter(|k| base.contains_key(k)));
        theirs
    }

    /// Puts every unordered Map in the invariant's order; appends to `out` (a JSON array being
    /// written) one `mm` op per Map that had entries out of place.
    pub(super) fn order_settle(&mut self, out: &mut String) {
        for u in std::mem::take(&mut self.unordered) {
            self.sort_map(&u, out);
        }
    }

    /// The state is diffed whole (a rebase, a snapshot): that puts every Map in order.
    pub(super) fn order_forget(&mut self) {
        self.unordered.clear();
    }

    /// `u`'s Map in the confirmed copy and in the shown state.
    fn maps_of(&self, u: &Unordered) -> Option<(&MapEntries, &MapEntries)> {
        Some((
            map_at(self.confirmed.as_ref()?, u)?,
            map_at(&self.fields, u)?,
        ))
    }

    /// The entries of `u`'s Map from `u.from` on, each with its rank in the invariant's order:
    /// the confirmed state's entries by their place there, then those the pending batches place,
    /// by their place here. Reads a caught-up confirmed copy.
    fn confirmed_order(&self, u: &Unordered) -> Option<Vec<(u64, usize)>> {
        let theirs = self.pending_keys(&u.key, &u.path);
        let (base, m) = self.maps_of(u)?;
        // Ranks pack (theirs, place) in one word: the confirmed state's entries first, by their
        // place there, then ours by their place here (both places are below 2^62).
        const OURS: u64 = 1 << 63;
        Some(
            (u.from.min(m.len())..m.len())
                .map(|i| {
                    let (k, _) = m.get_index(i).expect("in range");
                    let rank = if theirs.contains(k) {
                        OURS | i as u64
                    } else {
                        base.get_index_of(k).map_or(OURS - 1, |b| b as u64)
                    };
                    (rank, i)
                })
                .collect(),
        )
    }

    /// `confirmed_order` when nothing is pending, without catching the confirmed copy up: the
    /// batches waiting in `lag` are only read for the keys they add to this Map, in order. The
    /// root's order is the confirmed copy's, followed by the keys the lagging batches added, as
    /// they added them. `None` when that cannot be read off (something is pending, there is no
    /// confirmed copy, or a lagging batch does more to this Map than set keys that have an
    /// identity): the caller catches up instead.
    fn lag_order(&self, u: &Unordered) -> Option<Vec<(u64, usize)>> {
        if !self.pending.is_empty() {
            return None;
        }
        let (base, m) = self.maps_of(u)?;
        let from = u.from.min(m.len());
        const UNSET: u64 = u64::MAX;
        // The entries the confirmed copy holds already keep their place there. None of them is
        // from `from` on when all its keys take, in its order, the first places here before
        // `from` (checked when that costs no more than looking the tail up).
        let tail = m.len() - from;
        let none_there =
            base.len() <= from.min(tail) && base.keys().zip(m.keys()).all(|(a, b)| a == b);
        let mut rank: Vec<u64> = if none_there {
            vec![UNSET; tail]
        } else {
            m[from..]
                .keys()
                .map(|k| base.get_index_of(k).map_or(UNSET, |b| b as u64))
                .collect()
        };
        // Each other entry comes where the first lagging batch that sets its key adds it (with
        // no deletion among them, a key the confirmed copy lacks is new there until then).
        let mut next = base.len() as u64;
        // The keys one batch adds sit one after another here (they were appended together), so
        // the place of the next key is guessed first and only looked up when the guess is wrong.
        let mut guess = usize::MAX;
        for op in self.lag.iter().flatten() {
            if op.key() != u.key.as_str() {
                continue;
            }
            match op {
                Op::MapSet { path, map_key, .. } if same_path(path, &u.path) => {
                    let at = match (m.get_index(guess), map_key) {
                        (Some((MapKey::Str(g), _)), Seg::Key(s)) if g == s => Some(guess),
                        _ => m.get_index_of(&map_key.map_key()?),
                    };
                    guess = at.map_or(usize::MAX, |i| i + 1);
                    if let Some(i) = at.filter(|&i| i >= from) {
                        if rank[i - from] == UNSET {
                            rank[i - from] = next;
                            next += 1;
                        }
                    }
                }
                Op::MapDelete { path, .. } | Op::Clear { path, .. } if same_path(path, &u.path) => {
                    return None
                }
                _ if may_replace(op, &u.path) => return None,
                _ => {}
            }
        }
        rank.into_iter()
            .enumerate()
            .map(|(j, r)| (r != UNSET).then_some((r, from + j)))
            .collect()
    }

    /// Sorts the entries of `u` from `u.from` on: first those the confirmed state holds, in its
    /// order, then those the pending batches place, in the order they have now. Entries that
    /// already follow each other in that order stay; the others go to the end in turn, which is
    /// what the one `mm` op for JS names.
    fn sort_map(&mut self, u: &Unordered, out: &mut String) {
        let order = match self.lag_order(u) {
            Some(order) => order,
            None => {
                self.catch_up();
                match self.confirmed_order(u) {
                    Some(order) => order,
                    None => return,
                }
            }
        };
        let Some(Ok(Value::Map(m))) = self
            .fields
            .get_mut(u.key.as_str())
            .map(|root| walk(root, &u.path))
        else {
            return;
        };
        let from = u.from.min(m.len());
        let order = sorted(order);
        // The longest run of the sorted order that the entries already hold, in turn: those stay.
        let mut kept = 0;
        for i in from..m.len() {
            if order.get(kept).is_some_and(|&(_, e)| e == i) {
                kept += 1;
            }
        }
        let moves = &order[kept..];
        if moves.is_empty() {
            return;
        }
        let m = Rc::make_mut(m);
        let tail = m.len() - from;
        let mut moving = vec![false; tail];
        for &(_, i) in moves {
            moving[i - from] = true;
        }
        if out.len() > 1 {
            out.push(',');
        }
        // Many moves: named by their places before the first (`mp`), which JS finds in one pass
        // over the Map, with the keys it holds (no key text to write, parse and hash again).
        // A few in a big Map: named by key (`mm`), each looked up.
        let by_place = 8 * moves.len() >= m.len();
        out.push_str(if by_place { r#"["mp","# } else { r#"["mm","# });
        crate::codec::write_str(&u.key, out);
        out.push_str(",[");
        for (i, seg) in u.path.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            encode_seg(seg, out);
        }
        out.push_str("],[");
        for (n, &(_, i)) in moves.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            if by_place {
                out.push_str(itoa::Buffer::new().format(i));
                continue;
            }
            let (k, (kv, _)) = m.get_index(i).expect("in range");
            if matches!(k, MapKey::Obj(_)) {
                // An object key has no identity in JS: named by where it stands when its turn
                // comes, after the entries before it that already went to the end.
                let gone = moves[..n].iter().filter(|&&(_, e)| e < i).count();
                encode_seg(&Seg::Pos(i - gone), out);
            } else {
                encode_key(kv, out);
            }
        }
        out.push_str("]]");
        // The entries that stay keep their order, the others follow in turn (as JS moves them).
        let mut entries: Vec<_> = m.drain(from..).map(Some).collect();
        for (slot, _) in entries.iter_mut().zip(&moving).filter(|(_, &mv)| !mv) {
            let (k, e) = slot.take().expect("each entry once");
            m.insert(k, e);
        }
        for &(_, i) in moves {
            let (k, e) = entries[i - from].take().expect("each entry moves once");
            m.insert(k, e);
        }
    }
}

/// `u`'s Map in `fields`, if it is one.
fn map_at<'a>(fields: &'a Fields, u: &Unordered) -> Option<&'a MapEntries> {
    match get_at(fields.get(u.key.as_str())?, &u.path) {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    }
}

/// `order` sorted by rank. Ranks are distinct; when they are close together (the common case:
/// places in one Map), each entry goes straight to its slot instead of being compared.
fn sorted(mut order: Vec<(u64, usize)>) -> Vec<(u64, usize)> {
    let (Some(lo), Some(hi)) = (
        order.iter().map(|e| e.0).min(),
        order.iter().map(|e| e.0).max(),
    ) else {
        return order;
    };
    let span = hi - lo;
    if span >= 4 * order.len() as u64 + 64 {
        order.sort_unstable();
        return order;
    }
    let mut slots = vec![usize::MAX; span as usize + 1];
    for &(r, i) in &order {
        slots[(r - lo) as usize] = i;
    }
    let mut out = Vec::with_capacity(order.len());
    for (d, i) in slots.into_iter().enumerate() {
        if i != usize::MAX {
            out.push((lo + d as u64, i));
        }
    }
    if out.len() != order.len() {
        // Two entries with one rank cannot happen; should it, compare them after all.
        order.sort_unstable();
        return order;
    }
    out
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
