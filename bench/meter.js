'use strict'
// Instruments: bytes on the IPC wire and peak RSS.
//
// Bytes are counted in the driver only, for both directions, so one synchronous `mark()` opens
// the window for both (counting in the child too would need a mark message that races the
// traffic). Down: `child.send` is wrapped; every implementation calls it as a method
// (`child.send(msg[, cb])`), so the wrapper sees ipos envelopes, the original's messages and the
// baselines' alike. Up: the child's messages are re-serialised on arrival ('message' for plain
// ones, 'internalMessage' for ipos's `NODE_`-prefixed envelopes). Node's json channel writes
// `JSON.stringify(msg) + '\n'`, which is what is counted. Stringifying every message costs time,
// so the meter only runs in the dedicated bytes pass, whose timings are thrown away.

class WireMeter {
  constructor(child) {
    this.down = 0
    this.up = 0
    this.on = false
    const orig = child.send
    const self = this
    child.send = function send(msg, ...rest) {
      if (self.on) self.down += wireSize(msg)
      return orig.call(this, msg, ...rest)
    }
    const inbound = (msg) => {
      if (!self.on || isHarness(msg)) return
      self.up += wireSize(msg)
    }
    child.on('message', inbound)
    child.on('internalMessage', inbound)
  }

  /** Starts a fresh window. */
  mark() {
    this.down = 0
    this.up = 0
    this.on = true
  }

  read() {
    return { down: this.down, up: this.up, total: this.down + this.up }
  }
}

function wireSize(msg) {
  return Buffer.byteLength(JSON.stringify(msg)) + 1
}

function isHarness(msg) {
  return msg !== null && typeof msg === 'object' && typeof msg.bench === 'string'
}

/**
 * Peak resident set size. A timer samples in the background; `sample()` is also called at the
 * end of each measured window, where the peak usually is (a timer cannot fire during a
 * synchronous loop). 50 ms keeps the timer from adding visible jitter to latency samples.
 */
class RssPeak {
  constructor(everyMs = 50) {
    this.peak = 0
    this.sample()
    this.timer = setInterval(() => this.sample(), everyMs)
    this.timer.unref()
  }

  /** Stops sampling (a tracker for one window). */
  stop() {
    clearInterval(this.timer)
    return this.sample()
  }

  sample() {
    const rss = process.memoryUsage.rss()
    if (rss > this.peak) this.peak = rss
    return this.peak
  }
}

module.exports = { WireMeter, RssPeak }
