//! The Node-free core of ipos: the value model, ops, the mirror of the shared state, diffs, the
//! wire codec and the sequencing that makes every process converge on the root's order. It knows
//! nothing of Node or napi: the binding hands it JSON texts and gets JSON texts back.
//!
//! The wire format and op semantics are specified in `docs/PROTOCOL.md`.

pub mod apply;
pub mod codec;
pub mod diff;
pub mod engine;
pub mod error;
mod frame;
mod growth;
pub mod limits;
pub mod op;
pub mod path;
pub mod txn;
pub mod value;

pub use apply::{apply_op, get_at};
pub use codec::{encode_value, json_depth, parse_json, to_json, Decoder};
pub use diff::{assign_ops, diff, diff_in, fields_patch};
pub use engine::{ChunkRead, Engine, LagLimits, Limits, Received, Snapshot, SnapshotWriter};
pub use error::CoreError;
pub use op::{decode_ops, decode_ops_text, encode_ops, ops_to_json, Op};
pub use path::Seg;
pub use txn::{apply_batch, Txn};
pub use value::{same, same_fields, Bytes, BytesKind, Fields, Key, MapKey, Obj, ObjMap, Value};

/// Decodes one encoded value (JSON text) with the given limits: the inverse of `to_json`.
pub fn decode_value(text: &str, limits: &Limits) -> Result<Value, CoreError> {
    let dec = Decoder {
        max_depth: limits.max_depth,
        functions: limits.functions,
    };
    dec.value_text(text, 0, "value")
}

/// Ops turning `old` into `new` when both are the value of field `key` (`diff` with both present).
pub fn diff_values(key: &str, old: &Value, new: &Value) -> Vec<Op> {
    diff(key, Some(old), Some(new))
}
