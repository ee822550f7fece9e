'use strict'
// Self-healing membership: re-adding a removed child, reconnecting from a new instance after
// close(), membership events, and resync in place (held references stay valid).
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnPeer, until, IPOS } = require('./helpers')

async function connected(ipos, opts) {
  const p = spawnPeer(opts)
  await p.up
  await ipos.addProcess(p.child)
  return p
}

const state = (p) => p.call('return JSON.stringify(raw(ipos.o))')

test('a removed child added again resyncs in place, sees what changed while away, and writes again', async () => {
  const ipos = IPOS.new()
  ipos.create('o', { a: 1, list: [], keep: { n: 1 } })
  const p = await connected(ipos)
  try {
    await p.call("globalThis.held = ipos.o.keep; globalThis.resyncs = 0; ipos.on('resync', () => resyncs++); return true")
    assert.strictEqual(ipos.removeProcess(p.child), true)
    ipos.o.a = 2
    ipos.o.list.push('while away')
    ipos.o.keep.n = 2
    await ipos.flush()
    assert.strictEqual(await state(p), '{"a":1,"list":[],"keep":{"n":1}}', 'a removed child gets nothing')
    await ipos.addProcess(p.child)
    assert.strictEqual(await state(p), '{"a":2,"list":["while away"],"keep":{"n":2}}')
    assert.deepStrictEqual(await p.call('return [held === ipos.o.keep, held.n, resyncs]'), [true, 2, 1])
    await p.call("ipos.o.list.push('from child'); await ipos.flush()")
    assert.deepStrictEqual(ipos.o.list, ['while away', 'from child'])
  } finally {
    ipos.close()
    p.kill()
  }
})

test('a child whose parent closed is connected again from a new instance', async () => {
  const first = IPOS.new()
  first.create('o', { v: 1 })
  const p = await connected(first)
  try {
    first.close()
    const second = IPOS.new()
    second.create('o', { v: 2, fresh: true })
    await until(async () => (await p.call('return ipos.has("o")')), 2000, 'child keeps its state')
    await second.addProcess(p.child)
    assert.strictEqual(await state(p), '{"v":2,"fresh":true}')
    await p.call('ipos.o.v = 3; await ipos.flush()')
    assert.strictEqual(second.o.v, 3)
    second.close()
  } finally {
    p.kill()
  }
})

test('the child may be re-added while it writes: every write after the join reaches the parent once', async () => {
  const ipos = IPOS.new()
  ipos.create('o', { list: [] })
  const p = await connected(ipos)
  try {
    ipos.removeProcess(p.child)
    // The child keeps writing, as the root of its own tree now; then it is added back.
    await p.call("globalThis.timer = setInterval(() => ipos.o.list.push('c' + Date.now()), 2); return true")
    await new Promise((r) => setTimeout(r, 30))
    await ipos.addProcess(p.child)
    await new Promise((r) => setTimeout(r, 60))
    await p.call('clearInterval(timer); await ipos.flush()')
    await ipos.flush()
    const child = JSON.parse(await state(p)).list
    assert.deepStrictEqual([...ipos.o.list], child, 'parent and child agree')
    assert.ok(child.length > 0, 'writes made after the join arrived')
    assert.strictEqual(new Set(child).size, child.length, 'each exactly once')
  } finally {
    ipos.close()
    p.kill()
  }
})

test("'peer' and 'peerLeft' tell membership on both sides", async () => {
  const ipos = IPOS.new()
  ipos.create('o', {})
  const seen = []
  ipos.on('peer', (e) => seen.push(['peer', e.role, e.peer === p.child]))
  ipos.on('peerLeft', (e) => seen.push(['peerLeft', e.role, e.peer === p.child]))
  const p = spawnPeer({ noInit: true })
  await p.up
  const joining = p.call("globalThis.ev = []; const i = await IPOS.new({ syncTimeout: 5000 }); setIpos(i); i.on('peer', (e) => ev.push(['peer', e.role])); i.on('peerLeft', (e) => ev.push(['peerLeft', e.role, e.reason])); return true")
  await ipos.addProcess(p.child)
  await joining
  ipos.removeProcess(p.child)
  await until(async () => (await p.call('return ev.length')) >= 1, 2000, 'child saw its parent leave')
  assert.deepStrictEqual(seen, [['peer', 'child', true], ['peerLeft', 'child', true]])
  assert.deepStrictEqual(await p.call('return ev'), [['peerLeft', 'parent', 'goodbye']])
  await ipos.addProcess(p.child)
  await until(async () => (await p.call('return ev.length')) >= 2, 2000, 'child saw its parent again')
  assert.deepStrictEqual((await p.call('return ev'))[1], ['peer', 'parent'])
  ipos.close()
  p.kill()
})

