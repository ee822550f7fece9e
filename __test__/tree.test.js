'use strict'
// Trees of real processes: relays between siblings and across levels, cluster workers, worker
// threads, joining during a write storm and a child killed mid-stream.
const { test } = require('node:test')
const assert = require('node:assert')
const util = require('util')
const { spawnPeer, until, IPOS } = require('./helpers')
const { raw } = require('../lib/proxy')

const show = (v) => util.inspect(raw(v), { depth: null, breakLength: Infinity })

async function connected(ipos, opts) {
  const p = spawnPeer(opts)
  await p.up
  await ipos.addProcess(p.child)
  return p
}

test('a change in one child reaches its sibling through the parent', async () => {
  const ipos = IPOS.new()
  ipos.create('shared', { list: [] })
  const a = await connected(ipos)
  const b = await connected(ipos)
  try {
    await a.call("ipos.shared.list.push('from a'); ipos.shared.by = 'a'; await ipos.flush()")
    assert.strictEqual(await b.call('return show(ipos.shared)'), "{ list: [ 'from a' ], by: 'a' }")
    await b.call("ipos.shared.list.push('from b'); await ipos.flush()")
    assert.strictEqual(await a.call('return show(ipos.shared)'), "{ list: [ 'from a', 'from b' ], by: 'a' }")
    assert.strictEqual(show(ipos.shared), "{ list: [ 'from a', 'from b' ], by: 'a' }")
  } finally {
    ipos.close()
    a.kill()
    b.kill()
  }
})

test('three levels: grandchild -> child -> root -> other child, and back down', async () => {
  const ipos = IPOS.new()
  ipos.create('t', { log: [] })
  const c = await connected(ipos)
  const other = await connected(ipos)
  const g = await c.spawnChild()
  try {
    assert.strictEqual(await g.call('return show(ipos.t)'), '{ log: [] }')
    await g.call("ipos.t.log.push('g'); await ipos.flush()")
    assert.strictEqual(show(ipos.t), "{ log: [ 'g' ] }")
    assert.strictEqual(await other.call('return show(ipos.t)'), "{ log: [ 'g' ] }")
    assert.strictEqual(await c.call('return show(ipos.t)'), "{ log: [ 'g' ] }")
    await other.call("ipos.t.log.push('other'); ipos.create('fresh', new Map([[1, 2]])); await ipos.flush()")
    await ipos.flush()
    assert.strictEqual(await g.call('return show(ipos.t) + show(ipos.fresh)'), "{ log: [ 'g', 'other' ] }Map(1) { 1 => 2 }")
    ipos.delete('fresh')
    await ipos.flush()
    assert.strictEqual(await g.call('return ipos.has("fresh")'), false)
  } finally {
    ipos.close()
    c.kill()
    other.kill()
  }
})

test('a root whose one child relays a grandchild\'s batch sends that child the whole frame', async () => {
  // The root has no other child to send the frame to, so the core holds it back; the child still
  // needs it (the batch is not its own).
  const ipos = IPOS.new()
  ipos.create('t', { log: [] })
  const errors = []
  ipos.on('error', (e) => errors.push(e))
  const c = await connected(ipos)
  const g = await c.spawnChild()
  try {
    await g.call("ipos.t.log.push('g1'); await ipos.flush(); ipos.t.log.push('g2'); await ipos.flush()")
    await ipos.flush()
    assert.strictEqual(show(ipos.t), "{ log: [ 'g1', 'g2' ] }")
    assert.strictEqual(await c.call('return show(ipos.t)'), "{ log: [ 'g1', 'g2' ] }")
    assert.strictEqual(await g.call('return show(ipos.t)'), "{ log: [ 'g1', 'g2' ] }")
    await c.call("ipos.t.log.push('c'); await ipos.flush()")
    assert.strictEqual(await g.call('await ipos.flush(); return show(ipos.t)'), "{ log: [ 'g1', 'g2', 'c' ] }")
    assert.deepStrictEqual(await c.call('return errors.map((e) => e.code)'), [])
    assert.deepStrictEqual(await g.call('return errors.map((e) => e.code)'), [])
    assert.deepStrictEqual(errors, [])
  } finally {
    ipos.close()
    c.kill()
  }
})

