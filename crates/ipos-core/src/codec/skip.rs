//! Skipping over JSON without building it: the envelope's fused depth pre-scan, syntax checks
//! of members nobody decodes, and the shallow look that recognises a tag whatever its key order.

use std::borrow::Cow;

use super::decode::DecodeError;
use super::read::{is_ws, Reader};
use super::scan::{nesting, Nesting};

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

impl<'a> Reader<'a> {
    /// Skips one value without building it. Only checks enough to find its end: whatever is
    /// skipped here is either read properly later or causes an error anyway.
    pub(crate) fn skip(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'[' | b'{') => match nesting(self.b, self.pos, usize::MAX, true, |_, _| {}) {
                Nesting::Closed { end, .. } => {
                    self.pos = end;
                    Ok(())
                }
                _ => {
                    self.pos = self.b.len();
                    Err(self.unexpected("the end of a container"))
                }
            },
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

    /// Skips one value without checking it, and returns its nesting (0 for a scalar); fails as
    /// soon as that exceeds `limit`. No recursion, no allocation: this is the depth pre-scan of
    /// a frame's members, fused with finding where they end. Whatever it skips is checked later.
    pub(crate) fn skip_scan(&mut self, limit: usize) -> R<usize> {
        match self.peek() {
            Some(b'[' | b'{') => {}
            Some(b'"') => return self.skip_string().map(|()| 0),
            Some(_) => return self.skip().map(|()| 0),
            None => return Err(self.unexpected("a value")),
        }
        match nesting(self.b, self.pos, limit, true, |_, _| {}) {
            Nesting::Closed { end, max } => {
                self.pos = end;
                Ok(max)
            }
            Nesting::Deeper => Err(DecodeError::new(
                crate::error::TOO_DEEP,
                format!("the text nests deeper than {limit} JSON levels"),
            )),
            Nesting::End { .. } => {
                self.pos = self.b.len();
                Err(self.unexpected("the end of a container"))
            }
        }
    }

    /// Checks that one value is JSON, without building it. As lenient as serde_json's skipping
    /// of a value: numbers out of range and lone surrogate escapes pass (the reader that builds
    /// values refuses them). Recursive: run it where the nesting is known to be bounded.
    pub(crate) fn skip_valid(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'-' | b'0'..=b'9') => self.scan_number().map(drop),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'[') => {
                self.pos += 1;
                if !self.eat(b']') {
                    loop {
                        self.skip_valid()?;
                        if !self.more(b']')? {
                            break;
                        }
                    }
                }
                Ok(())
            }
            Some(b'{') => {
                self.pos += 1;
                if !self.eat(b'}') {
                    loop {
                        self.skip_string()?;
                        self.expect(b':')?;
                        self.skip_valid()?;
                        if !self.more(b'}')? {
                            break;
                        }
                    }
                }
                Ok(())
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    /// Skips a string, checking its escapes' syntax and that it has no raw control character.
    pub(crate) fn skip_string(&mut self) -> R<()> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.pos += 1;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    match self.b.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        _ => {
                            return Err(DecodeError::syntax(format!(
                                "an invalid escape at byte {}",
                                self.pos
                            )))
                        }
                    }
                }
                0..=0x1f => break,
                _ => self.pos += 1,
            }
        }
        Err(self.bad_string())
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