test('bounded backlog: a stopped child costs the writer at most maxBacklogBytes plus a fixed overhead, and converges after SIGCONT', async () => {
  const LIMIT = 16 * 1024 * 1024
  const ipos = IPOS.new({ maxBacklogBytes: LIMIT })
  ipos.create('o', { n: 0, blob: '' })
  const p = await connected(ipos)
  try {
    await p.call("globalThis.resyncs = 0; ipos.on('resync', () => resyncs++); return true")
    const base = process.memoryUsage().rss
    let peak = base
    process.kill(p.child.pid, 'SIGSTOP')
    const chunk = 'x'.repeat(1 << 20)
    // 300 MB of changes while the child cannot read (unbounded, the writer grows by ~350 MiB).
    for (let i = 0; i < 300; i++) {
      ipos.o.blob = chunk + i
      ipos.o.n = i
      await new Promise((r) => setImmediate(r))
      if (i % 5 === 0) peak = Math.max(peak, process.memoryUsage().rss)
    }
    peak = Math.max(peak, process.memoryUsage().rss)
    const grew = (peak - base) / 2 ** 20
    assert.ok(grew < 16 + 112, `the writer grew by ${grew.toFixed(0)} MiB`)
    process.kill(p.child.pid, 'SIGCONT')
    await ipos.flush()
    assert.deepStrictEqual(await p.call('return [ipos.o.n, ipos.o.blob.length, resyncs]'), [299, (1 << 20) + 3, 1])
  } finally {
    try { process.kill(p.child.pid, 'SIGCONT') } catch {}
    ipos.close()
    p.kill()
  }
})

test('flush() resolves only once the child applied everything, also when the channel pushes back', async () => {
  const ipos = IPOS.new()
  ipos.create('arr', [])
  const p = await connected(ipos)
  try {
    await p.call("globalThis.appliedAt = 0; ipos.on('change', (e) => { if (e.key === 'arr') appliedAt = performance.timeOrigin + performance.now() }); return true")
    // One big frame: Node's channel queue passes its high-water mark and send() returns false.
    for (let i = 0; i < 50000; i++) ipos.arr.push({ id: i, name: 'item ' + i, tags: ['a', 'b'] })
    await ipos.flush()
    const resolvedAt = performance.timeOrigin + performance.now()
    const appliedAt = await p.call('return appliedAt')
    assert.ok(appliedAt > 0 && appliedAt <= resolvedAt, `the child applied at ${appliedAt}, flush resolved at ${resolvedAt}`)
    assert.strictEqual(await p.call('return ipos.arr.length'), 50000)
  } finally {
    ipos.close()
    p.kill()
  }
})

test('flush() with a stopped child rejects with ERR_IPOS_TIMEOUT naming it, and resolves again once it runs', async () => {
  const ipos = IPOS.new({ flushTimeout: 300 })
  ipos.create('o', { n: 0 })
  const p = await connected(ipos)
  try {
    process.kill(p.child.pid, 'SIGSTOP')
    ipos.o.n = 1
    const t0 = Date.now()
    await assert.rejects(ipos.flush(), (e) => e.code === 'ERR_IPOS_TIMEOUT' && e.message.includes(`child ${p.child.pid}`) && e.message.includes('300 ms'))
    assert.ok(Date.now() - t0 >= 290, 'not before the timeout')
    // A per-call timeout wins over the option; a bad one is refused.
    await assert.rejects(ipos.flush({ timeout: 50 }), { code: 'ERR_IPOS_TIMEOUT' })
    await assert.rejects(ipos.flush({ timeout: -1 }), { code: 'ERR_IPOS_BAD_OPTIONS' })
    await assert.rejects(ipos.flush('soon'), { code: 'ERR_IPOS_BAD_OPTIONS' })
    // The pings of the calls that timed out are forgotten, not kept for the child to answer.
    const { STATE } = require('../lib/state')
    const link = ipos[STATE].peers.children.values().next().value
    assert.strictEqual(link.pings.size, 0)
    process.kill(p.child.pid, 'SIGCONT')
    await ipos.flush({ timeout: 10000 })
    assert.strictEqual(await p.call('return ipos.o.n'), 1)
    // 0 waits for ever: it resolves once the child answers.
    await ipos.flush({ timeout: 0 })
  } finally {
    try { process.kill(p.child.pid, 'SIGCONT') } catch {}
    ipos.close()
    p.kill()
  }
})
