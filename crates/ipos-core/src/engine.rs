//! The engine: the mirror of the shared state and the sequencing of PROTOCOL.md. JS calls it once
//! per local batch and once per received frame, with JSON texts both ways.
//!
//! Invariant: `fields` (what this process shows) = the root's state at `seq` + every pending batch
//! re-applied in order, skipping a batch that no longer applies. The root's state is kept while
//! batches are pending, as `confirmed` plus the sequenced batches that have not been applied to it
//! yet (`lag`, see `confirmed`). It stays on as a standby copy (equal to `fields`) for a while
//! after the last pending batch is confirmed: a process that keeps writing would otherwise copy
//! every container it writes to each time it starts a new pending stretch. Batches taken by
//! `local_deferred` are numbered and sent at once but applied by `settle`, which every other
//! entry point runs first: observably the engine is always as if they had been applied in order.
//!
//! A remote batch arriving while batches are pending goes onto `fields` when it commutes with
//! them (`fold`); otherwise `rebase` recomputes `fields` from the root's state.

use std::collections::VecDeque;
use std::fmt::Write;

use crate::apply::Growth;
use crate::codec::{batch_shape, encode_value, write_str, Decoder};
use crate::diff::{assign_ops, fields_patch};
use crate::error::{self, CoreError};
use crate::frame::q_frame;
use crate::op::{decode_ops_text, ops_to_json, Op};
use crate::txn::{apply_batch_in, Scratch, Txn};
use crate::value::Fields;

mod confirmed;
#[doc(hidden)]
pub use confirmed::LagLimits;
mod fold;
mod follow;
mod order;
mod receive;
mod resend;
mod sequenced;
pub use receive::Snapshot;
use sequenced::Sequenced;
mod incoming;
mod stream;
pub use incoming::ChunkRead;
pub use stream::SnapshotWriter;

/// Limits applied to everything the engine accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest frame (and local batch) accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Most levels of container nesting inside a field's value.
    pub max_depth: usize,
    /// Whether function values are accepted.
    pub functions: bool,
    /// Longest array a batch may build (`maxArrayLength`); see `apply::Growth`.
    pub max_array_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: crate::limits::DEFAULT_MAX_FRAME_BYTES,
            max_depth: crate::limits::DEFAULT_MAX_DEPTH,
            functions: false,
            max_array_length: crate::apply::MAX_ARRAY_LENGTH,
        }
    }
}

/// What `Engine::receive` hands back for an accepted frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received {
    /// The verdict for JS, a JSON object (`{"k":...}`).
    pub verdict: String,
    /// A `q` frame for the children. For a `b` at the root: the frame that sequences it. For a
    /// `q` that arrived without its ops (our own batch): the full frame, rebuilt. `None` with a
    /// `q` verdict: relay the received frame as it is.
    pub frame: Option<String>,
    /// The same `q` without its ops, for the child whose peer is the batch's origin (`o` in the
    /// verdict); every other child gets the full frame.
    pub elided: Option<String>,
}

impl Received {
    fn verdict(v: impl Into<String>) -> Self {
        Received {
            verdict: v.into(),
            ..Received::default()
        }
    }
}

/// A local batch sent up and not yet confirmed by the root.
#[derive(Debug)]
struct Pending {
    n: u64,
    ops: Vec<Op>,
    /// The ops as sent: what the root copies into its `q`, and so what rebuilds that `q`.
    text: String,
    /// Whether the batch applied here (at the last rebase). Only a `local_deferred` batch that
    /// `settle` could not apply (a bug in the caller) can be pending without having applied.
    applied: bool,
    /// `settle` could not even read it: `ops` is empty and it never applies.
    unread: bool,
}

/// A batch taken by `local_deferred`, sent but not yet applied.
#[derive(Debug)]
struct Deferred {
    n: u64,
    text: String,
}

/// The mirror and sequencer of one ipos instance.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    fields: Fields,
    confirmed: Option<Fields>,
    /// Sequenced batches `confirmed` has not taken yet, in order, and their text's bytes.
    lag: Vec<Vec<Op>>,
    lag_bytes: usize,
    lag_limits: confirmed::LagLimits,
    pending: VecDeque<Pending>,
    deferred: VecDeque<Deferred>,
    /// The first error `settle` met and has not reported yet.
    deferred_error: Option<CoreError>,
    /// The undo log's buffer, reused by every batch.
    scratch: Scratch,
    next_batch: u64,
    seq: u64,
    root: bool,
    origin: String,
    /// The last sequenced batch of each origin, as far as the confirmed state goes.
    sequenced: Sequenced,
    /// A sequenced frame from the parent was rejected: this process cannot follow its parent
    /// and drops its `q` frames until a snapshot arrives.
    behind: bool,
    /// `behind` was set and the resync request (`R`) has not been taken by the caller yet.
    resync_due: bool,
    /// A streamed snapshot being received from the parent.
    incoming: Option<incoming::Incoming>,
    /// Maps whose entry order is put right once nothing is pending (see `order`).
    unordered: Vec<order::Unordered>,
    /// Where the pending batches act, kept as they come and go (`None`: to be counted again).
    touched: Option<fold::Touched>,
}

