'use strict'
// The public IPOS class. The instance is a Proxy so that `ipos[key]` reads and resets fields;
// everything else lives in its State (lib/state.js), kept off the public object so fields can use
// almost any name.

const codec = require('./codec')
const { fieldProxy } = require('./proxy')
const { parentLink } = require('./transport')
const { iposError } = require('./errors')
const { State, STATE } = require('./state')
const { listen } = require('./listen')
const { connect } = require('./connect')

/** Shares objects between processes. Create instances with `IPOS.new()`. */
class IPOS {
  /** In a process with a parent channel: a Promise that resolves once synchronised; else the instance. */
  static new(options) {
    const ipos = new IPOS(options)
    const r = start(ipos, options)
    if (!(r instanceof Promise)) return r
    // Errors met while joining wait for the caller's 'error' listener, which it can only attach
    // once this resolves.
    const s = ipos[STATE]
    s.starting = true
    return r.then((v) => {
      s.started()
      return v
    }, (e) => {
      s.starting = false
      s.early = []
      throw e
    })
  }

  /** Lets instances of `ctor` be shared (call it in every process, before `IPOS.new()`). */
  static registerClass(ctor, serialize, deserialize) {
    codec.registerClass(ctor, serialize, deserialize)
  }

  constructor(options) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw iposError(TypeError, 'ERR_IPOS_BAD_OPTIONS', 'IPOS.new(options): options must be an object')
    }
    Object.defineProperty(this, STATE, { value: new State(null, options || {}) })
    const proxy = new Proxy(this, INSTANCE)
    this[STATE].api = proxy
    return proxy
  }

  addProcess(target) {
    return this[STATE].peers.addChild(target)
  }

  /** Accepts peers on a local socket; resolves once listening. */
  listen(path, options) {
    return listen(this[STATE], path, options)
  }

  removeProcess(target) {
    return this[STATE].peers.removeChild(target)
  }

  create(key, value) {
    this[STATE].create(key, value)
  }

  get(key) {
    const s = this[STATE]
    return fieldProxy(s, key, s.fields.get(key))
  }

  delete(key) {
    const s = this[STATE]
    s.assertOpen()
    return s.remove(key)
  }

  has(key) {
    return this[STATE].fields.has(key)
  }

  keys() {
    return [...this[STATE].fields.keys()]
  }

  on(event, fn) {
    this[STATE].emitter.on(event, fn)
    return this
  }

  once(event, fn) {
    this[STATE].emitter.once(event, fn)
    return this
  }

  off(event, fn) {
    this[STATE].emitter.off(event, fn)
    return this
  }

  flush(options) {
    try {
      return this[STATE].flush(options)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  close() {
    this[STATE].close()
  }
}

const INSTANCE = {
  get(t, p, r) {
    if (typeof p === 'symbol' || p in t) return Reflect.get(t, p, r)
    const s = t[STATE]
    const v = s.fields.get(p)
    return v === undefined ? undefined : fieldProxy(s, p, v)
  },
  set(t, p, v) {
    if (p in t) throw iposError(Error, 'ERR_IPOS_INHERENT_PROPERTY', `Cannot change inherent property \`${String(p)}\``)
    const s = t[STATE]
    if (!s.fields.has(p)) throw iposError(Error, 'ERR_IPOS_UNKNOWN_FIELD', `Cannot set unknown field \`${p}\`. Initialise a field with \`.create()\``)
    s.assertOpen()
    s.reset(p, v)
    return true
  },
  has(t, p) {
    return p in t || (typeof p === 'string' && t[STATE].fields.has(p))
  },
  deleteProperty(t, p) {
    if (p in t) throw iposError(Error, 'ERR_IPOS_INHERENT_PROPERTY', `Cannot change inherent property \`${String(p)}\``)
    t[STATE].remove(p)
    return true
  },
}

/** Connects a new instance to its parent, socket or Redis: the instance, or a Promise of it. */
function start(ipos, options) {
  const s = ipos[STATE]
  // A socket to join: the IPC channel, if this process has one, is left to the user.
  if (options && options.connect !== undefined) return connect(ipos, s, options)
  // Attached to Redis, the stream is the parent; an IPC channel is left to the user.
  if (options && options.redis !== undefined) return require('./redis').attach(s).then(() => ipos)
  const link = parentLink(options && options.parent)
  if (link === null) return ipos
  return new Promise((resolve) => {
    s.readyTimer = setTimeout(() => {
      s.readyTimer = null
      s.readyResolve = null
      resolve(ipos)
    }, s.opts.syncTimeout)
    s.readyResolve = () => resolve(ipos)
    s.peers.connectParent(link)
  })
}

module.exports = { IPOS }
