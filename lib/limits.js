'use strict'
// The core's limits, defined once in crates/ipos-core/src/limits.rs and handed over by the
// binding: JS checks local writes against the same numbers the core checks frames against.

const { limits } = require('./native')

const L = limits()

module.exports = {
  MAX_GAP: L.maxGap,
  MAX_NACK_CHARS: L.maxNackChars,
  DEFAULT_MAX_DEPTH: L.maxDepth,
  DEFAULT_MAX_FRAME_BYTES: L.maxFrameBytes,
  DEFAULT_MAX_ARRAY_LENGTH: L.maxArrayLength,
}