test("a grandchild's batch relayed to a parent that leaves before ordering it is ordered by the process that becomes the root", async () => {
  const ipos = IPOS.new()
  ipos.create('t', { log: [] })
  const c = await connected(ipos)
  const g = await c.spawnChild()
  const relayed = () => c.call("return ipos[require('../../lib/state').STATE].peers.relayed.size")
  try {
    await g.call("ipos.t.log.push('before'); await ipos.flush()")
    // The root stops taking frames from c: what c relays up now is never ordered there.
    const emit = c.child.emit
    c.child.emit = function (ev, m) {
      if (ev === 'internalMessage' && m && m.cmd === 'NODE_IPOS') return true
      return emit.apply(this, arguments)
    }
    await g.call("ipos.t.log.push('in flight')")
    await until(async () => (await relayed()) === 1, 5000, 'the batch relayed up by c')
    c.child.emit = emit
    // The root lets c go: c is the root of what is left, and orders the batch itself.
    ipos.removeProcess(c.child)
    await g.call('await ipos.flush()')
    await c.call('await ipos.flush()')
    const want = "{ log: [ 'before', 'in flight' ] }"
    assert.strictEqual(await c.call('return show(ipos.t)'), want)
    assert.strictEqual(await g.call('return show(ipos.t)'), want)
    assert.strictEqual(await g.call("return ipos[require('../../lib/state').STATE].core.pending"), 0)
    assert.strictEqual(await relayed(), 0)
    assert.strictEqual(show(ipos.t), "{ log: [ 'before' ] }")
  } finally {
    ipos.close()
    c.kill()
  }
})

test('cluster: primary and two workers share state', async () => {
  const ipos = IPOS.new()
  ipos.create('jobs', new Map())
  const w1 = await connected(ipos, { kind: 'cluster' })
  const w2 = await connected(ipos, { kind: 'cluster' })
  try {
    await w1.call("ipos.jobs.set('a', { by: 'w1' }); await ipos.flush()")
    await w2.call("ipos.jobs.get('a').done = true; await ipos.flush()")
    await ipos.flush()
    const expected = "Map(1) { 'a' => { by: 'w1', done: true } }"
    assert.strictEqual(show(ipos.jobs), expected)
    assert.strictEqual(await w1.call('return show(ipos.jobs)'), expected)
    assert.strictEqual(await w2.call('return show(ipos.jobs)'), expected)
  } finally {
    ipos.close()
    w1.kill('SIGKILL')
    w2.kill('SIGKILL')
  }
})

test('worker threads: parent and two workers share state', async () => {
  const ipos = IPOS.new()
  ipos.create('counter', { n: 0, seen: new Set() })
  const t1 = await connected(ipos, { kind: 'thread' })
  const t2 = await connected(ipos, { kind: 'thread' })
  try {
    await t1.call("ipos.counter.n++; ipos.counter.seen.add('t1'); await ipos.flush()")
    await t2.call("ipos.counter.n++; ipos.counter.seen.add('t2'); await ipos.flush()")
    ipos.counter.n++
    await ipos.flush()
    const expected = "{ n: 3, seen: Set(2) { 't1', 't2' } }"
    assert.strictEqual(show(ipos.counter), expected)
    assert.strictEqual(await t1.call('return show(ipos.counter)'), expected)
    assert.strictEqual(await t2.call('return show(ipos.counter)'), expected)
  } finally {
    ipos.close()
    await t1.child.terminate()
    await t2.child.terminate()
  }
})

test('a process joining during a write storm gets every op exactly once', async () => {
  const ipos = IPOS.new()
  ipos.create('storm', [])
  const writer = await connected(ipos)
  try {
    const storm = writer.call('for (let i = 0; i < 3000; i++) { ipos.storm.push(i); if (i % 50 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush(); return true')
    for (let i = 0; i < 1000; i++) {
      ipos.storm.push(-1 - i)
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 2))
    }
    const late = await connected(ipos)
    await storm
    await ipos.flush()
    const here = raw(ipos.storm)
    assert.strictEqual(here.length, 4000)
    assert.deepStrictEqual(here.filter((x) => x >= 0), Array.from({ length: 3000 }, (_, i) => i))
    assert.strictEqual(await late.call('return show(ipos.storm)'), show(ipos.storm))
    assert.strictEqual(await writer.call('return show(ipos.storm)'), show(ipos.storm))
    late.kill()
  } finally {
    ipos.close()
    writer.kill()
  }
})

test('a child killed mid-stream leaves the others working and converging', async () => {
  const ipos = IPOS.new()
  ipos.create('s', { list: [], n: 0 })
  const victim = await connected(ipos)
  const survivor = await connected(ipos)
  const errors = []
  ipos.on('error', (e) => errors.push(e))
  try {
    victim.call('for (let i = 0; ; i++) { ipos.s.list.push(i); if (i % 20 === 0) await new Promise((r) => setImmediate(r)) }').catch(() => {})
    await until(() => raw(ipos.s.list).length > 200, 5000, 'the storm to start')
    const stop = survivor.call('for (let i = 0; i < 500; i++) { ipos.s.n++; if (i % 10 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush(); return true')
    victim.kill()
    await new Promise((r) => victim.child.once('exit', r))
    await stop
    ipos.s.n++
    await ipos.flush()
    assert.strictEqual(ipos.s.n, 501)
    assert.strictEqual(await survivor.call('return show(ipos.s)'), show(ipos.s))
    assert.strictEqual(ipos.removeProcess(victim.child), false)
    assert.deepStrictEqual(errors, [])
  } finally {
    ipos.close()
    survivor.kill()
  }
})
