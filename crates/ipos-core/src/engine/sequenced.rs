//! The last sequenced batch of each origin (a snapshot's `ns`): what a snapshot already contains
//! of every writer's batches, so a process that takes one while it has batches pending knows
//! which of them to drop (they are in it) and which to replay on top (they are not yet).

use std::fmt::Write;

use indexmap::IndexMap;

use crate::codec::read::Reader;
use crate::codec::write_str;
use crate::error::CoreError;
use crate::frame::check_origin;
use crate::limits::MAX_ORIGINS;

/// Origin -> (its last sequenced batch, the sequence number that batch got). Bounded by
/// `MAX_ORIGINS`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Sequenced(IndexMap<String, (u64, u64)>);

impl Sequenced {
    /// Batch `n` of `origin` got sequence number `seq`.
    pub(crate) fn record(&mut self, origin: &str, n: u64, seq: u64) {
        if let Some(slot) = self.0.get_mut(origin) {
            *slot = (n, seq);
            return;
        }
        if self.0.len() >= MAX_ORIGINS {
            // Linear, but only when a new origin arrives at a full map.
            if let Some(oldest) = (0..self.0.len()).min_by_key(|&i| self.0[i].1) {
                self.0.swap_remove_index(oldest);
            }
        }
        self.0.insert(origin.to_string(), (n, seq));
    }

    /// The last sequenced batch of `origin`, if remembered.
    pub(crate) fn last(&self, origin: &str) -> Option<u64> {
        self.0.get(origin).map(|&(n, _)| n)
    }

    /// `"ns":{...}` for a snapshot frame.
    pub(crate) fn write_member(&self, s: &mut String) {
        s.push_str(r#""ns":{"#);
        for (i, (o, (n, _))) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_str(o, s);
            let _ = write!(s, ":{n}");
        }
        s.push('}');
    }

    /// Reads a snapshot's `ns` member: at most `MAX_ORIGINS` origins, each a valid origin id once.
    /// Sequence numbers are not on the wire: every entry counts as sequenced at `seq`.
    pub(crate) fn read(text: &str, seq: u64) -> Result<Self, CoreError> {
        let bad = |what: &str| CoreError::bad_frame(format!("a snapshot's `ns` {what}"));
        let mut r = Reader::new(text);
        let mut map = IndexMap::new();
        r.expect(b'{').map_err(|_| bad("must be an object"))?;
        if !r.eat(b'}') {
            loop {
                let o = r.string().map_err(|_| bad("must be an object"))?;
                check_origin(&o)?;
                r.expect(b':').map_err(|_| bad("must be an object"))?;
                let n = r
                    .number()
                    .map_err(|_| bad("maps origins to batch numbers"))?;
                if !(n >= 0.0 && n.fract() == 0.0 && n <= 2f64.powi(53)) {
                    return Err(bad("maps origins to batch numbers"));
                }
                if map.insert(o.into_owned(), (n as u64, seq)).is_some() {
                    return Err(bad("names an origin twice"));
                }
                if map.len() > MAX_ORIGINS {
                    return Err(bad(&format!("has more than {MAX_ORIGINS} origins")));
                }
                if !r.more(b'}').map_err(|_| bad("must be an object"))? {
                    break;
                }
            }
        }
        r.end().map_err(|_| bad("must be an object"))?;
        Ok(Sequenced(map))
    }
}
