//! The value codec: PROTOCOL.md's tagged JSON to and from `Value`, plus the depth pre-scan that
//! keeps hostile nesting away from any recursive parser.

mod decode;
mod encode;
mod scan;

pub use decode::{from_str_unbounded, parse_json, DecodeError, Decoder};
pub use encode::{encode_value, to_json, write_js_number, write_str};
pub use scan::{json_depth, json_depth_exceeds, json_depth_within};

#[cfg(test)]
mod tests;
