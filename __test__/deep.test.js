'use strict'
// Deep tracking, identity, batching, diffs and change events with a real forked child.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const util = require('util')
const { spawnPeer, IPOS, framesIn } = require('./helpers')
const { raw } = require('../lib/proxy')

const show = (v) => util.inspect(raw(v), { depth: null, breakLength: Infinity })

let ipos
let peer
/** Frames and bytes ipos sent to the child (what Node's json channel writes). */
const wire = { frames: 0, bytes: 0 }

before(async () => {
  ipos = IPOS.new()
  peer = spawnPeer()
  await peer.up
  const send = peer.child.send
  peer.child.send = function (msg, ...rest) {
    if (msg && msg.cmd === 'NODE_IPOS') {
      wire.frames += framesIn(msg).length
      wire.bytes += JSON.stringify(msg).length
    }
    return send.call(this, msg, ...rest)
  }
  await ipos.addProcess(peer.child)
})

after(() => {
  ipos.close()
  peer.kill()
})

/** Runs `mutate` here, flushes, and checks the child holds exactly the same field. */
async function parentToChild(key, initial, mutate) {
  ipos.create(key, initial)
  await ipos.flush()
  mutate(ipos[key])
  await ipos.flush()
  const there = await peer.call(`return show(ipos.get(${JSON.stringify(key)}))`)
  assert.strictEqual(there, show(ipos[key]))
  return there
}

/** Runs `code` in the child, flushes there, and checks this process holds the same field. */
async function childToParent(key, initial, code) {
  ipos.create(key, initial)
  await ipos.flush()
  const there = await peer.call(`const v = ipos.get(${JSON.stringify(key)}); ${code}; await ipos.flush(); return show(ipos.get(${JSON.stringify(key)}))`)
  assert.strictEqual(show(ipos[key]), there)
  return there
}

const CASES = [
  ['nested assignment', { a: { b: { c: 0 } } }, 'v.a.b.c = 1', '{ a: { b: { c: 1 } } }'],
  ['array element property', { list: [{}, {}, {}, { done: false }] }, 'v.list[3].done = true', null],
  ['push through Map#get', new Map([['k', []]]), "v.get('k').push('x', 'y')", "Map(1) { 'k' => [ 'x', 'y' ] }"],
  ['delete nested key', { o: { k: 1, j: 2 } }, 'delete v.o.k', '{ o: { j: 2 } }'],
  ['array length = 0', { arr: [1, 2, 3] }, 'v.arr.length = 0', '{ arr: [] }'],
  ['sort', { arr: [3, 1, 2, 5, 4] }, 'v.arr.sort()', '{ arr: [ 1, 2, 3, 4, 5 ] }'],
  ['reverse, fill, copyWithin', { arr: [1, 2, 3, 4, 5, 6] }, 'v.arr.reverse(); v.arr.fill(0, 4); v.arr.copyWithin(0, 3, 4)', '{ arr: [ 3, 5, 4, 3, 0, 0 ] }'],
  ['grid cell', { grid: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]] }, "v.grid[2][3] = 'x'", null],
  ['Map inside object inside array', [{ m: new Map([['a', { n: 1 }]]) }], "v[0].m.get('a').n = 2; v[0].m.set('b', new Set([1]))", null],
  ['Set of objects', { s: new Set([{ n: 1 }, { n: 2 }]) }, 'for (const o of v.s) o.n *= 10', null],
  ['splice, shift, unshift, pop', [1, 2, 3, 4, 5], "v.splice(1, 2, 'a', 'b', 'c'); v.shift(); v.unshift(0); v.pop()", "[ 0, 'a', 'b', 'c', 4 ]"],
  ['Map with object keys', new Map([[{ id: 1 }, { n: 1 }]]), 'for (const [k, x] of v) { x.n = 5; v.set(k, { n: 6 }) }', null],
  ['class instance method', { p: new (require('./fixtures/classes').Point)(1, 2) }, 'v.p.move(1, 1)', null],
]

for (const [name, initial, code, expected] of CASES) {
  test(`deep: ${name}, parent to child`, async () => {
    // eslint-disable-next-line no-new-func
    const there = await parentToChild(`p2c ${name}`, initial, new Function('v', code))
    if (expected) assert.strictEqual(there, expected)
  })
  test(`deep: ${name}, child to parent`, async () => {
    const there = await childToParent(`c2p ${name}`, initial, code)
    if (expected) assert.strictEqual(there, expected)
  })
}

