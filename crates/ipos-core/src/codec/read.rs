//! A JSON tokenizer over the text itself. The decoders in `parse.rs` and `op.rs` pull tokens from
//! it and build `Value`s and `Op`s directly, so a frame is read once, without a `serde_json::Value`
//! tree in between. It accepts exactly RFC 8259 JSON (as serde_json does, including its refusal of
//! lone surrogates); nesting is bounded by the pre-scan before any reader runs.

use std::borrow::Cow;

use super::decode::DecodeError;
use crate::value::{Key, Value};

/// A cursor over JSON text, with the scratch space of the readers that build values from it.
pub(crate) struct Reader<'a> {
    pub(super) s: &'a str,
    pub(super) b: &'a [u8],
    /// Byte offset of the next unread byte.
    pub(crate) pos: usize,
    /// Elements of the arrays being read, innermost last: each array is then allocated once, at
    /// its exact size.
    pub(crate) elems: Vec<Value>,
    /// Members of the objects being read, likewise.
    pub(crate) members: Vec<(Key, Value)>,
    keys: Option<Box<KeyCache<'a>>>,
}

/// Recently seen object keys: records in a batch repeat the same keys, which then share one
/// allocation. Direct-mapped; a miss just allocates.
type KeyCache<'a> = [Option<(&'a str, Key)>; 64];

/// Keys longer than this are not cached (rarely repeated, and costly to compare).
const CACHED_KEY_LEN: usize = 48;

