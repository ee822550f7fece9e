//! Receiving a streamed snapshot (PROTOCOL.md "Streamed snapshots"): each `S` chunk's pieces are
//! read, checked and appended to the state being built, which replaces the visible state with the
//! last chunk. A chunk can be read without the engine (`Engine::read_chunk`, e.g. on another
//! thread while JS parses the same text) and taken in afterwards (`Engine::take_read_chunk`).

use std::rc::Rc;

use super::Sequenced;
use super::{Engine, Limits, Received};
use crate::codec::read::Reader;
use crate::codec::{read_within, DecodeError, Decoder};
use crate::diff::fields_patch;
use crate::error::{self, CoreError};
use crate::frame::{need, Frame};
use crate::value::{Fields, Value};

use super::receive::Snapshot;

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

/// An `S` frame read without the engine (`Engine::read_chunk`). What the frame alone decides is
/// kept as results, so that `take_read_chunk` reports the first error in the order `receive`
/// checks things: the frame's members, then its place in the stream, then its pieces.
pub struct ChunkRead {
    q: u64,
    i: u64,
    end: bool,
    /// Chunk 0's `ns`.
    sequenced: Option<Result<Sequenced, CoreError>>,
    pieces: Result<Vec<Piece>, CoreError>,
}

fn read_chunk_frame(f: &Frame, dec: &Decoder) -> Result<ChunkRead, CoreError> {
    let q = need(f.q, "S", "q")?;
    let i = need(f.i, "S", "i")?;
    let raw = need(f.p, "S", "p")?;
    // Absent from a snapshot of a process that never sequenced anything.
    let sequenced = (i == 0).then(|| match f.ns {
        Some(ns) => Sequenced::read(ns.text, q),
        None => Ok(Sequenced::default()),
    });
    Ok(ChunkRead {
        q,
        i,
        end: f.end == Some(true),
        sequenced,
        pieces: read_within(raw.text, raw.depth, |r| read_pieces(r, dec)),
    })
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
        let c = read_chunk_frame(f, &self.decoder());
        self.take_read_chunk(c, from_parent)
    }

    /// Reads an `S` frame without the engine: everything `receive` would check of it alone, with
    /// its verdict deferred to `take_read_chunk` so that errors come in the same order. Only a
    /// frame that is not an `S` frame at all (or too big) is refused here.
    pub fn read_chunk(limits: Limits, frame: &str) -> Result<ChunkRead, CoreError> {
        let (probe, f) = Engine::probe(limits, frame, "S", "not a snapshot chunk")?;
        read_chunk_frame(&f, &probe.decoder())
    }

    /// Takes in a chunk `read_chunk` read, exactly as `receive` takes in that frame.
    pub fn take_read_chunk(
        &mut self,
        c: Result<ChunkRead, CoreError>,
        from_parent: bool,
    ) -> Result<Received, CoreError> {
        self.settle_queue();
        let r = self.take_chunk(c, from_parent);
        if r.is_err() {
            self.incoming = None;
        }
        r
    }

    fn take_chunk(
        &mut self,
        c: Result<ChunkRead, CoreError>,
        from_parent: bool,
    ) -> Result<Received, CoreError> {
        if !from_parent {
            return Err(CoreError::bad_sequence(
                "a snapshot only comes from the parent",
            ));
        }
        let ChunkRead {
            q,
            i,
            end,
            sequenced,
            pieces,
        } = c?;
        if i == 0 {
            self.incoming = Some(Incoming {
                q,
                next: 0,
                fields: Fields::default(),
                sequenced: sequenced.expect("read for chunk 0")?,
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
        let pieces = pieces?;
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
        if !end {
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
