'use strict'
// Live proxies over the shared values. One handler object per kind (object, array, Map, Set,
// registered class); per-proxy state lives in the META side table, so user objects stay untouched
// and a child proxy is created once (`a.b === a.b`). A trap records an intent-level op (push is
// one append, Map#set one mapSet) with the value encoded at that moment, applies the change to the
// target and returns: nothing crosses into Rust per mutation.

const { RAW, RESERVED, NOT_PLAIN, encode, encodeKeyRef, copyPlain, classOf } = require('./codec')
const { iposError } = require('./errors')
const { writeOp } = require('./ops')
const { MAX_GAP } = require('./limits')

/** target -> { owner, parent, seg, field, proxy }. `parent === null` marks a field's root value. */
const META = new WeakMap()

// Exported before the collection handlers load: they need these helpers, and function
// declarations are hoisted, so the circular require sees them complete.
module.exports = { raw, child, fieldProxy, pathOf, snapshot, META }
const { MAP, SET, CLASS, EVENT_TARGET } = require('./collections')


/** The raw target behind a proxy, or the value itself. */
function raw(v) {
  if (typeof v !== 'object' || v === null) return v
  const t = RAW.get(v)
  return t === undefined ? v : t
}

function kindOf(v) {
  if (Array.isArray(v)) return ARRAY
  const proto = Object.getPrototypeOf(v)
  if (proto === Object.prototype || proto === null) return OBJECT
  if (v instanceof Map) return MAP
  if (v instanceof Set) return SET
  if (classOf(v)) return CLASS
  if (proto.constructor === EventTarget) return EVENT_TARGET
  return null
}

/** The proxy for `v` reached from `parent` through `seg` (a value that is not a container is returned as is). */
function child(owner, parent, seg, v) {
  if (typeof v !== 'object' || v === null) return v
  let m = META.get(v)
  if (m === undefined) {
    const handler = kindOf(v)
    if (handler === null) return v
    m = { owner, parent, seg, field: null, proxy: new Proxy(v, handler), path: undefined }
    META.set(v, m)
    RAW.set(m.proxy, v)
  } else {
    m.parent = parent
    m.seg = seg
  }
  return m.proxy
}

/** The proxy for the root value of field `key`. */
function fieldProxy(owner, key, v) {
  if (typeof v !== 'object' || v === null) return v
  let m = META.get(v)
  if (m === undefined) {
    const handler = kindOf(v)
    if (handler === null) return v
    m = { owner, parent: null, seg: null, field: key, proxy: new Proxy(v, handler), path: undefined }
    META.set(v, m)
    RAW.set(m.proxy, v)
  } else {
    m.parent = null
    m.field = key
  }
  return m.proxy
}

function positionIn(set, member) {
  let i = 0
  for (const x of set) {
    if (x === member) return i
    i++
  }
  return -1
}

/**
 * Where `t` sits in the shared state: `{ owner, key, wire, fmt }`, or null when it is no longer
 * part of it (removed, replaced, or its field deleted). Each link is verified, so a stale parent
 * pointer can never send an op to the wrong place; an array index is re-found when elements moved.
 */
function pathOf(t) {
  let m = META.get(t)
  if (m === undefined) return null
  // Every write finds its path before it changes anything: the moment to write out pushed copies
  // that this write could reach into.
  m.owner.outbox.seal(t)
  const wire = []
  const fmt = []
  let cur = t
  while (m.parent !== null) {
    const p = m.parent
    const seg = m.seg
    if (Array.isArray(p)) {
      let i = seg
      if (p[i] !== cur) {
        i = p.indexOf(cur)
        if (i < 0) return null
        m.seg = i
      }
      wire.push(i)
      fmt.push(i)
    } else if (p instanceof Map) {
      if (p.get(seg) !== cur) return null
      wire.push(encodeKeyRef(p, seg, m.owner.opts))
      fmt.push({ get: seg, in: p })
    } else if (p instanceof Set) {
      const i = positionIn(p, cur)
      if (i < 0) return null
      wire.push(i)
      fmt.push({ member: i })
    } else {
      if (p[seg] !== cur) return null
      wire.push(seg)
      fmt.push(seg)
    }
    cur = p
    m = META.get(p)
    if (m === undefined) return null
  }
  if (m.owner.closed || m.owner.fields.get(m.field) !== cur) return null
  wire.reverse()
  fmt.reverse()
  return { owner: m.owner, key: m.field, wire, fmt }
}