fn key_slot(k: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in k.as_bytes() {
        h = (h ^ c as u32).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as usize & 63
}

type R<T> = Result<T, DecodeError>;

/// What `scan_number` found.
pub(super) struct NumScan {
    start: usize,
    neg: bool,
    /// The integer part's digits, meaningful when `exact`.
    int: u64,
    /// An integer of at most 19 digits: `int` is its exact magnitude.
    exact: bool,
}

pub(super) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

impl<'a> Reader<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Reader {
            s,
            b: s.as_bytes(),
            pos: 0,
            elems: Vec::new(),
            members: Vec::new(),
            keys: None,
        }
    }

    /// An object key, shared with the same key read earlier when possible.
    #[inline]
    pub(crate) fn intern(&mut self, k: Cow<'a, str>) -> Key {
        let k = match k {
            Cow::Borrowed(k) if k.len() <= CACHED_KEY_LEN => k,
            k => return Key::from(k.as_ref()),
        };
        let cache = self
            .keys
            .get_or_insert_with(|| Box::new([const { None }; 64]));
        let slot = &mut cache[key_slot(k)];
        match slot {
            Some((t, key)) if *t == k => key.clone(),
            _ => {
                let key = Key::from(k);
                *slot = Some((k, key.clone()));
                key
            }
        }
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.pos) {
            if !is_ws(c) {
                return Some(c);
            }
            self.pos += 1;
        }
        None
    }

    /// Consumes `c` (after whitespace) if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `c` or fails.
    #[inline]
    pub(crate) fn expect(&mut self, c: u8) -> R<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.unexpected(match c {
                b':' => "`:`",
                b'[' => "`[`",
                b']' => "`]`",
                b'{' => "`{`",
                b'}' => "`}`",
                _ => "`,`",
            }))
        }
    }

    /// After a member of a container: true if another follows (`,` consumed), false at `close`
    /// (consumed).
    #[inline]
    pub(crate) fn more(&mut self, close: u8) -> R<bool> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.unexpected(if close == b']' {
                "`,` or `]`"
            } else {
                "`,` or `}`"
            })),
        }
    }

    /// Succeeds if only whitespace is left.
    pub(crate) fn end(&mut self) -> R<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the text")),
        }
    }

    /// A syntax error at the current position.
    #[cold]
    #[inline(never)]
    pub(crate) fn unexpected(&mut self, want: &str) -> DecodeError {
        let got = match self.peek() {
            None => "the end of the text".to_string(),
            Some(_) => {
                let rest = &self.s[self.pos..];
                let c = rest.chars().next().unwrap_or(' ');
                format!("`{c}`")
            }
        };
        DecodeError::syntax(format!("expected {want} at byte {}, found {got}", self.pos))
    }

    /// `true`, `false` or `null`, known to start here.
    pub(crate) fn literal(&mut self, word: &str) -> R<()> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.unexpected("a value"))
        }
    }

    /// A string. Borrowed from the text unless it has escapes.
    #[inline]
    pub(crate) fn string(&mut self) -> R<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.pos += 1;
        let start = self.pos;
        let b = self.b;
        let mut i = start;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    self.pos = i + 1;
                    // Both ends are ASCII bytes, so this slice is on char boundaries.
                    return Ok(Cow::Borrowed(&self.s[start..i]));
                }
                b'\\' => {
                    self.pos = i;
                    return self.escaped(start, false).map(Cow::Owned);
                }
                0..=0x1f => break,
                _ => i += 1,
            }
        }
        self.pos = i;
        Err(self.bad_string())
    }

    /// A string whose lone surrogates (which JS can send) become U+FFFD instead of an error.
    pub(crate) fn string_lossy(&mut self) -> R<String> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.pos += 1;
        let start = self.pos;
        self.escaped(start, true)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn bad_string(&mut self) -> DecodeError {
        match self.b.get(self.pos) {
            None => DecodeError::syntax("a string is not terminated"),
            Some(_) => DecodeError::syntax(format!(
                "a control character in a string at byte {}",
                self.pos
            )),
        }
    }

    /// The rest of a string from `self.pos` (which may be at an escape), its text from `start`.
    #[inline(never)]
    fn escaped(&mut self, start: usize, lossy: bool) -> R<String> {
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.s[start..self.pos]);
        let mut run = self.pos;
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(self.bad_string());
            };
            match c {
                b'"' => {
                    out.push_str(&self.s[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.s[run..self.pos]);
                    self.pos += 1;
                    self.escape(&mut out, lossy)?;
                    run = self.pos;
                }
                0..=0x1f => return Err(self.bad_string()),
                _ => self.pos += 1,
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut String, lossy: bool) -> R<()> {
        let Some(&c) = self.b.get(self.pos) else {
            return Err(self.bad_string());
        };
        self.pos += 1;
        out.push(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let unit = match hi {
                    0xD800..=0xDBFF if self.b[self.pos..].starts_with(b"\\u") => {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..=0xDFFF).contains(&lo) {
                            Some(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            // Not a pair: the high one is lone; the next escape stands alone.
                            self.pos = save;
                            None
                        }
                    }
                    0xD800..=0xDFFF => None,
                    c => Some(c),
                };
                match unit.and_then(char::from_u32) {
                    Some(ch) => ch,
                    None if lossy => '\u{FFFD}',
                    None => {
                        return Err(DecodeError::syntax(format!(
                            "a lone surrogate escape before byte {}",
                            self.pos
                        )))
                    }
                }
            }
            _ => {
                return Err(DecodeError::syntax(format!(
                    "an invalid escape at byte {}",
                    self.pos - 1
                )))
            }
        });
        Ok(())
    }

    pub(super) fn hex4(&mut self) -> R<u32> {
        let digits = self.b.get(self.pos..self.pos + 4);
        let mut v = 0;
        for &d in digits.unwrap_or(b"x") {
            let x = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => {
                    return Err(DecodeError::syntax(format!(
                        "a bad \\u escape at byte {}",
                        self.pos
                    )))
                }
            };
            v = v * 16 + x as u32;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A number, as serde_json reads it: integers of up to 19 digits exactly converted, others
    /// correctly rounded; out of range is an error.
    #[inline]
    pub(crate) fn number(&mut self) -> R<f64> {
        let n = self.scan_number()?;
        if n.exact {
            // Exact in u64; `as` rounds to nearest-even like a correct decimal parse would.
            let f = n.int as f64;
            return Ok(if n.neg { -f } else { f });
        }
        match self.s[n.start..self.pos].parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(f),
            _ => Err(DecodeError::syntax(format!(
                "the number at byte {} is out of range",
                n.start
            ))),
        }
    }

    /// Reads past a number, checking its grammar.
    #[inline]
    pub(super) fn scan_number(&mut self) -> R<NumScan> {
        self.peek();
        let b = self.b;
        let start = self.pos;
        let mut i = start;
        let neg = b.get(i) == Some(&b'-');
        i += neg as usize;
        let digits_at = i;
        let mut int: u64 = 0;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&d @ b'0'..=b'9') = b.get(i) {
                    int = int.wrapping_mul(10).wrapping_add((d - b'0') as u64);
                    i += 1;
                }
            }
            _ => return Err(self.unexpected("a number")),
        }
        let mut exact = i - digits_at <= 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let at = i;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == at {
                self.pos = i;
                return Err(self.unexpected("a digit"));
            }
            exact = false;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let at = i;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == at {
                self.pos = i;
                return Err(self.unexpected("a digit"));
            }
            exact = false;
        }
        self.pos = i;
        Ok(NumScan {
            start,
            neg,
            int,
            exact,
        })
    }
}
