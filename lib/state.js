'use strict'
// The state behind one IPOS instance: fields, the op buffer, and the conversation with peers.
// Local mutations are buffered as op strings and cross into the core once per tick; each inbound
// frame crosses once.

const { EventEmitter } = require('events')
const crypto = require('crypto')
const { Core } = require('../native')
const codec = require('./codec')
const { applyOps, KIND: KINDS } = require('./apply')
const { resetOps } = require('./reset')
const { childLink } = require('./transport')
const { iposError, fromCore } = require('./errors')

const STATE = Symbol('ipos.state')
/** Snapshots at least this big are read by the core off the JS thread. */
const ASYNC_SNAPSHOT_BYTES = 256 * 1024
const DEFAULTS = { syncTimeout: 100, functions: false, maxDepth: 1000, maxFrameBytes: 128 * 1024 * 1024, maxArrayLength: 10000000 }
/** Holes one batch may make in all (the core's `MAX_GAP`): a batch that would pass it is split. */
const MAX_HOLES = 100000

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
    this.buffer = []
    this.events = []
    this.scheduled = false
    this.emitter = new EventEmitter()
    this.parent = null // link to the parent, once it exists
    this.upstream = null // the parent link once its snapshot is applied: ops go up, not down
    this.children = new Map() // target -> link
    this.waiters = new Map() // link -> { resolve, reject } for addProcess
    this.readyResolve = null
    this.closed = false
    this.pingId = 0
    this.inbox = null
    this.warned = new Set()
    this.lastKey = null
    this.run = null
    this.holes = 0 // holes the buffered batch makes (see `makeHoles`)
    this.lastKeyJson = ''
    this.decodeCtx = {
      functions: !!this.opts.functions,
      onUnknownClass: (name) => this.error(iposError(Error, 'ERR_IPOS_UNKNOWN_CLASS', `received an instance of class ${name}, which is not registered in this process: call IPOS.registerClass(${name}) before IPOS.new(); the value was kept as its serialised data`)),
    }
    this.flushBound = () => this.flushNow()
    this.settleBound = () => this.settle()
    this.settling = false
    this.bufferHasAssign = false
    this.onFrameBound = (link, d) => this.onFrame(link, d)
    this.onGoneBound = (link) => this.dropLink(link)
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

  hello() {
    return `{"t":"h","v":1,"id":"${this.origin}","fn":${this.functionsWanted}}`
  }

  // ---- local ops -----------------------------------------------------------------------------

  /** Buffers one op (its JSON built here, at mutation time) and the change event for it. */
  record(code, key, wire, fmt, args, kind) {
    let s = `["${code}",${this.keyJson(key)}`
    if (wire !== null) s += `,${wire.length === 0 ? '[]' : JSON.stringify(wire)}`
    if (args !== undefined) s += `,${args}`
    this.recordOp(s + ']', code, key, fmt, kind)
  }

  /** The field name as JSON (cached: consecutive ops usually touch the same field). */
  keyJson(key) {
    if (key !== this.lastKey) {
      this.lastKey = key
      this.lastKeyJson = JSON.stringify(key)
    }
    return this.lastKeyJson
  }

  /** Buffers one op already written as JSON, with its change event (`last`: one more segment). */
  recordOp(op, code, key, fmt, kind, last) {
    this.buffer.push(op)
    if (code === 'r') this.bufferHasAssign = true
    this.eventFor(code, key, fmt, kind, last)
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
  recordPush(t, path, json) {
    const run = this.run
    if (run !== null && run.t === t && this.buffer[this.buffer.length - 1] === run) {
      run.items.push(json)
      this.eventFor('a', path.key, path.fmt)
      return
    }
    const wire = path.wire.length === 0 ? '[]' : JSON.stringify(path.wire)
    this.run = { t, head: `["a",${this.keyJson(path.key)},${wire},[`, items: [json] }
    this.recordOp(this.run, 'a', path.key, path.fmt)
  }

  /**
   * Called before a write makes `n` holes: a batch may make at most MAX_HOLES in all (every
   * receiver charges them to a fixed allowance per frame), so the buffered ops leave first when
   * this write would pass it. One write alone never does (an index or length reaches at most
   * 100,000 past the end).
   */
  makeHoles(n) {
    if (this.holes + n > MAX_HOLES) this.flushNow()
    this.holes += n
  }

  eventFor(code, key, fmt, kind, last) {
    if (this.emitter.listenerCount('change') > 0) {
      this.events.push({ key, path: jsPath(last === undefined ? fmt : fmt.concat(last)), kind: kind || KINDS[code], local: true })
    }
  }

  /** Sends everything buffered as one batch: one native call, one frame per peer. */
  flushNow() {
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
    const assign = this.bufferHasAssign
    this.buffer = []
    this.events = []
    this.bufferHasAssign = false
    let frame
    try {
      if (assign) frame = this.core.local(batch)
      else {
        // Send first, let the core apply the batch to its mirror right after: that work then
        // overlaps with the peers applying it.
        frame = this.core.localDeferred(batch)
        if (!this.settling) {
          this.settling = true
          setImmediate(this.settleBound)
        }
      }
    } catch (e) {
      this.error(fromCore(e))
      return
    }
    if (frame) this.sendOut(frame)
    for (const ev of events) this.emitter.emit('change', ev)
  }

  /** A frame made here goes up to the parent, or down to every child when this is the root. */
  sendOut(frame) {
    if (this.upstream !== null) this.upstream.send(frame)
    else this.sendDown(frame)
  }

  sendDown(frame) {
    for (const link of this.children.values()) if (link.state !== 'new') link.send(frame)
  }

  /** A sequenced batch goes to every child; the one whose peer made it only needs the ack. */
  sendDownQ(frame, elided, origin) {
    for (const link of this.children.values()) {
      if (link.state === 'new') continue
      link.send(elided && link.peerId === origin ? elided : frame)
    }
  }

  settle() {
    this.settling = false
    try {
      this.core.settle()
    } catch (e) {
      this.error(fromCore(e))
    }
  }

  create(key, value) {
    this.assertOpen()
    checkFieldKey(key)
    const [json, stored] = this.snapshotValue(value, key)
    this.fields.set(key, stored)
    this.record('c', key, null, [], json)
  }

  /**
   * `ipos[key] = value`: the core diffs the value against its mirror, and the diff is applied to
   * the live objects here as in every other process, so references held to the old value stay
   * valid and nothing is copied. It leaves in a frame of its own, after what was buffered.
   */
  reset(key, value) {
    const ops = resetOps(this, key, this.fields.get(key), value)
    if (ops.length === 0) return
    this.flushNow()
    let frame
    try {
      frame = this.core.local(`[${ops.join(',')}]`)
    } catch (e) {
      throw fromCore(e)
    }
    if (!frame) return
    applyOps(this.fields, JSON.parse(frame).ops, this, null)
    this.sendOut(frame)
    if (this.emitter.listenerCount('change') > 0) this.emitter.emit('change', { key, path: [], kind: 'reset', local: true })
  }

  remove(key) {
    if (!this.fields.has(key)) return false
    this.fields.delete(key)
    this.record('x', key, null, [])
    return true
  }

  snapshotValue(value, key) {
    const enc = codec.encode(value, { key, segs: [] }, this.opts)
    const json = JSON.stringify(enc)
    const stored = typeof value === 'object' && value !== null ? this.decodeCopy(enc) : value
    return [json, stored]
  }

  // ---- peers ---------------------------------------------------------------------------------

  connectParent(link) {
    this.parent = link
    link.attach(this.onFrameBound, this.onGoneBound)
    link.send(this.hello())
  }

  addChild(target) {
    this.assertOpen()
    const link = childLink(target)
    const existing = this.children.get(target)
    if (existing) return existing.ready
    link.ready = new Promise((resolve, reject) => this.waiters.set(link, { resolve, reject }))
    this.children.set(target, link)
    link.attach(this.onFrameBound, this.onGoneBound)
    link.send(this.hello())
    return link.ready
  }

  removeChild(target) {
    const link = this.children.get(target)
    if (!link) return false
    link.send('{"t":"g"}')
    link.detach()
    this.forget(link)
    return true
  }

  forget(link, why) {
    this.children.delete(link.target)
    this.refreshFunctionGate()
    const w = this.waiters.get(link)
    if (w) {
      this.waiters.delete(link)
      w.reject(why || iposError(Error, 'ERR_IPOS_PEER_GONE', 'the process went away before it connected'))
    }
    for (const resolve of link.pings.values()) resolve()
    link.pings.clear()
  }

  /** A channel closed or a peer said goodbye. */
  dropLink(link) {
    if (link === this.parent) {
      this.parent = null
      this.refreshFunctionGate()
      const wasSynced = this.upstream !== null
      this.upstream = null
      for (const resolve of link.pings.values()) resolve()
      link.pings.clear()
      if (wasSynced) {
        // Our parent is gone: we are the root of what is left. Pending ops we already show here
        // become sequenced, so our children get them too.
        for (const f of this.core.becomeRoot()) this.sendDown(f)
      }
      return
    }
    this.forget(link)
  }

  // ---- inbound -------------------------------------------------------------------------------

  onFrame(link, d) {
    if (this.closed) return
    if (this.inbox !== null) {
      // A big snapshot is being read off-thread: frames keep their order behind it.
      this.inbox.push([link, d])
      return
    }
    if (d instanceof Error) return this.error(d, link)
    if (link.isParent && d.length >= ASYNC_SNAPSHOT_BYTES && d.startsWith('{"t":"s"')) return this.snapshotAsync(link, d)
    this.flushNow()
    let out
    try {
      out = this.core.receive(d, link.isParent)
    } catch (e) {
      const err = fromCore(e)
      if (link.isParent && this.upstream === null && d.startsWith('{"t":"s"')) {
        // We cannot take the parent's state: tell it why, so its addProcess() fails clearly.
        link.send(JSON.stringify({ t: 'N', code: err.code, m: err.message.slice(0, 2000) }))
      }
      return this.error(err, link)
    }
    const v = JSON.parse(out[0])
    switch (v.k) {
      case 'h': return this.onHello(link, v)
      case 's': return this.onSnapshot(link, d)
      case 'A': return this.onSynced(link)
      case 'b':
        if (v.up) {
          if (this.upstream !== null) this.upstream.send(d)
          return
        }
        // Applied here first and relayed after: a write answering this change (the common
        // request/response pattern) is not held up by the relay's sends.
        if (v.ok) this.applyRemote(JSON.parse(d).ops, link, isPlain(d))
        // Rejected whole (a bad or a stale path): the origin still gets the verdict, to roll back.
        else this.error(iposError(Error, v.code, v.message), link)
        return this.sendDownQ(out[1], out[2], v.o)
      case 'q':
        if (v.apply === 'frame') this.applyRemote(JSON.parse(d).ops, link, isPlain(d))
        else if (v.apply === 'patch') this.applyRemote(v.ops, link)
        // out[1] is set when the core rebuilt the full frame (we got only the ack of our own batch).
        this.sendDownQ(out[1] || d, out[2], v.o)
        if (v.own && v.ok === false) {
          this.error(iposError(Error, 'ERR_IPOS_CONFLICT', 'a batch of changes made here was rejected by the root process because a concurrent change removed what it referred to; this process now shows the root\'s state'), link)
        }
        return
      case 'p': return this.onPing(link, v.i)
      case 'P': {
        const resolve = link.pings.get(v.i)
        if (resolve) {
          link.pings.delete(v.i)
          resolve()
        }
        return
      }
      case 'g':
        link.detach()
        return this.dropLink(link)
      case 'N': {
        // The peer rejected our snapshot: it is not connected, and addProcess() says why.
        link.detach()
        return this.forget(link, iposError(Error, v.code, `the process could not apply this process's state: ${v.m}`))
      }
    }
  }

  onHello(link, v) {
    if (link.isParent) {
      link.functions = v.fn
      this.refreshFunctionGate()
      if (this.upstream === null) link.send(this.hello())
      return
    }
    if (link.state !== 'new' && link.peerId === v.id) return
    link.peerId = v.id
    link.functions = v.fn
    this.refreshFunctionGate()
    link.state = 'syncing'
    link.send(this.core.snapshot())
  }

  /**
   * A big snapshot: the core reads and validates it on the thread pool while this thread parses
   * the same text, so the two biggest costs of joining overlap. Values are decoded (class
   * deserialisers, functions) only once the core has accepted the frame.
   */
  snapshotAsync(link, d) {
    this.inbox = []
    const parsing = this.core.parseSnapshotAsync(d)
    let f = null
    try {
      f = JSON.parse(d).f
    } catch {}
    parsing.then((token) => {
      if (this.closed) return
      this.flushNow()
      try {
        this.core.installSnapshot(token, true)
      } catch (e) {
        return this.error(fromCore(e), link)
      }
      this.applySnapshot(link, f, isPlain(d))
    }, (e) => {
      const err = fromCore(e)
      link.send(JSON.stringify({ t: 'N', code: err.code, m: err.message.slice(0, 2000) }))
      this.error(err, link)
    }).finally(() => {
      const queued = this.inbox
      this.inbox = null
      while (queued.length > 0) {
        const [l, frame] = queued.shift()
        this.onFrame(l, frame)
        if (this.inbox !== null) {
          this.inbox.push(...queued)
          return
        }
      }
    })
  }

  onSnapshot(link, d) {
    this.applySnapshot(link, JSON.parse(d).f, isPlain(d))
  }

  /** Replaces the live fields with a snapshot the core accepted (`f`: parsed, not decoded). */
  applySnapshot(link, f, plain) {
    const events = []
    const emit = this.emitter.listenerCount('change') > 0
    const seen = new Set()
    for (const [key, value] of f) {
      seen.add(key)
      this.fields.set(key, plain ? value : this.decode(value))
      if (emit) events.push({ key, path: [], kind: 'create', local: false })
    }
    for (const key of [...this.fields.keys()]) {
      if (!seen.has(key)) {
        this.fields.delete(key)
        if (emit) events.push({ key, path: [], kind: 'remove', local: false })
      }
    }
    this.upstream = link
    link.state = 'synced'
    link.send('{"t":"A"}')
    // Children that joined before us get the state we now share.
    for (const c of this.children.values()) if (c.state !== 'new') c.send(this.core.snapshot())
    for (const ev of events) this.emitter.emit('change', ev)
    if (this.readyResolve) {
      const r = this.readyResolve
      this.readyResolve = null
      r()
    }
  }

  onSynced(link) {
    link.state = 'synced'
    const w = this.waiters.get(link)
    if (w) {
      this.waiters.delete(link)
      w.resolve()
    }
  }

  applyRemote(ops, link, plain) {
    const events = this.emitter.listenerCount('change') > 0 ? [] : null
    const emit = events && ((key, path, kind) => events.push({ key, path, kind, local: false }))
    try {
      applyOps(this.fields, ops, plain ? PLAIN_CTX : this, emit)
    } catch (e) {
      this.error(iposError(Error, 'ERR_IPOS_APPLY', `applying a peer's change failed: ${e && e.message}. Was a shared value changed without going through ipos?`), link)
    }
    if (events) for (const ev of events) this.emitter.emit('change', ev)
  }

  // ---- flush ---------------------------------------------------------------------------------

  active(except) {
    const out = []
    if (this.upstream !== null && this.upstream !== except) out.push(this.upstream)
    for (const l of this.children.values()) if (l !== except && l.state !== 'new' && !l.gone) out.push(l)
    return out
  }

  ping(link) {
    const id = ++this.pingId
    return new Promise((resolve) => {
      link.pings.set(id, resolve)
      if (!link.send(`{"t":"p","i":${id}}`)) {
        link.pings.delete(id)
        resolve()
      }
    })
  }

  /**
   * A ping floods the tree away from where it came from and is answered once every link beyond
   * has answered: frames travel in order, so every earlier frame has been applied everywhere.
   */
  onPing(link, i) {
    const others = this.active(link)
    const pong = () => link.send(`{"t":"P","i":${i}}`)
    if (others.length === 0) return pong()
    Promise.all(others.map((l) => this.ping(l))).then(pong)
  }

  flush() {
    this.flushNow()
    return Promise.all(this.active(null).map((l) => this.ping(l))).then(() => undefined)
  }

  close() {
    if (this.closed) return
    this.flushNow()
    this.closed = true
    for (const link of this.active(null)) link.send('{"t":"g"}')
    if (this.parent) {
      this.parent.detach()
      this.dropLink(this.parent)
    }
    for (const link of [...this.children.values()]) {
      link.detach()
      this.forget(link)
    }
  }

  /**
   * Functions may be encoded only while every connected process accepts them: a peer that did not
   * opt in would reject the frame, so the write fails here instead, before anything changes.
   */
  refreshFunctionGate() {
    let ok = this.functionsWanted
    if (ok && this.parent !== null && this.parent.functions === false) ok = false
    if (ok) for (const l of this.children.values()) if (l.functions === false) ok = false
    this.opts.functions = ok && this.functionsWanted
  }

  assertOpen() {
    if (this.closed) throw iposError(Error, 'ERR_IPOS_CLOSED', 'this IPOS instance was closed; create a new one with IPOS.new()')
  }

  error(err, link) {
    if (link && err.peer === undefined) err.peer = link.target
    if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', err)
    else if (!this.warned.has(err.code)) {
      // Without an 'error' listener nothing throws (a bad peer must not crash us); warn once per code.
      this.warned.add(err.code)
      process.emitWarning(`${err.message} (further ${err.code} warnings are suppressed; listen to 'error' to see them)`, { code: err.code })
    }
  }
}


/**
 * Whether a frame's values are plain JSON, with no tag to decode: a tag needs a `"~"` key, and
 * without any `\u` escape in the text that key can only be spelled `"~"`. The parsed values can
 * then be used as they are, skipping a walk over every object.
 */
function isPlain(d) {
  return d.indexOf('"~"') === -1 && d.indexOf('\\u') === -1
}

/** Decoding context for plain frames: values are used as parsed. */
const PLAIN_CTX = { decode: (v) => v }

function jsPath(fmt) {
  return fmt.map((s) => (s !== null && typeof s === 'object' ? ('get' in s ? s.get : s.member) : s))
}

function checkFieldKey(key) {
  if (typeof key !== 'string') throw iposError(TypeError, 'ERR_IPOS_BAD_KEY', `a field name must be a string, got ${typeof key}`)
  if (!key.isWellFormed()) throw iposError(TypeError, 'ERR_IPOS_BAD_KEY', 'a field name cannot contain a lone surrogate')
  if (codec.RESERVED.has(key)) throw iposError(TypeError, 'ERR_IPOS_RESERVED_KEY', `"${key}" cannot be a field name`)
}

module.exports = { State, STATE, checkFieldKey }
