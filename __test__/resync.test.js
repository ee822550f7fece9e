'use strict'
// Resync when behind: a real child whose parent sends it a sequenced frame it cannot take asks for
// a fresh snapshot, drops the parent's frames until it arrives, replaces its state in place, keeps
// its own pending writes (or reports them as conflicts) and tells its own children.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnPeer, until, IPOS, framesIn } = require('./helpers')

/**
 * The parent's side of the channel to `cp`, made to hold what the child sends until `release()`:
 * the child's writes then stay pending there for as long as the test wants.
 */
function holdFrom(cp) {
  const emit = cp.emit
  let held = null
  cp.emit = function (ev, m) {
    if (ev === 'internalMessage' && held !== null && m && m.cmd === 'NODE_IPOS') {
      held.push(m)
      return true
    }
    return emit.apply(this, arguments)
  }
  return {
    hold: () => { held = held || [] },
    /** The batches and resync requests held so far (pings aside). */
    held: () => (held || []).flatMap(framesIn).filter((d) => /^\{"t":"[bR]"/.test(d)),
    release() {
      const frames = held || []
      held = null
      for (const m of frames) emit.call(cp, 'internalMessage', m)
    },
  }
}

const raw = (cp, d) => cp.send({ cmd: 'NODE_IPOS', v: 1, d })
const STATE = "ipos[require('../../lib/state').STATE]"
const dump = (p) => p.call('return JSON.stringify([raw(ipos.o), [...raw(ipos.m)]])')

test('a child that cannot follow its parent resyncs in place, keeps its pending writes and converges', async () => {
  const ipos = IPOS.new()
  const rootErrors = []
  ipos.on('error', (e) => rootErrors.push(e.code))
  ipos.create('o', { list: [], n: 0, sub: { x: 0 } })
  ipos.create('m', new Map([['k0', 0]]))
  const p = spawnPeer()
  await p.up
  await ipos.addProcess(p.child)
  const g = await p.spawnChild()
  try {
    await p.call("globalThis.resyncs = 0; ipos.on('resync', () => resyncs++); globalThis.held = ipos.o.list; return true")
    await g.call("globalThis.resyncs = 0; ipos.on('resync', () => resyncs++); return true")
    const wire = holdFrom(p.child)
    wire.hold()
    // A write the parent has not seen yet: pending in the child.
    assert.strictEqual(await p.call(`ipos.o.list.push('c1'); ipos.m.set('c1', 1); ${STATE}.outbox.flush(); return ${STATE}.core.pending`), 1)
    await until(() => wire.held().length === 1, 5000, 'the write to reach the parent')
    // A sequenced frame from the future: the child cannot follow.
    raw(p.child, JSON.stringify({ t: 'q', q: 999, o: 'abc', n: 1, ok: true, ops: [['s', 'o', ['n'], -1]] }))
    await until(async () => (await p.call('return errors.length')) > 0, 5000, 'the child to reject the frame')
    await until(() => wire.held().includes('{"t":"R"}'), 5000, 'the resync request')
    // The child writes on while it waits (one write will conflict), the parent writes too: the
    // child drops the parent's frames until its snapshot, which will hold them.
    await p.call(`ipos.o.list.push('c2'); ipos.m.set('c2', 2); ${STATE}.outbox.flush(); ipos.o.sub.x = 1; ${STATE}.outbox.flush(); return true`)
    ipos.o.n = 5
    ipos.o.list.push('p1')
    delete ipos.o.sub
    await until(() => wire.held().length === 4, 5000, 'the writes made while behind')
    assert.strictEqual(await p.call('return ipos.o.n'), 0, 'parent frames are dropped while behind')
    wire.release()
    await ipos.flush()
    await p.call('await ipos.flush(); return true')
    await ipos.flush()
    // The parent's writes were sequenced first, then the child's in its order; `sub.x` was
    // refused (sub was gone by then).
    const want = JSON.stringify([{ list: ['p1', 'c1', 'c2'], n: 5 }, [['k0', 0], ['c1', 1], ['c2', 2]]])
    assert.strictEqual(JSON.stringify([ipos.o, [...ipos.m]]), want)
    assert.strictEqual(await dump(p), want)
    assert.strictEqual(await g.call('return JSON.stringify([raw(ipos.o), [...raw(ipos.m)]])'), want, 'the grandchild follows')
    assert.deepStrictEqual(await p.call('return [resyncs, held === ipos.o.list, errors.map((e) => e.code)]'), [1, true, ['ERR_IPOS_BAD_SEQUENCE', 'ERR_IPOS_CONFLICT']])
    assert.strictEqual(await g.call('return resyncs'), 1)
    assert.deepStrictEqual(rootErrors, ['ERR_IPOS_BAD_PATH'], 'the root refused `sub.x`')
    // Everything keeps flowing both ways afterwards.
    await p.call("ipos.o.list.push('c3'); await ipos.flush(); return true")
    ipos.o.n = 6
    await ipos.flush()
    assert.deepStrictEqual(ipos.o.list, ['p1', 'c1', 'c2', 'c3'])
    assert.strictEqual(await p.call('return ipos.o.n'), 6)
  } finally {
    ipos.close()
    p.kill()
  }
})

test('a parent answers a resync request with a fresh snapshot, and only a child may ask', async () => {
  const ipos = IPOS.new()
  const errors = []
  ipos.on('error', (e) => errors.push(e.code))
  ipos.create('o', { v: 1 })
  const p = spawnPeer()
  await p.up
  await ipos.addProcess(p.child)
  try {
    await p.call("globalThis.resyncs = 0; ipos.on('resync', () => resyncs++); return true")
    // A child that asks without being behind just gets the state again: no change, one 'resync'.
    await p.call("process.send({ cmd: 'NODE_IPOS', v: 1, d: '{\"t\":\"R\"}' }); return true")
    await until(async () => (await p.call('return resyncs')) === 1, 5000, 'the resync')
    assert.strictEqual(await p.call('return JSON.stringify(raw(ipos.o))'), '{"v":1}')
    // A parent does not ask its child.
    raw(p.child, '{"t":"R"}')
    await until(async () => (await p.call('return errors.length')) > 0, 5000, 'the rejection')
    assert.deepStrictEqual(await p.call('return errors.map((e) => e.code)'), ['ERR_IPOS_BAD_SEQUENCE'])
    assert.deepStrictEqual(errors, [])
  } finally {
    ipos.close()
    p.kill()
  }
})
