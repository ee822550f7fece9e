'use strict'
// Inbound frames: each crosses into the core once, which validates it against its mirror and
// returns a verdict; the validated ops are then applied to the live objects in place. Big
// snapshots are read by the core off the JS thread, and frames behind them wait in order.

const { applyOps } = require('./apply')
const { Incoming } = require('./join')
const { iposError, fromCore } = require('./errors')
const { MAX_NACK_CHARS } = require('./limits')

/** Snapshots and snapshot chunks at least this big are read by the core off the JS thread. */
const ASYNC_SNAPSHOT_BYTES = 256 * 1024
/**
 * Frames at least this big are read by the core on another thread while this one parses the
 * same text (see `Core.receiveOverlapped`); below it, starting a thread costs more than it saves.
 */
const OVERLAP_BYTES = 64 * 1024

class Inbound {
  constructor(state) {
    this.s = state
    this.inbox = null // frames waiting behind a snapshot being read off-thread
    this.join = null // a streamed snapshot being received: { link, built, timer }
    this.idlers = [] // idle() promises
    this.heldFrame = () => this.s.core.heldFrame()
  }

  /** `sync`: take the frame here and now (a chunk the core could not read off-thread). */
  onFrame(link, d, sync) {
    const s = this.s
    if (s.closed) return
    if (this.inbox !== null) {
      this.inbox.push([link, d])
      return
    }
    if (d instanceof Error) return s.error(d, link)
    // An entry of a shared log (lib/redis.js): the core sequences it itself.
    const entry = typeof d === 'object' ? d.text : null
    if (entry === null && link.isParent && d.length >= ASYNC_SNAPSHOT_BYTES) {
      if (d.startsWith('{"t":"s"')) return this.snapshotAsync(link, d)
      if (!sync && d.startsWith('{"t":"S"')) return this.chunkAsync(link, d)
    }
    s.outbox.flush()
    let out
    let parsed = null
    // Whether the frame the core makes for the children is surely wanted: some child other than
    // this link's peer. Otherwise the core holds it back, and `taken` fetches it only if the one
    // child turns out to need it (a batch from further down its subtree): a big batch's frame is
    // not copied out to JS for nothing.
    const children = s.peers.children.size
    const relay = children > 1 || (children === 1 && link.isParent)
    try {
      if (entry !== null) {
        // A big entry of another process is parsed while the core reads it; our own comes back
        // only to be confirmed, and is not parsed at all.
        if (entry.length < OVERLAP_BYTES || entry.startsWith(this.ownEntry())) out = s.core.receiveLogged(entry, relay)
        else {
          out = s.core.receiveLoggedOverlapped(entry, () => {
            try {
              parsed = JSON.parse(entry)
            } catch {}
          }, relay)
        }
      } else if (d.length < OVERLAP_BYTES || !(link.isParent || s.core.isRoot)) out = s.core.receive(d, link.isParent, relay)
      else {
        const text = d
        out = s.core.receiveOverlapped(d, link.isParent, () => {
          try {
            parsed = JSON.parse(text)
          } catch {}
        }, relay)
      }
      if (entry !== null) d = entry
    } catch (e) {
      return this.refused(link, d, e)
    }
    if (!relay) out[1] = this.heldFrame
    this.taken(link, d, JSON.parse(out[0]), out, parsed)
  }

  /** How a log entry written by this process starts (lib/redis.js appends our `b` frames). */
  ownEntry() {
    const origin = this.s.origin
    if (this.ownHead === undefined || this.ownOrigin !== origin) {
      this.ownOrigin = origin
      this.ownHead = `{"t":"b","o":${JSON.stringify(origin)},`
    }
    return this.ownHead
  }

  /** A frame the core refused: nothing changed; tell whom it concerns. */
  refused(link, d, e) {
    const s = this.s
    const err = fromCore(e)
    const chunk = link.isParent && d.startsWith('{"t":"S"')
    if (chunk || (link.isParent && s.peers.upstream === null && d.startsWith('{"t":"s"'))) {
      // We cannot take the parent's state: tell it why, so its addProcess() fails clearly.
      link.send(nack(err))
    }
    if (chunk && this.abortJoin(link, err)) return
    // A sequenced frame we could not take: we can no longer follow the parent, so ask it for a
    // fresh snapshot; the core drops its `q` frames until then.
    if (link.isParent && s.core.takeResync()) s.peers.requestResync(link)
    return s.error(err, link)
  }

