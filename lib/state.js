'use strict'
// The state behind one IPOS instance: the live fields, the core's mirror of them, options, events
// and error policy. The conversation with peers is split by responsibility: the outbox (local ops
// out), peers (links, handshake, routing, flush) and inbound (frames in).

const { EventEmitter } = require('events')
const crypto = require('crypto')
const { Core } = require('./native')
const codec = require('./codec')
const { applyOps } = require('./apply')
const { resetOps } = require('./reset')
const { iposError, fromCore } = require('./errors')
const { Outbox } = require('./outbox')
const { Peers } = require('./peers')
const { Inbound } = require('./inbound')
const { debug } = require('./debug')
const L = require('./limits')

const STATE = Symbol('ipos.state')
const DEFAULTS = { syncTimeout: 100, joinTimeout: 30000, flushTimeout: 30000, maxBacklogBytes: 64 * 1024 * 1024, functions: false, maxDepth: L.DEFAULT_MAX_DEPTH, maxFrameBytes: L.DEFAULT_MAX_FRAME_BYTES, maxArrayLength: L.DEFAULT_MAX_ARRAY_LENGTH }

/** Per-instance state; kept off the public object so fields can use almost any name. */
class State {
  constructor(api, options) {
    this.api = api
    this.opts = { ...DEFAULTS, ...options }
    this.functionsWanted = !!this.opts.functions
    this.core = new Core({ maxFrameBytes: this.opts.maxFrameBytes, maxDepth: this.opts.maxDepth, functions: !!this.opts.functions, maxArrayLength: this.opts.maxArrayLength })
    this.origin = crypto.randomBytes(8).toString('hex')
    this.core.setOrigin(this.origin)
    this.fields = new Map()
    this.emitter = new EventEmitter()
    // Whether anyone listens for 'change' (checked on every write, so kept as a flag).
    this.watching = false
    this.emitter.on('newListener', (event) => {
      if (event === 'change') this.watching = true
    })
    this.emitter.on('removeListener', (event) => {
      if (event === 'change') this.watching = this.emitter.listenerCount('change') > 0
    })
    this.closed = false
    this.joined = false // a parent's state was applied here at least once
    this.readyResolve = null
    this.closers = [] // stop what close() must stop besides the links (listeners, reconnects)
    this.readyTimer = null // resolves `IPOS.new()` after syncTimeout unless a snapshot arrives first
    this.warned = new Set()
    this.starting = false // `IPOS.new()` has not resolved yet
    this.early = [] // errors met meanwhile, with no 'error' listener to hear them
    this.decodeCtx = {
      functions: !!this.opts.functions,
      onUnknownClass: (name) => this.error(iposError(Error, 'ERR_IPOS_UNKNOWN_CLASS', `Did not recognize type \`${name}\`. Did you register it in the child process? An instance of class ${name} arrived, but ${name} is not registered in this process: call IPOS.registerClass(${name}) before IPOS.new(); the value was kept as its serialised data`)),
    }
    this.outbox = new Outbox(this)
    this.peers = new Peers(this)
    this.inbound = new Inbound(this)
  }

  decode(v) {
    return codec.decode(v, this.decodeCtx)
  }

  decodeCopy(v) {
    return codec.decodeCopy(v, this.decodeCtx)
  }

  where(key, segs) {
    return codec.formatPath(key, segs)
  }

  /** `IPOS.new()` resolved: errors met while joining go to the listeners attached meanwhile. */
  started() {
    this.starting = false
    const early = this.early
    this.early = []
    if (early.length > 0) setImmediate(() => early.forEach((e) => this.report(e)))
  }

  /** The parent's state is applied here: `IPOS.new()` resolves. */
  ready() {
    clearTimeout(this.readyTimer)
    this.readyTimer = null
    if (this.readyResolve) {
      const r = this.readyResolve
      this.readyResolve = null
    this.readyTimer = null // resolves `IPOS.new()` after syncTimeout unless a snapshot arrives first
      r()
    }
  }

  // ---- fields --------------------------------------------------------------------------------

  create(key, value) {
    this.assertOpen()
    checkFieldKey(key)
    const [json, stored] = this.snapshotValue(value, key)
    this.fields.set(key, stored)
    this.outbox.record('c', key, null, [], json)
  }

  /**
   * `ipos[key] = value`: the core diffs the value against its mirror, and the diff is applied to
   * the live objects here as in every other process, so references held to the old value stay
   * valid and nothing is copied. It leaves in a frame of its own, after what was buffered.
   */
  reset(key, value) {
    const ops = resetOps(this, key, this.fields.get(key), value)
    if (ops.length === 0) return
    this.outbox.flush()
    let frame
    try {
      frame = this.core.local(`[${ops.join(',')}]`)
    } catch (e) {
      throw fromCore(e)
    }
    if (!frame) return
    applyOps(this.fields, JSON.parse(frame).ops, this, null)
    this.peers.sendOut(frame)
    if (this.emitter.listenerCount('change') > 0) this.emitter.emit('change', { key, path: [], kind: 'reset', local: true })
  }

  remove(key) {
    if (!this.fields.has(key)) return false
    this.fields.delete(key)
    this.outbox.record('x', key, null, [])
    return true
  }

  snapshotValue(value, key) {
    const enc = codec.encode(value, { key, segs: [] }, this.opts)
    const json = JSON.stringify(enc)
    const stored = typeof value === 'object' && value !== null ? this.decodeCopy(enc) : value
    return [json, stored]
  }

  // ---- lifecycle and errors ------------------------------------------------------------------

  flush(options) {
    let ms = this.opts.flushTimeout
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw iposError(TypeError, 'ERR_IPOS_BAD_OPTIONS', 'flush(options): options must be an object such as { timeout: 5000 }')
      if (options.timeout !== undefined) ms = options.timeout
    }
    if (typeof ms !== 'number' || !(ms >= 0)) throw iposError(TypeError, 'ERR_IPOS_BAD_OPTIONS', `flush(): \`timeout\` (flushTimeout) is a number of ms >= 0, not ${String(ms)}`)
    this.outbox.flush()
    return this.peers.flush(ms)
  }

  close() {
    if (this.closed) return
    this.outbox.flush()
    this.closed = true
    this.peers.close()
    for (const stop of this.closers.splice(0)) stop()
  }

  assertOpen() {
    if (this.closed) throw iposError(Error, 'ERR_IPOS_CLOSED', 'this IPOS instance was closed; create a new one with IPOS.new()')
  }

  error(err, link) {
    debug('error %s: %s', err.code, err.message)
    if (link && err.peer === undefined) err.peer = link.target
    if (link && link.onPeerError) link.onPeerError(err)
    this.report(err)
  }

  report(err) {
    if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', err)
    else if (this.starting) this.early.push(err)
    else if (!this.warned.has(err.code)) {
      // Without an 'error' listener nothing throws (a bad peer must not crash us); warn once per code.
      this.warned.add(err.code)
      process.emitWarning(`${err.message} (further ${err.code} warnings are suppressed; listen to 'error' to see them)`, { code: err.code })
    }
  }
}

function checkFieldKey(key) {
  if (typeof key !== 'string') throw iposError(TypeError, 'ERR_IPOS_BAD_KEY', `a field name must be a string, got ${typeof key}`)
  if (!key.isWellFormed()) throw iposError(TypeError, 'ERR_IPOS_BAD_KEY', 'a field name cannot contain a lone surrogate')
  if (codec.RESERVED.has(key)) throw iposError(TypeError, 'ERR_IPOS_RESERVED_KEY', `"${key}" cannot be a field name`)
}

module.exports = { State, STATE, checkFieldKey }
