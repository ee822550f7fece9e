'use strict'
// Proxy handlers for Maps, Sets and registered class instances (objects and arrays are in
// lib/proxy.js). Same rules: a trap records one intent-level op, applies the change to the raw
// target, and returns; Map keys and Set members travel by value or, for objects, by position.

const { encode, encodeKeyRef, classOf } = require('./codec')
const { iposError } = require('./errors')
const { raw, child, pathOf, snapshot, META } = require('./proxy')

// ---- Maps -------------------------------------------------------------------------------------

/** The JSON of a primitive that travels as it is (not tagged), or undefined. */
function plainJson(x) {
  switch (typeof x) {
    case 'string':
      return x.isWellFormed() ? JSON.stringify(x) : undefined
    case 'number':
      return Number.isFinite(x) && !Object.is(x, -0) ? String(x) : undefined
    case 'boolean':
      return String(x)
    default:
      return x === null ? 'null' : undefined
  }
}

function keyRefJson(owner, t, k) {
  return JSON.stringify(encodeKeyRef(t, k, owner.opts))
}

function* mapEntries(t, proxyValues) {
  const owner = META.get(t).owner
  for (const [k, v] of t) yield [k, proxyValues ? child(owner, t, k, v) : v]
}

const MAP_METHODS = {
  get(k) {
    const t = raw(this)
    k = raw(k)
    return child(META.get(t).owner, t, k, t.get(k))
  },
  has(k) {
    return raw(this).has(raw(k))
  },
  set(k, v) {
    const t = raw(this)
    k = raw(k)
    const path = pathOf(t)
    if (path === null) {
      t.set(k, v)
      return this
    }
    const owner = path.owner
    const segs = path.fmt.concat({ get: k, in: t })
    const kp = plainJson(k)
    const vp = kp === undefined ? undefined : plainJson(v)
    if (vp !== undefined) {
      // A primitive key and value: their JSON is all there is to encode, and the value is stored as is.
      t.set(k, v)
      owner.outbox.mapSet(t, path, segs, `${kp},${vp}`)
      return this
    }
    let kj
    if (typeof k === 'object' && k !== null && !t.has(k)) {
      // A new object key travels whole; the key object itself stays the key here (identity).
      kj = JSON.stringify(encode(k, { key: path.key, segs }, owner.opts))
    } else {
      kj = keyRefJson(owner, t, k)
      if (kj === undefined) throw iposError(TypeError, 'ERR_IPOS_UNSHAREABLE', `a function or symbol cannot be a shared Map key at \`${owner.where(path.key, path.fmt)}\``)
    }
    const [json, stored] = snapshot(owner, v, path.key, segs)
    t.set(k, stored)
    owner.outbox.mapSet(t, path, segs, `${kj},${json}`)
    return this
  },
  delete(k) {
    const t = raw(this)
    k = raw(k)
    if (!t.has(k)) return false
    const path = pathOf(t)
    const kj = path === null ? null : keyRefJson(path.owner, t, k)
    t.delete(k)
    if (path !== null) path.owner.outbox.record('md', path.key, path.wire, path.fmt.concat({ get: k, in: t }), kj)
    return true
  },
  clear() {
    const t = raw(this)
    if (t.size === 0) return
    const path = pathOf(t)
    t.clear()
    if (path !== null) path.owner.outbox.record('cl', path.key, path.wire, path.fmt)
  },
  forEach(fn, thisArg) {
    for (const [k, v] of mapEntries(raw(this), true)) fn.call(thisArg, v, k, this)
  },
  keys() {
    return raw(this).keys()
  },
  *values() {
    for (const e of mapEntries(raw(this), true)) yield e[1]
  },
  entries() {
    return mapEntries(raw(this), true)
  },
  [Symbol.iterator]() {
    return mapEntries(raw(this), true)
  },
}

const MAP = {
  get(t, p) {
    if (p === 'size') return t.size
    if (Object.prototype.hasOwnProperty.call(MAP_METHODS, p)) return MAP_METHODS[p]
    const v = t[p]
    return typeof v === 'function' ? v.bind(t) : v
  },
}

// ---- Sets -------------------------------------------------------------------------------------

function* setValues(t) {
  const owner = META.get(t).owner
  for (const x of t) yield child(owner, t, null, x)
}

