'use strict'
// Streamed joins: the state reaches a new child in bounded chunks, built and applied a chunk at a
// time, with the writes made meanwhile after it, exactly once; a parent that stops or garbles a
// stream leaves no promise pending.
const { test } = require('node:test')
const assert = require('node:assert')
const path = require('path')
const util = require('util')
const { fork } = require('child_process')
const { IPOS, spawnPeer, until, framesIn } = require('./helpers')
const { raw } = require('../lib/proxy')
const { CHUNK_BYTES } = require('../lib/join')

const SHOW = { depth: null, breakLength: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity }
const show = (v) => util.inspect(raw(v), SHOW)
const RAW = path.join(__dirname, 'fixtures', 'raw-peer.js')

/** A state of several MiB with every kind of container big enough to be cut inside. */
function bigState() {
  const holes = []
  for (let i = 0; i < 60000; i++) if (i % 3) holes[i] = { i, s: 'v' + i }
  holes.length = 60001
  const tilde = { '~': 'kept' }
  const bare = Object.create(null)
  for (let i = 0; i < 20000; i++) {
    tilde['t' + i] = [i, { deep: [i, 'x'] }]
    bare['b' + i] = i % 7 ? i : { n: null, u: undefined }
  }
  return {
    objects: Object.fromEntries(Array.from({ length: 30000 }, (_, i) => ['k' + i, { id: i, name: 'n' + i, tags: ['x', 'y'], at: new Date(i) }])),
    map: new Map(Array.from({ length: 20000 }, (_, i) => [i % 2 ? 'm' + i : i, new Set([i, 'a' + i, [i]])])),
    set: new Set(Array.from({ length: 20000 }, (_, i) => (i % 2 ? { i } : 's' + i))),
    holes,
    tilde,
    bare,
    bytes: Array.from({ length: 2000 }, (_, i) => new Uint16Array([i, i + 1, i + 2])),
    nested: [[[Array.from({ length: 50000 }, (_, i) => -i - 0.5)]]],
  }
}

test('a big state joins in chunks, and writes made during the join reach the child once, after it', async () => {
  const ipos = IPOS.new()
  const state = bigState()
  for (const [k, v] of Object.entries(state)) ipos.create(k, v)
  ipos.create('log', [])
  const peer = spawnPeer()
  await peer.up
  const added = ipos.addProcess(peer.child)
  let joined = false
  added.then(() => (joined = true))
  // Writes while the chunks are on their way, to what is being streamed and to the rest.
  for (let i = 0; !joined; i++) {
    ipos.log.push(i)
    if (i === 1) ipos.objects.k0.name = 'during'
    if (i === 2) ipos.map.get(0).add('during')
    if (i === 3) ipos.nested[0][0][0].push('during')
    await new Promise((r) => setImmediate(r))
  }
  await ipos.flush()
  for (const k of Object.keys(state)) {
    const there = await peer.call(`return require('util').inspect(raw(ipos[${JSON.stringify(k)}]), ${JSON.stringify(SHOW).replace(/null/g, 'Infinity')})`)
    assert.ok(there === show(ipos[k]), k)
  }
  const log = await peer.call('return raw(ipos.log)')
  assert.ok(log.length > 3, `${log.length} writes during the join`)
  assert.deepStrictEqual(log, raw(ipos.log))
  assert.strictEqual(await peer.call('return ipos.objects.k0.name + ipos.nested[0][0][0].at(-1)'), 'duringduring')
  ipos.close()
  peer.kill()
})

