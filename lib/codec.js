'use strict'
// The value encoding of docs/PROTOCOL.md: JSON plus `{"~": tag, "v": data}` objects for what JSON
// lacks. `encode` returns the input itself when it is plain JSON data (no copy on the hot path),
// and throws a TypeError naming the key path for anything that cannot be shared. `decode` turns a
// freshly parsed wire value into live JS values, in place.

const { iposError } = require('./errors')

const TAG = '~'
const RESERVED = new Set(['__proto__', 'constructor', 'prototype'])
const TYPED = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
}

/** proxy -> target, filled by proxy.js: encoding reads the raw objects, never through traps. */
const RAW = new WeakMap()
/** On an encoded class value: the sender's own instance, kept by the sender instead of a copy. */
const ORIGINAL = Symbol('ipos.original')

/** Registered classes, by constructor and by name: `{ ctor, name, serialize, deserialize }`. */
const classes = { byCtor: new Map(), byName: new Map() }

/** Registers a class whose instances may be shared (see `IPOS.registerClass`). */
function registerClass(ctor, serialize, deserialize) {
  if (typeof ctor !== 'function' || !ctor.name) {
    throw iposError(TypeError, 'ERR_IPOS_BAD_CLASS', 'IPOS.registerClass(ctor): ctor must be a named class or constructor function')
  }
  if (serialize !== undefined && typeof serialize !== 'function') {
    throw iposError(TypeError, 'ERR_IPOS_BAD_CLASS', `IPOS.registerClass(${ctor.name}, serialize): serialize must be a function`)
  }
  if (deserialize !== undefined && typeof deserialize !== 'function') {
    throw iposError(TypeError, 'ERR_IPOS_BAD_CLASS', `IPOS.registerClass(${ctor.name}, serialize, deserialize): deserialize must be a function`)
  }
  const entry = {
    ctor,
    name: ctor.name,
    serialize: serialize || ((inst) => {
      if (typeof inst.serialize === 'function') return inst.serialize()
      if (typeof inst.stringify === 'function') return inst.stringify()
      throw iposError(TypeError, 'ERR_IPOS_UNSHAREABLE', `class ${ctor.name} has no serialize() or stringify() method; pass a serialiser to IPOS.registerClass`)
    }),
    deserialize: deserialize || ((data) => {
      if (typeof ctor.from !== 'function') {
        throw iposError(TypeError, 'ERR_IPOS_UNSHAREABLE', `class ${ctor.name} has no static from(); pass a deserialiser to IPOS.registerClass`)
      }
      return ctor.from(data)
    }),
  }
  classes.byCtor.set(ctor, entry)
  classes.byName.set(ctor.name, entry)
}

/** The registration of a value's class, or undefined. */
function classOf(v) {
  const proto = Object.getPrototypeOf(v)
  return proto && classes.byCtor.get(proto.constructor)
}

// ---- key paths in messages -------------------------------------------------------------------

const IDENT = /^[A-Za-z_$][\w$]*$/

/**
 * Formats a key path the way a user would write it: `cfg.limits.max`, `list[3]`,
 * `m.get("k")`, `s.values()[2]`. The core spells paths the same way (crates/ipos-core/src/path.rs;
 * docs/vectors/paths.json holds both to it). Segments: a string (object key), a number (array
 * index), `{ get, at }` or `{ get, in }` (the entry with key `get` of a Map, at position `at`, or
 * wherever it is in Map `in`, its end if not there yet: found only when a message is written),
 * `{ member }` (the Set member at that position), `{ key }` (the Map key itself at that position)
 * and `{ instance }` (the serialised data of a class instance).
 */
