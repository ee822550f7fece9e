//! The frame envelope: the members a frame may carry, read in one pass that also does the depth
//! pre-scan of every member; and builders for the frames the core emits.

use std::borrow::Cow;
use std::fmt::Write;

use crate::codec::read::Reader;
use crate::codec::{json_depth_exceeds, read_within, write_str, DecodeError};
use crate::error::{self, CoreError};

/// A raw member: its JSON text (unchecked beyond its nesting) and that nesting.
#[derive(Clone, Copy)]
pub(crate) struct Raw<'a> {
    pub(crate) text: &'a str,
    pub(crate) depth: usize,
}

impl Raw<'_> {
    /// Checks that the text is JSON (for a member no reader will go through).
    pub(crate) fn check(&self) -> Result<(), CoreError> {
        read_within(self.text, self.depth, |r| r.skip_valid().map_err(bad))
    }
}

/// Every frame member, all optional but `t`: which ones are required depends on `t`. Members
/// that may nest are kept raw, with their nesting known; `ops` and `f` are checked by the reader
/// that decodes them or by `Raw::check`, everything else here.
#[derive(Default)]
pub(crate) struct Frame<'a> {
    pub(crate) t: Cow<'a, str>,
    pub(crate) v: Option<Raw<'a>>,
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) func: Option<bool>,
    pub(crate) q: Option<u64>,
    pub(crate) f: Option<Raw<'a>>,
    /// A snapshot's last sequenced batch per origin.
    pub(crate) ns: Option<Raw<'a>>,
    pub(crate) o: Option<Cow<'a, str>>,
    pub(crate) n: Option<u64>,
    pub(crate) ok: Option<bool>,
    pub(crate) ops: Option<Raw<'a>>,
    pub(crate) i: Option<u64>,
    /// A snapshot chunk's pieces.
    pub(crate) p: Option<Raw<'a>>,
    /// Set on a snapshot's last chunk.
    pub(crate) end: Option<bool>,
    pub(crate) code: Option<Cow<'a, str>>,
    /// Kept raw: JS may cut a message inside a surrogate pair, which a string would refuse.
    pub(crate) m: Option<Raw<'a>>,
}

fn bad(e: DecodeError) -> CoreError {
    let e = e.into_core("");
    CoreError::bad_frame(format!("not a valid frame: {}", e.message))
}

#[cold]
fn wrong(name: &str, what: &str) -> CoreError {
    CoreError::bad_frame(format!("not a valid frame: `{name}` must be {what}"))
}

/// A member's value as `T`, or `None` for `null`.
fn scalar<'a, T>(
    text: &'a str,
    name: &str,
    what: &str,
    read: impl FnOnce(&'a str) -> Option<T>,
) -> Result<Option<T>, CoreError> {
    if text == "null" {
        return Ok(None);
    }
    read(text).map(Some).ok_or_else(|| wrong(name, what))
}

fn uint(text: &str) -> Option<u64> {
    let digits = text.bytes().all(|c| c.is_ascii_digit());
    let canonical = text == "0" || !text.starts_with('0');
    (digits && canonical).then(|| text.parse().ok()).flatten()
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn string(text: &str) -> Option<Cow<'_, str>> {
    let mut r = Reader::new(text);
    let s = r.string().ok()?;
    r.end().ok().map(|()| s)
}

fn set<T>(slot: &mut Option<T>, v: Option<T>, name: &str) -> Result<(), CoreError> {
    if slot.is_some() {
        return Err(CoreError::bad_frame(format!(
            "not a valid frame: duplicate member `{name}`"
        )));
    }
    *slot = v;
    Ok(())
}

