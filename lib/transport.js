'use strict'
// Links to peers over the channels Node already has. Child processes and cluster workers use the
// IPC channel with a `NODE_`-prefixed envelope: Node hands such messages to 'internalMessage'
// listeners only, so the user's own 'message' listeners never see ipos traffic and see all of
// theirs. Worker threads use a BroadcastChannel named after the thread, leaving `parentPort` to
// the user.

const wt = require('worker_threads')
const { ChildProcess } = require('child_process')
const { iposError } = require('./errors')
const { debug, linkName } = require('./debug')

const CMD = 'NODE_IPOS'
const VERSION = 1

/**
 * Parses an envelope: the frame string, an array of frame strings (the frames one tick sent, in
 * order), `undefined` for a foreign message, or an Error.
 */
function unwrap(msg) {
  if (msg === null || typeof msg !== 'object' || msg.cmd !== CMD) return undefined
  if (msg.v !== VERSION) {
    return iposError(Error, 'ERR_IPOS_VERSION', `a peer speaks ipos protocol version ${JSON.stringify(msg.v)}; this process speaks ${VERSION}: install the same ipos version in both`)
  }
  const d = msg.d
  if (typeof d === 'string') return d
  if (Array.isArray(d) && d.length > 0 && d.every((f) => typeof f === 'string')) return d
  return iposError(Error, 'ERR_IPOS_BAD_FRAME', 'a peer sent an ipos envelope whose `d` is neither a frame string nor a non-empty array of them')
}

/**
 * A link to one peer. `isParent` says whether the peer is this process's parent. Subclasses
 * implement `_send(envelope)`, `_listen()` and `_unlisten()`.
 */
class Link {
  constructor(target, isParent) {
    this.target = target
    this.isParent = isParent
    this.state = 'new' // new -> syncing (snapshot sent / hello seen) -> synced
    this.peerId = null
    this.pings = new Map()
    this.heldPings = null // pings from a parent we asked for a snapshot, answered once it is applied
    this.onFrame = null
    this.onGone = null
    this.gone = false
    // Backlog: bytes handed to the channel and not yet written out (links that can tell).
    this.queued = 0
    this.maxBacklog = 0 // 0: unbounded
    this.allowance = 0 // a snapshot in flight may exceed the limit by its own size
    this.behind = false
    this.held = [] // pings waiting for the snapshot that ends `behind`
    this.onBehind = null
    this.onDrained = null
    this._written = (n) => this.written(n)
    // Frames sent in one tick leave as one message (see `_out`).
    this.outFrames = null
    this.outWritten = null
    this._flushOut = () => this.flushOut()
    this.sentNow = false // a frame left at once in this stretch of synchronous work
    this._stretchEnd = () => {
      this.sentNow = false
    }
  }

  /** Starts delivering frames to `onFrame(link, frame | Error)` and loss to `onGone(link)`. */
  attach(onFrame, onGone) {
    this.onFrame = onFrame
    this.onGone = onGone
    this._listen()
  }

  /**
   * Sends one frame string; returns false if the channel is gone. While the peer is `behind`,
   * state frames are dropped (it gets a snapshot once drained) and pings wait for that snapshot,
   * so a flush still means "applied there". `written`, if given, is called once the carrier has
   * taken the frame off our hands (written to the pipe, or posted): what paces a streamed
   * snapshot, whose chunks are never dropped.
   */
  send(frame, written) {
    if (this.gone) return false
    if (this.behind) {
      if (frame.startsWith('{"t":"p"')) this.held.push(frame)
      else if (!isStateFrame(frame)) this._out(frame, written)
      else if (written) setImmediate(written) // dropped: off our hands as well
      return !this.gone
    }
    this._out(frame, written)
    if (this.maxBacklog > 0 && this.queued > this.maxBacklog + this.allowance && !this.gone) {
      this.behind = true
      if (this.onBehind) this.onBehind(this)
    }
    return !this.gone
  }

  /**
   * Sends a frame. The first frame of a stretch of synchronous work leaves at once (a lone answer
   * is not held up: measured, deferring every frame to the end of the microtasks cost a ping-pong
   * round trip 10-15 µs, to the end of the tick 25-40 µs); any that follow it in the same stretch
   * (a relay's burst, a batch and the ping of a flush) are queued and leave together, as one
   * message, once the microtasks have run: one system call and one wake-up of the peer for all.
   */
  _out(frame, written) {
    if (debug.enabled) debug('out %s %d B %s', linkName(this), frame.length, frame.slice(0, 60))
    if (this.outFrames === null && !this.sentNow) {
      this.sentNow = true
      queueMicrotask(this._stretchEnd)
      this.outFrames = [frame]
      if (written) this.outWritten = [written]
      return this.flushOut()
    }
    if (this.outFrames === null) {
      this.outFrames = [frame]
      queueMicrotask(this._flushOut)
    } else this.outFrames.push(frame)
    if (written) {
      if (this.outWritten === null) this.outWritten = [written]
      else this.outWritten.push(written)
    }
  }