function formatPath(key, segs) {
  let s = IDENT.test(key) ? key : `[${JSON.stringify(String(key))}]`
  for (const seg of segs) {
    if (typeof seg === 'number') s += `[${seg}]`
    else if (typeof seg === 'string') s += IDENT.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`
    else if ('get' in seg) s += `.get(${fmtKey(seg)})`
    else if ('member' in seg) s += `.values()[${seg.member}]`
    else if ('key' in seg) s += `.keys()[${seg.key}]`
    else if ('instance' in seg) s += ` (instance of ${seg.instance})`
  }
  return s
}

/** A Map key as JS source would spell it; an object key, which has no spelling, by position. */
function fmtKey({ get: k, at, in: m }) {
  switch (typeof k) {
    case 'string': return JSON.stringify(k)
    case 'bigint': return `${k}n`
    case 'number': case 'boolean': case 'undefined': return String(k)
  }
  if (k === null) return 'null'
  if (at === undefined && m !== undefined) {
    at = 0
    for (const x of m.keys()) {
      if (x === k) break
      at++
    }
  }
  return `<key #${at}>`
}

// While an error unwinds out of `enc`, each level adds its segment; the message is written once
// at the top. No path is built on the happy path.
class PathError extends Error {
  constructor(ctor, code, what) {
    super(what)
    this.ctor = ctor
    this.code = code
    this.what = what
    this.segs = []
  }
}

function fail(ctor, code, what) {
  throw new PathError(ctor, code, what)
}

function wrap(e, seg) {
  if (e instanceof PathError) e.segs.push(seg)
  return e
}

// ---- encode ----------------------------------------------------------------------------------

/**
 * Encodes `value` for the wire. `where` = { key, segs, last? } names the place for error
 * messages (`last`, when given, is one more segment after `segs`);
 * `opts` = { functions, maxDepth }. Throws a TypeError (code ERR_IPOS_*) naming the path.
 */
function encode(value, where, opts) {
  if (typeof value !== 'object' || value === null) {
    // Primitives: no stack needed (the common case for Map keys, counters, flags).
    if ((typeof value === 'string' && value.isWellFormed()) || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0))) return value
  }
  try {
    return enc(value, opts, ANCESTORS, 0)
  } catch (e) {
    ANCESTORS.length = 0
    if (!(e instanceof PathError)) throw e
    const segs = where.last === undefined ? where.segs : where.segs.concat(where.last)
    const path = formatPath(where.key, segs.concat(e.segs.reverse()))
    throw iposError(e.ctor, e.code, `${e.what} at \`${path}\``, { path })
  }
}

// The objects on the path from the root of the value being encoded: a cycle is a repeat here.
const ANCESTORS = []

function enc(v, opts, seen, depth) {
  switch (typeof v) {
    case 'string':
      if (!v.isWellFormed()) return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', 'a string with a lone surrogate (half of a UTF-16 pair) cannot be shared')
      return v
    case 'boolean':
      return v
    case 'number':
      if (Number.isFinite(v) && !Object.is(v, -0)) return v
      return { [TAG]: 'n', v: Object.is(v, -0) ? '-0' : String(v) }
    case 'undefined':
      return { [TAG]: 'u' }
    case 'bigint':
      return { [TAG]: 'B', v: v.toString() }
    case 'symbol':
      return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', 'a Symbol cannot be shared')
    case 'function':
      if (!opts.functions) {
        return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', 'a function cannot be shared unless both sides pass { functions: true } to IPOS.new()')
      }
      return { [TAG]: 'F', v: Function.prototype.toString.call(v) }
  }
  if (v === null) return null
  const t = RAW.get(v)
  if (t !== undefined) v = t
  if (depth >= opts.maxDepth) return fail(TypeError, 'ERR_IPOS_TOO_DEEP', `value nested deeper than maxDepth (${opts.maxDepth})`)
  for (let i = 0; i < seen.length; i++) {
    if (seen[i] === v) return fail(TypeError, 'ERR_IPOS_CIRCULAR', 'a circular reference cannot be shared')
  }
  seen.push(v)
  const out = encObject(v, opts, seen, depth + 1)
  seen.pop()
  return out
}