  /**
   * A frame the core took, with its verdict `v` (`out`: what `receive` returned; `parsed`: the
   * frame already parsed by JS, or null).
   */
  taken(link, d, v, out, parsed) {
    const s = this.s
    const peers = s.peers
    switch (v.k) {
      case 'h': return peers.onHello(link, v)
      case 's': return this.applySnapshot(link, v.ops ? null : (parsed || JSON.parse(d)).f, plainOf(d, out), v.ops)
      case 'S': return this.onChunk(link, v, d, parsed)
      case 'A': return peers.onAck(link)
      case 'b':
        if (v.up) return peers.relayUp(d, v, link)
        // Applied here first and relayed after: a write answering this change (the common
        // request/response pattern) is not held up by the relay's sends.
        if (v.ok) this.applyRemote((parsed || JSON.parse(d)).ops, link, plainOf(d, out))
        // Rejected whole (a bad or a stale path): the origin still gets the verdict, to roll back.
        else s.error(iposError(Error, v.code, v.message), link)
        return peers.sendDownQ(out[1], out[2], v.o)
      case 'q':
        if (peers.relayed.size > 0) peers.onSequenced(v.o)
        if (v.apply === 'frame') this.applyRemote((parsed || JSON.parse(d)).ops, link, plainOf(d, out))
        else if (v.apply === 'patch') this.applyRemote(v.ops, link)
        // out[1] is set when the core rebuilt the full frame (we got only the ack of our own batch).
        peers.sendDownQ(typeof out[1] === 'function' ? () => this.s.core.heldFrame() || d : out[1] || d, out[2], v.o)
        if (v.own && v.ok === false) {
          s.error(iposError(Error, 'ERR_IPOS_CONFLICT', 'a batch of changes made here was rejected because a concurrent change, ordered first, removed what it referred to; this process now shows the shared state'), link)
        }
        // A log entry no process could read (a foreign or hostile writer): skipped by all.
        if (v.code) s.error(iposError(Error, v.code, `a log entry was skipped by every process: ${v.message}`), link)
        return
      case 'd': return // a `q` while we wait for a snapshot (see requestResync)
      case 'R': return peers.resync(link)
      case 'p':
        // "Everything before this ping is applied" is only true here once the snapshot is.
        if (link.isParent && link.heldPings) return link.heldPings.push(v.i)
        return peers.onPing(link, v.i)
      case 'P': return peers.onPong(link, v.i)
      case 'g': return peers.onGoodbye(link)
      case 'N': return peers.onNack(link, v)
    }
  }

  /**
   * A big snapshot: the core reads and validates it on the thread pool while this thread parses
   * the same text, so the two biggest costs of joining overlap. Values are decoded (class
   * deserialisers, functions) only once the core has accepted the frame.
   */
  snapshotAsync(link, d) {
    const s = this.s
    this.inbox = []
    const parsing = s.core.parseSnapshotAsync(d)
    // A process that already holds state gets a patch from the core instead (see applySnapshot).
    let f = null
    if (s.fields.size === 0) {
      try {
        f = JSON.parse(d).f
      } catch {}
    }
    parsing.then((token) => {
      if (s.closed) return
      s.outbox.flush()
      let v
      try {
        v = JSON.parse(s.core.installSnapshot(token, true)[0])
      } catch (e) {
        return s.error(fromCore(e), link)
      }
      if (!v.ops && f === null) f = JSON.parse(d).f
      this.applySnapshot(link, f, isPlain(d), v.ops)
    }, (e) => {
      const err = fromCore(e)
      link.send(nack(err))
      s.error(err, link)
    }).finally(() => this.drain())
  }

  /**
   * A big snapshot chunk: the core reads it on the thread pool while this thread parses the same
   * text, then takes it in; frames behind it wait. The parsed pieces are used only once the core
   * accepted the chunk, and a chunk it cannot read goes the ordinary way, which refuses it.
   */
  chunkAsync(link, d) {
    const s = this.s
    this.inbox = []
    const reading = s.core.readChunkAsync(d)
    let p = null
    try {
      p = JSON.parse(d).p
    } catch {}
    reading.then((token) => {
      if (s.closed) return token !== 0 && s.core.dropChunk(token)
      if (token === 0 || p === null) {
        if (token !== 0) s.core.dropChunk(token)
        this.inbox.unshift([link, d, true])
        return
      }
      s.outbox.flush()
      let out
      try {
        out = s.core.takeChunk(token)
      } catch (e) {
        return this.refused(link, d, e)
      }
      this.taken(link, d, JSON.parse(out[0]), out, { p })
    }).finally(() => this.drain())
  }

  /** Handles the frames that waited behind a snapshot or chunk being read, in order. */
  drain() {
    const queued = this.inbox
    this.inbox = null
    while (queued.length > 0) {
      const [l, frame, sync] = queued.shift()
      this.onFrame(l, frame, sync)
      if (this.inbox !== null) {
        this.inbox.push(...queued)
        return
      }
    }
    const idlers = this.idlers
    this.idlers = []
    for (const r of idlers) r()
  }

  /** Resolves once no frame waits behind a snapshot being read. */
  idle() {
    if (this.inbox === null) return Promise.resolve()
    return new Promise((resolve) => this.idlers.push(resolve))
  }

