//! Packed records. Most of a big state is records deep inside a field (`{id, name, tags}` among
//! thousands), and an unpacked record costs several allocations: its map's vector, the `Rc` of
//! each inner array and that array's vector. A small plain object inside a field is kept instead
//! as its encoded text, which costs one allocation and is exactly what a snapshot writes. A read
//! opens it into a cache beside the text (reads of the mirror are rare: validating a path through
//! it, a diff that does not compare texts); a write unpacks it for good. The text is the canonical
//! encoding (`encode_value`) of the object, so nothing outside `ObjMap` can tell the difference:
//! it encodes, compares (`same`) and reads exactly as the unpacked object.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use super::objmap::{ObjMap, SMALL};
use super::Value;

thread_local! {
    static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(PACK_MAX * 2));
}

/// A packed object: its canonical encoding, and what reads opened it into (never packed).
#[derive(Debug, Clone)]
pub(super) struct Packed {
    pub(super) text: Box<str>,
    pub(super) open: OnceCell<Box<ObjMap>>,
}

impl Packed {
    fn decode(&self) -> ObjMap {
        // The text was encoded here from a value the decoder accepted, so it reads back as the
        // same object; the limits only need to admit what fits in `PACK_MAX` bytes.
        let dec = crate::codec::Decoder {
            max_depth: PACK_MAX,
            functions: false,
        };
        match dec.value_text(&self.text, 0, "packed") {
            Ok(Value::Object(o)) => Rc::try_unwrap(o).map_or_else(|o| o.map.clone(), |o| o.map),
            _ => unreachable!("a packed object reads back as an object"),
        }
    }

    pub(super) fn view(&self) -> &ObjMap {
        self.open.get_or_init(|| Box::new(self.decode()))
    }

    pub(super) fn unpack(self) -> ObjMap {
        match self.open.into_inner() {
            Some(m) => *m,
            None => Packed::decode(&Packed {
                text: self.text,
                open: OnceCell::new(),
            }),
        }
    }
}

/// Most bytes of encoded text an object is packed in.
pub const PACK_MAX: usize = 256;

/// Packs `v` if it is an object the decoder just built (its `Rc` not shared yet) whose encoding
/// fits in `PACK_MAX` bytes and holds only JSON data: strings, numbers, booleans, null, arrays
/// and plain objects. Anything with identity or a tag of its own (Map keys, classes, functions)
/// stays unpacked, so reading the text back needs no decoding option and gives the same value.
pub(crate) fn pack(v: &mut Value) {
    if !matches!(v, Value::Object(_)) {
        return;
    }
    let mut budget = PACK_MAX as isize;
    if !plain(v, &mut budget) {
        return;
    }
    // Encoded into a buffer kept for the purpose, then copied out at its exact size.
    let text: Box<str> = SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        crate::codec::encode_value(v, buf);
        Box::from(buf.as_str())
    });
    let Value::Object(o) = v else {
        unreachable!("matched above")
    };
    if let Some(o) = Rc::get_mut(o) {
        o.map = ObjMap::packed(text);
    }
}

/// Whether `v` is JSON data whose encoding fits in what is left of `budget`.
fn plain(v: &Value, budget: &mut isize) -> bool {
    *budget -= match v {
        Value::Null | Value::Bool(_) | Value::Num(_) => 24,
        Value::Str(s) => s.len() as isize + 2,
        Value::Array(a) => {
            *budget -= 2;
            return a.iter().all(|x| plain(x, budget));
        }
        Value::Object(o) => {
            if let Some(t) = o.map.packed_text() {
                t.len() as isize
            } else {
                if o.null_proto || o.map.len() > SMALL || o.map.contains_key("~") {
                    return false;
                }
                *budget -= 2;
                return o.map.iter().all(|(k, x)| {
                    *budget -= k.len() as isize + 4;
                    *budget >= 0 && plain(x, budget)
                });
            }
        }
        _ => return false,
    };
    *budget >= 0
}
