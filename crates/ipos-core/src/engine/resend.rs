//! Re-sending pending batches to a new parent. A process that lost its parent and joined one
//! again over a new connection cannot know which of its `b` frames arrived before the old
//! connection died; the snapshot it joined with tells (its confirmed state), and every batch still
//! pending after taking it in goes up again, unchanged, in order.

use std::fmt::Write;

use super::Engine;
use crate::codec::write_str;

impl Engine {
    /// The `b` frame of every pending batch, oldest first, exactly as first sent (same origin,
    /// number and ops). Empty at the root.
    pub fn pending_frames(&mut self) -> Vec<String> {
        self.settle_queue();
        if self.root {
            return Vec::new();
        }
        self.pending
            .iter()
            .map(|p| {
                let mut s = String::with_capacity(p.text.len() + self.origin.len() + 32);
                s.push_str(r#"{"t":"b","o":"#);
                write_str(&self.origin, &mut s);
                let _ = write!(s, r#","n":{},"ops":"#, p.n);
                s.push_str(&p.text);
                s.push('}');
                s
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, Limits};

    /// A non-root engine holding field `f` = `{}` (joined through a snapshot).
    fn child() -> Engine {
        let mut e = Engine::new(Limits::default());
        e.set_origin("c1".into());
        e.receive(r#"{"t":"s","q":1,"f":[["f",{}]]}"#, true)
            .unwrap();
        e
    }

    #[test]
    fn pending_frames_are_the_frames_first_sent_in_order() {
        let mut e = child();
        let a = e.local(r#"[["s","f",["a"],1]]"#).unwrap();
        let b = e.local_deferred(r#"[["s","f",["b"],2]]"#).unwrap();
        assert_eq!(e.pending_frames(), vec![a, b]);
    }

    #[test]
    fn confirmed_batches_are_not_sent_again() {
        let mut e = child();
        let a = e.local(r#"[["s","f",["a"],1]]"#).unwrap();
        let b = e.local(r#"[["s","f",["b"],2]]"#).unwrap();
        // The root sequenced the first one (its `q` without ops: our own batch).
        e.receive(r#"{"t":"q","q":2,"o":"c1","n":1,"ok":true}"#, true)
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(e.pending_frames(), vec![b]);
    }

    #[test]
    fn a_root_has_nothing_to_send_again() {
        let mut e = Engine::new(Limits::default());
        e.local(r#"[["c","f",{}]]"#).unwrap();
        assert!(e.pending_frames().is_empty());
    }
}
