//! Streamed snapshots (PROTOCOL.md "Streamed snapshots"): the state a child joins with travels as
//! `S` frames of bounded size instead of one `s` frame, so neither process ever holds the whole
//! state as one text, and each side does a chunk's worth of work at a time.
//!
//! A chunk carries pieces `[d, x]`: `x` holds the next entries of the container open at level `d`
//! (level 0 is the field list, level `d + 1` is the value of the last entry at level `d`). The
//! writer walks the state in order and cuts a chunk at an entry boundary once it has its size, at
//! whatever depth it is; the receiver appends each piece where the previous chunk left off.

use std::rc::Rc;

use super::Sequenced;
use super::{Engine, Received};
use crate::codec::read::Reader;
use crate::codec::{encode_value, read_within, write_str, DecodeError, Decoder};
use crate::diff::fields_patch;
use crate::error::{self, CoreError};
use crate::frame::{need, Frame};
use crate::value::{Fields, Value};

use super::receive::Snapshot;

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

/// A streamed snapshot being received: the state so far, and which chunk comes next.
#[derive(Debug)]
pub(super) struct Incoming {
    q: u64,
    next: u64,
    fields: Fields,
    /// Chunk 0's `ns`: which batches of each origin the snapshot holds.
    sequenced: Sequenced,
    /// This process held no state when the stream began: JS builds the live objects from the
    /// chunks themselves, and needs no patch at the end.
    fresh: bool,
}

/// One piece of a chunk, decoded.
enum Piece {
    Fields(Fields),
    /// The next entries of the container at level `.0` (≥ 1), as a container of its kind.
    Part(usize, Value),
}

fn pieces_wrong() -> CoreError {
    CoreError::bad_frame("a snapshot chunk's `p` is a list of [level, entries] pieces")
}

fn read_pieces(r: &mut Reader, dec: &Decoder) -> Result<Vec<Piece>, CoreError> {
    let syntax = |e: DecodeError| e.into_core("p");
    if !r.eat(b'[') {
        return Err(pieces_wrong());
    }
    let mut out = Vec::new();
    if r.eat(b']') {
        return Ok(out);
    }
    loop {
        r.expect(b'[').map_err(|_| pieces_wrong())?;
        let d = r.number().map_err(|_| pieces_wrong())?;
        if d.fract() != 0.0 || !(0.0..=dec.max_depth as f64).contains(&d) {
            return Err(CoreError::new(
                error::TOO_DEEP,
                format!("a snapshot piece's level is an integer from 0 to maxDepth, got {d}"),
            ));
        }
        r.expect(b',').map_err(|_| pieces_wrong())?;
        let d = d as usize;
        out.push(if d == 0 {
            Piece::Fields(dec.read_fields(r)?)
        } else {
            let v = dec
                .read_value(r, d - 1, false)
                .map_err(|e| e.into_core("a snapshot piece"))?;
            if !matches!(
                v,
                Value::Array(_) | Value::Object(_) | Value::Map(_) | Value::Set(_)
            ) {
                return Err(CoreError::bad_frame(format!(
                    "a snapshot piece continues a container, not {}",
                    v.describe()
                )));
            }
            Piece::Part(d, v)
        });
        r.expect(b']').map_err(|_| pieces_wrong())?;
        if !r.more(b']').map_err(syntax)? {
            return Ok(out);
        }
    }
}

/// The value of the last entry of container `v`, to be continued.
fn last_mut(v: &mut Value) -> Option<&mut Value> {
    match v {
        Value::Array(a) => Rc::make_mut(a).last_mut(),
        Value::Object(o) => Rc::make_mut(o).map.last_mut().map(|(_, x)| x),
        Value::Map(m) => Rc::make_mut(m).last_mut().map(|(_, (_, x))| x),
        Value::Set(s) => Rc::make_mut(s).last_mut().map(|(_, x)| x),
        _ => None,
    }
}

fn no_container(d: usize) -> CoreError {
    CoreError::bad_frame(format!(
        "a snapshot piece continues level {d}, where no container is open"
    ))
}

/// Appends the entries of `part` to the container at level `d` (≥ 1) of `fields`, as the same
/// writes would in JS: an existing object key or Map key keeps its place and takes the new value.
fn append(fields: &mut Fields, d: usize, part: Value, max_len: usize) -> Result<(), CoreError> {
    let mut target = fields
        .last_mut()
        .map(|(_, v)| v)
        .ok_or_else(|| no_container(d))?;
    for _ in 1..d {
        target = last_mut(target).ok_or_else(|| no_container(d))?;
    }
    let mismatch = |t: &Value, p: &Value| {
        CoreError::bad_frame(format!(
            "a snapshot piece continues {} with {}",
            t.describe(),
            p.describe()
        ))
    };
    match (target, part) {
        (Value::Array(t), Value::Array(p)) => {
            if t.len() + p.len() > max_len {
                return Err(CoreError::new(
                    error::LIMIT,
                    format!("a snapshot array would pass maxArrayLength ({max_len})"),
                ));
            }
            let p = Rc::try_unwrap(p).unwrap_or_else(|p| (*p).clone());
            Rc::make_mut(t).extend(p);
        }
        (Value::Object(t), Value::Object(p)) if t.null_proto == p.null_proto => {
            let p = Rc::try_unwrap(p).unwrap_or_else(|p| (*p).clone());
            Rc::make_mut(t).map.extend(p.map);
        }
        (Value::Map(t), Value::Map(p)) => {
            let t = Rc::make_mut(t);
            for (mk, (k, v)) in Rc::try_unwrap(p).unwrap_or_else(|p| (*p).clone()) {
                match t.get_mut(&mk) {
                    Some(e) => e.1 = v,
                    None => {
                        t.insert(mk, (k, v));
                    }
                }
            }
        }
        (Value::Set(t), Value::Set(p)) => {
            let t = Rc::make_mut(t);
            for (mk, m) in Rc::try_unwrap(p).unwrap_or_else(|p| (*p).clone()) {
                t.entry(mk).or_insert(m);
            }
        }
        (t, p) => return Err(mismatch(t, &p)),
    }
    Ok(())
}