test('on the wire: bounded chunks in order, and the frames sequenced meanwhile only after the last', async () => {
  const ipos = IPOS.new()
  ipos.create('big', bigState().objects)
  ipos.create('more', bigState().map)
  ipos.create('log', [])
  const child = fork(RAW, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise((resolve) => child.once('message', resolve))
  const added = ipos.addProcess(child)
  let joined = false
  added.then(() => (joined = true))
  let n = 0
  while (!joined) {
    ipos.log.push(n++)
    await new Promise((r) => setImmediate(r))
  }
  ipos.log.push(n++)
  await ipos.flush()
  const frames = await new Promise((resolve) => {
    child.on('message', (m) => m && m.type === 'done' && resolve(m.received))
    child.send({ type: 'frames', frames: [] })
  })
  const chunks = frames.filter((f) => f.t === 'S')
  assert.ok(chunks.length >= 3, `${chunks.length} chunks`)
  chunks.forEach((c, i) => {
    assert.strictEqual(c.i, i)
    assert.strictEqual(c.q, chunks[0].q)
    assert.strictEqual(c.end, i === chunks.length - 1 ? true : undefined)
    assert.ok(c.bytes <= CHUNK_BYTES * 1.1, `chunk ${i}: ${c.bytes} B`)
  })
  // Every push exactly once: in the snapshot, or in a `q` numbered after it, after its last chunk.
  const lastChunk = frames.indexOf(chunks[chunks.length - 1])
  const qs = frames.filter((f) => f.t === 'q')
  assert.ok(qs.length >= 2, `${qs.length} writes after the snapshot`)
  assert.deepStrictEqual(qs.map((f) => f.q), qs.map((f, i) => chunks[0].q + 1 + i))
  assert.ok(frames.indexOf(qs[0]) > lastChunk)
  const inSnapshot = chunks.flatMap((c) => c.p).find(([level, part]) => level === 0 && part.some(([k]) => k === 'log'))[1].find(([k]) => k === 'log')[1]
  const after = qs.flatMap((f) => f.ops.flatMap((op) => op[3]))
  assert.deepStrictEqual([...inSnapshot, ...after], Array.from({ length: n }, (_, i) => i))
  ipos.close()
  child.kill()
})

/** A real ipos child driven by a hand-written parent: `send(frame)`, and the child's frames. */
async function rawParent(opts) {
  const peer = spawnPeer({ noInit: true })
  await peer.up
  const got = []
  const waiters = []
  peer.child.on('internalMessage', (m) => {
    if (!m || m.cmd !== 'NODE_IPOS') return
    for (const d of framesIn(m)) got.push(JSON.parse(d))
    for (const w of waiters.splice(0)) w()
  })
  const send = (f) => peer.child.send({ cmd: 'NODE_IPOS', v: 1, d: typeof f === 'string' ? f : JSON.stringify(f) })
  const next = (t) => until(() => got.find((f) => f.t === t), 5000, `a ${t} frame`)
  const ready = peer.call(`const x = await IPOS.new(${JSON.stringify(opts)}); setIpos(x); x.on('error', (e) => errors.push({ code: e.code, message: e.message })); return x.keys()`)
  await next('h')
  send({ t: 'h', v: 1, id: 'fade', fn: false })
  return { peer, send, next, ready }
}

test("a joining child's IPOS.new() waits for the last chunk, not for syncTimeout", async () => {
  const { peer, send, next, ready } = await rawParent({ syncTimeout: 300 })
  send({ t: 'S', q: 4, i: 0, p: [[0, [['a', { x: [1, 2] }]]]] })
  await new Promise((r) => setTimeout(r, 900))
  send({ t: 'S', q: 4, i: 1, p: [[2, [3]], [1, { y: 1 }], [0, [['b', 2]]]], end: true })
  assert.deepStrictEqual(await ready, ['a', 'b'])
  await next('A')
  assert.strictEqual(await peer.call('return show(ipos.a) + show(ipos.b)'), '{ x: [ 1, 2, 3 ], y: 1 }2')
  peer.kill()
})

test('a parent that stops mid-snapshot: the child gives up after joinTimeout and can join again', async () => {
  const { peer, send, ready } = await rawParent({ syncTimeout: 100, joinTimeout: 400 })
  send({ t: 'S', q: 0, i: 0, p: [[0, [['a', [1]]]]] })
  assert.deepStrictEqual(await ready, [])
  await until(() => peer.call('return errors.length > 0'), 5000, 'the error')
  const errs = await peer.call('return errors')
  assert.deepStrictEqual(errs.map((e) => e.code), ['ERR_IPOS_TIMEOUT'])
  assert.match(errs[0].message, /stopped sending/)
  // The stream is gone: its next chunk does not fit anywhere, a new stream does.
  send({ t: 'S', q: 0, i: 1, p: [[1, [2]]], end: true })
  send({ t: 'S', q: 7, i: 0, p: [[0, [['b', 1]]]], end: true })
  await until(() => peer.call('return ipos.keys().length > 0'), 5000, 'the second stream')
  assert.deepStrictEqual(await peer.call('return [ipos.keys(), errors.map((e) => e.code)]'), [['b'], ['ERR_IPOS_TIMEOUT', 'ERR_IPOS_BAD_SEQUENCE']])
  peer.kill()
})

test('a chunk out of order or garbled is refused whole with a nack; nothing shows', async () => {
  for (const [bad, code] of [
    [{ t: 'S', q: 1, i: 2, p: [[0, [['b', 1]]]] }, 'ERR_IPOS_BAD_SEQUENCE'],
    [{ t: 'S', q: 1, i: 1, p: [[1, { no: 'an array continues as an array' }]] }, 'ERR_IPOS_BAD_FRAME'],
    [{ t: 'S', q: 1, i: 1, p: [[1, [{ constructor: 1 }]]] }, 'ERR_IPOS_RESERVED_KEY'],
  ]) {
    const { peer, send, next, ready } = await rawParent({ syncTimeout: 100 })
    send({ t: 'S', q: 1, i: 0, p: [[0, [['a', [1]]]]] })
    send(bad)
    assert.deepStrictEqual(await ready, [])
    const nack = await next('N')
    assert.strictEqual(nack.code, code)
    assert.deepStrictEqual(await peer.call('return [ipos.keys(), errors.map((e) => e.code)]'), [[], [code]])
    peer.kill()
  }
})

test('big chunks, read by the core off the JS thread: taken in order with what follows, or refused whole', async () => {
  const pad = 'x'.repeat(300 * 1024) // past the size read off the JS thread
  {
    const { peer, send, next, ready } = await rawParent({ syncTimeout: 100 })
    send({ t: 'S', q: 2, i: 0, p: [[0, [['a', [pad, { r: 1 }]]]]] })
    send({ t: 'S', q: 2, i: 1, p: [[2, { s: 2 }], [1, [pad]], [0, [['b', { k: pad.length }]]]], end: true })
    // A sequenced batch right behind the chunks waits for them, then applies once.
    send({ t: 'q', q: 3, o: 'fade', n: 0, ok: true, ops: [['a', 'a', [], [7]]] })
    assert.deepStrictEqual(await ready, ['a', 'b'])
    await next('A')
    assert.deepStrictEqual(await peer.call('return JSON.parse(JSON.stringify([ipos.a.length, ipos.a[0].length, ipos.a[1], ipos.a[3], ipos.b.k, errors]))'), [4, pad.length, { r: 1, s: 2 }, 7, pad.length, []])
    peer.kill()
  }
  for (const [bad, code] of [
    [{ t: 'S', q: 1, i: 2, p: [[1, [pad]]] }, 'ERR_IPOS_BAD_SEQUENCE'],
    [{ t: 'S', q: 1, i: 1, p: [[1, [pad, { constructor: 1 }]]] }, 'ERR_IPOS_RESERVED_KEY'],
    [`{"t":"S","q":1,"i":1,"p":[[1,["${pad}"]]`, 'ERR_IPOS_BAD_FRAME'],
  ]) {
    const { peer, send, next, ready } = await rawParent({ syncTimeout: 100 })
    send({ t: 'S', q: 1, i: 0, p: [[0, [['a', [pad]]]]] })
    send(bad)
    assert.deepStrictEqual(await ready, [])
    const nack = await next('N')
    assert.strictEqual(nack.code, code)
    assert.deepStrictEqual(await peer.call('return [ipos.keys(), errors.map((e) => e.code)]'), [[], [code]])
    peer.kill()
  }
})

test('a child that goes away mid-join: addProcess rejects and the parent carries on', async () => {
  const ipos = IPOS.new()
  ipos.create('big', bigState().objects)
  const peer = spawnPeer()
  await peer.up
  const added = ipos.addProcess(peer.child)
  peer.child.once('internalMessage', () => peer.kill())
  await assert.rejects(added, { code: 'ERR_IPOS_PEER_GONE' })
  const other = spawnPeer()
  await other.up
  await ipos.addProcess(other.child)
  assert.strictEqual(await other.call('return Object.keys(ipos.big).length'), 30000)
  ipos.close()
  other.kill()
})