const SET_METHODS = {
  has(v) {
    return raw(this).has(raw(v))
  },
  add(v) {
    const t = raw(this)
    v = raw(v)
    if (t.has(v)) return this
    const path = pathOf(t)
    if (path === null) {
      t.add(v)
      return this
    }
    const [json, stored] = snapshot(path.owner, v, path.key, path.fmt.concat({ member: t.size }))
    t.add(stored)
    path.owner.outbox.record('sa', path.key, path.wire, path.fmt, json)
    return this
  },
  delete(v) {
    const t = raw(this)
    v = raw(v)
    if (!t.has(v)) return false
    const path = pathOf(t)
    const ref = path === null ? null : keyRefJson(path.owner, t, v)
    t.delete(v)
    if (path !== null) path.owner.outbox.record('sd', path.key, path.wire, path.fmt, ref)
    return true
  },
  clear() {
    const t = raw(this)
    if (t.size === 0) return
    const path = pathOf(t)
    t.clear()
    if (path !== null) path.owner.outbox.record('cl', path.key, path.wire, path.fmt)
  },
  forEach(fn, thisArg) {
    for (const x of setValues(raw(this))) fn.call(thisArg, x, x, this)
  },
  values() {
    return setValues(raw(this))
  },
  keys() {
    return setValues(raw(this))
  },
  *entries() {
    for (const x of setValues(raw(this))) yield [x, x]
  },
  [Symbol.iterator]() {
    return setValues(raw(this))
  },
}

const SET = {
  get(t, p) {
    if (p === 'size') return t.size
    if (Object.prototype.hasOwnProperty.call(SET_METHODS, p)) return SET_METHODS[p]
    const v = t[p]
    return typeof v === 'function' ? v.bind(t) : v
  },
}

// ---- registered class instances ----------------------------------------------------------------
// An instance travels as its serialised form, so any change (a method call, a property write) is
// shipped as the re-serialised instance; the core turns that into a replacement only if it changed.

const METHOD_WRAPPERS = new WeakMap()

function reserialised(t) {
  const path = pathOf(t)
  if (path === null) return
  const enc = encode(t, { key: path.key, segs: path.fmt }, path.owner.opts)
  path.owner.outbox.record('r', path.key, path.wire, path.fmt, JSON.stringify(enc), 'call')
}

const CLASS = {
  get(t, p) {
    const v = Reflect.get(t, p, t)
    if (typeof v !== 'function' || p === 'constructor') return v
    let w = METHOD_WRAPPERS.get(v)
    if (w === undefined) {
      w = function (...args) {
        const target = raw(this)
        const result = v.apply(target, args)
        reserialised(target)
        return result
      }
      METHOD_WRAPPERS.set(v, w)
    }
    return w
  },
  set(t, p, v) {
    t[p] = v
    if (typeof p !== 'symbol') reserialised(t)
    return true
  },
  deleteProperty(t, p) {
    delete t[p]
    if (typeof p !== 'symbol') reserialised(t)
    return true
  },
}

// ---- EventTarget --------------------------------------------------------------------------------

/**
 * A shared EventTarget: `dispatchEvent(event)` dispatches here and records an `ev` op, so every
 * process dispatches the rebuilt event on its own target. Other methods act on the raw target
 * (EventTarget methods refuse a Proxy as `this`).
 */
function dispatchShared(event) {
  const t = raw(this)
  const path = pathOf(t)
  if (path !== null) {
    if (!(event instanceof Event)) throw iposError(TypeError, 'ERR_IPOS_UNSHAREABLE', `dispatchEvent() needs an Event at \`${path.owner.where(path.key, path.fmt)}\``)
    const owner = path.owner
    const reg = classOf(event)
    const v = reg ? event : event instanceof CustomEvent ? { type: event.type, detail: event.detail } : { type: event.type }
    const json = JSON.stringify(encode(v, { key: path.key, segs: path.fmt }, owner.opts))
    owner.outbox.record('ev', path.key, path.wire, path.fmt, json)
  }
  return t.dispatchEvent(event)
}

const EVENT_TARGET = {
  get(t, p) {
    if (p === 'dispatchEvent') return dispatchShared
    const v = t[p]
    return typeof v === 'function' ? v.bind(t) : v
  },
}

module.exports = { MAP, SET, CLASS, EVENT_TARGET }
