//! Decoding limits, decode errors, the checks tags need, and the entry point that bounds nesting
//! before any recursive reader runs. The readers themselves (`parse.rs`, and ops in `op.rs`) go
//! from JSON text straight to `Value`/`Op`. Inbound values are untrusted: anything that is not
//! exactly the PROTOCOL.md encoding is refused, so the JS side can rebuild what the core accepted
//! without meeting a surprise.

use serde::Deserialize;
use serde_json::Value as J;

use super::read::Reader;
use crate::error::{self, CoreError};
use crate::path::Seg;
use crate::value::Value;

/// Limits that apply while decoding values.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    /// Most containers a value may nest, counted from the field root.
    pub max_depth: usize,
    /// Whether function values (tag `F`) are accepted.
    pub functions: bool,
}

/// A decode failure, with the path inside the value collected while unwinding (only failures pay
/// for building it). Boxed so that the `Result`s of the recursive decoder stay one word wide:
/// decoding recurses once per nesting level and every byte of its frames counts at depth 1000.
#[derive(Debug)]
pub struct DecodeError(Box<ErrInner>);

#[derive(Debug)]
struct ErrInner {
    code: &'static str,
    what: String,
    rev_path: Vec<String>,
    /// A JSON syntax error: reported without the value path, which it is not about.
    syntax: bool,
}

impl DecodeError {
    #[cold]
    #[inline(never)]
    pub(crate) fn new(code: &'static str, what: impl Into<String>) -> Self {
        DecodeError(Box::new(ErrInner {
            code,
            what: what.into(),
            rev_path: Vec::new(),
            syntax: false,
        }))
    }

