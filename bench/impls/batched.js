'use strict'
// Baseline: ops made in one synchronous stretch are buffered and leave as one message
// (`{ ops: [...] }`) from a microtask, the same batching rule ipos follows.
const { baseline } = require('./plain')

module.exports = baseline('batched', () => {
  let buffer = []
  let scheduled = false
  let target = null
  const flush = () => {
    scheduled = false
    const ops = buffer
    buffer = []
    target.peer.send({ ops })
  }
  return (side, op) => {
    buffer.push(op)
    target = side
    if (!scheduled) {
      scheduled = true
      queueMicrotask(flush)
    }
  }
})