test('a value taken out stays live; a value put in is a snapshot', async () => {
  ipos.create('users', new Map([['a', { name: 'A', tags: [] }]]))
  const u = ipos.users.get('a')
  u.name = 'Ada'
  u.tags.push('x')
  const o = { n: 1 }
  ipos.users.set('b', o)
  o.n = 2 // not through ipos: not shared, and not seen here either
  ipos.users.get('b').k = 'through the proxy'
  await ipos.flush()
  assert.strictEqual(await peer.call("return show(ipos.users)"), "Map(2) { 'a' => { name: 'Ada', tags: [ 'x' ] }, 'b' => { n: 1, k: 'through the proxy' } }")
  assert.strictEqual(show(ipos.users), "Map(2) { 'a' => { name: 'Ada', tags: [ 'x' ] }, 'b' => { n: 1, k: 'through the proxy' } }")
})

test('identity: child proxies are cached and remote patches keep references valid', async () => {
  ipos.create('idn', { a: { b: { c: 1 } }, list: [{ x: 1 }] })
  assert.strictEqual(ipos.idn.a.b, ipos.idn.a.b)
  assert.strictEqual(ipos.get('idn'), ipos.idn)
  await ipos.flush()
  const ok = await peer.call(`
    globalThis.held = ipos.idn.a.b
    globalThis.heldItem = ipos.idn.list[0]
    return ipos.idn.a.b === ipos.idn.a.b`)
  assert.strictEqual(ok, true)
  ipos.idn.a.b.c = 2
  ipos.idn.list.unshift({ x: 0 })
  ipos.idn.list[1].x = 11
  ipos.idn = { a: { b: { c: 3, d: 4 } }, list: [{ x: 0 }, { x: 12 }] } // a reset is shipped as a diff
  await ipos.flush()
  const seen = await peer.call('return [held.c, held.d, heldItem.x, held === ipos.idn.a.b, heldItem === ipos.idn.list[1]]')
  assert.deepStrictEqual(seen, [3, 4, 12, true, true])
})

test('one frame per peer per synchronous stretch, push is one splice op', async () => {
  ipos.create('batch', { list: [], n: 0 })
  await ipos.flush()
  const events = []
  const onChange = (ev) => events.push(ev)
  ipos.on('change', onChange)
  const before = wire.frames
  for (let i = 0; i < 100; i++) ipos.batch.n = i
  ipos.batch.list.push(1, 2, 3)
  ipos.batch.list.push(4)
  await ipos.flush()
  ipos.off('change', onChange)
  // one ops frame, then the flush's ping
  assert.strictEqual(wire.frames - before, 2)
  const splices = events.filter((e) => e.kind === 'splice')
  assert.strictEqual(splices.length, 2)
  assert.strictEqual(await peer.call('return show(ipos.batch)'), '{ list: [ 1, 2, 3, 4 ], n: 99 }')
})

test('a mutation that throws changes nothing anywhere', async () => {
  ipos.create('atomic', { list: [1], m: new Map() })
  await ipos.flush()
  assert.throws(() => ipos.atomic.list.push(2, Symbol('no')), (e) => e instanceof TypeError && e.code === 'ERR_IPOS_UNSHAREABLE' && /atomic\.list\[2\]/.test(e.message))
  assert.throws(() => ipos.atomic.m.set('k', { f() {} }), (e) => e instanceof TypeError && /atomic\.get\("k"\)\.f|atomic\.m\.get\("k"\)\.f/.test(e.message))
  const circ = { a: {} }
  circ.a.back = circ
  assert.throws(() => { ipos.atomic.c = circ }, (e) => e.code === 'ERR_IPOS_CIRCULAR' && /atomic\.c\.a\.back/.test(e.message))
  assert.throws(() => ipos.create('bad', { w: new WeakMap() }), (e) => e instanceof TypeError && /bad\.w/.test(e.message))
  assert.throws(() => ipos.create('bad', Promise.resolve(1)), TypeError)
  assert.throws(() => ipos.create('bad', { u: new (class Unregistered {})() }), (e) => /Unregistered/.test(e.message) && /registerClass/.test(e.message))
  await ipos.flush()
  assert.strictEqual(show(ipos.atomic), "{ list: [ 1 ], m: Map(0) {} }")
  assert.strictEqual(ipos.has('bad'), false)
  assert.strictEqual(await peer.call('return [show(ipos.atomic), ipos.has("bad")]').then((r) => r.join()), '{ list: [ 1 ], m: Map(0) {} },false')
})

