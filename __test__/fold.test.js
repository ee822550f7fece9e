'use strict'
// Folding a concurrent writer's batch under this process's pending writes: the pending values keep
// their identity (references user code holds stay valid) and the Map ends in the root's order.
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnPeer, until, IPOS, framesIn } = require('./helpers')

/** Holds what `cp` sends its parent until `release()`, so the child's writes stay pending. */
function holdFrom(cp) {
  const emit = cp.emit
  let held = []
  cp.emit = function (ev, m) {
    if (ev === 'internalMessage' && held !== null && m && m.cmd === 'NODE_IPOS') {
      held.push(m)
      return true
    }
    return emit.apply(this, arguments)
  }
  return {
    batches: () => (held || []).flatMap(framesIn).filter((d) => d.startsWith('{"t":"b"')).length,
    frames: () => (held || []).flatMap(framesIn).filter((d) => d.startsWith('{"t":"b"')),
    release() {
      const frames = held
      held = null
      for (const m of frames) emit.call(cp, 'internalMessage', m)
    },
  }
}

const STATE = "ipos[require('../../lib/state').STATE]"

/**
 * A child's pending key and the parent's concurrent keys; `settled` keys before them all. The
 * child's entries out of place move once its write is confirmed: named by place when they are
 * many for the Map's size, by key when a long Map has only a few to move.
 */
async function concurrentKeys(settled) {
  const ipos = IPOS.new()
  const before = [['k0', 0]]
  for (let i = 0; i < settled; i++) before.push([`s${i}`, i])
  ipos.create('m', new Map(before))
  const p = spawnPeer()
  await p.up
  await ipos.addProcess(p.child)
  try {
    const wire = holdFrom(p.child)
    // Pending in the child: a new key holding an object, and an existing key changed.
    await p.call(`ipos.m.set('c1', { v: 1 }); ipos.m.set('k0', 5); globalThis.held = ipos.m.get('c1'); ${STATE}.outbox.flush(); return true`)
    await until(() => wire.batches() === 1, 5000, "the child's write to reach the parent")
    assert.strictEqual(await p.call(`return ${STATE}.core.pending`), 1)
    // The parent writes meanwhile: sequenced first, so its keys come first everywhere.
    ipos.m.set('p1', 1)
    ipos.m.set('p2', { w: 2 })
    await until(async () => (await p.call('return ipos.m.size')) === settled + 4, 5000, "the parent's keys to reach the child")
    // While its write is pending the child shows every value; the entry order waits until the
    // root has ordered that write.
    const mid = await p.call(`return [[...ipos.m.keys()].filter((k) => !k.startsWith('s')).sort(), ipos.m.get('c1') === held, ipos.m.get('k0'), ${STATE}.core.pending]`)
    assert.deepStrictEqual(mid, [['c1', 'k0', 'p1', 'p2'], true, 5, 1])
    wire.release()
    await p.call('await ipos.flush(); return true')
    await ipos.flush()
    const want = JSON.stringify([['k0', 5], ...before.slice(1), ['p1', 1], ['p2', { w: 2 }], ['c1', { v: 1 }]])
    assert.strictEqual(JSON.stringify([...ipos.m]), want)
    assert.strictEqual(await p.call('return JSON.stringify([...raw(ipos.m)])'), want)
    assert.strictEqual(await p.call("return ipos.m.get('c1') === held && errors.length === 0"), true)
  } finally {
    ipos.close()
    p.kill()
  }
}

test("a concurrent writer's keys end before this process's pending ones, whose values stay the same objects", () => concurrentKeys(0))

test("in a long Map, a concurrent writer's keys end before this process's pending one too", () => concurrentKeys(30))

test('sets in one tick on one Map leave as one op with several pairs, applied in order everywhere with one event each', async () => {
  const ipos = IPOS.new()
  const k = { id: 1 }
  ipos.create('m', new Map([['a', 0], [k, 'obj'], ['inner', new Map()]]))
  const p = spawnPeer()
  await p.up
  await ipos.addProcess(p.child)
  const events = []
  ipos.on('change', (e) => events.push(e))
  try {
    const wire = holdFrom(p.child)
    // New keys, an existing key set twice, an object key (by position), -0, then a nested Map
    // (another Map: its own op) and the outer Map again.
    await p.call(`const m = ipos.m; m.set('b', 1); m.set('a', 2); m.set([...raw(m).keys()][1], 'obj2'); m.set(-0, 'zero'); m.set('a', 3);
      m.get('inner').set('x', 1); m.get('inner').set('y', 2); m.set('c', 4); ${STATE}.outbox.flush(); return true`)
    await until(() => wire.batches() === 1, 5000, "the child's batch to reach the parent")
    const frame = JSON.parse(wire.frames()[0])
    assert.deepStrictEqual(frame.ops.map((op) => [op[0], op.length]), [['ms', 13], ['ms', 7], ['ms', 5]])
    wire.release()
    await ipos.flush()
    await p.call('await ipos.flush(); return true')
    const want = [['a', 3], [k, 'obj2'], ['inner', [['x', 1], ['y', 2]]], ['b', 1], [0, 'zero'], ['c', 4]]
    const shown = (m) => [...m].map(([key, v]) => [key, v instanceof Map ? [...v] : v])
    assert.deepStrictEqual(shown(ipos.m), want)
    assert.strictEqual(await p.call('return JSON.stringify([...raw(ipos.m)].map(([k, v]) => [k, v instanceof Map ? [...v] : v]))'), JSON.stringify(want))
    assert.deepStrictEqual(events.map((e) => [e.kind, e.path.length]), Array(8).fill(['mapSet', 1]).map((x, i) => (i === 5 || i === 6 ? ['mapSet', 2] : x)))
  } finally {
    ipos.close()
    p.kill()
  }
})

test("an object key this process adds while a Map waits for its order ends in the root's place too", async () => {
  const ipos = IPOS.new()
  ipos.create('m', new Map([['k0', 0]]))
  const p = spawnPeer()
  await p.up
  await ipos.addProcess(p.child)
  try {
    const wire = holdFrom(p.child)
    await p.call(`ipos.m.set('c1', 1); ${STATE}.outbox.flush(); return true`)
    await until(() => wire.batches() === 1, 5000, "the child's first write to reach the parent")
    ipos.m.set('p1', 1)
    await until(async () => (await p.call('return ipos.m.size')) === 3, 5000, "the parent's key to reach the child")
    // A new object key, then the same entry again by position, in a later batch of the child.
    await p.call(`const o = { o: 1 }; ipos.m.set(o, 'x'); ${STATE}.outbox.flush(); ipos.m.set(o, 'y'); ${STATE}.outbox.flush(); return true`)
    await until(() => wire.batches() === 3, 5000, "the child's later writes to reach the parent")
    wire.release()
    await p.call('await ipos.flush(); return true')
    await ipos.flush()
    const want = JSON.stringify([['k0', 0], ['p1', 1], ['c1', 1], [{ o: 1 }, 'y']])
    assert.strictEqual(JSON.stringify([...ipos.m]), want)
    assert.strictEqual(await p.call('return JSON.stringify([...raw(ipos.m)])'), want)
    assert.strictEqual(await p.call('return errors.length'), 0)
  } finally {
    ipos.close()
    p.kill()
  }
})
