'use strict'
// `ipos[key] = value` where `value` reuses parts of the live value (`{ ...ipos.big, k5: x }`,
// `[...ipos.list, item]`): parts that are the very same objects cannot have changed, so they are
// not encoded, sent across the boundary or re-parsed. What is left becomes `r` ops at the paths
// that differ (the core still computes the actual difference there), plus deletes and splices
// for keys and elements that went away or arrived. Nothing here changes any state.

const { RAW, RESERVED, encode } = require('./codec')
const { iposError } = require('./errors')
const { writeOp } = require('./ops')

const MAX_DEPTH = 64

function raw(v) {
  if (typeof v !== 'object' || v === null) return v
  const t = RAW.get(v)
  return t === undefined ? v : t
}

function isPlain(v) {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const p = Object.getPrototypeOf(v)
  return p === Object.prototype || p === null
}

/**
 * The ops (JSON strings) that turn the live `old` into `neu` for field `key`: `r` ops where
 * something differs, `d` for removed keys, `p` for array elements that came or went.
 */
function resetOps(state, key, old, neu) {
  const out = []
  const keyJson = JSON.stringify(key)
  walk(state, keyJson, key, old, raw(neu), [], out, 0)
  return out
}

function assign(state, keyJson, key, path, v, out) {
  const json = JSON.stringify(encode(v, { key, segs: path }, state.opts))
  out.push(writeOp('r', keyJson, path, json))
}

function walk(state, keyJson, key, old, neu, path, out, depth) {
  if (Object.is(old, neu)) return
  if (depth < MAX_DEPTH && isPlain(old) && isPlain(neu) && Object.getPrototypeOf(old) === Object.getPrototypeOf(neu) && !('~' in neu)) {
    if (objectOps(state, keyJson, key, old, neu, path, out, depth)) return
  } else if (depth < MAX_DEPTH && Array.isArray(old) && Array.isArray(neu)) {
    if (arrayOps(state, keyJson, key, old, neu, path, out, depth)) return
  }
  assign(state, keyJson, key, path, neu, out)
}

/** Returns false when the key order would come out different: the caller then assigns whole. */
function objectOps(state, keyJson, key, old, neu, path, out, depth) {
  const newKeys = Object.keys(neu)
  const oldKeys = Object.keys(old)
  for (const k of newKeys) {
    if (RESERVED.has(k)) {
      throw iposError(TypeError, 'ERR_IPOS_RESERVED_KEY', `the key "${k}" cannot be shared (it could rewrite prototypes in other processes) at \`${state.where(key, path.concat(k))}\``)
    }
  }
  let same = newKeys.length >= oldKeys.length
  for (let i = 0; same && i < oldKeys.length; i++) same = newKeys[i] === oldKeys[i]
  if (same) {
    // The usual case (`{ ...old, k: v }`): every old key kept, in order, new ones at the end.
    for (let i = 0; i < newKeys.length; i++) {
      const k = newKeys[i]
      const v = raw(neu[k])
      if (i >= oldKeys.length) assign(state, keyJson, key, path.concat(k), v, out)
      else {
        const ov = old[k]
        if (!Object.is(v, ov)) walk(state, keyJson, key, ov, v, path.concat(k), out, depth + 1)
      }
    }
    return true
  }
  // After deletes and appends the order is: surviving old keys, then new ones. It must be neu's.
  let j = 0
  for (const k of oldKeys) {
    if (!Object.prototype.hasOwnProperty.call(neu, k)) continue
    if (newKeys[j++] !== k) return false
  }
  for (const k of oldKeys) {
    if (!Object.prototype.hasOwnProperty.call(neu, k)) out.push(writeOp('d', keyJson, path.concat(k)))
  }
  for (const k of newKeys) {
    const nv = raw(neu[k])
    const ov = old[k]
    if (Object.is(nv, ov) && Object.prototype.hasOwnProperty.call(old, k)) continue // the same object or value: nothing changed below
    if (Object.prototype.hasOwnProperty.call(old, k)) walk(state, keyJson, key, ov, nv, path.concat(k), out, depth + 1)
    else assign(state, keyJson, key, path.concat(k), nv, out)
  }
  return true
}

function arrayOps(state, keyJson, key, old, neu, path, out, depth) {
  const n = neu.length
  const o = old.length
  let pre = 0
  while (pre < n && pre < o && Object.is(raw(neu[pre]), old[pre]) && (pre in neu) === (pre in old)) pre++
  let suf = 0
  while (suf < n - pre && suf < o - pre && Object.is(raw(neu[n - 1 - suf]), old[o - 1 - suf]) && ((n - 1 - suf) in neu) === ((o - 1 - suf) in old)) suf++
  if (n === o) {
    for (let i = pre; i < n - suf; i++) {
      if (!(i in neu) || !(i in old)) return false
      walk(state, keyJson, key, old[i], raw(neu[i]), path.concat(i), out, depth + 1)
    }
    return true
  }
  const items = []
  for (let i = pre; i < n - suf; i++) {
    if (!(i in neu)) return false
    items.push(JSON.stringify(encode(raw(neu[i]), { key, segs: path.concat(i) }, state.opts)))
  }
  out.push(writeOp('p', keyJson, path, `${pre},${o - pre - suf},[${items.join(',')}]`))
  return true
}

module.exports = { resetOps }
