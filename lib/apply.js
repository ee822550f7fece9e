'use strict'
// Applies ops that the core has validated to the live objects, in place, so that references user
// code holds keep seeing the shared state. The semantics match crates/ipos-core/src/apply.rs
// (docs/PROTOCOL.md); the core checked every path against its mirror before JS gets here.

const { TAG, resolveKeyRef, classOf } = require('./codec')

const KIND = {
  c: 'create', x: 'remove', s: 'set', d: 'delete', p: 'splice', a: 'splice', u: 'splice', ms: 'mapSet', md: 'mapDelete',
  sa: 'setAdd', sd: 'setDelete', cl: 'clear', r: 'reset', ev: 'dispatch',
}

function nth(set, i) {
  let j = 0
  for (const x of set) {
    if (j === i) return x
    j++
  }
  return undefined
}

/** One step down from `cur`; returns [value, jsSegment]. */
function step(cur, seg, ctx) {
  if (cur instanceof Map) {
    const r = resolveKeyRef(cur, seg, ctx)
    return [cur.get(r.key), r.key]
  }
  if (cur instanceof Set) return [nth(cur, seg), seg]
  return [cur[seg], seg]
}

/**
 * Keeps a live registered-class instance when the new value is an instance of the same class:
 * its own properties are replaced, so references to it stay valid.
 */
function replaceValue(old, neu) {
  if (typeof old === 'object' && old !== null && typeof neu === 'object' && neu !== null) {
    const reg = classOf(old)
    if (reg && classOf(neu) === reg && Object.getPrototypeOf(old) === Object.getPrototypeOf(neu)) {
      for (const k of Object.keys(old)) if (!Object.prototype.hasOwnProperty.call(neu, k)) delete old[k]
      Object.assign(old, neu)
      return old
    }
  }
  return neu
}

/** A big splice without spreading the items onto the stack. */
function spliceIn(arr, index, del, items) {
  if (items.length < 10000) {
    arr.splice(index, del, ...items)
    return
  }
  const tail = arr.splice(index)
  tail.splice(0, del)
  for (const x of items) arr.push(x)
  for (const x of tail) arr.push(x)
}

/**
 * Applies `ops` (parsed wire ops) to `fields` (Map of field name -> live value). `ctx` has
 * `decode`. Calls `emit(key, jsPath, kind)` per op when given.
 */
function applyOps(fields, ops, ctx, emit) {
  for (let i = 0; i < ops.length; i++) applyOp(fields, ops[i], ctx, emit)
}

function applyOp(fields, op, ctx, emit) {
  const code = op[0]
  const key = op[1]
  if (code === 'c') {
    fields.set(key, replaceValue(fields.get(key), ctx.decode(op[2])))
    if (emit) emit(key, [], 'create')
    return
  }
  if (code === 'x') {
    fields.delete(key)
    if (emit) emit(key, [], 'remove')
    return
  }
  const path = op[2]
  const last = code === 's' || code === 'd' ? path.length - 1 : path.length
  const js = emit ? [] : null
  let cur = fields.get(key)
  for (let i = 0; i < last; i++) {
    const [next, seg] = step(cur, path[i], ctx)
    if (js) js.push(seg)
    cur = next
  }
  switch (code) {
    case 's': {
      const k = path[last]
      if (js) js.push(k)
      if (Array.isArray(cur) && k === 'length') cur.length = op[3]
      else cur[k] = replaceValue(cur[k], ctx.decode(op[3]))
      break
    }
    case 'd': {
      const k = path[last]
      if (js) js.push(k)
      delete cur[k]
      break
    }
    case 'p':
      spliceIn(cur, op[3], op[4], ctx.decode(op[5]))
      break
    case 'a': {
      const items = ctx.decode(op[3])
      for (let j = 0; j < items.length; j++) cur.push(items[j])
      break
    }
    case 'u':
      spliceIn(cur, 0, 0, ctx.decode(op[3]))
      break
    case 'ms': {
      // One or more key/value pairs, set in order.
      for (let j = 3; j < op.length; j += 2) {
        const ref = op[j]
        const v = op[j + 1]
        // A primitive key and value are used as parsed (the common case: nothing to resolve,
        // decode or keep).
        const k = typeof ref === 'object' && ref !== null ? resolveKeyRef(cur, ref, ctx).key : ref
        cur.set(k, typeof v === 'object' && v !== null ? replaceValue(cur.get(k), ctx.decode(v)) : v)
        if (emit) emit(key, js.concat(k), 'mapSet')
      }
      return
    }
    case 'mm': {
      // Patch only (never on the wire): these keys back to the end of the Map, values kept.
      const keys = op[3]
      for (let j = 0; j < keys.length; j++) {
        let k = keys[j]
        if (typeof k === 'object' && k !== null) {
          const r = resolveKeyRef(cur, k, ctx)
          if (!r.found) continue
          k = r.key
        }
        const v = cur.get(k)
        if (v === undefined && !cur.has(k)) continue
        cur.delete(k)
        cur.set(k, v)
      }
      return
    }
    case 'mp': {
      // Patch only, like `mm`, for many moves: the entries at these places (as the Map stands
      // before the first move) go to the end in this order. One pass finds them, with the keys
      // the Map holds, so nothing is hashed again to look them up.
      const places = op[3]
      const size = cur.size
      const turn = new Int32Array(size).fill(-1)
      for (let j = 0; j < places.length; j++) {
        const p = places[j]
        if (Number.isInteger(p) && p >= 0 && p < size) turn[p] = j
      }
      const keys = new Array(places.length)
      const values = new Array(places.length)
      let at = 0
      cur.forEach((v, k) => {
        const j = turn[at++]
        if (j >= 0) {
          keys[j] = k
          values[j] = v
        }
      })
      for (let j = 0; j < places.length; j++) {
        if (turn[places[j]] !== j) continue // a place out of range, or named twice
        cur.delete(keys[j])
        cur.set(keys[j], values[j])
      }
      return
    }
    case 'md': {
      const r = resolveKeyRef(cur, op[3], ctx)
      if (r.found) {
        if (js) js.push(r.key)
        cur.delete(r.key)
      }
      break
    }
    case 'sa':
      cur.add(ctx.decode(op[3]))
      break
    case 'sd': {
      const ref = op[3]
      if (ref !== null && typeof ref === 'object' && ref[TAG] === '#') cur.delete(nth(cur, ref.v))
      else cur.delete(ctx.decode(ref))
      break
    }
    case 'cl':
      cur.clear()
      break
    case 'ev': {
      const ev = toEvent(ctx.decode(op[3]))
      if (ev !== null) cur.dispatchEvent(ev)
      break
    }
    default:
      throw new TypeError(`unknown op ${code}`)
  }
  if (emit) emit(key, js, KIND[code])
}

/**
 * The event to dispatch for a shared `dispatchEvent`: a registered event class arrives rebuilt;
 * an `Event` or `CustomEvent` travels as `{ type, detail? }` and is rebuilt here.
 */
function toEvent(v) {
  if (v instanceof Event) return v
  if (v === null || typeof v !== 'object' || typeof v.type !== 'string') return null
  return 'detail' in v ? new CustomEvent(v.type, { detail: v.detail }) : new Event(v.type)
}

module.exports = { applyOps, KIND }
