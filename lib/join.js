'use strict'
// Streamed snapshots (docs/PROTOCOL.md, "Streamed snapshots"). Sending: the core encodes the
// state a chunk at a time from a copy taken when the child said hello, one chunk per turn of the
// event loop and at most a few on the channel at once, and the frames sequenced meanwhile wait
// for the last chunk. Receiving: the live objects are built chunk by chunk aside and take over
// the fields when the last one is in.

/** Frame text per chunk: small enough that encoding, sending or applying one is a short task. */
const CHUNK_BYTES = 1 << 20

/** Chunks handed to the channel and not yet written out: the pace is the child's reading. */
const IN_FLIGHT = 2

/** One snapshot being sent down `link`. */
class Outgoing {
  constructor(core, link, onDone) {
    this.core = core
    this.link = link
    this.id = core.snapshotBegin()
    this.held = [] // frames for the link, sent after the last chunk
    this.inFlight = 0
    this.scheduled = false
    this.closed = false
    this.onDone = onDone
    this.pumpBound = () => this.pump()
    this.writtenBound = () => {
      this.inFlight--
      this.schedule()
    }
  }

  schedule() {
    if (this.scheduled || this.closed || this.inFlight >= IN_FLIGHT) return
    this.scheduled = true
    setImmediate(this.pumpBound)
  }

  /** Encodes and sends one chunk. */
  pump() {
    this.scheduled = false
    if (this.closed || this.inFlight >= IN_FLIGHT) return
    const c = this.core.snapshotNext(this.id, CHUNK_BYTES)
    if (c === null) return this.stop()
    this.inFlight++
    this.link.send(c.frame, this.writtenBound)
    if (this.link.gone) return this.stop()
    if (!c.last) return this.schedule()
    this.closed = true
    const held = this.held
    this.held = null
    for (const f of held) this.link.send(f)
    this.onDone(this)
  }

  /** Frames for the link wait until the snapshot is out, so the child gets them after it. */
  hold(frame) {
    this.held.push(frame)
    return true
  }

  stop() {
    if (this.closed) return
    this.closed = true
    this.held = null
    this.core.snapshotDrop(this.id)
    this.onDone(this)
  }
}

/**
 * A snapshot being received by a process that held no state: each piece `[level, entries]`
 * extends the container open at that level (level 0: the fields; level d + 1: the value of the
 * last entry at level d). The core has validated every piece before it gets here.
 */
class Incoming {
  constructor() {
    this.fields = new Map()
    this.stack = [this.fields] // the containers open at each level, as far as known
    this.tail = [null] // the last piece added at each level: its last entry is the level's last
  }

  add(level, part) {
    const target = this.at(level)
    if (level === 0) for (const [k, v] of part) target.set(k, v)
    else append(target, part)
    this.stack.length = level + 1
    this.tail.length = level + 1
    this.tail[level] = part
  }

  /** The container at `level`: known, or the last entry of the last piece one level up. */
  at(level) {
    while (this.stack.length <= level) {
      const d = this.stack.length - 1
      const v = lastValue(this.tail[d], d === 0)
      this.stack.push(v)
      this.tail.push(v)
    }
    return this.stack[level]
  }
}

function append(target, part) {
  if (Array.isArray(target)) {
    for (let i = 0; i < part.length; i++) {
      if (i in part) target.push(part[i])
      else target.length += 1
    }
  } else if (target instanceof Map) {
    for (const [k, v] of part) target.set(k, v)
  } else if (target instanceof Set) {
    for (const m of part) target.add(m)
  } else {
    for (const k of Object.keys(part)) target[k] = part[k]
  }
}

/** The value of the last entry of `part` (a piece: at most a chunk's worth to look through). */
function lastValue(part, isFields) {
  if (isFields) return part[part.length - 1][1]
  if (Array.isArray(part)) return part[part.length - 1]
  let last
  if (part instanceof Map) for (const v of part.values()) last = v
  else if (part instanceof Set) for (const v of part) last = v
  else {
    const keys = Object.keys(part)
    last = part[keys[keys.length - 1]]
  }
  return last
}

module.exports = { Outgoing, Incoming, CHUNK_BYTES }
