//! The frame envelope: the fields a frame may carry, and builders for the frames the core emits.

use std::fmt::Write;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::codec::write_str;
use crate::error::CoreError;

/// Every frame field, all optional: which ones are required depends on `t`. Anything that may
/// nest is kept raw: serde_json skips raw values without recursing, so parsing the envelope is
/// safe whatever a hostile frame holds.
#[derive(Deserialize)]
pub(crate) struct Frame<'a> {
    pub(crate) t: String,
    #[serde(borrow)]
    pub(crate) v: Option<&'a RawValue>,
    pub(crate) id: Option<String>,
    #[serde(rename = "fn")]
    pub(crate) func: Option<bool>,
    pub(crate) q: Option<u64>,
    #[serde(borrow)]
    pub(crate) f: Option<&'a RawValue>,
    pub(crate) o: Option<String>,
    pub(crate) n: Option<u64>,
    pub(crate) ok: Option<bool>,
    #[serde(borrow)]
    pub(crate) ops: Option<&'a RawValue>,
    pub(crate) i: Option<u64>,
    pub(crate) code: Option<String>,
    /// Kept raw: JS may cut a message inside a surrogate pair, which a `String` would refuse.
    #[serde(borrow)]
    pub(crate) m: Option<&'a RawValue>,
}

/// A field frame type `t` requires (absent or `null` is an error; a wrong type failed parsing).
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
