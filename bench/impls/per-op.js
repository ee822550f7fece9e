'use strict'
// Baseline: one IPC message per op, sent at once.
const { baseline } = require('./plain')

module.exports = baseline('per-op', () => (side, op) => side.peer.send(op))
