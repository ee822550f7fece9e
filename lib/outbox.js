'use strict'
// The outbox: local mutations become op texts here, buffered with their change events, and leave
// once per tick as one batch: one native call, one frame per peer. Nothing crosses into Rust per
// mutation.

const { KIND: KINDS } = require('./apply')
const { writeOp, appendHead } = require('./ops')

/** Holes one batch may make in all (the core's `MAX_GAP`): a batch that would pass it is split. */
const { MAX_GAP: MAX_HOLES } = require('./limits')
/** Most path segments of an `ms` op with several pairs (the core's `MAX_PAIRS_PATH`). */
const MAX_PAIRS_PATH = 8
const { fromCore } = require('./errors')

/** The longest a sent batch waits for its frame to be written out before the core applies it. */
const SETTLE_WAIT_MS = 20
/** Frames this big may not fit in a channel's buffer at once (a socket buffer holds ~200 KB). */
const BIG_FRAME = 64 * 1024

class Outbox {
  constructor(state) {
    this.s = state
    // The batch being made, in order. An entry is an op's text; an op still as a value (an array
    // `[kind, field, path, value?]` whose value is a primitive or a plain copy, see `value`); or
    // a run of pushes (a Run). Values are written as text at the latest moment, many at once:
    // one JSON.stringify over thousands of small ops costs a fraction of one call each.
    this.buffer = []
    this.events = []
    this.scheduled = false
    this.hasAssign = false // a reorder/call op: the core must apply before the frame leaves
    this.run = null
    // Plain copies in the buffer whose text is not written yet, and the one container holding
    // them all (see `seal`).
    this.copies = 0
    this.copyTarget = null
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

  /**
   * Buffers one op whose value is still a value: `copy` a primitive or a plain copy (see
   * codec.copyPlain) that now lives in container `t`; `wire` the path (segments) including the
   * last one. `copy` undefined: an op without a value (a delete).
   */
  value(kind, key, wire, copy, t, fmt, last) {
    if (typeof copy === 'object' && copy !== null) this.holding(t)
    this.add(copy === undefined ? [kind, key, wire] : [kind, key, wire, copy], kind, key, fmt, undefined, last)
  }

  /** Buffers one op (text, value or run) with its change event (`last`: one more path segment for the event). */
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
   * same array extend one op: still one intent, with one op to parse, apply and relay. `json` is
   * the item's text; `copy` instead is a primitive or plain copy, written later.
   */
  push(t, path, json, copy) {
    let run = this.run
    if (run === null || run.t !== t || run.kind !== 'a' || this.buffer[this.buffer.length - 1] !== run) {
      run = this.run = new Run('a', t, appendHead(this.keyJson(path.key), path.wire), ']]')
      this.add(run, 'a', path.key, path.fmt)
    } else this.eventFor('a', path.key, path.fmt)
    if (json === undefined) {
      if (typeof copy === 'object' && copy !== null) this.holding(t)
      run.lazy.push(copy)
    } else {
      run.seal()
      run.items.push(json)
    }
  }

  /** A plain copy whose text is pending now lives in `t` (`seal` has made it the only such place). */
  holding(t) {
    this.copies++
    this.copyTarget = t
  }

  /**
   * Called before anything changes live object `t` in place. A pending copy's text must be what
   * was written, so if `t` could be inside one (any `t` but the container holding them all,
   * whose own changes never reach inside its children), every pending text is written now.
   */
  seal(t) {
    if (this.copies > 0 && t !== this.copyTarget) this.sealAll()
  }

  sealAll() {
    this.buffer = written(this.buffer)
    this.copies = 0
    this.copyTarget = null
  }

  /** The buffered batch as text (and the buffer emptied). */
  take() {
    const buf = this.buffer
    this.buffer = []
    this.run = null
    this.copies = 0
    this.copyTarget = null
    if (buf.every(Array.isArray)) return JSON.stringify(buf)
    return `[${written(buf).join(',')}]`
  }

  /**
   * Buffers `t.set(k, v)` (`pair`: key and value as JSON). Sets that follow each other on the
   * same Map extend one `ms` op with more pairs: the frame is then mostly the pairs, which every
   * process reads and the root relays.
   */
  mapSet(t, path, segs, pair) {
    const run = this.run
    if (run !== null && run.t === t && run.kind === 'ms' && this.buffer[this.buffer.length - 1] === run) {
      run.items.push(pair)
      this.eventFor('ms', path.key, segs)
      return
    }
    if (path.wire.length > MAX_PAIRS_PATH) {
      this.record('ms', path.key, path.wire, segs, pair)
      return
    }
    const head = writeOp('ms', this.keyJson(path.key), path.wire, '')
    this.run = new Run('ms', t, head.slice(0, -1), ']')
    this.run.items.push(pair)
    this.add(this.run, 'ms', path.key, segs)
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
    if (this.s.watching) {
      this.events.push({ key, path: jsPath(last === undefined ? fmt : fmt.concat(last)), kind: eventKind || KINDS[kind], local: true })
    }
  }

  /** Sends everything buffered as one batch. */
  flush() {
    this.scheduled = false
    if (this.buffer.length === 0) return
    this.holes = 0
    const batch = this.take()
    const events = this.events
    const assign = this.hasAssign
    this.events = []
    this.hasAssign = false
    const s = this.s
    let frame
    try {
      if (assign) frame = s.core.local(batch)
      // With no one to send to (a root before its first child) there is no frame: it would only
      // be garbage as long as the batch, and a child that joins later gets the state from a
      // snapshot.
      else if (s.peers.alone()) {
        s.core.localDeferredUnsent(batch)
        frame = ''
      } else frame = s.core.localDeferred(batch)
    } catch (e) {
      s.error(fromCore(e))
      return
    }
    if (assign) {
      if (frame) s.peers.sendOut(frame)
    } else {
      // Send first, and let the core apply the batch to its mirror right after: that work then
      // overlaps with the peers applying it. A frame too big for the channel to take at once
      // waits until it is written out, so that work does not hold up this thread while the
      // channel still needs it to write the rest. (The core applies pending batches before any
      // other call anyway; the timer bounds how long they wait behind a peer that reads slowly.)
      if (frame) this.unwritten += s.peers.sendOut(frame, frame.length >= BIG_FRAME ? this.writtenBound : undefined)
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

/**
 * `buf` with every value op and run written as text; each stretch of value ops becomes one entry
 * (a comma-separated list of ops), written by one JSON.stringify.
 */
function written(buf) {
  const out = []
  let stretch = null
  for (const e of buf) {
    if (Array.isArray(e)) {
      if (stretch === null) stretch = []
      stretch.push(e)
      continue
    }
    if (stretch !== null) {
      out.push(JSON.stringify(stretch).slice(1, -1))
      stretch = null
    }
    if (typeof e !== 'string') e.seal()
    out.push(e)
  }
  if (stretch !== null) out.push(JSON.stringify(stretch).slice(1, -1))
  for (let i = 0; i < out.length; i++) if (typeof out[i] !== 'string') out[i] = out[i].text()
  return out
}

/**
 * A run of ops extended in place: pushes onto one array (`a`: item texts, then values whose text
 * is pending) or sets on one Map (`ms`: key/value pair texts).
 */
class Run {
  constructor(kind, t, head, tail) {
    this.kind = kind
    this.t = t
    this.head = head
    this.tail = tail
    this.items = []
    this.lazy = []
  }

  /** Writes the pending values' text, all in one call. */
  seal() {
    if (this.lazy.length === 0) return
    this.items.push(JSON.stringify(this.lazy).slice(1, -1))
    this.lazy = []
  }

  text() {
    this.seal()
    return `${this.head}${this.items.join(',')}${this.tail}`
  }
}

function jsPath(fmt) {
  return fmt.map((s) => (s !== null && typeof s === 'object' ? ('get' in s ? s.get : s.member) : s))
}

module.exports = { Outbox }
