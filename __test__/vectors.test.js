'use strict'
// The shared vectors of docs/vectors/: the same files run in crates/ipos-core/tests/vectors.rs
// against the core, and here against the JS front (lib/codec.js encodes and decodes, lib/apply.js
// applies ops to live values) and the binding (the core's verdicts and codes as JS sees them).
// A vector that fails on either side fails the suite.
const { test } = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const path = require('path')
const { isDeepStrictEqual } = require('util')

const codec = require('../lib/codec')
const { applyOps } = require('../lib/apply')
const { Core, limits } = require('../lib/native')

const DIR = path.join(__dirname, '..', 'docs', 'vectors')
const load = (name) => JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8'))
const vectors = (name) => {
  const v = load(name).vectors
  assert.ok(Array.isArray(v) && v.length > 0, `${name} has vectors`)
  return v
}
const L = limits()

/** The registered class every vector may use. */
class Point {
  constructor(x, y) {
    this.x = x
    this.y = y
  }
}
codec.registerClass(Point, (p) => ({ x: p.x, y: p.y }), (d) => new Point(d.x, d.y))

// eslint-disable-next-line no-new-func
const evaluate = (js) => new Function('Point', `return (${js})`)(Point)
const copy = (j) => JSON.parse(JSON.stringify(j))

function options(v) {
  const o = v.options || {}
  return { functions: !!(o.functions || v.functions), maxDepth: o.maxDepth ?? L.maxDepth }
}

function decodeCtx(v) {
  const ctx = {
    functions: options(v).functions,
    onUnknownClass: (name) => assert.fail(`unknown class ${name}`),
    decode: (x) => codec.decode(x, ctx),
  }
  return ctx
}

function core(v) {
  const o = v.options || {}
  const c = new Core({
    maxFrameBytes: o.maxFrameBytes,
    maxDepth: o.maxDepth,
    functions: options(v).functions,
    maxArrayLength: o.maxArrayLength,
  })
  c.setOrigin('aa')
  return c
}

const encodeText = (value, v) => JSON.stringify(codec.encode(value, { key: 'v', segs: [] }, options(v)))

/** An error from the core through the binding: its code, and the path it names. */
function coreError(code, at) {
  return (e) => {
    assert.strictEqual(e.code, code, `code of: ${e.message}`)
    if (at !== undefined) {
      assert.ok(e.message.startsWith(`\`${at}\`: `) || e.message.includes(`: \`${at}\`: `), `${e.message} names \`${at}\``)
    }
    return true
  }
}

for (const v of vectors('values.json')) {
  test(`value: ${v.name}`, () => {
    const want = v.canonical ?? v.wire
    const value = evaluate(v.js)
    assert.strictEqual(encodeText(value, v), want, 'encoding the JS value')
    const decoded = codec.decode(JSON.parse(v.wire), decodeCtx(v))
    assert.strictEqual(encodeText(decoded, v), want, 'encoding what the wire text decodes to')
    if (typeof value === 'function') assert.strictEqual(String(decoded), String(value))
    else if (value instanceof Date) assert.ok(decoded instanceof Date && Object.is(decoded.getTime(), value.getTime()))
    else assert.ok(isDeepStrictEqual(decoded, value), 'the decoded value equals the JS value')
    // The core takes it in and hands it on unchanged.
    const c = core(v)
    c.local(`[["c","v",${v.wire}]]`)
    assert.strictEqual(c.dump(), `{"v":${want}}`)
  })
}

for (const v of vectors('bad-values.json')) {
  test(`refused value: ${v.name}`, () => {
    assert.ok(v.wire !== undefined || v.js !== undefined)
    if (v.wire !== undefined) {
      const c = core(v)
      assert.throws(() => c.local(`[["c","v",${v.wire}]]`), coreError(v.code, v.at))
      assert.strictEqual(c.dump(), '{}')
    }
    if (v.js !== undefined) {
      const value = evaluate(v.js)
      assert.throws(() => codec.encode(value, { key: 'v', segs: [] }, options(v)), (e) => {
        assert.strictEqual(e.code, v.code, e.message)
        assert.strictEqual(e.path, v.at, e.message)
        assert.ok(e.message.includes(`\`${v.at}\``), e.message)
        return true
      })
    }
  })
}

/** Walks a live value along wire segments, as lib/apply.js does. */
function walk(cur, segs, ctx) {
  for (const seg of segs) {
    if (cur instanceof Map) cur = cur.get(codec.resolveKeyRef(cur, seg, ctx).key)
    else if (cur instanceof Set) cur = [...cur][typeof seg === 'number' ? seg : seg.v]
    else cur = cur[seg]
  }
  return cur
}