  /**
   * One chunk of a streamed snapshot, accepted by the core. A process that held no state builds
   * the live objects from the chunks as they come, aside; one that held state leaves that to the
   * core and gets a patch with the last chunk.
   */
  onChunk(link, v, d, parsed) {
    const s = this.s
    if (v.i === 0) {
      // A new stream replaces one in progress (the core has already started over).
      if (this.join !== null) clearTimeout(this.join.timer)
      // From here on `IPOS.new()` waits for the whole state rather than for syncTimeout.
      if (s.readyTimer) {
        clearTimeout(s.readyTimer)
        s.readyTimer = null
      }
      const stage = v.end ? !v.ops : v.fresh === true
      this.join = { link, built: stage ? new Incoming() : null, timer: null }
    }
    const j = this.join
    if (j.built !== null && !v.ops) {
      const plain = isPlain(d)
      for (const [level, part] of (parsed || JSON.parse(d)).p) {
        if (plain) j.built.add(level, part)
        else if (level > 0) j.built.add(level, s.decode(part))
        else j.built.add(0, part.map(([k, x]) => [k, s.decode(x)]))
      }
    }
    if (!v.end) return this.watch(j)
    clearTimeout(j.timer)
    this.join = null
    this.install(link, v.ops ? null : j.built.fields, v.ops)
  }

  /** A parent that stops sending mid-snapshot: after joinTimeout the join is given up. */
  watch(j) {
    const ms = this.s.opts.joinTimeout
    if (!(ms > 0 && ms < Infinity)) return
    clearTimeout(j.timer)
    j.timer = setTimeout(() => {
      if (this.join !== j) return
      this.abortJoin(j.link, iposError(Error, 'ERR_IPOS_TIMEOUT', `the parent stopped sending its state for ${ms} ms (joinTimeout) in the middle of it; this process does not show it`))
    }, ms)
    j.timer.unref()
  }

  /**
   * Gives up a snapshot being received (an error, the parent left, a stall); returns whether one
   * was. `IPOS.new()` resolves first and the error follows, so code that awaited it can hear why
   * the state is missing.
   */
  abortJoin(link, err) {
    const j = this.join
    if (j === null || j.link !== link) return false
    clearTimeout(j.timer)
    this.join = null
    this.s.core.abortIncoming()
    this.s.ready()
    if (err) setImmediate(() => this.s.error(err, link))
    return true
  }

  /**
   * Takes in a snapshot the core accepted: `f` (parsed, not decoded) replaces the live fields of a
   * process that held none; a process that held state (re-added, resynced) gets `patch` from the
   * core instead and is patched in place, so held references stay valid where the object survives.
   */
  applySnapshot(link, f, plain, patch) {
    const s = this.s
    this.install(link, patch ? null : f.map(([k, v]) => [k, plain ? v : s.decode(v)]), patch)
  }

  /** Takes in a snapshot: `fields` (live values by key) or, for a process that held state, `patch`. */
  install(link, fields, patch) {
    const s = this.s
    const again = s.joined
    if (patch) this.applyRemote(patch, link)
    else {
      const events = []
      const emit = s.emitter.listenerCount('change') > 0
      const seen = new Set()
      for (const [key, value] of fields) {
        seen.add(key)
        s.fields.set(key, value)
        if (emit) events.push({ key, path: [], kind: 'create', local: false })
      }
      for (const key of [...s.fields.keys()]) {
        if (!seen.has(key)) {
          s.fields.delete(key)
          if (emit) events.push({ key, path: [], kind: 'remove', local: false })
        }
      }
      for (const ev of events) s.emitter.emit('change', ev)
    }
    s.joined = true
    s.peers.synced(link)
    if (again) s.emitter.emit('resync', { peer: link.target })
    if (link.onResynced) link.onResynced()
    s.ready()
  }

  applyRemote(ops, link, plain) {
    const s = this.s
    const events = s.emitter.listenerCount('change') > 0 ? [] : null
    const emit = events && ((key, path, kind) => events.push({ key, path, kind, local: false }))
    try {
      applyOps(s.fields, ops, plain ? PLAIN_CTX : s, emit)
    } catch (e) {
      s.error(iposError(Error, 'ERR_IPOS_APPLY', `applying a peer's change failed: ${e && e.message}. Was a shared value changed without going through ipos?`), link)
    }
    if (events) for (const ev of events) s.emitter.emit('change', ev)
  }
}

function nack(err) {
  return JSON.stringify({ t: 'N', code: err.code, m: err.message.slice(0, MAX_NACK_CHARS) })
}

/**
 * Whether a frame's values are plain JSON, with no tag to decode: a tag needs a `"~"` key, and
 * without any `\u` escape in the text that key can only be spelled `"~"`. The parsed values can
 * then be used as they are, skipping a walk over every object.
 */
function isPlain(d) {
  return d.indexOf('"~"') === -1 && d.indexOf('\\u') === -1
}

/** `isPlain(d)`, as the core found it while reading a big frame (`out[3]`) when it did. */
function plainOf(d, out) {
  return out !== undefined && out.length > 3 ? out[3] === 'p' : isPlain(d)
}

/** Decoding context for plain frames: values are used as parsed. */
const PLAIN_CTX = { decode: (v) => v }

module.exports = { Inbound }