impl Engine {
    /// Starts a streamed snapshot of the confirmed state for a new child (see `SnapshotWriter`).
    /// Frames sequenced after it (`q` above its `seq()`) must reach that child after its last
    /// chunk.
    pub fn snapshot_writer(&mut self) -> SnapshotWriter {
        self.settle_queue();
        let f = self.confirmed.as_ref().unwrap_or(&self.fields);
        let mut ns = String::new();
        self.sequenced.write_member(&mut ns);
        SnapshotWriter::new(self.seq, f.clone(), ns)
    }

    /// Drops a streamed snapshot being received (its parent went away or stalled).
    pub fn abort_incoming(&mut self) {
        self.incoming = None;
    }

    /// True while a streamed snapshot is being received.
    pub fn receiving_snapshot(&self) -> bool {
        self.incoming.is_some()
    }

    /// `S`: one chunk of a streamed snapshot. Any error abandons the stream (the parent is told
    /// with a nack and gives up on this child); the state this process shows is untouched until
    /// the last chunk, which installs the snapshot as an `s` frame would.
    pub(super) fn on_chunk(&mut self, f: &Frame, from_parent: bool) -> Result<Received, CoreError> {
        let r = self.take_chunk(f, from_parent);
        if r.is_err() {
            self.incoming = None;
        }
        r
    }

    fn take_chunk(&mut self, f: &Frame, from_parent: bool) -> Result<Received, CoreError> {
        if !from_parent {
            return Err(CoreError::bad_sequence(
                "a snapshot only comes from the parent",
            ));
        }
        let q = need(f.q, "S", "q")?;
        let i = need(f.i, "S", "i")?;
        let raw = need(f.p, "S", "p")?;
        if i == 0 {
            // Absent from a snapshot of a process that never sequenced anything.
            let sequenced = match f.ns {
                Some(ns) => Sequenced::read(ns.text, q)?,
                None => Sequenced::default(),
            };
            self.incoming = Some(Incoming {
                q,
                next: 0,
                fields: Fields::default(),
                sequenced,
                fresh: self.fields.is_empty(),
            });
        }
        let expected = self.incoming.as_ref().map(|inc| (inc.q, inc.next));
        if expected != Some((q, i)) {
            return Err(CoreError::bad_sequence(match expected {
                Some((eq, ei)) => format!(
                    "expected chunk {ei} of the snapshot at sequence {eq}, got chunk {i} at {q}"
                ),
                None => format!("snapshot chunk {i} arrived without chunk 0"),
            }));
        }
        let dec = self.decoder();
        let pieces = read_within(raw.text, raw.depth, |r| read_pieces(r, &dec))?;
        let max_len = self.limits.max_array_length;
        let inc = self.incoming.as_mut().expect("checked above");
        for piece in pieces {
            match piece {
                Piece::Fields(fields) => {
                    for (k, v) in fields {
                        if inc.fields.contains_key(&k) {
                            return Err(CoreError::bad_frame(format!(
                                "snapshot repeats field `{k}`"
                            )));
                        }
                        inc.fields.insert(k, v);
                    }
                }
                Piece::Part(d, v) => append(&mut inc.fields, d, v, max_len)?,
            }
        }
        inc.next += 1;
        if f.end != Some(true) {
            let fresh = i == 0 && inc.fresh;
            let mut v = format!(r#"{{"k":"S","i":{i}"#);
            if fresh {
                v.push_str(r#","fresh":true"#);
            }
            v.push('}');
            return Ok(Received::verdict(v));
        }
        let inc = self.incoming.take().expect("checked above");
        // JS built the live objects from the chunks only if it held no state when they began;
        // otherwise it patches what it shows, so it needs a patch even if it holds none by now.
        let patch_from_empty = (!inc.fresh && self.fields.is_empty()).then(|| inc.fields.clone());
        let mut r = self.install_snapshot(
            Snapshot {
                q: inc.q,
                fields: inc.fields,
                sequenced: inc.sequenced,
            },
            true,
        )?;
        if let Some(fields) = patch_from_empty {
            let mut v = String::from(r#"{"k":"s","ops":"#);
            crate::op::encode_ops(&fields_patch(&Fields::default(), &fields), &mut v);
            v.push('}');
            r.verdict = v;
        }
        debug_assert!(r.verdict.starts_with(r#"{"k":"s""#));
        r.verdict = format!(r#"{{"k":"S","i":{i},"end":true{}"#, &r.verdict[8..]);
        Ok(r)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
