//! Reading a small record straight as its packed text. Most of a big batch or snapshot is small
//! plain records (`{id, name, tags}`), which the mirror keeps packed: as their canonical
//! encoding (value/packed.rs). Building the object, encoding it again and dropping what was built
//! cost most of the core's time reading such a frame. When the record's text already is that
//! canonical encoding (no whitespace, strings without escapes, integers, no key JS would reorder
//! or refuse, no repeated key), it is taken as it is. Anything else returns `None` and goes the
//! general way, which also decides whether a record is packed: the checks here admit exactly
//! what it would pack (same budget, same shapes), so the mirror cannot tell which way was taken.

use crate::value::packed::PACK_MAX;
use crate::value::SMALL;

/// Cost of a number, `true`, `false` or `null` in `plain`'s budget.
const SCALAR: isize = 24;

/// Most digits of an integer taken as it is: any such integer is exact in an `f64` and prints
/// back with the same digits.
const MAX_DIGITS: usize = 15;

/// The end of the canonical, packable object whose `{` is at `start` in `b`, read at nesting
/// `depth` of a decoder admitting `max_depth` levels; `None` if it is not one.
pub(super) fn packable_object(
    b: &[u8],
    start: usize,
    depth: usize,
    max_depth: usize,
) -> Option<usize> {
    let mut budget = PACK_MAX as isize;
    let mut scan = Scan {
        b,
        i: start,
        budget: &mut budget,
        max_depth,
    };
    scan.object(depth)?;
    Some(scan.i)
}

struct Scan<'a, 'b> {
    b: &'a [u8],
    i: usize,
    budget: &'b mut isize,
    max_depth: usize,
}

impl<'a> Scan<'a, '_> {
    fn spend(&mut self, n: usize) -> Option<()> {
        *self.budget -= n as isize;
        (*self.budget >= 0).then_some(())
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A flat object: string keys, values that are not objects.
    fn object(&mut self, depth: usize) -> Option<()> {
        if depth == 0 || depth >= self.max_depth || self.b.get(self.i) != Some(&b'{') {
            return None;
        }
        // `{}` is never packed.
        if self.b.get(self.i + 1) == Some(&b'}') {
            return None;
        }
        self.i += 1;
        self.spend(2)?;
        let mut keys: [&'a [u8]; SMALL] = [&[]; SMALL];
        let mut n = 0;
        loop {
            let k = self.string()?;
            // JS puts index-like keys first and refuses these; a tag key is not a record.
            if n == SMALL
                || k.first().is_some_and(u8::is_ascii_digit)
                || matches!(k, b"~" | b"__proto__" | b"constructor" | b"prototype")
                || keys[..n].contains(&k)
            {
                return None;
            }
            keys[n] = k;
            n += 1;
            self.spend(k.len() + 4)?;
            if !self.eat(b':') {
                return None;
            }
            self.value(depth + 1)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => {
                let s = self.string()?;
                self.spend(s.len() + 2)
            }
            b'[' => self.array(depth),
            b'-' | b'0'..=b'9' => {
                self.integer()?;
                self.spend(SCALAR as usize)
            }
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth >= self.max_depth || !self.eat(b'[') {
            return None;
        }
        self.spend(2)?;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            self.value(depth + 1)?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        if !self.b[self.i..].starts_with(w) {
            return None;
        }
        self.i += w.len();
        self.spend(SCALAR as usize)
    }

    /// A string's bytes, without its quotes, if it needs no escape.
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let b: &'a [u8] = self.b;
        // No further than what is left of the budget: a long string is never packed.
        let room = (*self.budget).max(0) as usize + 1;
        let rest = &b[start..b.len().min(start + room)];
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&b[start..start + len])
    }

    /// `0` or `-?[1-9][0-9]*` of at most `MAX_DIGITS` digits, not followed by a fraction or an
    /// exponent (and not `-0`, which encodes as `0`).
    fn integer(&mut self) -> Option<()> {
        let neg = self.eat(b'-');
        let start = self.i;
        let digits = self.b[start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > MAX_DIGITS || (self.b[start] == b'0' && (digits > 1 || neg)) {
            return None;
        }
        self.i += digits;
        match self.b.get(self.i) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(()),
        }
    }
}