function encObject(v, opts, seen, depth) {
  if (Array.isArray(v)) return encArray(v, opts, seen, depth)
  const proto = Object.getPrototypeOf(v)
  if (proto === Object.prototype) {
    const out = encProps(v, opts, seen, depth)
    return Object.prototype.hasOwnProperty.call(v, TAG) ? { [TAG]: 'o', v: out } : out
  }
  if (proto === null) return { [TAG]: 'N', v: encProps(v, opts, seen, depth) }
  if (v instanceof Map) {
    const out = []
    let i = 0
    for (const [k, x] of v) {
      let ek
      try { ek = enc(k, opts, seen, depth) } catch (e) { throw wrap(e, { key: i }) }
      try { out.push([ek, enc(x, opts, seen, depth)]) } catch (e) { throw wrap(e, { get: k, at: i }) }
      i++
    }
    return { [TAG]: 'M', v: out }
  }
  if (v instanceof Set) {
    const out = []
    let i = 0
    for (const x of v) {
      try { out.push(enc(x, opts, seen, depth)) } catch (e) { throw wrap(e, { member: i }) }
      i++
    }
    return { [TAG]: 'S', v: out }
  }
  if (v instanceof Date) {
    const t = v.getTime()
    return { [TAG]: 'D', v: Number.isNaN(t) ? null : t }
  }
  if (v instanceof RegExp) return { [TAG]: 'R', v: [v.source, v.flags] }
  if (Buffer.isBuffer(v)) return { [TAG]: 'Buf', v: v.toString('base64') }
  if (ArrayBuffer.isView(v)) {
    const name = v.constructor && v.constructor.name
    if (!TYPED[name] || v instanceof Buffer) return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', `a ${name} cannot be shared`)
    const b64 = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
    return { [TAG]: 'TA', v: [name, b64] }
  }
  if (v instanceof ArrayBuffer) return { [TAG]: 'AB', v: Buffer.from(v).toString('base64') }
  const reg = classes.byCtor.get(proto.constructor)
  if (reg) {
    let data
    try { data = reg.serialize(v) } catch (e) {
      return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', `serialising class ${reg.name} failed: ${e && e.message}`)
    }
    return { [TAG]: 'C', v: [reg.name, encInstance(data, reg.name, opts, seen, depth)] }
  }
  if (proto.constructor === EventTarget) return { [TAG]: 'E' }
  const own = typeof v.serialize === 'function' ? 'serialize' : typeof v.stringify === 'function' ? 'stringify' : null
  if (own !== null && !(v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef || v instanceof Promise)) {
    // A class the sender never registered but whose instances can serialise themselves: as the
    // original README shows, only the processes that rebuild instances must register the class.
    // The sender keeps its own instance (see decodeCopy); it is shared as a value, not tracked.
    const name = (proto.constructor && proto.constructor.name) || 'anonymous class'
    let data
    try { data = v[own]() } catch (e) {
      return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', `serialising class ${name} failed: ${e && e.message}`)
    }
    const out = { [TAG]: 'C', v: [name, encInstance(data, name, opts, seen, depth)] }
    Object.defineProperty(out, ORIGINAL, { value: v })
    return out
  }
  if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef) {
    return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', `a ${proto.constructor.name} cannot be shared (its entries are not enumerable)`)
  }
  if (v instanceof Promise) return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', 'a Promise cannot be shared; share its result instead')
  const name = (proto.constructor && proto.constructor.name) || 'anonymous class'
  return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', `Class: \`${name}\` must have methods to serialize and deserialize objects. (\`.stringify()\`, \`.serialize()\`): an instance of ${name} cannot be shared; give it a serialize() method and a static from(), or call IPOS.registerClass(${name}, serialize, deserialize) in every process first`)
}

/** The serialised data of an instance of class `name`. */
function encInstance(data, name, opts, seen, depth) {
  try { return enc(data, opts, seen, depth) } catch (e) { throw wrap(e, { instance: name }) }
}

function encArray(v, opts, seen, depth) {
  let out = v
  const n = v.length
  for (let i = 0; i < n; i++) {
    const x = v[i]
    let e
    if (x === undefined && !(i in v)) e = { [TAG]: '_' }
    else {
      try { e = enc(x, opts, seen, depth) } catch (err) { throw wrap(err, i) }
    }
    if (e !== x) {
      if (out === v) out = v.slice(0, i)
      out[i] = e
    } else if (out !== v) out[i] = e
  }
  return out
}

