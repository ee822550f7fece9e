//! The engine: the mirror of the shared state and the sequencing of PROTOCOL.md. JS calls it once
//! per local batch and once per received frame, with JSON texts both ways.
//!
//! Invariant: `fields` (what this process shows) = `confirmed` + every pending batch re-applied in
//! order, skipping a batch that no longer applies. `confirmed` is `Some` exactly while batches are
//! pending; it is the root's state at `seq`.

use std::collections::VecDeque;
use std::fmt::Write;

use serde_json::value::RawValue;

use crate::codec::{encode_value, json_depth_exceeds, parse_json, write_str, Decoder};
use crate::diff::{assign_ops, fields_patch};
use crate::error::{self, is_reserved, CoreError};
use crate::frame::{check_origin, need, q_frame, Frame};
use crate::op::{decode_ops, encode_ops, ops_to_json, Op};
use crate::path::describe;
use crate::txn::{apply_batch, Txn};
use crate::value::Fields;

/// Limits applied to everything the engine accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest frame (and local batch) accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Most levels of container nesting inside a field's value.
    pub max_depth: usize,
    /// Whether function values are accepted.
    pub functions: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 128 * 1024 * 1024,
            max_depth: 1000,
            functions: false,
        }
    }
}

/// The mirror and sequencer of one ipos instance.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    fields: Fields,
    confirmed: Option<Fields>,
    pending: VecDeque<(u64, Vec<Op>)>,
    next_batch: u64,
    seq: u64,
    root: bool,
    origin: String,
}

