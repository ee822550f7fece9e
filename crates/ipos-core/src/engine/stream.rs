//! Streamed snapshots (PROTOCOL.md "Streamed snapshots"): the state a child joins with travels as
//! `S` frames of bounded size instead of one `s` frame, so neither process ever holds the whole
//! state as one text, and each side does a chunk's worth of work at a time.
//!
//! A chunk carries pieces `[d, x]`: `x` holds the next entries of the container open at level `d`
//! (level 0 is the field list, level `d + 1` is the value of the last entry at level `d`). The
//! writer walks the state in order and cuts a chunk at an entry boundary once it has its size, at
//! whatever depth it is; the receiver appends each piece where the previous chunk left off.

use super::Engine;
use crate::codec::{encode_value, write_str};
use crate::value::{Fields, Value};

/// A value whose encoding may be longer than this (or than a quarter of the chunk size) is written
/// entry by entry, and may be split across chunks; smaller ones are written whole. Bounds how far
/// a chunk overshoots its size.
const SMALL: usize = 16 * 1024;

/// A snapshot being sent: a copy of the state taken at one sequence number (cheap: values are
/// shared, and writes made meanwhile copy what they change), written out a chunk at a time.
pub struct SnapshotWriter {
    q: u64,
    fields: Fields,
    /// The `"ns":{...}` member (the last sequenced batch per origin), sent with chunk 0.
    ns: String,
    /// Containers open in the walk, outermost first; `stack[0]` is the field list.
    stack: Vec<Level>,
    /// Index of the next chunk.
    next: u64,
}

struct Level {
    /// The container (`None` for the field list).
    value: Option<Value>,
    /// Its next entry to write.
    pos: usize,
    /// Whether the text written for it in this chunk already holds an entry (a comma is due).
    wrote: bool,
    /// Written after its closer when it was opened inside its parent's entry (`]` closes the
    /// `[key, value]` pair of a field or a Map entry).
    suffix: &'static str,
}

/// What the writer needs of a container: how many entries, how its text opens and closes.
fn entries(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.map.len(),
        Value::Map(m) => m.len(),
        Value::Set(s) => s.len(),
        _ => 0,
    }
}

fn opener(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "[",
        Value::Object(o) if o.null_proto => r#"{"~":"N","v":{"#,
        Value::Object(o) if o.map.contains_key("~") => r#"{"~":"o","v":{"#,
        Value::Object(_) => "{",
        Value::Map(_) => r#"{"~":"M","v":["#,
        Value::Set(_) => r#"{"~":"S","v":["#,
        _ => unreachable!("only containers are opened"),
    }
}

fn closer(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "]",
        Value::Object(o) if o.null_proto || o.map.contains_key("~") => "}}",
        Value::Object(_) => "}",
        Value::Map(_) | Value::Set(_) => "]}",
        _ => unreachable!("only containers are opened"),
    }
}

/// Whether `v` is a container too big to write whole: its encoding may pass `small` bytes. The
/// walk stops as soon as the budget is spent, so it costs at most about `small` bytes' worth.
fn big(v: &Value, small: usize) -> bool {
    fn spend(v: &Value, budget: &mut isize) -> bool {
        *budget -= match v {
            Value::Str(s) | Value::BigInt(s) => s.len() as isize + 2,
            Value::Array(a) => {
                *budget -= 2;
                return a.iter().all(|x| spend(x, budget));
            }
            Value::Object(o) if o.map.packed_text().is_some() => {
                o.map.packed_text().map_or(0, str::len) as isize
            }
            Value::Object(o) => {
                *budget -= 2;
                return o.map.iter().all(|(k, x)| {
                    *budget -= k.len() as isize + 3;
                    spend(x, budget)
                });
            }
            Value::Map(m) => {
                *budget -= 16;
                return m
                    .values()
                    .all(|(k, x)| spend(k, budget) && spend(x, budget));
            }
            Value::Set(s) => {
                *budget -= 16;
                return s.values().all(|x| spend(x, budget));
            }
            Value::Bytes(b) => b.data.len() as isize + 24,
            Value::Class(c) => return spend(&c.1, budget),
            Value::Function(f) => f.len() as isize + 16,
            Value::RegExp(r) => (r.0.len() + r.1.len()) as isize + 24,
            _ => 24,
        };
        *budget >= 0
    }
    let container = matches!(
        v,
        Value::Array(_) | Value::Object(_) | Value::Map(_) | Value::Set(_)
    );
    let mut budget = small as isize;
    // `spend` first: it reads a packed record's length off its text, `entries` would open it.
    container && !spend(v, &mut budget) && entries(v) > 0
}

impl SnapshotWriter {
    pub(super) fn new(q: u64, fields: Fields, ns: String) -> Self {
        SnapshotWriter {
            q,
            fields,
            ns,
            stack: vec![Level {
                value: None,
                pos: 0,
                wrote: false,
                suffix: "",
            }],
            next: 0,
        }
    }

    /// The sequence number the snapshot was taken at.
    pub fn seq(&self) -> u64 {
        self.q
    }