  /** Sends the queued frames now (at the end of the tick, or before detaching). */
  flushOut() {
    const frames = this.outFrames
    if (frames === null) return
    const ws = this.outWritten
    this.outFrames = null
    this.outWritten = null
    if (this.gone) return
    const written = ws === null ? undefined : ws.length === 1 ? ws[0] : () => ws.forEach((w) => w())
    try {
      if (written && !this.reportsWrites) setImmediate(written)
      this._send({ cmd: CMD, v: VERSION, d: frames.length === 1 ? frames[0] : frames }, this.reportsWrites ? written : undefined)
    } catch (e) {
      this.cause = e
      this.lost()
    }
  }

  /** The channel wrote out `n` bytes it had queued. */
  written(n) {
    this.queued -= n
    if (this.behind && this.queued <= 0 && !this.gone && this.onDrained) this.onDrained(this)
  }

  /** Sends the frames held back while behind (after the snapshot that ends it). */
  release() {
    this.behind = false
    const held = this.held
    this.held = []
    for (const f of held) this.send(f)
  }

  _deliver(msg) {
    const d = unwrap(msg)
    if (d === undefined) return
    if (Array.isArray(d)) {
      for (const f of d) {
        if (this.gone || !this.onFrame) return
        this._deliverOne(f)
      }
    } else this._deliverOne(d)
  }

  _deliverOne(d) {
    if (debug.enabled) debug('in %s %s', linkName(this), typeof d === 'string' ? `${d.length} B ${d.slice(0, 60)}` : d.message)
    if (this.onFrame) this.onFrame(this, d)
  }

  /** The channel is gone (exit, disconnect, close): report once. */
  lost() {
    if (this.gone) return
    this.gone = true
    debug('link lost: %s%s', linkName(this), this.cause ? ` (${this.cause.message})` : '')
    this._unlisten()
    if (this.onGone) this.onGone(this)
  }

  /** Detaches without reporting loss (removeProcess, close); what was sent (a goodbye) still goes out. */
  detach() {
    this.flushOut()
    this.gone = true
    this._unlisten()
  }
}

/** The process side of a ChildProcess (spawn/fork/exec/execFile) or a cluster worker. */
class ChildProcessLink extends Link {
  constructor(cp, target) {
    super(target, false)
    this.cp = cp
    this._onMsg = (m) => this._deliver(m)
    this._onGone = () => this.lost()
  }

  _send(env, written) {
    if (!this.cp.connected) {
      this.lost()
      return false
    }
    // The callback counts what Node still holds for this peer, and keeps a late channel error
    // from becoming an unhandled 'error' on the child.
    const n = typeof env.d === 'string' ? env.d.length : env.d.reduce((sum, f) => sum + f.length, 0)
    this.queued += n
    return this.cp.send(env, () => {
      this._written(n)
      if (written) written()
    })
  }

  _listen() {
    this.cp.on('internalMessage', this._onMsg)
    this.cp.on('exit', this._onGone)
    this.cp.on('disconnect', this._onGone)
  }

  _unlisten() {
    this.cp.removeListener('internalMessage', this._onMsg)
    this.cp.removeListener('exit', this._onGone)
    this.cp.removeListener('disconnect', this._onGone)
  }
}

// Node calls a send callback once the message is written to the channel.
ChildProcessLink.prototype.reportsWrites = true

function onSendDone() {}

/** Frames that carry state (snapshots, batches): dropped for a peer that is behind. */
function isStateFrame(f) {
  return f.startsWith('{"t":"q"') || f.startsWith('{"t":"b"') || f.startsWith('{"t":"s"')
}
function keepAlive() {}

/** This process's link to its parent process (child process or cluster worker side). */
class ParentProcessLink extends Link {
  constructor() {
    super(process, true)
    this._onMsg = (m) => this._deliver(m)
    this._onGone = () => this.lost()
  }

  _send(env, written) {
    if (!process.connected) {
      this.lost()
      return false
    }
    return process.send(env, written || onSendDone)
  }

  _listen() {
    process.on('internalMessage', this._onMsg)
    process.on('disconnect', this._onGone)
    // A 'message' listener is what keeps the IPC channel referenced, so a connected child stays
    // alive like it would with the original; close() removes it and the child can exit.
    process.on('message', keepAlive)
  }

  _unlisten() {
    process.removeListener('internalMessage', this._onMsg)
    process.removeListener('disconnect', this._onGone)
    process.removeListener('message', keepAlive)
  }

