//! Inbound frames (PROTOCOL.md "Frames"): each is validated completely before anything changes,
//! so a rejected frame leaves the engine as it was.

use std::fmt::Write;

use super::{Engine, Limits, Received, Sequenced};
use crate::apply::Growth;
use crate::codec::read::Reader;
use crate::codec::{read_within, write_str};
use crate::diff::fields_patch;
use crate::error::{self, CoreError};
use crate::frame::{check_nack_code, check_origin, need, q_elided, q_frame, Frame, Raw};
use crate::op::{encode_ops, read_ops, Op};
use crate::txn::apply_batch_in;
use crate::value::Fields;

use crate::limits::MAX_NACK_CHARS;

/// `{"k":"q","o":"<origin>"` + `rest` + `}`.
pub(super) fn q_verdict(o: &str, rest: &str, patch: Option<&[Op]>) -> String {
    let patch = patch.map(|p| {
        let mut s = String::new();
        encode_ops(p, &mut s);
        s
    });
    q_verdict_text(o, rest, patch.as_deref())
}

/// `q_verdict` with the patch already encoded (a JSON array of ops).
pub(super) fn q_verdict_text(o: &str, rest: &str, patch: Option<&str>) -> String {
    let mut v = String::from(r#"{"k":"q","o":"#);
    write_str(o, &mut v);
    v.push_str(rest);
    if let Some(patch) = patch {
        v.push_str(r#","ops":"#);
        v.push_str(patch);
    }
    v.push('}');
    v
}

/// A validated snapshot, not yet taken in by an engine (see `Engine::parse_snapshot`).
pub struct Snapshot {
    pub(super) q: u64,
    pub(super) fields: Fields,
    pub(super) sequenced: Sequenced,
}

fn read_snapshot(f: &Frame, dec: &crate::codec::Decoder) -> Result<Snapshot, CoreError> {
    let q = need(f.q, "s", "q")?;
    let raw = need(f.f, "s", "f")?;
    // Absent from a snapshot of a process that never sequenced anything.
    let sequenced = match f.ns {
        Some(ns) => Sequenced::read(ns.text, q)?,
        None => Sequenced::default(),
    };
    let fields = read_within(raw.text, raw.depth, |r| dec.read_fields(r))?;
    Ok(Snapshot {
        q,
        fields,
        sequenced,
    })
}

/// Frames from the parent whose rejection may have cost this process a state change: it can no
/// longer follow the parent and needs a snapshot. A frame that is not even readable might have
/// been one.
fn loses_state(frame: &str, json_limit: usize) -> bool {
    Frame::parse(frame, json_limit).map_or(true, |f| f.t == "q")
}

impl Engine {
    /// Validates and applies one inbound frame. Returns the verdict for JS and, for `b` at the
    /// root and for `q`, the frames to pass on (see `Received`). A rejected frame changes
    /// nothing.
    pub fn receive(&mut self, frame: &str, from_parent: bool) -> Result<Received, CoreError> {
        self.settle_queue();
        let result = self.receive_frame(frame, from_parent);
        if result.is_err()
            && from_parent
            && !self.root
            && !self.behind
            && loses_state(frame, self.decoder().json_limit())
        {
            self.behind = true;
            self.resync_due = true;
        }
        result
    }

    fn receive_frame(&mut self, frame: &str, from_parent: bool) -> Result<Received, CoreError> {
        self.check_size(frame.len())?;
        let f = Frame::parse(frame, self.decoder().json_limit())?;
        let t = f.t.as_ref();
        if t == "q" && from_parent && self.behind {
            // Waiting for the snapshot that follows our resync request: it holds this batch.
            return Ok(Received::verdict(r#"{"k":"d"}"#));
        }
        f.check_unused(t == "s", t == "q" || (t == "b" && self.root))?;
        match t {
            "h" => on_hello(&f),
            "s" => self.on_snapshot(&f, from_parent),
            "S" => self.on_chunk(&f, from_parent),
            "b" => self.on_batch(&f, from_parent),
            "q" => self.on_sequenced(&f, from_parent),
            "N" => on_nack(&f),
            "A" if from_parent => Err(CoreError::bad_sequence(
                "`A` only travels from a child to its parent",
            )),
            "A" => Ok(Received::verdict(r#"{"k":"A"}"#)),
            "R" if from_parent => Err(CoreError::bad_sequence(
                "`R` only travels from a child to its parent",
            )),
            "R" => Ok(Received::verdict(r#"{"k":"R"}"#)),
            "g" => Ok(Received::verdict(r#"{"k":"g"}"#)),
            "p" | "P" => {
                let i = need(f.i, t, "i")?;
                Ok(Received::verdict(format!(r#"{{"k":"{t}","i":{i}}}"#)))
            }
            t => Err(CoreError::bad_frame(format!("unknown frame type `{t}`"))),
        }
    }

    pub(super) fn parse_ops(&self, raw: Raw) -> Result<Vec<Op>, CoreError> {
        let dec = self.decoder();
        read_within(raw.text, raw.depth, |r| read_ops(r, &dec, false))
    }

    fn on_snapshot(&mut self, f: &Frame, from_parent: bool) -> Result<Received, CoreError> {
        let snap = read_snapshot(f, &self.decoder())?;
        self.install_snapshot(snap, from_parent)
    }

    /// Parses and validates a snapshot frame without touching any engine: the expensive half of
    /// receiving one, so a big snapshot can be read on another thread while JS parses it too.
    /// `install_snapshot` then takes it in, as `receive` would have.
    pub fn parse_snapshot(limits: Limits, frame: &str) -> Result<Snapshot, CoreError> {
        let (probe, f) = Engine::probe(limits, frame, "s", "not a snapshot frame")?;
        read_snapshot(&f, &probe.decoder())
    }

    /// What `receive` checks of a frame alone (size, JSON, fields), for a frame that must be of
    /// type `t`, read with `limits` but without any engine's state: the engine returned is empty,
    /// there only for its decoder. Big frames are read so on another thread.
    pub(super) fn probe<'a>(
        limits: Limits,
        frame: &'a str,
        t: &str,
        not_t: &str,
    ) -> Result<(Engine, Frame<'a>), CoreError> {
        let probe = Engine::new(limits);
        probe.check_size(frame.len())?;
        let f = Frame::parse(frame, probe.decoder().json_limit())?;
        if f.t.as_ref() != t {
            return Err(CoreError::bad_frame(not_t));
        }
        f.check_unused(t == "s", false)?;
        Ok((probe, f))
    }

    /// Takes in a snapshot read by `parse_snapshot` (or by `receive`): it replaces the confirmed
    /// state, at any time. Pending batches the snapshot already holds (its `ns` for our origin
    /// reaches them) are dropped; the others are replayed on top, as after any remote batch (one
    /// that no longer applies stays pending, unapplied, for the root to reject).
    pub fn install_snapshot(
        &mut self,
        snap: Snapshot,
        from_parent: bool,
    ) -> Result<Received, CoreError> {
        self.settle_queue();
        if !from_parent {
            return Err(CoreError::bad_sequence(
                "a snapshot only comes from the parent",
            ));
        }
        // A root has nothing pending; a non-root's pending batches went up to this parent.
        let done = snap.sequenced.last(&self.origin).unwrap_or(0);
        while self.pending.front().is_some_and(|p| p.n <= done) {
            self.pending.pop_front();
        }
        self.touched = None;
        // A process that already shows state (re-added, or resynced) patches it in place, so
        // references user code holds stay valid where the object survives.
        let had_state = !self.fields.is_empty() || !self.pending.is_empty();
        let old = std::mem::replace(&mut self.fields, snap.fields);
        // The patch below is a diff of the whole state: it puts every Map in order.
        self.order_forget();
        self.drop_confirmed();
        if !self.pending.is_empty() {
            self.confirmed = Some(self.fields.clone());
            self.rebase();
        }
        self.seq = snap.q;
        self.sequenced = snap.sequenced;
        self.root = false;
        self.behind = false;
        self.resync_due = false;
        let verdict = if had_state {
            let mut v = String::from(r#"{"k":"s","ops":"#);
            encode_ops(&fields_patch(&old, &self.fields), &mut v);
            v.push('}');
            v
        } else {
            String::from(r#"{"k":"s"}"#)
        };
        Ok(Received::verdict(verdict))
    }

    fn on_batch(&mut self, f: &Frame, from_parent: bool) -> Result<Received, CoreError> {
        if from_parent {
            return Err(CoreError::bad_sequence(
                "a `b` frame only travels up, from a child",
            ));
        }
        let o = need(f.o.as_deref(), "b", "o")?;
        check_origin(o)?;
        let n = need(f.n, "b", "n")?;
        let raw = need(f.ops, "b", "ops")?;
        if !raw.text.starts_with('[') {
            return Err(CoreError::bad_frame("`ops` must be an array"));
        }
        if !self.root {
            // Only the root can order it; JS forwards the frame up unchanged, and keeps it until
            // it comes back sequenced (origin and number tell which `q` that is), to send it
            // again if the parent is lost before that.
            let mut v = String::from(r#"{"k":"b","up":true,"o":"#);
            write_str(o, &mut v);
            let _ = write!(v, r#","n":{n}}}"#);
            return Ok(Received::verdict(v));
        }
        // From here the batch is sequenced whatever happens: the child waits for its `q`, and
        // an `ok:false` one lets it roll back instead of stalling.
        let result = self.parse_ops(raw).and_then(|ops| {
            apply_batch_in(
                &mut self.fields,
                &ops,
                &mut self.scratch,
                Growth::new(self.limits.max_array_length),
            )
        });
        self.seq += 1;
        self.sequenced.record(o, n, self.seq);
        let mut v = String::from(r#"{"k":"b","ok":"#);
        v.push_str(if result.is_ok() { "true" } else { "false" });
        v.push_str(r#","o":"#);
        write_str(o, &mut v);
        let (ok, ops) = match result {
            Ok(()) => (true, raw.text),
            Err(e) => {
                v.push_str(r#","code":"#);
                write_str(e.code, &mut v);
                v.push_str(r#","message":"#);
                write_str(&e.message, &mut v);
                (false, "[]")
            }
        };
        v.push('}');
        Ok(Received {
            verdict: v,
            frame: Some(q_frame(self.seq, o, n, ok, ops)),
            elided: Some(q_elided(self.seq, o, n, ok)),
        })
    }

    fn on_sequenced(&mut self, f: &Frame, from_parent: bool) -> Result<Received, CoreError> {
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
        let own = o == self.origin;
        let head = self.pending.front().map(|p| p.n);
        match f.ops {
            Some(raw) if !raw.text.starts_with('[') => {
                return Err(CoreError::bad_frame("`ops` must be an array"));
            }
            None if !own || head != Some(n) => {
                return Err(CoreError::bad_frame(
                    "frame `q` needs a valid `ops` (only the batch's origin gets a `q` without \
                     them, for its next pending batch)",
                ));
            }
            _ => {}
        }
        if self.root || q != self.seq + 1 {
            return Err(CoreError::bad_sequence(format!(
                "expected sequence {} from the parent, got {q}",
                self.seq + 1
            )));
        }
        if own && head != Some(n) {
            return Err(CoreError::bad_sequence(format!(
                "the root confirmed batch {n} of ours, but the next pending batch is {head:?}"
            )));
        }
        if own {
            return self.on_own(f.ops, q, n, ok);
        }
        let Some(raw) = f.ops else {
            return Err(CoreError::bad_frame("frame `q` needs a valid `ops`"));
        };
        let ops = self.parse_ops(raw)?;
        if !ok && !ops.is_empty() {
            return Err(CoreError::bad_frame(
                "a rejected batch (`ok:false`) carries no ops",
            ));
        }
        let elided = Some(q_elided(q, o, n, ok));
        let bytes = raw.text.len();
        if self.pending.is_empty() {
            apply_batch_in(
                &mut self.fields,
                &ops,
                &mut self.scratch,
                Growth::new(self.limits.max_array_length),
            )?;
            self.lag_push(ops, bytes);
            self.seq = q;
            self.sequenced.record(o, n, q);
            return Ok(Received {
                verdict: q_verdict(o, r#","apply":"frame""#, None),
                frame: None,
                elided,
            });
        }
        // The root ordered it: it applies to the root's state (a commuting batch applies to the
        // shown one alike, see `fold`).
        let patch = self.fold_remote(ops, bytes, false)?;
        self.seq = q;
        self.sequenced.record(o, n, q);
        Ok(Received {
            verdict: match &patch {
                Some(p) => q_verdict_text(o, r#","apply":"patch""#, Some(p)),
                None => q_verdict(o, r#","apply":"frame""#, None),
            },
            frame: None,
            elided,
        })
    }

    /// The root's answer to our next pending batch (checked to be that batch), with its ops
    /// (`raw`) or in the elided form.
    pub(super) fn on_own(
        &mut self,
        raw: Option<Raw>,
        q: u64,
        n: u64,
        ok: bool,
    ) -> Result<Received, CoreError> {
        if !(ok && self.pending[0].applied) {
            // Not as predicted: the confirmed state is read below (or by `rebase`).
            self.catch_up();
        }
        let head = &self.pending[0];
        let wire = match raw {
            Some(raw) if !ok || !head.applied => Some(self.parse_ops(raw)?),
            Some(raw) => {
                // Not decoded (we have these ops), but still checked.
                raw.check()?;
                None
            }
            None => None,
        };
        if !ok && wire.as_ref().is_some_and(|w| !w.is_empty()) {
            return Err(CoreError::bad_frame(
                "a rejected batch (`ok:false`) carries no ops",
            ));
        }
        let predicted = ok && head.applied;
        let (rest, patch) = if predicted {
            // Our own batch, as we predicted it: only the confirmed state moves (it takes the
            // batch when next read). After the last pending batch it equals the shown state and
            // stays on as a standby copy.
            (r#","apply":"none","own":true"#, None)
        } else if ok {
            // Accepted by the root but it never applied here (see `settle`): apply it to the
            // confirmed state, as the root did, and rebase.
            if head.unread && wire.is_none() {
                return Err(CoreError::bad_sequence(format!(
                    "the root accepted local batch {n}, which this process could not read"
                )));
            }
            let ops = wire.as_deref().unwrap_or(&head.ops);
            let confirmed = self.confirmed.get_or_insert_with(|| self.fields.clone());
            apply_batch_in(
                confirmed,
                ops,
                &mut self.scratch,
                Growth::new(self.limits.max_array_length),
            )?;
            (r#","apply":"patch","own":true,"ok":true"#, Some(()))
        } else {
            (r#","apply":"patch","own":true,"ok":false"#, Some(()))
        };
        let Some(done) = self.pending.pop_front() else {
            return Err(CoreError::bad_sequence("no pending batch"));
        };
        if let Some(t) = self.touched.as_mut() {
            t.count(&done.ops, false);
        }
        let bytes = done.text.len();
        let done_text = if raw.is_none() {
            Some(if ok { done.text } else { String::from("[]") })
        } else {
            None
        };
        if predicted {
            self.lag_push(done.ops, bytes);
        }
        let mut patch = patch.map(|()| {
            let mut s = String::new();
            encode_ops(&self.rebase(), &mut s);
            s
        });
        let mut rest = rest;
        if patch.is_none() && self.pending.is_empty() && !self.unordered.is_empty() {
            // Nothing pending any more: every key has its place in the confirmed state.
            let mut s = String::from("[");
            self.order_settle(&mut s);
            s.push(']');
            rest = r#","apply":"patch","own":true"#;
            patch = Some(s);
        }
        if self.pending.is_empty() {
            self.stretch_ended();
        }
        self.seq = q;
        self.sequenced.record(&self.origin, n, q);
        let origin = &self.origin;
        Ok(Received {
            verdict: q_verdict_text(origin, rest, patch.as_deref()),
            frame: done_text.map(|text| q_frame(q, origin, n, ok, &text)),
            elided: Some(q_elided(q, origin, n, ok)),
        })
    }
}

fn on_hello(f: &Frame) -> Result<Received, CoreError> {
    let v = need(f.v, "h", "v")?.text;
    if serde_json::from_str::<f64>(v).ok() != Some(1.0) {
        return Err(CoreError::new(
            error::VERSION,
            format!("the peer speaks ipos protocol {v:.20}, this process speaks 1"),
        ));
    }
    let id = need(f.id.as_deref(), "h", "id")?;
    check_origin(id)?;
    let func = need(f.func, "h", "fn")?;
    let mut s = String::from(r#"{"k":"h","id":"#);
    write_str(id, &mut s);
    let _ = write!(s, r#","fn":{func}}}"#);
    Ok(Received::verdict(s))
}

/// `N`: the peer rejected a frame of ours and says why. Changes nothing here.
fn on_nack(f: &Frame) -> Result<Received, CoreError> {
    let code = need(f.code.as_deref(), "N", "code")?;
    check_nack_code(code)?;
    let raw = need(f.m, "N", "m")?;
    let m = Reader::new(raw.text)
        .string_lossy()
        .map_err(|_| CoreError::bad_frame("a nack's `m` must be a string"))?;
    if m.chars().count() > MAX_NACK_CHARS {
        return Err(CoreError::bad_frame(format!(
            "a nack's `m` has at most {MAX_NACK_CHARS} characters"
        )));
    }
    let mut v = String::from(r#"{"k":"N","code":"#);
    write_str(code, &mut v);
    v.push_str(r#","m":"#);
    write_str(&m, &mut v);
    v.push('}');
    Ok(Received::verdict(v))
}
