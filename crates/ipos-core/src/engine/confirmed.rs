//! The confirmed state, kept up to date lazily. While batches are pending, every batch the root
//! sequences must reach `confirmed` (the root's state) as well as the shown state. Most of them
//! never need to be applied there: a remote batch that commutes with the pending ones is applied
//! to the shown state only, and our own batch confirmed as predicted is in the shown state
//! already. Such batches wait in `lag`, in sequence order, and are applied to `confirmed` only
//! when it is read (a rebase, a snapshot, becoming the root). A process whose pending batches
//! keep being confirmed as predicted, the common case of many writers, then keeps one copy of
//! the state up to date instead of two.
//!
//! Invariant: the root's state = `confirmed` + `lag` applied in order.

use super::Engine;
use crate::op::Op;
use crate::txn::apply_batch_in;

/// How far `confirmed` may fall behind.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct LagLimits {
    /// Most sequenced batches that wait for `confirmed`, and most bytes of their text: past
    /// either, they are applied (while batches are pending) or the copy is dropped (when none
    /// are: the shown state is the confirmed one then, and the next pending batch copies it).
    pub batches: usize,
    pub bytes: usize,
    /// How far behind a standby copy may be when a pending stretch ends (see `stretch_ended`).
    pub keep_batches: usize,
    pub keep_bytes: usize,
}

impl Default for LagLimits {
    fn default() -> Self {
        LagLimits {
            batches: 4096,
            bytes: 8 << 20,
            keep_batches: 32,
            keep_bytes: 256 << 10,
        }
    }
}

impl Engine {
    /// Sets how far the confirmed copy may fall behind (tests make it tiny, so that every way of
    /// catching up and dropping it is exercised).
    #[doc(hidden)]
    pub fn set_lag_limits(&mut self, limits: LagLimits) {
        self.lag_limits = limits;
    }

    /// Notes that the root sequenced `ops` (`bytes`: their text's size), already applied to the
    /// shown state: `confirmed` takes them when it is next read.
    pub(super) fn lag_push(&mut self, ops: Vec<Op>, bytes: usize) {
        if self.confirmed.is_none() {
            return;
        }
        self.lag.push(ops);
        self.lag_bytes += bytes;
        let l = self.lag_limits;
        if self.lag.len() > l.batches || self.lag_bytes > l.bytes {
            // A Map still to be put in order reads the copy (see `order`): keep it until then.
            if self.pending.is_empty() && self.unordered.is_empty() {
                self.drop_confirmed();
            } else {
                self.catch_up();
            }
        }
    }

    /// The last pending batch was confirmed: the shown state is the root's now. A copy far
    /// behind it is dropped rather than caught up later (that would cost as much as the batches it
    /// missed; the next pending batch copies what it writes instead). A copy only a little behind
    /// stays on as the standby copy.
    pub(super) fn stretch_ended(&mut self) {
        let l = self.lag_limits;
        if self.lag.len() > l.keep_batches || self.lag_bytes > l.keep_bytes {
            self.drop_confirmed();
        }
    }

    /// Forgets the confirmed copy (the shown state is the confirmed one, or a snapshot replaces
    /// both).
    pub(super) fn drop_confirmed(&mut self) {
        self.confirmed = None;
        self.lag.clear();
        self.lag_bytes = 0;
    }

    /// Brings `confirmed` up to date: applies what waits in `lag`.
    pub(super) fn catch_up(&mut self) {
        if self.lag.is_empty() {
            return;
        }
        let lag = std::mem::take(&mut self.lag);
        self.lag_bytes = 0;
        let growth = self.growth();
        let Some(c) = self.confirmed.as_mut() else {
            return;
        };
        for ops in &lag {
            if apply_batch_in(c, ops, &mut self.scratch, growth).is_err() {
                // Every batch here was sequenced by the root and applied on a state that agrees
                // with the root's where it acts, so this cannot fail. Should it anyway, the
                // root's state is not known here any more: ask the parent for a fresh one.
                debug_assert!(
                    false,
                    "a sequenced batch did not apply to the confirmed state"
                );
                self.confirmed = None;
                if !self.root && !self.behind {
                    self.behind = true;
                    self.resync_due = true;
                }
                return;
            }
        }
    }
}