  /**
   * The parent said goodbye: keep hearing ipos frames (a new hello) but nothing else, so the
   * channel no longer keeps this process alive.
   */
  park() {
    this.parked = true
    process.removeListener('disconnect', this._onGone)
    process.removeListener('message', keepAlive)
  }

  unpark() {
    this.parked = false
    process.on('disconnect', this._onGone)
    process.on('message', keepAlive)
  }
}

ParentProcessLink.prototype.reportsWrites = true

/** A BroadcastChannel link between a thread and a worker thread it started (either side). */
class ThreadLink extends Link {
  constructor(threadId, worker) {
    super(worker || null, !worker)
    this.name = `ipos:${threadId}`
    this.worker = worker
    this.bc = null
    this._onMsg = (ev) => this._deliver(ev.data)
    this._onGone = () => this.lost()
  }

  _send(env) {
    this.bc.postMessage(env)
    return true
  }

  _listen() {
    this.bc = new wt.BroadcastChannel(this.name)
    this.bc.onmessage = this._onMsg
    if (this.worker) {
      this.worker.on('exit', this._onGone)
      // The worker's own liveness decides; our channel must not keep the parent alive.
      this.bc.unref()
    }
  }

  _unlisten() {
    if (this.bc) {
      this.bc.onmessage = null
      this.bc.close()
    }
    if (this.worker) this.worker.removeListener('exit', this._onGone)
  }
}

/**
 * Any object with `send(message)` and `on('message', fn)` (the original's whole requirement on a
 * channel): an in-process loopback, a wrapper around another channel. Frames travel as 'message's
 * carrying the envelope. When the object emits through an EventEmitter-style `emit`, envelopes are
 * taken out there, so the user's own 'message' listeners never see ipos traffic.
 */
class ChannelLink extends Link {
  constructor(ch, isParent) {
    super(ch, isParent)
    this.ch = ch
    this._onMsg = (m) => this._deliver(m)
    this._onGone = () => this.lost()
    this._emit = null
  }

  _send(env) {
    const r = this.ch.send(env)
    return r !== false
  }

  _listen() {
    const ch = this.ch
    if (typeof ch.emit === 'function' && !Object.prototype.hasOwnProperty.call(ch, 'emit')) {
      const emit = ch.emit
      const deliver = this._onMsg
      this._emit = emit
      ch.emit = function (name, msg, ...rest) {
        if (name === 'message' && msg !== null && typeof msg === 'object' && msg.cmd === CMD) {
          deliver(msg)
          return true
        }
        return emit.call(this, name, msg, ...rest)
      }
    } else {
      ch.on('message', this._onMsg)
    }
    for (const ev of GONE_EVENTS) ch.on(ev, this._onGone)
  }

  _unlisten() {
    const ch = this.ch
    const off = typeof ch.removeListener === 'function' ? 'removeListener' : typeof ch.off === 'function' ? 'off' : null
    if (this._emit !== null) {
      delete ch.emit
      this._emit = null
    } else if (off !== null) ch[off]('message', this._onMsg)
    if (off !== null) for (const ev of GONE_EVENTS) ch[off](ev, this._onGone)
  }
}

/** Events after which a generic channel carries nothing more. */
const GONE_EVENTS = ['close', 'exit', 'disconnect']

/** The link to this process's or thread's parent (or to `channel`), or null when there is none. */
function parentLink(channel) {
  if (channel !== undefined) {
    if (!isChannel(channel)) throw noChannel()
    return new ChannelLink(channel, true)
  }
  if (!wt.isMainThread && wt.parentPort) return new ThreadLink(wt.threadId, null)
  if (typeof process.send === 'function') return new ParentProcessLink()
  return null
}

/** A link for `addProcess(target)`; throws a TypeError when the target has no IPC channel. */
function childLink(target) {
  if (target instanceof wt.Worker) return new ThreadLink(target.threadId, target)
  // A cluster Worker wraps its ChildProcess in `.process`.
  const cp = target && typeof target === 'object' && target.process && typeof target.process.send === 'function' && typeof target.process.on === 'function'
    ? target.process
    : target
  if (!isChannel(cp)) throw noChannel()
  if (cp instanceof ChildProcess || cp === process) return new ChildProcessLink(cp, target)
  return new ChannelLink(cp, false)
}

function isChannel(ch) {
  return ch !== null && typeof ch === 'object' && typeof ch.on === 'function' && typeof ch.send === 'function'
}

function noChannel() {
  return iposError(TypeError, 'ERR_IPOS_NO_IPC', 'Process must have an ipc channel. Activate by passing "stdio: [<stdin>, <stdout>, <stderr>, \'ipc\']" as an option (fork() has one by default; exec() and execFile() cannot have one), or pass any object with send(message) and on(\'message\', fn).')
}

module.exports = { Link, parentLink, childLink, CMD, VERSION }
