//! The protocol's fixed limits and the defaults of the configurable ones, in one place: the core
//! enforces them and the binding hands them to JS (`limits()`), so no other file writes them.

/// How far past an array's end an index or `length` may reach (the rest becomes holes), and how
/// many holes one batch may make in all. Bounds what a frame can make a receiver allocate.
pub const MAX_GAP: usize = 100_000;

/// Default of `Limits::max_array_length`: ten million elements (a dense array of numbers that
/// long is already 80 MB in V8).
pub const MAX_ARRAY_LENGTH: usize = 10_000_000;

/// Default of `Limits::max_depth`: levels of container nesting inside a field's value.
pub const DEFAULT_MAX_DEPTH: usize = 1000;

/// Default of `Limits::max_frame_bytes`: the longest frame (or local batch) accepted.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 128 * 1024 * 1024;

/// Longest message a nack frame (`N`) may carry, in characters (Unicode scalar values).
pub const MAX_NACK_CHARS: usize = 2000;

/// Most origins whose last sequenced batch a process remembers (and a snapshot carries): enough
/// for any tree that stays up, small enough that a snapshot's `ns` stays a few tens of KiB. The
/// origin sequenced longest ago is forgotten first.
pub const MAX_ORIGINS: usize = 4096;
