'use strict'
// Drop-in behaviour of the original package: its README's class example, duck-typed channels,
// its error texts, and a shared EventTarget used as a cross-process event bus.
const { test } = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { execFileSync, fork } = require('child_process')
const { EventEmitter } = require('events')
const { spawnPeer, until, IPOS } = require('./helpers')

const FIX = path.join(__dirname, 'fixtures')

async function connected(ipos, opts) {
  const p = spawnPeer(opts)
  await p.up
  await ipos.addProcess(p.child)
  return p
}

test("the original README's registerClass example: only the receiver registers the class", () => {
  const out = execFileSync(process.execPath, [path.join(FIX, 'readme-class', 'main-process.mjs')], { encoding: 'utf8', timeout: 30000 })
  assert.deepStrictEqual(JSON.parse(out), {
    mainKeepsOwn: true,
    mainIsExample: true,
    child: { isExample: true, data: 'myValue' },
  })
})

test('a receiver that did not register the class keeps the data and reports it in the original words', async () => {
  class Locus {
    constructor(x, y) { this.x = x; this.y = y }
    serialize() { return { x: this.x, y: this.y } }
  }
  const ipos = IPOS.new()
  const p = new Locus(1, 2)
  ipos.create('pt', p)
  assert.strictEqual(ipos.pt, p, 'the sender keeps its own instance')
  const c = await connected(ipos)
  try {
    assert.deepStrictEqual(await c.call('return { ...raw(ipos.pt) }'), { x: 1, y: 2 })
    ipos.create('pt2', new Locus(3, 4))
    await ipos.flush()
    const errs = await c.call('return errors')
    const e = errs.find((x) => x.code === 'ERR_IPOS_UNKNOWN_CLASS')
    assert.ok(e, JSON.stringify(errs))
    assert.ok(e.message.startsWith('Did not recognize type `Locus`. Did you register it in the child process?'), e.message)
  } finally {
    ipos.close()
    c.kill()
  }
})

test("a class without serialize()/stringify() throws the original's message, with code and path", () => {
  class Opaque { constructor() { this.a = 1 } }
  const ipos = IPOS.new()
  ipos.create('o', { list: [] })
  assert.throws(() => ipos.create('x', new Opaque()), (e) => e instanceof TypeError && e.code === 'ERR_IPOS_UNSHAREABLE' &&
    e.message.startsWith('Class: `Opaque` must have methods to serialize and deserialize objects. (`.stringify()`, `.serialize()`)') && e.message.includes('at `x`'))
  assert.throws(() => ipos.o.list.push({ deep: new Opaque() }), (e) => e.code === 'ERR_IPOS_UNSHAREABLE' && e.message.includes('at `o.list[0].deep`'))
  assert.deepStrictEqual(ipos.o.list.length, 0, 'nothing changed')
  ipos.close()
})

/** Two in-process EventEmitter channels wired back to back (delivery on a later turn). */
function loopback() {
  const a = new EventEmitter()
  const b = new EventEmitter()
  a.send = (m) => { setImmediate(() => b.emit('message', m)); return true }
  b.send = (m) => { setImmediate(() => a.emit('message', m)); return true }
  return [a, b]
}

test('duck-typed channels: an in-process EventEmitter pair works as a peer, and user listeners see only user messages', async () => {
  const [a, b] = loopback()
  const seenA = []
  const seenB = []
  a.on('message', (m) => seenA.push(m))
  b.on('message', (m) => seenB.push(m))
  const main = IPOS.new()
  main.create('m', new Map([['x', 1]]))
  const joined = main.addProcess(a)
  const sub = await IPOS.new({ parent: b })
  await joined
  assert.deepStrictEqual([...sub.m], [['x', 1]])
  sub.m.set('y', { deep: [1] })
  await sub.flush()
  assert.deepStrictEqual([...main.m], [['x', 1], ['y', { deep: [1] }]])
  main.m.get('y').deep.push(2)
  await main.flush()
  assert.deepStrictEqual(sub.m.get('y').deep, [1, 2])
  a.send('for the user')
  await until(() => seenB.length === 1)
  assert.deepStrictEqual(seenB, ['for the user'])
  assert.deepStrictEqual(seenA, [])
  main.close()
  sub.close()
})

test('duck-typed channels: a channel whose send throws, or that lacks send/on, fails addProcess at once', async () => {
  const main = IPOS.new()
  try {
    // No removeListener/off either: it still rejects instead of hanging.
    await assert.rejects(main.addProcess({ send() { throw new Error('boom') }, on() {} }), (e) => e.code === 'ERR_IPOS_PEER_GONE' && /boom/.test(e.message))
    assert.throws(() => main.addProcess({ send() {} }), (e) => e instanceof TypeError && e.code === 'ERR_IPOS_NO_IPC')
  } finally {
    main.close()
  }
})

test('duck-typed channels: a peer that never answers makes addProcess reject after joinTimeout', async () => {
  const main = IPOS.new({ joinTimeout: 200 })
  const [a] = loopback()
  await assert.rejects(main.addProcess(a), (e) => e.code === 'ERR_IPOS_TIMEOUT')
  main.close()
})

