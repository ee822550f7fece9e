//! Following a shared log (PROTOCOL.md "Following a log"). When an append-only log such as a
//! Redis Stream orders the batches, no root decides whether a batch applies: every process reads
//! the same `b` frames in the same order and decides alike, on the same confirmed state. A batch
//! that applies is taken; one that does not, and an entry that is not a readable `b` frame at
//! all, is skipped by everyone. Each entry takes the next sequence number whatever happens, so
//! the `q` frames a follower relays to children of its own are the ones a root would send.

use std::borrow::Cow;

use super::receive::{q_verdict, q_verdict_text};
use super::{Engine, Received};
use crate::codec::write_str;
use crate::error::CoreError;
use crate::frame::{check_origin, need, q_elided, q_frame, Frame, Raw};
use crate::txn::apply_batch_in;

impl Engine {
    /// Takes the next entry of the log (the text of a `b` frame as some process appended it) as
    /// the next sequenced batch. Never fails for what the entry holds: an entry that cannot be
    /// read is skipped (the verdict carries `skip`, `code` and `message`), as is a batch that
    /// does not apply (`skip` alone; its origin learns it through its own `ok:false`). Only a
    /// process that has not installed a snapshot yet cannot follow. `frame` and `elided` are the
    /// `q` frames for children, as with `receive`.
    pub fn receive_logged(&mut self, entry: &str) -> Result<Received, CoreError> {
        self.settle_queue();
        if self.root {
            return Err(CoreError::bad_sequence(
                "a log is followed only from the snapshot it starts at",
            ));
        }
        let q = self.seq + 1;
        self.seq = q;
        let (o, n, raw) = match self.read_entry(entry) {
            Ok(parts) => parts,
            Err(e) => return Ok(skipped(q, "0", 0, Some(&e))),
        };
        let head = self.pending.front();
        if o == self.origin && head.is_some_and(|p| p.n == n && p.text == raw.text) {
            // Our own batch, as sent. It applies to the confirmed state (which every follower
            // holds at this point) exactly when it applied there at the last rebase.
            let ok = head.is_some_and(|p| p.applied && !p.unread);
            return self.on_own(None, q, n, ok);
        }
        // Sequenced, whether it applies or not: a snapshot written from this state tells its
        // origin, taking it later, that this batch is in it (its `ns`), not to be kept pending.
        if o != self.origin {
            self.sequenced.record(&o, n, q);
        }
        let ops = match self.parse_ops(raw) {
            Ok(ops) => ops,
            Err(e) => return Ok(skipped(q, &o, n, Some(&e))),
        };
        let growth = self.growth();
        let frame = Some(q_frame(q, &o, n, true, raw.text));
        let elided = Some(q_elided(q, &o, n, true));
        let bytes = raw.text.len();
        if self.pending.is_empty() {
            if apply_batch_in(&mut self.fields, &ops, &mut self.scratch, growth).is_err() {
                return Ok(skipped(q, &o, n, None));
            }
            self.lag_push(ops, bytes);
            return Ok(Received {
                verdict: q_verdict(&o, r#","apply":"frame""#, None),
                frame,
                elided,
            });
        }
        // Whether it applies is decided here, on the root's state: check it there.
        let Ok(patch) = self.fold_remote(ops, bytes, true) else {
            return Ok(skipped(q, &o, n, None));
        };
        Ok(Received {
            verdict: match &patch {
                Some(p) => q_verdict_text(&o, r#","apply":"patch""#, Some(p)),
                None => q_verdict(&o, r#","apply":"frame""#, None),
            },
            frame,
            elided,
        })
    }

    /// The origin, batch number and ops of a log entry that is a `b` frame.
    fn read_entry<'a>(&self, entry: &'a str) -> Result<(Cow<'a, str>, u64, Raw<'a>), CoreError> {
        self.check_size(entry.len())?;
        let f = Frame::parse(entry, self.decoder().json_limit())?;
        if f.t != "b" {
            return Err(CoreError::bad_frame(format!(
                "a log entry is a `b` frame, not `{}`",
                f.t
            )));
        }
        f.check_unused(false, true)?;
        let o = need(f.o, "b", "o")?;
        check_origin(&o)?;
        let n = need(f.n, "b", "n")?;
        let raw = need(f.ops, "b", "ops")?;
        if !raw.text.starts_with('[') {
            return Err(CoreError::bad_frame("`ops` must be an array"));
        }
        Ok((o, n, raw))
    }
}

/// An entry every follower skips: it changes nothing but takes its sequence number, and goes to
/// children as a rejected batch (so a child whose batch it was rolls back). `err`: why it could
/// not even be read (reported), or `None` for a batch that did not apply.
fn skipped(q: u64, o: &str, n: u64, err: Option<&CoreError>) -> Received {
    let mut rest = String::from(r#","apply":"none","skip":true"#);
    if let Some(e) = err {
        rest.push_str(r#","code":"#);
        write_str(e.code, &mut rest);
        rest.push_str(r#","message":"#);
        write_str(&e.message, &mut rest);
    }
    Received {
        verdict: q_verdict(o, &rest, None),
        frame: Some(q_frame(q, o, n, false, "[]")),
        elided: Some(q_elided(q, o, n, false)),
    }
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