/** Encodes `v` to JSON for the op and returns `[json, stored]`: the stored value is a fresh copy. */
function snapshot(owner, v, key, fmt) {
  const enc = encode(v, { key, segs: fmt }, owner.opts)
  const json = JSON.stringify(enc)
  if (typeof v !== 'object' || v === null) return [json, v]
  return [json, owner.decodeCopy(enc)]
}

function checkKey(path, p) {
  if (p.length > 8 && RESERVED.has(p)) {
    throw iposError(TypeError, 'ERR_IPOS_RESERVED_KEY', `the key "${p}" cannot be shared (it could rewrite prototypes in other processes) at \`${path.owner.where(path.key, path.fmt.concat(p))}\``)
  }
}

// ---- plain and null-prototype objects ---------------------------------------------------------

const OBJECT = {
  get(t, p) {
    const v = t[p]
    if (typeof v !== 'object' || v === null || typeof p === 'symbol') return v
    return child(META.get(t).owner, t, p, v)
  },
  set(t, p, v) {
    const path = typeof p === 'symbol' ? null : pathOf(t)
    if (path === null) {
      t[p] = v
      return true
    }
    checkKey(path, p)
    const owner = path.owner
    const copy = copyPlain(v, owner.opts.maxDepth)
    if (copy !== NOT_PLAIN) {
      t[p] = copy
      path.wire.push(p)
      owner.outbox.value('s', path.key, path.wire, copy, t, path.fmt, p)
      return true
    }
    let json
    let stored = v
    if (typeof v !== 'object' || v === null) json = JSON.stringify(encode(v, { key: path.key, segs: path.fmt, last: p }, owner.opts))
    else [json, stored] = snapshot(owner, v, path.key, path.fmt.concat(p))
    t[p] = stored
    const wire = path.wire.length === 0 ? `[${JSON.stringify(p)}]` : JSON.stringify(path.wire.concat(p))
    owner.outbox.add(writeOp('s', owner.outbox.keyJson(path.key), wire, json), 's', path.key, path.fmt, undefined, p)
    return true
  },
  deleteProperty(t, p) {
    if (!Object.prototype.hasOwnProperty.call(t, p)) return true
    const path = typeof p === 'symbol' ? null : pathOf(t)
    delete t[p]
    if (path !== null) {
      path.wire.push(p)
      path.owner.outbox.value('d', path.key, path.wire, undefined, t, path.fmt, p)
    }
    return true
  },
}

// ---- arrays -----------------------------------------------------------------------------------

const INDEX = /^(?:0|[1-9]\d*)$/

/** Throws before an array grows past `maxArrayLength` (the receivers would refuse it). */
function checkLength(owner, path, len) {
  const max = owner.opts.maxArrayLength
  if (len > max) throw iposError(RangeError, 'ERR_IPOS_LIMIT', `a shared array cannot grow to ${len} elements, more than maxArrayLength (${max}), at \`${owner.where(path.key, path.fmt)}\``)
}

/**
 * Records a splice and applies it; items are encoded before anything changes. An append
 * (`push`) or prepend (`unshift`) travels as such (`a` / `u`), not as a splice at an index that
 * a concurrent writer may have made stale by the time the root orders it.
 */
function spliceArray(t, start, deleteCount, items, end) {
  const path = pathOf(t)
  if (path === null) return t.splice(start, deleteCount, ...items)
  const owner = path.owner
  checkLength(owner, path, t.length - deleteCount + items.length)
  const jsons = new Array(items.length)
  const stored = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    const [json, s] = snapshot(owner, items[i], path.key, path.fmt.concat(start + i))
    jsons[i] = json
    stored[i] = s
  }
  const removed = bigSplice(t, start, deleteCount, stored)
  if (end !== undefined) owner.outbox.record(end, path.key, path.wire, path.fmt, `[${jsons.join(',')}]`)
  else owner.outbox.record('p', path.key, path.wire, path.fmt, `${start},${deleteCount},[${jsons.join(',')}]`)
  return removed
}