function encProps(v, opts, seen, depth) {
  let out = v
  const keys = Object.keys(v)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    if (!k.isWellFormed()) return fail(TypeError, 'ERR_IPOS_UNSHAREABLE', 'a key with a lone surrogate cannot be shared')
    if (RESERVED.has(k)) return fail(TypeError, 'ERR_IPOS_RESERVED_KEY', `the key "${k}" cannot be shared (it could rewrite prototypes in other processes)`)
    const x = v[k]
    let e
    try { e = enc(x, opts, seen, depth) } catch (err) { throw wrap(err, k) }
    if (e !== x && out === v) {
      out = {}
      for (let j = 0; j < i; j++) out[keys[j]] = v[keys[j]]
    }
    if (out !== v) out[k] = e
  }
  return out
}

/** Encodes a Map key or Set member reference: primitives by value, objects by position. */
function encodeKeyRef(container, k, opts) {
  if ((typeof k === 'object' && k !== null) || typeof k === 'function') {
    let i = 0
    for (const x of container.keys()) {
      if (x === k) return { [TAG]: '#', v: i }
      i++
    }
    return null
  }
  return enc(k, opts, ANCESTORS, 0)
}

// ---- decode ----------------------------------------------------------------------------------

/**
 * Decodes a parsed wire value into live JS values, in place. `ctx` = { functions, onUnknownClass }.
 * The core has already validated the shape, so this trusts tag payloads.
 */
function decode(v, ctx) {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) {
    let holes = false
    for (let i = 0; i < v.length; i++) {
      const x = v[i]
      if (typeof x === 'object' && x !== null) {
        if (x[TAG] === '_' && !Array.isArray(x)) holes = true
        else v[i] = decode(x, ctx)
      }
    }
    if (holes) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i]
        if (typeof x === 'object' && x !== null && !Array.isArray(x) && x[TAG] === '_') delete v[i]
      }
    }
    return v
  }
  const tag = v[TAG]
  if (tag === undefined) return decodeProps(v, ctx)
  return decodeTag(tag, v.v, ctx)
}

function decodeProps(v, ctx) {
  for (const k in v) {
    const x = v[k]
    if (typeof x === 'object' && x !== null) v[k] = decode(x, ctx)
  }
  return v
}

function decodeTag(tag, d, ctx) {
  switch (tag) {
    case 'u': return undefined
    case 'n': return d === '-0' ? -0 : Number(d)
    case 'B': return BigInt(d)
    case 'D': return new Date(d === null ? NaN : d)
    case 'R': return new RegExp(d[0], d[1])
    case 'M': {
      const m = new Map()
      for (const [k, x] of d) m.set(decode(k, ctx), decode(x, ctx))
      return m
    }
    case 'S': {
      const s = new Set()
      for (const x of d) s.add(decode(x, ctx))
      return s
    }
    case 'o': return decodeProps(d, ctx)
    case 'N': {
      const o = Object.create(null)
      for (const k of Object.keys(d)) o[k] = decode(d[k], ctx)
      return o
    }
    case 'AB': {
      const b = Buffer.from(d, 'base64')
      const ab = new ArrayBuffer(b.length)
      new Uint8Array(ab).set(b)
      return ab
    }
    case 'Buf': return Buffer.from(d, 'base64')
    case 'TA': {
      const b = Buffer.from(d[1], 'base64')
      const ab = new ArrayBuffer(b.length)
      new Uint8Array(ab).set(b)
      const Ctor = TYPED[d[0]]
      return new Ctor(ab)
    }
    case 'C': {
      const reg = classes.byName.get(d[0])
      const data = decode(d[1], ctx)
      if (!reg) {
        if (ctx.onUnknownClass) ctx.onUnknownClass(d[0])
        return data
      }
      return reg.deserialize(data)
    }
    case 'E': return new EventTarget()
    case 'F':
      if (!ctx.functions) throw new TypeError('function received but functions are disabled')
      // Only reached when this process chose { functions: true }: running peer code is opt-in.
      // eslint-disable-next-line no-new-func
      return new Function(`return (${d})`)()
    default:
      throw new TypeError(`unknown tag ${tag}`)
  }
}

