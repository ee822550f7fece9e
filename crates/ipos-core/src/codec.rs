//! The value codec: PROTOCOL.md's tagged JSON to and from `Value`, plus the depth pre-scan that
//! keeps hostile nesting away from any recursive reader.

mod canon;
mod decode;
mod encode;
mod parse;
pub(crate) mod read;
mod scan;
mod skip;

pub use decode::{from_str_unbounded, parse_json, DecodeError, Decoder};
pub(crate) use decode::{read_guarded, read_within};
pub use encode::{encode_value, to_json, write_js_number, write_str};
pub(crate) use scan::batch_shape;
pub use scan::{json_depth, json_depth_exceeds, json_depth_within};

#[cfg(test)]
mod tests;
