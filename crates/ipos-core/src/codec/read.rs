//! A JSON tokenizer over the text itself. The decoders in `parse.rs` and `op.rs` pull tokens from
//! it and build `Value`s and `Op`s directly, so a frame is read once, without a `serde_json::Value`
//! tree in between. It accepts exactly RFC 8259 JSON (as serde_json does, including its refusal of
//! lone surrogates); nesting is bounded by the pre-scan before any reader runs.

use std::borrow::Cow;

use super::decode::DecodeError;

/// A cursor over JSON text.
pub(crate) struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    /// Byte offset of the next unread byte.
    pub(crate) pos: usize,
}

type R<T> = Result<T, DecodeError>;

/// What a shallow look at an object found: enough to recognise a tag whatever its key order.
pub(crate) struct Shallow<'a> {
    /// The value of key `~`: `Some(Ok(tag))` for a string, `Some(Err(()))` for anything else.
    pub(crate) tag: Option<Result<Cow<'a, str>, ()>>,
    /// Where the value of key `v` starts.
    pub(crate) v_at: Option<usize>,
    /// How many members the object has.
    pub(crate) keys: usize,
    /// Just past the closing `}`.
    pub(crate) end: usize,
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

impl<'a> Reader<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Reader {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
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
        DecodeError::syntax(format!(
            "expected {want} at byte {}, found {got}",
            self.pos
        ))
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
    fn bad_string(&mut self) -> DecodeError {
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

    fn hex4(&mut self) -> R<u32> {
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
        let int_digits = i - digits_at;
        let mut float = false;
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
            float = true;
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
            float = true;
        }
        self.pos = i;
        if !float && int_digits <= 19 {
            // Exact in u64; `as` rounds to nearest-even like a correct decimal parse would.
            let f = int as f64;
            return Ok(if neg { -f } else { f });
        }
        match self.s[start..i].parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(f),
            _ => Err(DecodeError::syntax(format!(
                "the number at byte {start} is out of range"
            ))),
        }
    }

    /// Skips one value without building it. Only checks enough to find its end: whatever is
    /// skipped here is either read properly later or causes an error anyway.
    pub(crate) fn skip(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'[' | b'{') => {
                let mut depth = 0usize;
                while let Some(&c) = self.b.get(self.pos) {
                    match c {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
                Err(self.unexpected("the end of a container"))
            }
            Some(_) => {
                let start = self.pos;
                while let Some(&c) = self.b.get(self.pos) {
                    if is_ws(c) || matches!(c, b',' | b']' | b'}' | b':') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.unexpected("a value"));
                }
                Ok(())
            }
            None => Err(self.unexpected("a value")),
        }
    }

    /// Looks over the object starting here (at `{`) for its `~` and `v` keys, and leaves the
    /// cursor past it.
    pub(crate) fn shallow(&mut self) -> R<Shallow<'a>> {
        self.expect(b'{')?;
        let mut sh = Shallow {
            tag: None,
            v_at: None,
            keys: 0,
            end: 0,
        };
        if !self.eat(b'}') {
            loop {
                let k = self.string()?;
                self.expect(b':')?;
                sh.keys += 1;
                if k == "~" && self.peek() == Some(b'"') {
                    sh.tag = Some(Ok(self.string()?));
                } else {
                    if k == "~" {
                        sh.tag = Some(Err(()));
                    } else if k == "v" {
                        self.peek();
                        sh.v_at = Some(self.pos);
                    }
                    self.skip()?;
                }
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        sh.end = self.pos;
        Ok(sh)
    }
}