/**
 * A fresh live copy of an encoded value (what `decode(JSON.parse(JSON.stringify(enc)))` gives,
 * without the text round trip). `enc` may share objects with the user's value, so nothing is
 * modified in place.
 */
function decodeCopy(v, ctx) {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) {
    const out = new Array(v.length)
    for (let i = 0; i < v.length; i++) {
      const x = v[i]
      if (typeof x !== 'object' || x === null) out[i] = x
      else if (!Array.isArray(x) && x[TAG] === '_') continue
      else out[i] = decodeCopy(x, ctx)
    }
    return out
  }
  const tag = v[TAG]
  if (tag === undefined) return copyProps(v, ctx)
  if (tag === 'o') return copyProps(v.v, ctx)
  if (tag === 'C' && v[ORIGINAL] !== undefined) return v[ORIGINAL]
  // Tag payloads are small or rebuilt anyway; the in-place decoder is fine on a structured copy.
  return decodeTag(tag, structuredClone(v.v), ctx)
}

function copyProps(v, ctx) {
  const out = {}
  for (const k in v) {
    const x = v[k]
    out[k] = typeof x !== 'object' || x === null ? x : decodeCopy(x, ctx)
  }
  return out
}

// ---- plain copies --------------------------------------------------------------------------

/** What `copyPlain` returns for a value that needs the full encoder. */
const NOT_PLAIN = Symbol('not plain')

/**
 * A fresh copy of `v` if it is plain JSON data that encodes as itself (plain objects and dense
 * arrays of well-formed strings, finite numbers, booleans and null, no reserved or tag keys),
 * else NOT_PLAIN. One walk instead of encode + copy, and the copy's JSON is the wire form, so
 * it can be written later, many values at once. Anything unusual (a cycle included: it runs
 * into `depth`) is left to `encode`, which names the problem exactly.
 */
function copyPlain(v, depth) {
  return typeof v === 'object' ? copyPlainObject(v, depth) : copyPlainLeaf(v)
}

function copyPlainLeaf(v) {
  if (typeof v === 'string') return v.isWellFormed() ? v : NOT_PLAIN
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0) ? v : NOT_PLAIN
  return typeof v === 'boolean' ? v : NOT_PLAIN
}

// Leaves are copied inline rather than by a call each: most values are small records of
// strings and numbers, and a process's first thousands of writes run before the JIT has warmed.
function copyPlainObject(v, depth) {
  if (v === null) return null
  if (depth === 0 || RAW.has(v)) return NOT_PLAIN
  if (Array.isArray(v)) {
    const n = v.length
    const out = new Array(n)
    for (let i = 0; i < n; i++) {
      if (!(i in v)) return NOT_PLAIN
      let x = v[i]
      if (typeof x === 'object') x = copyPlainObject(x, depth - 1)
      else if (typeof x !== 'string' || !x.isWellFormed()) x = copyPlainLeaf(x)
      if (x === NOT_PLAIN) return NOT_PLAIN
      out[i] = x
    }
    return out
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return NOT_PLAIN
  const out = {}
  for (const k in v) {
    if (RESERVED.has(k) || k === TAG || !k.isWellFormed()) return NOT_PLAIN
    let x = v[k]
    if (typeof x === 'object') x = copyPlainObject(x, depth - 1)
    else if (typeof x !== 'string' || !x.isWellFormed()) x = copyPlainLeaf(x)
    if (x === NOT_PLAIN) return NOT_PLAIN
    out[k] = x
  }
  return out
}

/** Resolves a Map key / Set member reference from the wire against a live container. */
function resolveKeyRef(container, ref, ctx) {
  if (ref !== null && typeof ref === 'object' && ref[TAG] === '#' && !Array.isArray(ref)) {
    let i = 0
    for (const x of container.keys()) {
      if (i === ref.v) return { found: true, key: x }
      i++
    }
    return { found: false }
  }
  return { found: true, key: decode(ref, ctx) }
}

module.exports = {
  RAW, TAG, RESERVED, NOT_PLAIN, copyPlain, registerClass, classOf, classes, encode, encodeKeyRef, decode, decodeCopy, resolveKeyRef, formatPath,
}