impl<'a> Frame<'a> {
    /// Reads the envelope of `text`. Nothing nests deeper than `json_limit` (the whole frame
    /// counted), and no member is read recursively before its nesting is known.
    pub(crate) fn parse(text: &'a str, json_limit: usize) -> Result<Frame<'a>, CoreError> {
        Self::read(text, json_limit).map_err(|e| {
            if e.code != error::TOO_DEEP && json_depth_exceeds(text, json_limit) {
                CoreError::new(
                    error::TOO_DEEP,
                    "the frame nests deeper than maxDepth allows",
                )
            } else {
                e
            }
        })
    }

    fn read(text: &'a str, json_limit: usize) -> Result<Frame<'a>, CoreError> {
        let mut r = Reader::new(text);
        let mut f = Frame::default();
        let mut t = None;
        r.expect(b'{').map_err(bad)?;
        let member_limit = json_limit.saturating_sub(1);
        if !r.eat(b'}') {
            loop {
                let key = r.string().map_err(bad)?;
                r.expect(b':').map_err(bad)?;
                r.peek();
                let start = r.pos;
                let depth = r.skip_scan(member_limit).map_err(|e| match e.code() {
                    error::TOO_DEEP => CoreError::new(
                        error::TOO_DEEP,
                        "the frame nests deeper than maxDepth allows",
                    ),
                    _ => bad(e),
                })?;
                let v = &text[start..r.pos];
                let raw = (v != "null").then_some(Raw { text: v, depth });
                let k = key.as_ref();
                match k {
                    "t" => set(&mut t, scalar(v, k, "a string", string)?, k)?,
                    "id" => set(&mut f.id, scalar(v, k, "a string", string)?, k)?,
                    "o" => set(&mut f.o, scalar(v, k, "a string", string)?, k)?,
                    "code" => set(&mut f.code, scalar(v, k, "a string", string)?, k)?,
                    "fn" => set(&mut f.func, scalar(v, k, "a boolean", boolean)?, k)?,
                    "ok" => set(&mut f.ok, scalar(v, k, "a boolean", boolean)?, k)?,
                    "end" => set(&mut f.end, scalar(v, k, "a boolean", boolean)?, k)?,
                    "q" => set(&mut f.q, scalar(v, k, "an unsigned integer", uint)?, k)?,
                    "n" => set(&mut f.n, scalar(v, k, "an unsigned integer", uint)?, k)?,
                    "i" => set(&mut f.i, scalar(v, k, "an unsigned integer", uint)?, k)?,
                    "ops" => set(&mut f.ops, raw, k)?,
                    "f" => set(&mut f.f, raw, k)?,
                    "ns" => set(&mut f.ns, raw, k)?,
                    "p" => set(&mut f.p, raw, k)?,
                    "v" | "m" => {
                        if let Some(raw) = raw {
                            raw.check()?;
                        }
                        set(if k == "v" { &mut f.v } else { &mut f.m }, raw, k)?
                    }
                    // Other members are ignored, but must be JSON.
                    _ => Raw { text: v, depth }.check()?,
                }
                if !r.more(b'}').map_err(bad)? {
                    break;
                }
            }
        }
        r.end().map_err(bad)?;
        f.t = t.ok_or_else(|| CoreError::bad_frame("not a valid frame: it has no `t`"))?;
        Ok(f)
    }

    /// Checks every raw member that the handler of this frame type does not decode itself.
    pub(crate) fn check_unused(&self, uses_f: bool, uses_ops: bool) -> Result<(), CoreError> {
        let uses_p = self.t == "S";
        // `ns` is read by the snapshot handlers: an `s` frame, and chunk 0 of an `S` stream.
        let uses_ns = uses_f || (uses_p && self.i == Some(0));
        for (raw, used) in [
            (self.f, uses_f),
            (self.ns, uses_ns),
            (self.ops, uses_ops),
            (self.p, uses_p),
        ] {
            match raw {
                Some(raw) if !used => raw.check()?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// A member frame type `t` requires (absent or `null` is an error).
pub(crate) fn need<T>(v: Option<T>, t: &str, name: &str) -> Result<T, CoreError> {
    v.ok_or_else(|| CoreError::bad_frame(format!("frame `{t}` needs a valid `{name}`")))
}

/// Origins are hex ids (PROTOCOL.md); anything else is not from an ipos peer.
pub(crate) fn check_origin(o: &str) -> Result<(), CoreError> {
    if o.is_empty() || o.len() > 64 || !o.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(CoreError::bad_frame("an origin id is 1 to 64 hex digits"));
    }
    Ok(())
}

/// A nack's code: `ERR_IPOS_` and 1 to 40 of `A`-`Z` and `_`.
pub(crate) fn check_nack_code(code: &str) -> Result<(), CoreError> {
    match code.strip_prefix("ERR_IPOS_") {
        Some(rest)
            if (1..=40).contains(&rest.len())
                && rest.bytes().all(|c| c.is_ascii_uppercase() || c == b'_') =>
        {
            Ok(())
        }
        _ => Err(CoreError::bad_frame(
            "a nack's `code` is ERR_IPOS_ followed by 1 to 40 of A-Z and _",
        )),
    }
}

/// A sequenced batch frame without its ops, for the batch's origin, which has them.
pub(crate) fn q_elided(seq: u64, origin: &str, n: u64, ok: bool) -> String {
    let mut s = String::with_capacity(origin.len() + 64);
    let _ = write!(s, r#"{{"t":"q","q":{seq},"o":"#);
    write_str(origin, &mut s);
    let _ = write!(s, r#","n":{n},"ok":{ok}}}"#);
    s
}

/// A sequenced batch frame; `ops` is JSON text, copied as is.
pub(crate) fn q_frame(seq: u64, origin: &str, n: u64, ok: bool, ops: &str) -> String {
    let mut s = String::with_capacity(ops.len() + origin.len() + 64);
    let _ = write!(s, r#"{{"t":"q","q":{seq},"o":"#);
    write_str(origin, &mut s);
    let _ = write!(s, r#","n":{n},"ok":{ok},"ops":"#);
    s.push_str(ops);
    s.push('}');
    s
}
