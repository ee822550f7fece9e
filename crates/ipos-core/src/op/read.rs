//! Ops from JSON text: read straight into `Op`s, checking shape, arity, keys and values on the way.

use serde_json::Value as J;

use super::Op;
use crate::codec::read::Reader;
use crate::codec::{read_guarded, DecodeError, Decoder};
use crate::error::{self, is_reserved, CoreError};
use crate::path::{describe, num_index, Seg};
use crate::value::Value;
use ecow::EcoString;

/// The static name and element count of a wire op kind.
fn kind_of(kind: &str) -> Option<(&'static str, usize)> {
    Some(match kind {
        "x" => ("x", 2),
        "c" => ("c", 3),
        "d" => ("d", 3),
        "cl" => ("cl", 3),
        "s" => ("s", 4),
        "md" => ("md", 4),
        "sa" => ("sa", 4),
        "ev" => ("ev", 4),
        "sd" => ("sd", 4),
        "r" => ("r", 4),
        "a" => ("a", 4),
        "u" => ("u", 4),
        "ms" => ("ms", 5),
        "p" => ("p", 6),
        _ => return None,
    })
}

/// Decodes the ops array of a batch or frame from its JSON text. `allow_assign` admits `r`
/// (local batches only).
pub fn decode_ops_text(
    text: &str,
    dec: &Decoder,
    allow_assign: bool,
) -> Result<Vec<Op>, CoreError> {
    read_guarded(text, dec.json_limit(), |r| read_ops(r, dec, allow_assign))
}

/// `decode_ops_text` for an already parsed array (tests and tools).
pub fn decode_ops(j: &J, dec: &Decoder, allow_assign: bool) -> Result<Vec<Op>, CoreError> {
    decode_ops_text(&j.to_string(), dec, allow_assign)
}

fn syntax(e: DecodeError) -> CoreError {
    e.into_core("")
}

pub(crate) fn read_ops(
    r: &mut Reader,
    dec: &Decoder,
    allow_assign: bool,
) -> Result<Vec<Op>, CoreError> {
    if !r.eat(b'[') {
        return Err(CoreError::bad_frame("ops must be an array"));
    }
    // Ops are rarely under 64 bytes of text: enough room for most batches at once, and never
    // more than 1.5 times the text's size.
    let mut ops = Vec::with_capacity(r.remaining() / 64);
    if r.eat(b']') {
        return Ok(ops);
    }
    let mut i = 0;
    loop {
        read_op(r, dec, allow_assign, &mut ops).map_err(|e| prefix(e, i))?;
        i += 1;
        if !r.more(b']').map_err(syntax)? {
            return Ok(ops);
        }
    }
}

/// Most segments in the path of an `ms` op with several pairs: each pair becomes an op with its
/// own copy of the path, so a deep path would cost more than its text.
pub const MAX_PAIRS_PATH: usize = 8;

fn prefix(mut e: CoreError, i: usize) -> CoreError {
    e.message = format!("op {i}: {}", e.message);
    e
}

#[cold]
fn shape(what: &str) -> CoreError {
    CoreError::bad_frame(what.to_string())
}

/// Counts the elements of an op as they are read, for the arity check.
struct Elems {
    kind: &'static str,
    n: usize,
    have: usize,
}

impl Elems {
    /// Steps to the next element.
    fn next(&mut self, r: &mut Reader) -> Result<(), CoreError> {
        if r.eat(b',') {
            self.have += 1;
            return Ok(());
        }
        if r.peek() == Some(b']') {
            return Err(self.arity(self.have));
        }
        Err(syntax(r.unexpected("`,` or `]`")))
    }

    /// The op ends here.
    fn close(&mut self, r: &mut Reader) -> Result<(), CoreError> {
        if r.eat(b']') {
            return Ok(());
        }
        if !r.eat(b',') {
            return Err(syntax(r.unexpected("`,` or `]`")));
        }
        let mut have = self.have + 1;
        r.skip().map_err(syntax)?;
        while r.more(b']').map_err(syntax)? {
            r.skip().map_err(syntax)?;
            have += 1;
        }
        Err(self.arity(have))
    }

    #[cold]
    fn arity(&self, have: usize) -> CoreError {
        shape(&format!(
            "op `{}` has {} elements, not {have}",
            self.kind, self.n
        ))
    }
}

/// A non-negative integer splice argument.
fn read_int(r: &mut Reader, what: &str) -> Result<usize, CoreError> {
    let n = match r.peek() {
        Some(b'-' | b'0'..=b'9') => num_index(r.number().map_err(syntax)?),
        _ => None,
    };
    n.ok_or_else(|| shape(&format!("splice {what} must be a non-negative integer")))
}