    /// True once the last chunk was written.
    pub fn done(&self) -> bool {
        self.stack.is_empty()
    }

    fn len_at(&self, level: usize) -> usize {
        match &self.stack[level].value {
            None => self.fields.len(),
            Some(v) => entries(v),
        }
    }

    fn open(&self, level: usize) -> &'static str {
        self.stack[level].value.as_ref().map_or("[", opener)
    }

    fn close(&self, level: usize) -> &'static str {
        self.stack[level].value.as_ref().map_or("]", closer)
    }

    /// The next chunk frame: about `target` bytes (more when one entry that cannot be split is
    /// bigger), ending with `"end":true` when it is the last. `None` once the last was written.
    pub fn next_chunk(&mut self, target: usize) -> Option<String> {
        if self.done() {
            return None;
        }
        let mut out = String::with_capacity(target + target / 8 + 64);
        out.push_str(r#"{"t":"S","q":"#);
        out.push_str(&self.q.to_string());
        out.push_str(r#","i":"#);
        out.push_str(&self.next.to_string());
        if self.next == 0 {
            out.push(',');
            out.push_str(&self.ns);
        }
        out.push_str(r#","p":["#);
        self.next += 1;
        let small = SMALL.min(target / 4);
        let mut base = self.stack.len() - 1;
        self.start_piece(base, &mut out, true);
        let mut wrote_entry = false;
        loop {
            let top = self.stack.len() - 1;
            if self.stack[top].pos == self.len_at(top) {
                out.push_str(self.close(top));
                if top > base {
                    out.push_str(self.stack[top].suffix);
                    self.stack.pop();
                    continue;
                }
                out.push(']');
                self.stack.pop();
                // Levels with nothing left need no piece of their own.
                while let Some(l) = self.stack.len().checked_sub(1) {
                    if self.stack[l].pos < self.len_at(l) {
                        break;
                    }
                    self.stack.pop();
                }
                if self.done() || out.len() >= target {
                    break;
                }
                base = self.stack.len() - 1;
                self.start_piece(base, &mut out, false);
                continue;
            }
            if wrote_entry && out.len() >= target {
                // Cut here: close what is open; the next chunk goes on at the deepest level.
                for l in (base..=top).rev() {
                    out.push_str(self.close(l));
                    if l > base {
                        out.push_str(self.stack[l].suffix);
                    }
                }
                out.push(']');
                for l in &mut self.stack {
                    l.wrote = false;
                }
                break;
            }
            self.write_entry(top, &mut out, small);
            wrote_entry = true;
        }
        out.push(']');
        if self.done() {
            out.push_str(r#","end":true"#);
        }
        out.push('}');
        Some(out)
    }

    fn start_piece(&mut self, level: usize, out: &mut String, first: bool) {
        if !first {
            out.push(',');
        }
        out.push('[');
        out.push_str(&level.to_string());
        out.push(',');
        out.push_str(self.open(level));
        self.stack[level].wrote = false;
    }

    /// Writes the next entry at `level`; a big container value is opened instead of written whole.
    fn write_entry(&mut self, level: usize, out: &mut String, small: usize) {
        let lvl = &mut self.stack[level];
        if lvl.wrote {
            out.push(',');
        }
        lvl.wrote = true;
        let i = lvl.pos;
        lvl.pos += 1;
        let lvl = &self.stack[level];
        // Writes what precedes the entry's value; returns the value and what follows it.
        let (value, close): (&Value, &'static str) = match &lvl.value {
            None => {
                let (k, v) = self.fields.get_index(i).expect("in range");
                out.push('[');
                write_str(k, out);
                out.push(',');
                (v, "]")
            }
            Some(Value::Array(a)) => (&a[i], ""),
            Some(Value::Object(o)) => {
                let (k, v) = o.map.get_index(i).expect("in range");
                write_str(k, out);
                out.push(':');
                (v, "")
            }
            Some(Value::Map(m)) => {
                let (_, (k, v)) = m.get_index(i).expect("in range");
                out.push('[');
                encode_value(k, out);
                out.push(',');
                (v, "]")
            }
            Some(Value::Set(s)) => (&s[i], ""),
            Some(_) => unreachable!("only containers are opened"),
        };
        if !big(value, small) {
            encode_value(value, out);
            out.push_str(close);
            return;
        }
        out.push_str(opener(value));
        let value = value.clone();
        self.stack.push(Level {
            value: Some(value),
            pos: 0,
            wrote: false,
            suffix: close,
        });
    }
}

impl Engine {
    /// Starts a streamed snapshot of the confirmed state for a new child (see `SnapshotWriter`).
    /// Frames sequenced after it (`q` above its `seq()`) must reach that child after its last
    /// chunk.
    pub fn snapshot_writer(&mut self) -> SnapshotWriter {
        self.settle_queue();
        self.catch_up();
        let f = self.confirmed.as_ref().unwrap_or(&self.fields);
        let mut ns = String::new();
        self.sequenced.write_member(&mut ns);
        SnapshotWriter::new(self.seq, f.clone(), ns)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