impl Engine {
    /// A root engine with no fields.
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            fields: Fields::default(),
            confirmed: None,
            lag: Vec::new(),
            lag_bytes: 0,
            lag_limits: confirmed::LagLimits::default(),
            pending: VecDeque::new(),
            deferred: VecDeque::new(),
            deferred_error: None,
            scratch: Scratch::default(),
            next_batch: 1,
            seq: 0,
            root: true,
            origin: String::new(),
            sequenced: Sequenced::default(),
            behind: false,
            resync_due: false,
            incoming: None,
            touched: None,
            unordered: Vec::new(),
        }
    }

    /// Sets this instance's origin id (put into the frames it sends).
    pub fn set_origin(&mut self, origin: String) {
        self.origin = origin;
    }

    /// This instance's origin id.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// True while this instance has no parent (it sequences batches).
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// Whether this process waits for a snapshot because it could not follow its parent.
    pub fn behind(&self) -> bool {
        self.behind
    }

    /// The last batch of `origin` that this process's confirmed state contains, if known: a
    /// relayed batch numbered at or below it needs no resending.
    pub fn last_sequenced(&self, origin: &str) -> Option<u64> {
        self.sequenced.last(origin)
    }

    /// True once after this process fell behind its parent: the caller then sends the parent a
    /// resync request (`{"t":"R"}`).
    pub fn take_resync(&mut self) -> bool {
        std::mem::take(&mut self.resync_due)
    }

    /// The last sequence number applied (root: issued, deferred batches included).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Local batches sent up and not yet confirmed by the root (deferred ones included).
    pub fn pending_len(&self) -> usize {
        self.pending.len() + if self.root { 0 } else { self.deferred.len() }
    }

    /// Batches taken by `local_deferred` and not yet settled.
    pub fn deferred_len(&self) -> usize {
        self.deferred.len()
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The visible state (confirmed + pending). Deferred batches are in it only once settled.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    fn decoder(&self) -> Decoder {
        Decoder {
            max_depth: self.limits.max_depth,
            functions: self.limits.functions,
        }
    }

    /// The array growth one batch is allowed.
    fn growth(&self) -> Growth {
        Growth::new(self.limits.max_array_length)
    }

    fn check_size(&self, len: usize) -> Result<(), CoreError> {
        if len > self.limits.max_frame_bytes {
            return Err(CoreError::new(
                error::FRAME_TOO_LARGE,
                format!(
                    "{len} bytes is more than maxFrameBytes ({})",
                    self.limits.max_frame_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Takes a batch of local ops (a JSON array; may contain `r`), applies it atomically and
    /// returns the frame to send: `q` to the children at the root, `b` to the parent elsewhere,
    /// or "" when the batch changes nothing.
    pub fn local(&mut self, batch: &str) -> Result<String, CoreError> {
        self.settle_queue();
        self.check_size(batch.len())?;
        let dec = self.decoder();
        let ops = decode_ops_text(batch, &dec, true)?;
        let before = self.pending_starts().then(|| self.fields.clone());
        let (ops, text, frame) = if ops.iter().any(|o| matches!(o, Op::Assign { .. })) {
            // Each `r` is diffed against the state the ops before it left.
            let mut txn = Txn::new(self.growth());
            let mut out = Vec::with_capacity(ops.len());
            let mut result = Ok(());
            'ops: for op in ops {
                for d in assign_ops(&self.fields, op) {
                    if let Err(e) = txn.apply(&mut self.fields, &d) {
                        result = Err(e);
                        break 'ops;
                    }
                    out.push(d);
                }
            }
            if out.is_empty() && result.is_ok() {
                return Ok(String::new());
            }
            let text = ops_to_json(&out);
            let frame = result.and_then(|()| {
                let frame = self.local_frame(&text);
                self.check_size(frame.len()).map(|()| frame)
            });
            match frame {
                Ok(frame) => (out, text, frame),
                Err(e) => {
                    txn.rollback(&mut self.fields, &out);
                    return Err(e);
                }
            }
        } else {
            if ops.is_empty() {
                return Ok(String::new());
            }
            // Our own JS sent text the decoder accepted: it goes on the wire as it is.
            let text = batch.trim();
            let frame = self.local_frame(text);
            self.check_size(frame.len())?;
            apply_batch_in(
                &mut self.fields,
                &ops,
                &mut self.scratch,
                Growth::new(self.limits.max_array_length),
            )?;
            let text = if self.root {
                String::new()
            } else {
                text.to_string()
            };
            (ops, text, frame)
        };
        self.order_track(&ops);
        let n = self.number_batch();
        if !self.root {
            if before.is_some() {
                self.confirmed = before;
            }
            self.push_pending(Pending {
                n,
                ops,
                text,
                applied: true,
                unread: false,
            });
        }
        Ok(frame)
    }

    fn push_pending(&mut self, p: Pending) {
        if let Some(t) = self.touched.as_mut() {
            t.count(&p.ops, true);
        }
        self.pending.push_back(p);
    }

    /// Whether a local batch starts a pending stretch with no confirmed state kept: the state
    /// before it is then the confirmed one.
    fn pending_starts(&mut self) -> bool {
        if self.root || !self.pending.is_empty() {
            return false;
        }
        self.confirmed.is_none()
    }

    /// Takes the next batch number (and at the root the next sequence number).
    fn number_batch(&mut self) -> u64 {
        let n = self.next_batch;
        self.next_batch += 1;
        if self.root {
            self.seq += 1;
            self.sequenced.record(&self.origin, n, self.seq);
        }
        n
    }

    /// `local` for a batch the caller guarantees has no `r` op, with the work moved off the
    /// critical path: returns the frame to send at once (the same frame `local` would return,
    /// with the same numbering) and queues the batch; `settle` parses and applies it. Checks
    /// here: size, nesting, that it is an array. A batch that has an `r` after all is handed to
    /// `local` (correct, just not deferred).
    pub fn local_deferred<B: AsRef<str> + Into<String>>(
        &mut self,
        batch: B,
    ) -> Result<String, CoreError> {
        self.defer(batch, true)
    }

    /// `local_deferred` for a root that has no one to send the frame to (no child yet): the same
    /// checks and numbering, without writing a frame as long as the batch (creating a big field
    /// would otherwise cost its whole text twice more, in the core and in JS).
    pub fn local_deferred_unsent<B: AsRef<str> + Into<String>>(
        &mut self,
        batch: B,
    ) -> Result<(), CoreError> {
        self.defer(batch, false).map(drop)
    }

    fn defer<B: AsRef<str> + Into<String>>(
        &mut self,
        batch: B,
        frame_wanted: bool,
    ) -> Result<String, CoreError> {
        let text = batch.as_ref();
        self.check_size(text.len())?;
        let limit = self.decoder().json_limit();
        let Some(shape) = batch_shape(text, limit) else {
            return Err(CoreError::new(
                error::TOO_DEEP,
                format!("the text nests deeper than {limit} JSON levels"),
            ));
        };
        if !shape.array {
            return Err(CoreError::bad_frame("ops must be an array"));
        }
        if shape.empty {
            return Ok(String::new());
        }
        if shape.assigns {
            return self.local(text);
        }
        let frame = if frame_wanted || !self.root {
            let frame = self.local_frame(text.trim());
            self.check_size(frame.len())?;
            frame
        } else {
            // The frame's size is its head's plus the ops': refused exactly where it would be.
            self.check_size(self.local_frame("").len() + text.trim().len())?;
            String::new()
        };
        let n = self.number_batch();
        self.deferred.push_back(Deferred {
            n,
            text: batch.into(),
        });
        Ok(frame)
    }

    /// Applies every batch `local_deferred` queued, in order, and reports the first one that
    /// did not apply (since the last call) as an error. A batch that fails is skipped and
    /// changes nothing; its frame was already sent, so a non-root keeps it pending (unapplied)
    /// to match the root's answer.
    pub fn settle(&mut self) -> Result<(), CoreError> {
        self.settle_queue();
        match self.deferred_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn settle_queue(&mut self) {
        while let Some(d) = self.deferred.pop_front() {
            if let Err(e) = self.settle_one(d) {
                self.deferred_error.get_or_insert(e);
            }
        }
    }

    fn settle_one(&mut self, d: Deferred) -> Result<(), CoreError> {
        let parsed = decode_ops_text(&d.text, &self.decoder(), false);
        let before = self.pending_starts().then(|| self.fields.clone());
        let unread = parsed.is_err();
        let (ops, result) = match parsed {
            Ok(ops) => {
                let r = apply_batch_in(
                    &mut self.fields,
                    &ops,
                    &mut self.scratch,
                    Growth::new(self.limits.max_array_length),
                );
                if r.is_ok() {
                    self.order_track(&ops);
                }
                (ops, r)
            }
            Err(e) => (Vec::new(), Err(e)),
        };
        if !self.root {
            if before.is_some() {
                self.confirmed = before;
            }
            let trimmed = d.text.trim();
            let text = if trimmed.len() == d.text.len() {
                d.text
            } else {
                trimmed.to_string()
            };
            self.push_pending(Pending {
                n: d.n,
                ops,
                text,
                applied: result.is_ok(),
                unread,
            });
        }
        result.map_err(|e| CoreError::new(e.code, format!("local batch {}: {}", d.n, e.message)))
    }

    fn local_frame(&self, ops: &str) -> String {
        if self.root {
            return q_frame(self.seq + 1, &self.origin, self.next_batch, true, ops);
        }
        let mut s = String::with_capacity(ops.len() + self.origin.len() + 32);
        s.push_str(r#"{"t":"b","o":"#);
        write_str(&self.origin, &mut s);
        let _ = write!(s, r#","n":{},"ops":"#, self.next_batch);
        s.push_str(ops);
        s.push('}');
        s
    }

    /// Recomputes the visible state as confirmed + pending and returns the patch from the old one.
    fn rebase(&mut self) -> Vec<Op> {
        self.catch_up();
        let Some(base) = &self.confirmed else {
            return Vec::new();
        };
        let mut new = base.clone();
        for p in self.pending.iter_mut() {
            // A batch that no longer applies is skipped here; the root will reject it too.
            p.applied = !p.unread
                && apply_batch_in(
                    &mut new,
                    &p.ops,
                    &mut self.scratch,
                    Growth::new(self.limits.max_array_length),
                )
                .is_ok();
        }
        let patch = fields_patch(&self.fields, &new);
        self.fields = new;
        self.order_forget();
        if self.pending.is_empty() {
            self.drop_confirmed();
        }
        patch
    }

    /// A snapshot frame of the confirmed state, for a new child.
    pub fn snapshot(&mut self) -> String {
        self.settle_queue();
        self.catch_up();
        let f = self.confirmed.as_ref().unwrap_or(&self.fields);
        let mut s = format!(r#"{{"t":"s","q":{},"#, self.seq);
        self.sequenced.write_member(&mut s);
        s.push_str(r#","f":["#);
        for (i, (k, v)) in f.iter().enumerate() {
            s.push_str(if i > 0 { ",[" } else { "[" });
            write_str(k, &mut s);
            s.push(',');
            encode_value(v, &mut s);
            s.push(']');
        }
        s.push_str("]}");
        s
    }

    /// The parent is gone: this instance becomes the root. Its pending batches become sequenced
    /// `q` frames (returned, for the children, who never saw them).
    pub fn become_root(&mut self) -> Vec<String> {
        self.settle_queue();
        if self.root {
            return Vec::new();
        }
        self.root = true;
        self.behind = false;
        self.resync_due = false;
        self.touched = None;
        self.catch_up();
        let mut state = self.confirmed.take().unwrap_or_else(|| self.fields.clone());
        self.drop_confirmed();
        let mut frames = Vec::with_capacity(self.pending.len());
        for p in std::mem::take(&mut self.pending) {
            self.seq += 1;
            let ok = p.applied
                && apply_batch_in(
                    &mut state,
                    &p.ops,
                    &mut self.scratch,
                    Growth::new(self.limits.max_array_length),
                )
                .is_ok();
            let text = if ok { p.text.as_str() } else { "[]" };
            self.sequenced.record(&self.origin, p.n, self.seq);
            frames.push(q_frame(self.seq, &self.origin, p.n, ok, text));
        }
        debug_assert!(crate::value::same_fields(&state, &self.fields));
        self.fields = state;
        // The replayed state has every Map in order (JS asked for the moves first: `reorder`).
        self.order_forget();
        frames
    }

    /// Puts in order now the Maps whose order waits for nothing to be pending (see `order`);
    /// returns the patch for JS, a JSON array of `mm` ops. Before `become_root`, whose state has
    /// every Map in order.
    pub fn reorder(&mut self) -> String {
        self.settle_queue();
        let mut out = String::from("[");
        self.order_settle(&mut out);
        out.push(']');
        out
    }

    /// The visible state as a JSON object `{field: encodedValue}` (tests and debugging).
    pub fn dump(&mut self) -> String {
        self.settle_queue();
        let mut s = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_str(k, &mut s);
            s.push(':');
            encode_value(v, &mut s);
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "engine_resync_tests.rs"]
mod resync_tests;