    /// The text is not JSON (`ERR_IPOS_BAD_FRAME`).
    #[cold]
    #[inline(never)]
    pub(crate) fn syntax(what: impl Into<String>) -> Self {
        DecodeError(Box::new(ErrInner {
            code: error::BAD_FRAME,
            what: what.into(),
            rev_path: Vec::new(),
            syntax: true,
        }))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn at(mut self, part: String) -> Self {
        self.0.rev_path.push(part);
        self
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn at_index(self, i: usize) -> Self {
        self.at(format!("[{i}]"))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn at_indexed(self, before: &str, i: usize, after: &str) -> Self {
        self.at(format!("{before}{i}{after}"))
    }

    /// Inside the value of the Map entry with key `key` at position `i`.
    #[cold]
    #[inline(never)]
    pub(crate) fn at_get(self, key: &Value, i: usize) -> Self {
        let mut s = String::new();
        crate::path::push_get(&mut s, key, i);
        self.at(s)
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn at_class(self, name: &str) -> Self {
        self.at(format!(" (instance of {name})"))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn at_prop(self, k: &str) -> Self {
        self.at(prop_part(k))
    }

    /// The error code (`ERR_IPOS_*`).
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The error for a value found at `prefix` (a JS-like path such as `cfg.a`).
    pub fn into_core(self, prefix: &str) -> CoreError {
        if self.0.syntax {
            return CoreError::new(self.0.code, format!("not valid JSON: {}", self.0.what));
        }
        let mut p = prefix.to_string();
        for part in self.0.rev_path.iter().rev() {
            p.push_str(part);
        }
        CoreError::new(self.0.code, format!("`{p}`: {}", self.0.what))
    }
}

pub(crate) type R<T> = Result<T, DecodeError>;

#[cold]
#[inline(never)]
pub(crate) fn indexed(before: &str, i: usize, after: &str) -> DecodeError {
    bad(format!("{before}{i}{after}"))
}

#[cold]
#[inline(never)]
pub(crate) fn bad_keys(tag: &str, bare: bool) -> DecodeError {
    bad(if bare {
        format!("tag `{tag}` has no other key than `~`")
    } else {
        format!("tag `{tag}` has exactly the keys `~` and `v`")
    })
}

#[cold]
#[inline(never)]
pub(crate) fn unknown_tag(tag: &str) -> DecodeError {
    bad(format!("unknown tag `{tag}` (a user object with a `~` key is sent as {{\"~\":\"o\",\"v\":{{...}}}})"))
}

#[cold]
#[inline(never)]
pub(crate) fn payload(tag: &str, what: &str) -> DecodeError {
    bad(format!("tag `{tag}` needs {what}"))
}

#[cold]
#[inline(never)]
pub(crate) fn reserved(k: &str) -> DecodeError {
    DecodeError::new(
        error::RESERVED_KEY,
        format!("`{k}` cannot be an object key"),
    )
}

#[cold]
#[inline(never)]
pub(crate) fn bad(what: impl Into<String>) -> DecodeError {
    DecodeError::new(error::BAD_VALUE, what)
}

fn prop_part(k: &str) -> String {
    let mut s = String::new();
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        s.push('.');
        s.push_str(k);
    } else {
        s.push('[');
        super::write_str(k, &mut s);
        s.push(']');
    }
    s
}

/// Parses JSON whose nesting was already bounded by the pre-scan, so serde_json's own recursion
/// limit (128, far below `max_depth`) can be lifted.
pub fn from_str_unbounded<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = T::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Nesting up to which text is read on the caller's stack. The readers recurse once per level
/// (a few hundred bytes each); deeper text, which only unusual values produce, is read on a
/// helper thread with a stack sized for it, so the caller (Node's thread) needs no spare stack.
const INLINE_JSON_DEPTH: usize = 256;

#[cold]
fn too_deep_text(json_limit: usize) -> CoreError {
    CoreError::new(
        error::TOO_DEEP,
        format!("the text nests deeper than {json_limit} JSON levels"),
    )
}

/// Pre-scans `text` for nesting deeper than `json_limit`, then parses it into a
/// `serde_json::Value` (for tests and tools; the engine reads text directly).
pub fn parse_json(text: &str, json_limit: usize) -> Result<J, CoreError> {
    let Some(depth) = super::json_depth_within(text, json_limit) else {
        return Err(too_deep_text(json_limit));
    };
    let parse = || from_str_unbounded::<J>(text);
    let parsed = if depth <= INLINE_JSON_DEPTH {
        parse()
    } else {
        on_big_stack(depth, &parse)
    };
    parsed.map_err(|e| CoreError::bad_frame(format!("not valid JSON: {e}")))
}

/// Pre-scans `text` for nesting deeper than `json_limit`, then runs `read` over it: on this
/// thread, or for deep text on a helper thread with a stack sized for it.
pub(crate) fn read_guarded<T>(
    text: &str,
    json_limit: usize,
    read: impl Fn(&mut Reader) -> Result<T, CoreError> + Sync,
) -> Result<T, CoreError> {
    match super::json_depth_within(text, json_limit) {
        Some(depth) => read_within(text, depth, read),
        None => Err(too_deep_text(json_limit)),
    }
}

/// Runs `read` over `text`, whose nesting is known to be at most `depth`, and checks that
/// nothing but whitespace follows what it read.
pub(crate) fn read_within<T>(
    text: &str,
    depth: usize,
    read: impl Fn(&mut Reader) -> Result<T, CoreError> + Sync,
) -> Result<T, CoreError> {
    let run = || {
        let mut r = Reader::new(text);
        let v = read(&mut r)?;
        r.end().map_err(|e| e.into_core(""))?;
        Ok(v)
    };
    if depth <= INLINE_JSON_DEPTH {
        return run();
    }
    /// Carries the result home from the helper thread.
    struct Home<T>(T);
    // SAFETY: `Home` only ever holds what `run` built on the helper thread: a fresh tree whose
    // `Rc`s are all owned by the tree itself. The only other owner any of them ever had is the
    // `Reader`'s key cache, which `run` drops before it returns; nothing is kept in a
    // thread-local or anywhere else. The helper thread ends before `on_big_stack` returns (a
    // scoped join, which orders its writes before our reads), so from then on only the calling
    // thread touches any of those reference counts.
    unsafe impl<T> Send for Home<T> {}
    on_big_stack(depth, &|| Home(run())).0
}

/// Runs `f` on a scoped thread with 8 KiB of stack per nesting level (or on this thread if
/// no thread can be started).
fn on_big_stack<T: Send>(depth: usize, f: &(dyn Fn() -> T + Sync)) -> T {
    // Generous: only the pages a parse touches are ever committed, and debug builds need more.
    let stack = (1 << 20) + depth.saturating_mul(8 << 10);
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("ipos-parse".into())
            .stack_size(stack)
            .spawn_scoped(s, f)
        {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => f(),
        }
    })
}

impl Decoder {
    /// Nesting the JSON text of a frame may have before parsing: a Map level costs three JSON
    /// levels (`{"~":"M","v":[[k,v]]}`), and the frame wraps values in a few more.
    pub fn json_limit(&self) -> usize {
        self.max_depth.saturating_mul(3).saturating_add(8)
    }

    /// Decodes one encoded value (JSON text) that sits inside `depth` containers; error messages
    /// name paths starting with `prefix`.
    pub fn value_text(&self, text: &str, depth: usize, prefix: &str) -> Result<Value, CoreError> {
        read_guarded(text, self.json_limit(), |r| {
            self.read_value(r, depth, false)
                .map_err(|e| e.into_core(prefix))
        })
    }

    fn reread<T>(&self, j: &J, read: impl FnOnce(&mut Reader) -> R<T>) -> R<T> {
        let text = j.to_string();
        let mut r = Reader::new(&text);
        let v = read(&mut r)?;
        r.end()?;
        Ok(v)
    }

    /// Decodes an already parsed value inside `depth` containers (tests and tools).
    pub fn value(&self, j: &J, depth: usize) -> R<Value> {
        self.reread(j, |r| self.read_value(r, depth, false))
    }

    /// Decodes an already parsed array element (holes allowed) inside `depth` containers.
    pub fn element(&self, j: &J, depth: usize) -> R<Value> {
        self.reread(j, |r| self.read_value(r, depth, true))
    }

    /// Decodes an already parsed path segment, Map key or Set member reference.
    pub fn seg(&self, j: &J, depth: usize) -> R<Seg> {
        self.reread(j, |r| self.read_seg(r, depth))
    }

    pub(crate) fn enter(&self, depth: usize) -> R<usize> {
        if depth >= self.max_depth {
            Err(self.too_deep())
        } else {
            Ok(depth + 1)
        }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> DecodeError {
        DecodeError::new(
            error::TOO_DEEP,
            format!("nests deeper than maxDepth ({})", self.max_depth),
        )
    }
}

/// The typed-array (and `DataView`) names every supported Node can build, with their element
/// sizes. Anything else (`Float16Array`, which Node 20 lacks, or a made-up name) is refused here,
/// so a receiver never meets a constructor it does not have.
pub(crate) const TYPED: [(&str, usize); 12] = [
    ("Int8Array", 1),
    ("Uint8Array", 1),
    ("Uint8ClampedArray", 1),
    ("Int16Array", 2),
    ("Uint16Array", 2),
    ("Int32Array", 4),
    ("Uint32Array", 4),
    ("Float32Array", 4),
    ("Float64Array", 8),
    ("BigInt64Array", 8),
    ("BigUint64Array", 8),
    ("DataView", 1),
];

/// Checks padded standard base64 and returns the decoded byte length.
pub(crate) fn base64_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let pad = b.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let body = &b[..b.len() - pad];
    if !body
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
    {
        return None;
    }
    Some(b.len() / 4 * 3 - pad)
}

pub(crate) fn canonical_bigint(s: &str) -> Option<String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    Some(match (digits.is_empty(), neg) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{digits}"),
        (false, false) => digits.to_string(),
    })
}

pub(crate) fn valid_flags(f: &str) -> bool {
    let mut seen = [false; 8];
    f.chars().all(|c| match "dgimsuvy".find(c) {
        Some(i) if !seen[i] => {
            seen[i] = true;
            true
        }
        _ => false,
    }) && !(f.contains('u') && f.contains('v'))
}
