'use strict'
// The outbox: local mutations become op texts here, buffered with their change events, and leave
// once per tick as one batch: one native call, one frame per peer. Nothing crosses into Rust per
// mutation.

const { KIND: KINDS } = require('./apply')
const { writeOp, appendHead } = require('./ops')

/** Holes one batch may make in all (the core's `MAX_GAP`): a batch that would pass it is split. */
const { MAX_GAP: MAX_HOLES } = require('./limits')
const { fromCore } = require('./errors')

/** The longest a sent batch waits for its frame to be written out before the core applies it. */
const SETTLE_WAIT_MS = 20

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
    this.unwritten = 0 // links still writing out a frame whose batch the core has not applied
    this.flushBound = () => this.flush()
    this.settleBound = () => this.settle()
    this.writtenBound = () => {
      // A late callback from an earlier batch may count here: it only settles a little earlier.
      if (this.unwritten > 0 && --this.unwritten === 0 && this.settling) setImmediate(this.settleBound)
    }
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
    if (this.run !== null && this.run.lazy.length > 0) sealRun(this.run)
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
   * same array extend one op: still one intent, with one op to parse, apply and relay. `json` is
   * the item's text; `copy` instead is a plain copy (see codec.copyPlain) whose text is written
   * at the latest possible moment, for all such items at once (see `seal`).
   */
  push(t, path, json, copy) {
    let run = this.run
    if (run === null || run.t !== t || this.buffer[this.buffer.length - 1] !== run) {
      run = this.run = { t, head: appendHead(this.keyJson(path.key), path.wire), items: [], lazy: [] }
      this.add(run, 'a', path.key, path.fmt)
    } else this.eventFor('a', path.key, path.fmt)
    if (json === undefined) run.lazy.push(copy)
    else {
      if (run.lazy.length > 0) sealRun(run)
      run.items.push(json)
    }
  }

  /**
   * Writes out the pushed copies whose text is still pending. Called before anything changes a
   * live object other than the array being pushed onto (`t`): only such a change can reach
   * inside one of those copies, and their text must be what was pushed.
   */
  seal(t) {
    const run = this.run
    if (run !== null && run.t !== t && run.lazy.length > 0) sealRun(run)
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
      const run = buf[i]
      if (typeof run === 'string') continue
      if (run.lazy.length > 0) sealRun(run)
      buf[i] = `${run.head}${run.items.join(',')}]]`
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
      else frame = s.core.localDeferred(batch)
    } catch (e) {
      s.error(fromCore(e))
      return
    }
    if (assign) {
      if (frame) s.peers.sendOut(frame)
    } else {
      // Send first, and let the core apply the batch to its mirror once the frame is written
      // out: that work then overlaps with the peers applying it, and does not hold up this
      // thread while the channel still needs it to write the rest of a big frame. (The core
      // applies pending batches before any other call anyway; the timer bounds how long they
      // wait behind a peer that reads slowly.)
      if (frame) this.unwritten += s.peers.sendOut(frame, this.writtenBound)
      if (!this.settling) {
        this.settling = true
        if (this.unwritten === 0) setImmediate(this.settleBound)
        else setTimeout(this.settleBound, SETTLE_WAIT_MS).unref()
      }
    }
    for (const ev of events) s.emitter.emit('change', ev)
  }

  settle() {
    if (!this.settling) return
    this.settling = false
    this.unwritten = 0
    try {
      this.s.core.settle()
    } catch (e) {
      this.s.error(fromCore(e))
    }
  }
}

/** One JSON.stringify for all the pending copies of a push run (much cheaper than one each). */
function sealRun(run) {
  run.items.push(JSON.stringify(run.lazy).slice(1, -1))
  run.lazy = []
}

function jsPath(fmt) {
  return fmt.map((s) => (s !== null && typeof s === 'object' ? ('get' in s ? s.get : s.member) : s))
}

module.exports = { Outbox }
