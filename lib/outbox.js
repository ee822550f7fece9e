'use strict'
// The outbox: local mutations become op texts here, buffered with their change events, and leave
// once per tick as one batch: one native call, one frame per peer. Nothing crosses into Rust per
// mutation.

const { KIND: KINDS } = require('./apply')
const { writeOp, appendHead } = require('./ops')

/** Holes one batch may make in all (the core's `MAX_GAP`): a batch that would pass it is split. */
const { MAX_GAP: MAX_HOLES } = require('./limits')
const { fromCore } = require('./errors')

class Outbox {
  constructor(state) {
    this.s = state
    this.buffer = [] // op texts, or the open push run (an object) as the last entry
    this.events = []
    this.scheduled = false
    this.hasAssign = false // a reorder/call op: the core must apply before the frame leaves
    this.run = null
    this.holes = 0 // holes the buffered batch makes (see `makeHoles`)
    this.lastKey = null
    this.lastKeyJson = ''
    this.settling = false
    this.flushBound = () => this.flush()
    this.settleBound = () => this.settle()
  }

  /** The field name as JSON (cached: consecutive ops usually touch the same field). */
  keyJson(key) {
    if (key !== this.lastKey) {
      this.lastKey = key
      this.lastKeyJson = JSON.stringify(key)
    }
    return this.lastKeyJson
  }

  /** Buffers one op of `kind` on `key` at `wire` (args already JSON) with its change event. */
  record(kind, key, wire, fmt, args, eventKind) {
    this.add(writeOp(kind, this.keyJson(key), wire, args), kind, key, fmt, eventKind)
  }

  /** Buffers one op text with its change event (`last`: one more path segment for the event). */
  add(op, kind, key, fmt, eventKind, last) {
    this.buffer.push(op)
    if (kind === 'r') this.hasAssign = true
    this.eventFor(kind, key, fmt, eventKind, last)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flushBound)
    }
  }

  /**
   * Buffers `t.push(x)` as an append (`a`): the root puts it at its array's end, wherever that is
   * by then, so concurrent writers keep their own order. Pushes that follow each other onto the
   * same array extend one op: still one intent, with one op to parse, apply and relay.
   */
  push(t, path, json) {
    const run = this.run
    if (run !== null && run.t === t && this.buffer[this.buffer.length - 1] === run) {
      run.items.push(json)
      this.eventFor('a', path.key, path.fmt)
      return
    }
    this.run = { t, head: appendHead(this.keyJson(path.key), path.wire), items: [json] }
    this.add(this.run, 'a', path.key, path.fmt)
  }

  /**
   * Called before a write makes `n` holes: a batch may make at most MAX_HOLES in all (every
   * receiver charges them to a fixed allowance per frame), so the buffered ops leave first when
   * this write would pass it. One write alone never does (an index or length reaches at most
   * 100,000 past the end).
   */
  makeHoles(n) {
    if (this.holes + n > MAX_HOLES) this.flush()
    this.holes += n
  }

  eventFor(kind, key, fmt, eventKind, last) {
    if (this.s.emitter.listenerCount('change') > 0) {
      this.events.push({ key, path: jsPath(last === undefined ? fmt : fmt.concat(last)), kind: eventKind || KINDS[kind], local: true })
    }
  }

  /** Sends everything buffered as one batch. */
  flush() {
    this.scheduled = false
    if (this.buffer.length === 0) return
    const buf = this.buffer
    for (let i = 0; i < buf.length; i++) {
      if (typeof buf[i] !== 'string') buf[i] = `${buf[i].head}${buf[i].items.join(',')}]]`
    }
    this.run = null
    this.holes = 0
    const batch = `[${buf.join(',')}]`
    const events = this.events
    const assign = this.hasAssign
    this.buffer = []
    this.events = []
    this.hasAssign = false
    const s = this.s
    let frame
    try {
      if (assign) frame = s.core.local(batch)
      else {
        // Send first, let the core apply the batch to its mirror right after: that work then
        // overlaps with the peers applying it. With no one to send to (a root before its first
        // child) there is no frame: it would only be garbage as long as the batch, and a child
        // that joins later gets the state from a snapshot.
        if (s.peers.alone()) {
          s.core.localDeferredUnsent(batch)
          frame = ''
        } else frame = s.core.localDeferred(batch)
        if (!this.settling) {
          this.settling = true
          setImmediate(this.settleBound)
        }
      }
    } catch (e) {
      s.error(fromCore(e))
      return
    }
    if (frame) s.peers.sendOut(frame)
    for (const ev of events) s.emitter.emit('change', ev)
  }

  settle() {
    this.settling = false
    try {
      this.s.core.settle()
    } catch (e) {
      this.s.error(fromCore(e))
    }
  }
}

function jsPath(fmt) {
  return fmt.map((s) => (s !== null && typeof s === 'object' ? ('get' in s ? s.get : s.member) : s))
}

module.exports = { Outbox }