impl Engine {
    /// A root engine with no fields.
    pub fn new(limits: Limits) -> Self {
        Engine {
            limits,
            fields: Fields::new(),
            confirmed: None,
            pending: VecDeque::new(),
            next_batch: 1,
            seq: 0,
            root: true,
            origin: String::new(),
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

    /// The last sequence number applied (root: issued).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Local batches sent up and not yet confirmed by the root.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The visible state (confirmed + pending).
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    fn decoder(&self) -> Decoder {
        Decoder {
            max_depth: self.limits.max_depth,
            functions: self.limits.functions,
        }
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
        self.check_size(batch.len())?;
        let dec = self.decoder();
        let ops = decode_ops(&parse_json(batch, dec.json_limit())?, &dec, true)?;
        let before = (!self.root && self.pending.is_empty()).then(|| self.fields.clone());
        let (ops, frame) = if ops.iter().any(|o| matches!(o, Op::Assign { .. })) {
            // Each `r` is diffed against the state the ops before it left.
            let mut txn = Txn::default();
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
            let frame = result.and_then(|()| {
                let frame = self.local_frame(&ops_to_json(&out));
                self.check_size(frame.len()).map(|()| frame)
            });
            match frame {
                Ok(frame) => (out, frame),
                Err(e) => {
                    txn.rollback(&mut self.fields);
                    return Err(e);
                }
            }
        } else {
            if ops.is_empty() {
                return Ok(String::new());
            }
            // Our own JS sent text the decoder accepted: it goes on the wire as it is.
            let frame = self.local_frame(batch.trim());
            self.check_size(frame.len())?;
            apply_batch(&mut self.fields, &ops)?;
            (ops, frame)
        };
        let n = self.next_batch;
        self.next_batch += 1;
        if self.root {
            self.seq += 1;
        } else {
            if before.is_some() {
                self.confirmed = before;
            }
            self.pending.push_back((n, ops));
        }
        Ok(frame)
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

    /// Validates and applies one inbound frame. Returns the verdict for JS and, for a `b` at the
    /// root, the `q` frame to send to every child. A rejected frame changes nothing.
    pub fn receive(
        &mut self,
        frame: &str,
        from_parent: bool,
    ) -> Result<(String, Option<String>), CoreError> {
        self.check_size(frame.len())?;
        let dec = self.decoder();
        if json_depth_exceeds(frame, dec.json_limit()) {
            return Err(CoreError::new(
                error::TOO_DEEP,
                "the frame nests deeper than maxDepth allows",
            ));
        }
        let f: Frame = crate::codec::from_str_unbounded(frame)
            .map_err(|e| CoreError::bad_frame(format!("not a valid frame: {e}")))?;
        let t = f.t.as_str();
        let simple = |v: &str| Ok((v.to_string(), None));
        match t {
            "h" => {
                let v = need(f.v, t, "v")?.get();
                if serde_json::from_str::<f64>(v).ok() != Some(1.0) {
                    return Err(CoreError::new(
                        error::VERSION,
                        format!("the peer speaks ipos protocol {v:.20}, this process speaks 1"),
                    ));
                }
                let id = need(f.id.as_deref(), t, "id")?;
                check_origin(id)?;
                let func = need(f.func, t, "fn")?;
                let mut s = String::from(r#"{"k":"h","id":"#);
                write_str(id, &mut s);
                let _ = write!(s, r#","fn":{func}}}"#);
                Ok((s, None))
            }
            "s" => self.on_snapshot(&f, from_parent),
            "b" => self.on_batch(&f, from_parent),
            "q" => self.on_sequenced(&f, from_parent),
            "A" if from_parent => Err(CoreError::bad_sequence(
                "`A` only travels from a child to its parent",
            )),
            "A" => simple(r#"{"k":"A"}"#),
            "g" => simple(r#"{"k":"g"}"#),
            "p" | "P" => {
                let i = need(f.i, t, "i")?;
                Ok((format!(r#"{{"k":"{t}","i":{i}}}"#), None))
            }
            t => Err(CoreError::bad_frame(format!("unknown frame type `{t}`"))),
        }
    }

    fn parse_ops(&self, raw: &RawValue) -> Result<Vec<Op>, CoreError> {
        let dec = self.decoder();
        let j = parse_json(raw.get(), dec.json_limit())?;
        decode_ops(&j, &dec, false)
    }

    fn on_snapshot(
        &mut self,
        f: &Frame,
        from_parent: bool,
    ) -> Result<(String, Option<String>), CoreError> {
        if !from_parent {
            return Err(CoreError::bad_sequence(
                "a snapshot only comes from the parent",
            ));
        }
        let q = need(f.q, "s", "q")?;
        let raw = need(f.f, "s", "f")?;
        let j = parse_json(raw.get(), self.decoder().json_limit())?;
        let entries = j
            .as_array()
            .ok_or_else(|| CoreError::bad_frame("snapshot `f` must be an array"))?;
        let dec = self.decoder();
        let mut fields = Fields::with_capacity(entries.len());
        for e in entries {
            let Some([serde_json::Value::String(k), v]) = e.as_array().map(Vec::as_slice) else {
                return Err(CoreError::bad_frame(
                    "snapshot entries are [key, value] pairs",
                ));
            };
            if is_reserved(k) {
                return Err(CoreError::new(
                    error::RESERVED_KEY,
                    format!("`{k}` cannot be a field name"),
                ));
            }
            let v = dec
                .value(v, 0)
                .map_err(|e| e.into_core(&describe(k, &[], None)))?;
            if fields.insert(k.clone(), v).is_some() {
                return Err(CoreError::bad_frame(format!(
                    "snapshot repeats field `{k}`"
                )));
            }
        }
        self.fields = fields;
        self.seq = q;
        self.pending.clear();
        self.confirmed = None;
        self.root = false;
        Ok((r#"{"k":"s"}"#.to_string(), None))
    }

    fn on_batch(
        &mut self,
        f: &Frame,
        from_parent: bool,
    ) -> Result<(String, Option<String>), CoreError> {
        if from_parent {
            return Err(CoreError::bad_sequence(
                "a `b` frame only travels up, from a child",
            ));
        }
        let o = need(f.o.as_deref(), "b", "o")?;
        check_origin(o)?;
        let n = need(f.n, "b", "n")?;
        let raw = need(f.ops, "b", "ops")?;
        if !raw.get().starts_with('[') {
            return Err(CoreError::bad_frame("`ops` must be an array"));
        }
        if !self.root {
            // Only the root can order it; JS forwards the frame up unchanged.
            return Ok((r#"{"k":"b","up":true}"#.to_string(), None));
        }
        // From here the batch is sequenced whatever happens: the child waits for its `q`, and
        // an `ok:false` one lets it roll back instead of stalling.
        let result = self
            .parse_ops(raw)
            .and_then(|ops| apply_batch(&mut self.fields, &ops));
        self.seq += 1;
        Ok(match result {
            Ok(()) => (
                r#"{"k":"b","ok":true}"#.to_string(),
                Some(q_frame(self.seq, o, n, true, raw.get())),
            ),
            Err(e) => {
                let mut v = String::from(r#"{"k":"b","ok":false,"code":"#);
                write_str(e.code, &mut v);
                v.push_str(r#","message":"#);
                write_str(&e.message, &mut v);
                v.push('}');
                (v, Some(q_frame(self.seq, o, n, false, "[]")))
            }
        })
    }

    fn on_sequenced(
        &mut self,
        f: &Frame,
        from_parent: bool,
    ) -> Result<(String, Option<String>), CoreError> {
        if !from_parent {
            return Err(CoreError::bad_sequence(
                "a `q` frame only travels down, from the parent",
            ));
        }
        let q = need(f.q, "q", "q")?;
        let o = need(f.o.as_deref(), "q", "o")?;
        check_origin(o)?;
        let n = need(f.n, "q", "n")?;
        let ok = need(f.ok, "q", "ok")?;
        let raw = need(f.ops, "q", "ops")?;
        if !raw.get().starts_with('[') {
            return Err(CoreError::bad_frame("`ops` must be an array"));
        }
        if self.root || q != self.seq + 1 {
            return Err(CoreError::bad_sequence(format!(
                "expected sequence {} from the parent, got {q}",
                self.seq + 1
            )));
        }
        let own = o == self.origin;
        if own && self.pending.front().map(|p| p.0) != Some(n) {
            return Err(CoreError::bad_sequence(format!(
                "the root confirmed batch {n} of ours, but the next pending batch is {:?}",
                self.pending.front().map(|p| p.0)
            )));
        }
        if own && ok {
            // Our own batch, as we predicted it: only the confirmed state moves.
            if self.pending.len() == 1 {
                self.confirmed = None;
            } else if let Some(c) = self.confirmed.as_mut() {
                apply_batch(c, &self.pending[0].1)?;
            }
            self.pending.pop_front();
            self.seq = q;
            return Ok((r#"{"k":"q","apply":"none","own":true}"#.to_string(), None));
        }
        let ops = self.parse_ops(raw)?;
        if !ok && !ops.is_empty() {
            return Err(CoreError::bad_frame(
                "a rejected batch (`ok:false`) carries no ops",
            ));
        }
        if own {
            self.pending.pop_front();
            let patch = self.rebase();
            self.seq = q;
            let mut v = String::from(r#"{"k":"q","apply":"patch","own":true,"ok":false,"ops":"#);
            encode_ops(&patch, &mut v);
            v.push('}');
            return Ok((v, None));
        }
        if self.pending.is_empty() {
            apply_batch(&mut self.fields, &ops)?;
            self.seq = q;
            return Ok((r#"{"k":"q","apply":"frame"}"#.to_string(), None));
        }
        let confirmed = self.confirmed.get_or_insert_with(|| self.fields.clone());
        apply_batch(confirmed, &ops)?;
        let patch = if ops.is_empty() {
            Vec::new()
        } else {
            self.rebase()
        };
        self.seq = q;
        let mut v = String::from(r#"{"k":"q","apply":"patch","ops":"#);
        encode_ops(&patch, &mut v);
        v.push('}');
        Ok((v, None))
    }

    /// Recomputes the visible state as confirmed + pending and returns the patch from the old one.
    fn rebase(&mut self) -> Vec<Op> {
        let Some(base) = &self.confirmed else {
            return Vec::new();
        };
        let mut new = base.clone();
        for (_, batch) in &self.pending {
            // A batch that no longer applies is skipped here; the root will reject it too.
            let _ = apply_batch(&mut new, batch);
        }
        let patch = fields_patch(&self.fields, &new);
        self.fields = new;
        if self.pending.is_empty() {
            self.confirmed = None;
        }
        patch
    }

    /// A snapshot frame of the confirmed state, for a new child.
    pub fn snapshot(&self) -> String {
        let f = self.confirmed.as_ref().unwrap_or(&self.fields);
        let mut s = format!(r#"{{"t":"s","q":{},"f":["#, self.seq);
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
        if self.root {
            return Vec::new();
        }
        self.root = true;
        let mut state = self.confirmed.take().unwrap_or_else(|| self.fields.clone());
        let mut frames = Vec::with_capacity(self.pending.len());
        for (n, ops) in std::mem::take(&mut self.pending) {
            self.seq += 1;
            let ok = apply_batch(&mut state, &ops).is_ok();
            let text = if ok {
                ops_to_json(&ops)
            } else {
                "[]".to_string()
            };
            frames.push(q_frame(self.seq, &self.origin, n, ok, &text));
        }
        debug_assert!(crate::value::same_fields(&state, &self.fields));
        self.fields = state;
        frames
    }

    /// The visible state as a JSON object `{field: encodedValue}` (tests and debugging).
    pub fn dump(&self) -> String {
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