for (const v of vectors('ops.json')) {
  test(`op: ${v.name}`, () => {
    const c = core(v)
    const ctx = decodeCtx(v)
    const state = Object.entries(v.state)
    if (state.length > 0) c.local(JSON.stringify(state.map(([k, x]) => ['c', k, x])))
    const before = c.dump()
    const batch = JSON.stringify(v.ops)
    if (v.error) {
      assert.throws(() => c.local(batch), coreError(v.error.code, v.error.at))
      assert.strictEqual(c.dump(), before, 'a refused batch changes nothing')
      return
    }
    c.local(batch)
    // The live values the core's verdict lets through, changed in place by lib/apply.js.
    const fields = new Map(state.map(([k, x]) => [k, codec.decode(copy(x), ctx)]))
    const seen = []
    for (const op of v.ops) {
      if (op[0] !== 'ev') continue
      const target = walk(fields.get(op[1]), op[2], ctx)
      target.addEventListener(op[3].type, (e) => seen.push({ path: op[2], type: e.type, detail: e.detail }))
    }
    applyOps(fields, copy(v.ops), ctx)
    assert.deepStrictEqual([...fields.keys()], Object.keys(v.result), 'field names in order')
    for (const [k, want] of Object.entries(v.result)) {
      const got = JSON.stringify(codec.encode(fields.get(k), { key: k, segs: [] }, options(v)))
      assert.strictEqual(got, JSON.stringify(want), `field ${k}`)
    }
    const events = (v.events || []).map((e) => ({ path: e.path, type: e.type, detail: 'detail' in e ? codec.decode(copy(e.detail), ctx) : undefined }))
    assert.deepStrictEqual(seen, events, 'events dispatched')
    assert.deepStrictEqual(JSON.parse(c.dump()), JSON.parse(JSON.stringify(v.result)), 'the core holds the same state')
  })
}

for (const v of vectors('frames.json')) {
  test(`refused frame: ${v.name}`, () => {
    const c = core(v)
    const state = Object.entries(v.state || {})
    if (v.role === 'child') c.receive(JSON.stringify({ t: 's', q: 0, f: state }), true)
    else if (state.length > 0) c.local(JSON.stringify(state.map(([k, x]) => ['c', k, x])))
    const before = [c.dump(), c.seq, c.pending, c.isRoot]
    assert.throws(() => c.receive(v.frame, v.fromParent), coreError(v.code))
    assert.deepStrictEqual([c.dump(), c.seq, c.pending, c.isRoot], before, 'a refused frame changes nothing')
  })
}

/** The JS segments (as lib/proxy.js builds them) for wire segments over a live value. */
function jsSegs(root, segs, ctx) {
  const out = []
  let cur = root
  for (const seg of segs) {
    if (Array.isArray(cur)) {
      out.push(seg)
      cur = cur[seg]
    } else if (cur instanceof Map) {
      const { key } = codec.resolveKeyRef(cur, seg, ctx)
      out.push({ get: key, in: cur })
      cur = cur.get(key)
    } else if (cur instanceof Set) {
      const i = typeof seg === 'number' ? seg : seg.v
      out.push({ member: i })
      cur = [...cur][i]
    } else {
      out.push(seg)
      cur = cur[seg]
    }
  }
  return out
}

for (const v of vectors('paths.json')) {
  test(`path: ${v.name}`, () => {
    const ctx = decodeCtx(v)
    const root = codec.decode(copy(v.root), ctx)
    assert.strictEqual(codec.formatPath(v.key, jsSegs(root, v.path, ctx)), v.text)
  })
}

test('limits: the binding hands JS the core limits of the vectors', () => {
  assert.deepStrictEqual({ ...L }, load('limits.json').limits)
  const lib = require('../lib/limits')
  assert.strictEqual(lib.MAX_GAP, L.maxGap)
  assert.strictEqual(lib.DEFAULT_MAX_DEPTH, L.maxDepth)
  assert.strictEqual(lib.DEFAULT_MAX_FRAME_BYTES, L.maxFrameBytes)
  assert.strictEqual(lib.MAX_NACK_CHARS, L.maxNackChars)
  assert.strictEqual(lib.DEFAULT_MAX_ARRAY_LENGTH, L.maxArrayLength)
})

test('paths: a write through live proxies names its place as the vectors spell it', () => {
  const IPOS = require('..')
  const ipos = IPOS.new()
  try {
    const key = {}
    ipos.create('state', { rooms: new Map([['lobby', new Set([{ users: [{}] }])], [key, new Map()]]) })
    const room = [...ipos.state.rooms.get('lobby')][0]
    assert.throws(() => { room.users[0].name = Symbol('x') }, (e) => {
      assert.strictEqual(e.code, 'ERR_IPOS_UNSHAREABLE')
      assert.strictEqual(e.path, 'state.rooms.get("lobby").values()[0].users[0].name')
      return true
    })
    const live = [...ipos.state.rooms.keys()][1] // the shared copy of `key`
    assert.throws(() => ipos.state.rooms.get(live).set(1, { a: Symbol('x') }), (e) => {
      assert.strictEqual(e.path, 'state.rooms.get(<key #1>).get(1).a')
      return true
    })
    assert.throws(() => ipos.state.rooms.set({}, [Symbol('x')]), (e) => {
      assert.strictEqual(e.path, 'state.rooms.get(<key #2>)[0]')
      return true
    })
  } finally {
    ipos.close()
  }
})