test('duck-typed channels over a real process: frames wrapped in user messages', async () => {
  const child = fork(path.join(FIX, 'duck-peer.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ch = new EventEmitter()
  ch.send = (m) => child.send({ wrapped: m })
  const inbox = []
  child.on('message', (m) => {
    if (m && m.wrapped) ch.emit('message', m.wrapped)
    else inbox.push(m)
  })
  const main = IPOS.new()
  main.create('m', new Map([['main', 1]]))
  try {
    await main.addProcess(ch)
    const ready = await until(() => inbox.find((m) => m.type === 'ready'))
    assert.deepStrictEqual(ready.m, [['main', 1]])
    assert.deepStrictEqual(ready.userSaw, [], "the child's own listener saw no ipos frame")
    child.send({ type: 'write', value: 'hi' })
    await until(() => inbox.find((m) => m.type === 'wrote'))
    await until(() => main.m.get('child') === 'hi')
    main.m.set('main', 2)
    await main.flush()
    child.send({ type: 'read' })
    const st = await until(() => inbox.find((m) => m.type === 'state'))
    assert.deepStrictEqual(st.m, [['main', 2], ['child', 'hi']])
  } finally {
    main.close()
    child.kill()
  }
})

const REGISTER_EVENT = `IPOS.registerClass(CustomEvent, (e) => ({ type: e.type, detail: e.detail }), (d) => new CustomEvent(d.type, { detail: d.detail }))`

test('a shared EventTarget carries events: child dispatches, main listens, and back, through a relay', async () => {
  // eslint-disable-next-line no-eval
  eval(REGISTER_EVENT)
  const ipos = IPOS.new()
  ipos.create('eventTarget', new EventTarget())
  const c = await connected(ipos)
  const g = await c.spawnChild()
  try {
    const got = []
    ipos.eventTarget.addEventListener('dev-update', (e) => got.push({ detail: e.detail, custom: e instanceof CustomEvent }))
    for (const p of [c, g]) {
      await p.call(`${REGISTER_EVENT}; globalThis.got = []; ipos.eventTarget.addEventListener('dev-update', (e) => got.push(e.detail)); return true`)
    }
    await c.call("ipos.eventTarget.dispatchEvent(new CustomEvent('dev-update', { detail: { from: 'child', n: 1 } })); await ipos.flush()")
    await g.call("ipos.eventTarget.dispatchEvent(new CustomEvent('dev-update', { detail: { from: 'grandchild', n: 2 } })); await ipos.flush()")
    ipos.eventTarget.dispatchEvent(new CustomEvent('dev-update', { detail: { from: 'main', n: 3 } }))
    await ipos.flush()
    assert.deepStrictEqual(got, [
      { detail: { from: 'child', n: 1 }, custom: true },
      { detail: { from: 'grandchild', n: 2 }, custom: true },
      { detail: { from: 'main', n: 3 }, custom: true },
    ])
    const inChild = await c.call('return got')
    const inGrand = await g.call('return got')
    assert.deepStrictEqual(inChild, [{ from: 'child', n: 1 }, { from: 'grandchild', n: 2 }, { from: 'main', n: 3 }])
    assert.deepStrictEqual(inGrand, inChild)
  } finally {
    ipos.close()
    c.kill()
  }
})

test('a shared EventTarget: events interleave in order with state ops, and plain Events need no registration', async () => {
  const ipos = IPOS.new()
  ipos.create('bus', { target: new EventTarget(), count: 0 })
  const c = await connected(ipos)
  try {
    await c.call("globalThis.seen = []; ipos.bus.target.addEventListener('tick', () => seen.push(ipos.bus.count)); return true")
    for (let i = 1; i <= 3; i++) {
      ipos.bus.count = i
      ipos.bus.target.dispatchEvent(new Event('tick'))
    }
    await ipos.flush()
    assert.deepStrictEqual(await c.call('return seen'), [1, 2, 3])
  } finally {
    ipos.close()
    c.kill()
  }
})

test('NODE_DEBUG=ipos prints links, handshakes and frames with their sizes', () => {
  const { spawnSync } = require('child_process')
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'example', 'main-process.js')], {
    encoding: 'utf8', timeout: 30000, env: { ...process.env, NODE_DEBUG: 'ipos' },
  })
  assert.strictEqual(r.status, 0, r.stderr)
  assert.match(r.stderr, /IPOS \d+: adding child \d+/)
  assert.match(r.stderr, /IPOS \d+: hello from child \d+ \([0-9a-f]{16}\): sending snapshot/)
  assert.match(r.stderr, /IPOS \d+: out child \d+ \d+ B \{"t":"S"/)
  assert.match(r.stderr, /IPOS \d+: in parent \d+ B \{"t":"S"/)
  assert.match(r.stderr, /IPOS \d+: child \d+ joined/)
  const quiet = spawnSync(process.execPath, [path.join(__dirname, '..', 'example', 'main-process.js')], {
    encoding: 'utf8', timeout: 30000, env: { ...process.env, NODE_DEBUG: '' },
  })
  assert.doesNotMatch(quiet.stderr, /IPOS \d+:/)
})