/// Decodes one wire op onto `ops` (an `ms` with several pairs as one op per pair).
fn read_op(
    r: &mut Reader,
    dec: &Decoder,
    allow_assign: bool,
    ops: &mut Vec<Op>,
) -> Result<(), CoreError> {
    if !r.eat(b'[') {
        return Err(shape("an op is an array [kind, key, ...]"));
    }
    if r.peek() != Some(b'"') {
        return Err(shape("an op starts with its kind"));
    }
    let kind = r.string().map_err(syntax)?;
    if kind == "r" && !allow_assign {
        return Err(shape(
            "op `r` is local only: it never travels between processes",
        ));
    }
    let Some((kind, n)) = kind_of(&kind) else {
        return Err(shape(&format!("unknown op kind `{kind}`")));
    };
    let mut el = Elems { kind, n, have: 1 };
    el.next(r)?;
    if r.peek() != Some(b'"') {
        return Err(shape("the field name must be a string"));
    }
    let key = r.string().map_err(syntax)?;
    if is_reserved(&key) {
        return Err(CoreError::new(
            error::RESERVED_KEY,
            format!("`{key}` cannot be a field name"),
        ));
    }
    let key: EcoString = key.as_ref().into();
    if kind == "x" {
        el.close(r)?;
        ops.push(Op::Remove { key });
        return Ok(());
    }
    el.next(r)?;
    if kind == "c" {
        let value = dec
            .read_value(r, 0, false)
            .map_err(|e| e.into_core(&describe(&key, &[], None)))?;
        el.close(r)?;
        ops.push(Op::Create { key, value });
        return Ok(());
    }
    let path = read_path(r, dec, &key)?;
    let at = |segs: &[Seg]| describe(&key, segs, None);
    // Values sit inside `path.len()` containers for s/r, one more where the path names the
    // container itself.
    let inner = path.len() + 1;
    let val = |r: &mut Reader, depth: usize| {
        dec.read_value(r, depth, false)
            .map_err(|e| e.into_core(&at(&path)))
    };
    let seg = |r: &mut Reader| dec.read_seg(r, inner).map_err(|e| e.into_core(&at(&path)));
    if matches!(kind, "s" | "d") && path.is_empty() {
        return Err(shape(&format!("op `{kind}` needs a non-empty path")));
    }
    if matches!(kind, "d" | "cl") {
        el.close(r)?;
        ops.push(if kind == "d" {
            Op::Delete { key, path }
        } else {
            Op::Clear { key, path }
        });
        return Ok(());
    }
    el.next(r)?;
    let op = match kind {
        "s" | "r" => {
            let value = val(r, path.len())?;
            if kind == "s" {
                Op::Set { key, path, value }
            } else {
                Op::Assign { key, path, value }
            }
        }
        "p" => {
            let index = read_int(r, "index")?;
            el.next(r)?;
            let delete = read_int(r, "deleteCount")?;
            el.next(r)?;
            let items = read_items(r, dec, inner, || at(&path))?;
            Op::Splice {
                key,
                path,
                index,
                delete,
                items,
            }
        }
        "a" | "u" => {
            let items = read_items(r, dec, inner, || at(&path))?;
            Op::Push {
                key,
                path,
                items,
                front: kind == "u",
            }
        }
        "ms" => {
            let mut map_key = seg(r)?;
            el.next(r)?;
            let mut value = val(r, inner)?;
            // More pairs may follow: `Map#set` of each, in order.
            while r.eat(b',') {
                if path.len() > MAX_PAIRS_PATH {
                    return Err(shape(&format!(
                        "op `ms` with several pairs takes a path of at most {MAX_PAIRS_PATH} segments"
                    )));
                }
                let k = seg(r)?;
                if !r.eat(b',') {
                    return Err(shape("op `ms` has a key without a value"));
                }
                let v = val(r, inner)?;
                ops.push(Op::MapSet {
                    key: key.clone(),
                    path: path.clone(),
                    map_key,
                    value,
                });
                (map_key, value) = (k, v);
            }
            Op::MapSet {
                key,
                path,
                map_key,
                value,
            }
        }
        "md" => {
            let map_key = seg(r)?;
            Op::MapDelete { key, path, map_key }
        }
        "sa" => {
            let value = val(r, inner)?;
            Op::SetAdd { key, path, value }
        }
        "ev" => {
            let event = val(r, inner)?;
            Op::Dispatch { key, path, event }
        }
        _ => {
            let member = seg(r)?;
            Op::SetDelete { key, path, member }
        }
    };
    el.close(r)?;
    ops.push(op);
    Ok(())
}

fn read_path(r: &mut Reader, dec: &Decoder, key: &str) -> Result<Vec<Seg>, CoreError> {
    if !r.eat(b'[') {
        return Err(shape("a path must be an array"));
    }
    let mut path = Vec::new();
    if r.eat(b']') {
        return Ok(path);
    }
    loop {
        if path.len() == dec.max_depth {
            let mut len = path.len() + 1;
            r.skip().map_err(syntax)?;
            while r.more(b']').map_err(syntax)? {
                r.skip().map_err(syntax)?;
                len += 1;
            }
            return Err(CoreError::new(
                error::TOO_DEEP,
                format!(
                    "a path of {len} segments is deeper than maxDepth ({})",
                    dec.max_depth
                ),
            ));
        }
        let seg = dec
            .read_seg(r, 0)
            .map_err(|e| e.into_core(&describe(key, &path, None)))?;
        path.push(seg);
        if !r.more(b']').map_err(syntax)? {
            return Ok(path);
        }
    }
}

/// Splice items. `splice(i, n, ...items)` turns a hole into undefined; so does the core.
fn read_items(
    r: &mut Reader,
    dec: &Decoder,
    depth: usize,
    at: impl Fn() -> String,
) -> Result<Vec<Value>, CoreError> {
    if !r.eat(b'[') {
        return Err(shape("splice items must be an array"));
    }
    let mut items = Vec::new();
    if r.eat(b']') {
        return Ok(items);
    }
    loop {
        let i = items.len();
        let v = dec
            .read_value(r, depth, true)
            .map_err(|e| e.into_core(&format!("{} (item {i})", at())))?;
        items.push(if matches!(v, Value::Hole) {
            Value::Undefined
        } else {
            v
        });
        if !r.more(b']').map_err(syntax)? {
            return Ok(items);
        }
    }
}
