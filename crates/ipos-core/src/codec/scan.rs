//! The byte scan for JSON nesting depth, and the one loop every depth scan runs. It runs before
//! any parsing so a frame like 200,000 `[` is refused in microseconds, without recursion, before
//! any recursive reader ever sees it.

/// How a nesting scan ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Nesting {
    /// The nesting passed the limit; the scan stopped there.
    Deeper,
    /// The text ended. `max` is the deepest nesting seen.
    End { max: usize },
    /// The container the scan started at closed just before byte `end` (`until_closed` only).
    Closed { end: usize, max: usize },
}

/// Counts `[`/`{` nesting outside strings from byte `start` of `b`, and calls `open(i, depth)`
/// at every opening bracket. With `until_closed` it stops when the container opened at `start`
/// closes. Does not validate the JSON: a backslash in a string always escapes exactly the next
/// byte, and nothing else inside a string matters. This is the only loop that skips strings by
/// bytes; every pre-scan (the depth checks, the batch shape, a frame's members) goes through it.
#[inline(always)]
pub(crate) fn nesting(
    b: &[u8],
    start: usize,
    limit: usize,
    until_closed: bool,
    mut open: impl FnMut(usize, usize),
) -> Nesting {
    let (mut i, mut depth, mut max) = (start, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > limit {
                        return Nesting::Deeper;
                    }
                }
                open(i, depth);
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if until_closed && depth == 0 {
                    return Nesting::Closed { end: i + 1, max };
                }
            }
            _ => {}
        }
        i += 1;
    }
    Nesting::End { max }
}

/// Maximum nesting of `[` and `{` outside strings. Does not validate the JSON.
pub fn json_depth(s: &str) -> usize {
    match nesting(s.as_bytes(), 0, usize::MAX, false, |_, _| {}) {
        Nesting::End { max } | Nesting::Closed { max, .. } => max,
        Nesting::Deeper => usize::MAX,
    }
}

/// True if the nesting of `s` exceeds `limit`; stops at the first level past it.
pub fn json_depth_exceeds(s: &str, limit: usize) -> bool {
    json_depth_within(s, limit).is_none()
}

/// The nesting of `s`, or `None` as soon as it exceeds `limit`.
pub fn json_depth_within(s: &str, limit: usize) -> Option<usize> {
    match nesting(s.as_bytes(), 0, limit, false, |_, _| {}) {
        Nesting::End { max } | Nesting::Closed { max, .. } => Some(max),
        Nesting::Deeper => None,
    }
}

/// What a cheap look at a local batch (a JSON array of ops) found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BatchShape {
    /// `[` ... `]` around the whole text (whitespace aside).
    pub(crate) array: bool,
    /// Nothing but whitespace between them.
    pub(crate) empty: bool,
    /// Some op's kind is `r` (an assign).
    pub(crate) assigns: bool,
}

/// The shape of batch `s`, or `None` as soon as its nesting exceeds `limit`. One pass, no
/// allocation: it runs on the critical path of `Engine::local_deferred`.
pub(crate) fn batch_shape(s: &str, limit: usize) -> Option<BatchShape> {
    let t = s.trim_matches(|c| matches!(c, ' ' | '\n' | '\r' | '\t'));
    let array = t.starts_with('[') && t.ends_with(']') && t.len() >= 2;
    let empty = array
        && t[1..t.len() - 1]
            .trim_start_matches([' ', '\n', '\r', '\t'])
            .is_empty();
    let b = t.as_bytes();
    let mut assigns = false;
    let scan = nesting(b, 0, limit, false, |i, depth| {
        // An op's kind is the first token of an array at depth 2. A string token cannot hold an
        // unescaped `"`, so `"r"` here is exactly the kind `r`.
        if depth == 2 && b[i] == b'[' && !assigns {
            let rest = t[i + 1..].trim_start_matches([' ', '\n', '\r', '\t']);
            assigns = rest.starts_with("\"r\"");
        }
    });
    (scan != Nesting::Deeper).then_some(BatchShape {
        array,
        empty,
        assigns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outside_strings() {
        assert_eq!(json_depth("1"), 0);
        assert_eq!(json_depth("[]"), 1);
        assert_eq!(json_depth(r#"[{"a":[1]},[]]"#), 3);
        assert_eq!(json_depth(r#"["[[[[\"[["]"#), 1);
        assert_eq!(json_depth(r#"{"a\\":"[["}"#), 1);
        assert!(json_depth_exceeds("[[[]]]", 2));
        assert!(!json_depth_exceeds("[[[]]]", 3));
        assert_eq!(json_depth_within("[[[]]]", 3), Some(3));
        assert_eq!(json_depth_within("[[[]]]", 2), None);
    }

    #[test]
    fn batch_shapes() {
        let shape = |s: &str| batch_shape(s, 10).unwrap();
        let b = shape(r#" [ ["c","a",1], [ "r","a",[],["r"]] ] "#);
        assert!(b.array && !b.empty && b.assigns);
        let b = shape(r#"[["c","a",["r",1]],["s","a",["r"],"\"r\""]]"#);
        assert!(b.array && !b.empty && !b.assigns, "{b:?}");
        let b = shape(" [ \n ] ");
        assert!(b.array && b.empty && !b.assigns);
        assert!(!shape("{}").array && !shape("[").array && !shape("").array);
        assert_eq!(batch_shape("[[[[]]]]", 3), None);
    }

    #[test]
    fn deep_input_is_fast() {
        let s = "[".repeat(200_000);
        let t = std::time::Instant::now();
        assert!(json_depth_exceeds(&s, 3008));
        assert_eq!(json_depth(&s), 200_000);
        assert!(t.elapsed().as_millis() < 200);
    }
}