/** `Array#splice` without spreading a huge argument list onto the stack. */
function bigSplice(t, start, deleteCount, items) {
  if (deleteCount === 0 && start === t.length) {
    // Appending (push) is by far the most common splice; Array#push is much cheaper.
    for (let i = 0; i < items.length; i++) t.push(items[i])
    return []
  }
  if (items.length < 10000) return t.splice(start, deleteCount, ...items)
  const tail = t.splice(start)
  const removed = tail.splice(0, deleteCount)
  for (const x of items) t.push(x)
  for (const x of tail) t.push(x)
  return removed
}

function relIndex(i, len, dflt) {
  if (i === undefined) return dflt
  i = Math.trunc(Number(i)) || 0
  return i < 0 ? Math.max(len + i, 0) : Math.min(i, len)
}

/** Before an in-place reordering, which finds its path only after (see Outbox#seal). */
function sealFor(t) {
  const m = META.get(t)
  if (m !== undefined) m.owner.outbox.seal(t)
}

/** Rewrites a whole array after an in-place reordering method; the core derives the smallest op. */
function reordered(t) {
  const path = pathOf(t)
  if (path === null) return
  const enc = encode(t, { key: path.key, segs: path.fmt }, path.owner.opts)
  path.owner.outbox.record('r', path.key, path.wire, path.fmt, JSON.stringify(enc), 'reorder')
}

const NO_SEGS = Object.freeze([])

/**
 * `pathOf(t)` for a caller that only reads the path: a field's root value (the common case of a
 * push) gets one path kept in its META entry instead of three new objects per write.
 */
function readPathOf(t) {
  const m = META.get(t)
  if (m === undefined || m.parent !== null) return pathOf(t)
  const owner = m.owner
  owner.outbox.seal(t)
  if (owner.closed || owner.fields.get(m.field) !== t) return null
  let path = m.path
  if (path === undefined || path.key !== m.field) path = m.path = { owner, key: m.field, wire: NO_SEGS, fmt: NO_SEGS }
  return path
}

/** `push(x)`, the most common write of all, without the general splice's arrays. */
function pushOne(t, item) {
  const path = readPathOf(t)
  if (path === null) return t.push(item)
  const owner = path.owner
  const i = t.length
  checkLength(owner, path, i + 1)
  const copy = copyPlain(item, owner.opts.maxDepth)
  if (copy !== NOT_PLAIN) {
    t.push(copy)
    owner.outbox.push(t, path, undefined, copy)
    return t.length
  }
  const enc = encode(item, { key: path.key, segs: path.fmt, last: i }, owner.opts)
  const json = JSON.stringify(enc)
  t.push(typeof item === 'object' && item !== null ? owner.decodeCopy(enc) : item)
  owner.outbox.push(t, path, json)
  return t.length
}