test('resetting a 7 MB field with one key changed sends well under 1 KB', async () => {
  const big = {}
  for (let i = 0; i < 100000; i++) big['k' + i] = { id: i, name: 'name' + i, score: i * 1.5, tags: ['x', 'y'] }
  ipos.create('big', big)
  await ipos.flush()
  const bytes0 = wire.bytes
  const frames0 = wire.frames
  ipos.big = { ...big, k5: { id: 5, name: 'changed', score: 7.5, tags: ['x', 'y'] } }
  await ipos.flush()
  const sent = wire.bytes - bytes0
  assert.ok(sent < 1024, `sent ${sent} bytes`)
  assert.strictEqual(wire.frames - frames0, 2)
  assert.strictEqual(await peer.call('return [ipos.big.k5.name, Object.keys(ipos.big).length].join()'), 'changed,100000')
})

test('change events: kinds, paths, local and remote', async () => {
  ipos.create('ev', { a: { list: [] }, m: new Map() })
  await ipos.flush()
  const local = []
  const onChange = (ev) => local.push(ev)
  ipos.on('change', onChange)
  await peer.call("globalThis.evs = []; globalThis.onEv = (e) => evs.push(e); ipos.on('change', onEv)")
  ipos.ev.a.x = 1
  ipos.ev.a.list.push('p')
  ipos.ev.m.set('k', 1)
  delete ipos.ev.a.x
  await ipos.flush()
  ipos.off('change', onChange)
  const remote = await peer.call("ipos.off('change', onEv); return evs")
  const expected = [
    { key: 'ev', path: ['a', 'x'], kind: 'set' },
    { key: 'ev', path: ['a', 'list'], kind: 'splice' },
    { key: 'ev', path: ['m', 'k'], kind: 'mapSet' },
    { key: 'ev', path: ['a', 'x'], kind: 'delete' },
  ]
  assert.deepStrictEqual(local, expected.map((e) => ({ ...e, local: true })))
  assert.deepStrictEqual(remote, expected.map((e) => ({ ...e, local: false })))
})

test('resets that reuse parts of the live value ship only what changed, and stay exact', async () => {
  ipos.create('re', { list: [1, 2, { x: 1 }], o: { a: 1, b: { c: 2 }, d: 3 }, m: new Map([[1, 2]]) })
  await ipos.flush()
  const steps = [
    () => { ipos.re = { ...ipos.re, list: [...ipos.re.list, 4] } }, // append
    () => { ipos.re = { ...ipos.re, list: [0, ...ipos.re.list] } }, // prepend
    () => { const { a, ...rest } = ipos.re.o; ipos.re = { ...ipos.re, o: rest } }, // key removed
    () => { ipos.re = { o: ipos.re.o, list: ipos.re.list, m: ipos.re.m } }, // keys reordered
    () => { ipos.re = { ...ipos.re, m: new Map([[1, 3]]), o: { ...ipos.re.o, b: { c: -0 } } } }, // nested, -0
    () => { ipos.re = { ...ipos.re, list: [] } },
  ]
  for (const step of steps) {
    const bytes = wire.bytes
    step()
    await ipos.flush()
    assert.strictEqual(await peer.call('return show(ipos.re)'), show(ipos.re))
    assert.ok(wire.bytes - bytes < 700, `step ${step} sent ${wire.bytes - bytes} bytes`)
  }
  assert.strictEqual(show(ipos.re), '{ o: { b: { c: -0 }, d: 3 }, list: [], m: Map(1) { 1 => 3 } }')
})

test('consecutive pushes in a tick travel as one splice and arrive exactly', async () => {
  ipos.create('pushes', { a: [], b: [] })
  await ipos.flush()
  await peer.call("globalThis.pevs = []; globalThis.onP = (e) => pevs.push(e.kind); ipos.on('change', onP)")
  const local = []
  const onChange = (e) => local.push(e.kind)
  ipos.on('change', onChange)
  for (let i = 0; i < 100; i++) ipos.pushes.a.push({ i })
  ipos.pushes.b.push('x') // another array: a new splice
  ipos.pushes.a.push({ i: 100 }) // back to the first array: a new splice after b's
  await ipos.flush()
  ipos.off('change', onChange)
  const [there, kinds] = await peer.call("ipos.off('change', onP); return [show(ipos.pushes), pevs]")
  assert.strictEqual(there, show(ipos.pushes))
  assert.strictEqual(raw(ipos.pushes.a).length, 101)
  assert.strictEqual(local.length, 102, 'one local event per call')
  assert.deepStrictEqual(kinds, ['splice', 'splice', 'splice'], 'remote: one splice per run of pushes')
})
