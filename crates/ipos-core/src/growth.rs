//! The growth allowance of one batch: what it may still make arrays grow by, checked before
//! anything is allocated.

use crate::apply::{fail, R};
use crate::error;
use crate::limits::{MAX_ARRAY_LENGTH, MAX_GAP};

/// How much one batch may still grow arrays. Checked before anything is allocated, so a frame
/// costs memory in proportion to its size: an element it names costs its bytes, and the holes a
/// far index or a longer `length` makes (nothing on the wire) come out of a fixed allowance of
/// `MAX_GAP` per batch, however many ops ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    /// No array may become longer than this (`maxArrayLength`).
    pub max_len: usize,
    /// Holes the batch may still make.
    pub holes: usize,
}

impl Growth {
    /// The allowance of a fresh batch, with arrays bounded by `max_len`.
    pub fn new(max_len: usize) -> Self {
        Growth {
            max_len,
            holes: MAX_GAP,
        }
    }

    /// Checks that an array of `len` may become `new_len` long, taking the holes that makes
    /// (`new_len - len - named`, where `named` elements are given by the op) from the allowance.
    pub(crate) fn grow(&mut self, len: usize, new_len: usize, named: usize, at: usize) -> R<()> {
        if new_len > self.max_len {
            return Err(fail(
                error::LIMIT,
                at,
                format!(
                    "would grow an array to {new_len} elements, more than maxArrayLength ({})",
                    self.max_len
                ),
            ));
        }
        let holes = new_len.saturating_sub(len + named);
        if holes > self.holes {
            return Err(fail(
                error::LIMIT,
                at,
                format!(
                    "would make {holes} more holes; one batch may make at most {MAX_GAP} in all"
                ),
            ));
        }
        self.holes -= holes;
        Ok(())
    }
}

impl Default for Growth {
    fn default() -> Self {
        Growth::new(MAX_ARRAY_LENGTH)
    }
}