const ARRAY_METHODS = {
  push(item) {
    const t = raw(this)
    // No rest parameter: one push is one call, and it should not make an array per call.
    if (arguments.length === 1) return pushOne(t, item)
    if (arguments.length) spliceArray(t, t.length, 0, Array.prototype.slice.call(arguments), 'a')
    return t.length
  },
  pop() {
    const t = raw(this)
    if (t.length === 0) return undefined
    return spliceArray(t, t.length - 1, 1, [])[0]
  },
  shift() {
    const t = raw(this)
    if (t.length === 0) return undefined
    return spliceArray(t, 0, 1, [])[0]
  },
  unshift(...items) {
    const t = raw(this)
    if (items.length) spliceArray(t, 0, 0, items, 'u')
    return t.length
  },
  splice(start, deleteCount, ...items) {
    const t = raw(this)
    const len = t.length
    const s = relIndex(start, len, 0)
    let dc
    if (arguments.length === 0) dc = 0
    else if (arguments.length === 1) dc = len - s
    else dc = Math.min(Math.max(Math.trunc(Number(deleteCount)) || 0, 0), len - s)
    return spliceArray(t, s, dc, items)
  },
  sort(cmp) {
    const t = raw(this)
    sealFor(t)
    t.sort(cmp)
    reordered(t)
    return this
  },
  reverse() {
    const t = raw(this)
    sealFor(t)
    t.reverse()
    reordered(t)
    return this
  },
  fill(value, start, end) {
    const t = raw(this)
    const path = pathOf(t)
    if (path !== null) encode(value, { key: path.key, segs: path.fmt }, path.owner.opts)
    const stored = path === null ? value : snapshot(path.owner, value, path.key, path.fmt)[1]
    t.fill(stored, start, end)
    if (typeof stored === 'object' && stored !== null) {
      // One object filled into many slots would be aliased; give each slot its own copy.
      const s = relIndex(start, t.length, 0)
      const e = relIndex(end, t.length, t.length)
      for (let i = s + 1; i < e; i++) t[i] = snapshot(path.owner, value, path.key, path.fmt)[1]
    }
    reordered(t)
    return this
  },
  copyWithin(target, start, end) {
    const t = raw(this)
    sealFor(t)
    t.copyWithin(target, start, end)
    reordered(t)
    return this
  },
}

const ARRAY = {
  get(t, p) {
    if (typeof p === 'string' && Object.prototype.hasOwnProperty.call(ARRAY_METHODS, p)) return ARRAY_METHODS[p]
    const v = t[p]
    if (typeof v !== 'object' || v === null || typeof p === 'symbol') return v
    return child(META.get(t).owner, t, INDEX.test(p) ? Number(p) : p, v)
  },
  set(t, p, v) {
    const isIndex = typeof p === 'string' && INDEX.test(p)
    const path = isIndex || p === 'length' ? pathOf(t) : null
    if (path === null) {
      t[p] = v
      return true
    }
    const owner = path.owner
    if (p === 'length') {
      const n = Number(v)
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw iposError(RangeError, 'ERR_IPOS_OUT_OF_RANGE', `Invalid array length ${String(v)} at \`${owner.where(path.key, path.fmt)}\``)
      if (n > t.length + MAX_GAP) throw iposError(RangeError, 'ERR_IPOS_OUT_OF_RANGE', `cannot grow a shared array by more than ${MAX_GAP} holes at \`${owner.where(path.key, path.fmt)}\``)
      if (n === t.length) return true
      if (n > t.length) {
        checkLength(owner, path, n)
        owner.outbox.makeHoles(n - t.length)
      }
      t.length = n
      owner.outbox.record('s', path.key, path.wire.concat('length'), path.fmt.concat('length'), String(n))
      return true
    }
    const i = Number(p)
    if (i >= t.length + MAX_GAP) throw iposError(RangeError, 'ERR_IPOS_OUT_OF_RANGE', `index ${i} is more than ${MAX_GAP} past the end of a shared array at \`${owner.where(path.key, path.fmt)}\``)
    const copy = copyPlain(v, owner.opts.maxDepth)
    let json
    let stored = copy
    if (copy === NOT_PLAIN) [json, stored] = snapshot(owner, v, path.key, path.fmt.concat(i))
    if (i >= t.length) {
      checkLength(owner, path, i + 1)
      owner.outbox.makeHoles(i - t.length)
    }
    t[i] = stored
    if (copy !== NOT_PLAIN) {
      path.wire.push(i)
      owner.outbox.value('s', path.key, path.wire, copy, t, path.fmt, i)
    } else owner.outbox.record('s', path.key, path.wire.concat(i), path.fmt.concat(i), json)
    return true
  },
  deleteProperty(t, p) {
    if (!Object.prototype.hasOwnProperty.call(t, p)) return true
    const path = typeof p === 'string' && INDEX.test(p) ? pathOf(t) : null
    delete t[p]
    if (path !== null) {
      path.wire.push(Number(p))
      path.owner.outbox.value('d', path.key, path.wire, undefined, t, path.fmt, Number(p))
    }
    return true
  },
}
