'use strict'
// Faults over sockets with real, unrelated processes: the listener killed with SIGKILL and started
// again on the same path (its peers reconnect, resync in place and converge), and a connected
// process killed in the middle of a large frame (the listener drops that connection only).
const { test } = require('node:test')
const assert = require('node:assert')
const { IPOS, until } = require('./helpers')
const { socketPath, spawnListener, joined, spawnIpcChild } = require('./socket-helpers')

const count = (p, kind) => p.call(`return events.filter((e) => e.kind === ${JSON.stringify(kind)}).length`)

test('the listener killed with SIGKILL and restarted on the same path: peers reconnect, resync in place and converge', { timeout: 60000 }, async () => {
  const path = socketPath()
  let listener = await spawnListener(path, { setup: "i.create('t', { gen: 1, log: [] })" })
  const a = await joined(path)
  const b = await joined(path)
  try {
    await a.call("globalThis.held = ipos.t.log; ipos.t.log.push('a1'); await ipos.flush()")
    await b.call("ipos.t.log.push('b1'); await ipos.flush()")
    assert.strictEqual(await a.call('return show(ipos.t)'), "{ gen: 1, log: [ 'a1', 'b1' ] }")

    listener.kill()
    await listener.exited
    for (const p of [a, b]) await until(async () => (await count(p, 'disconnect')) === 1, 10000, "'disconnect'")
    // Away, each process still reads what it holds.
    assert.strictEqual(await a.call('return show(ipos.t)'), "{ gen: 1, log: [ 'a1', 'b1' ] }")

    const t0 = performance.now()
    listener = await spawnListener(path, { setup: "i.create('t', { gen: 2, log: ['restarted'] })" })
    for (const p of [a, b]) await until(async () => (await count(p, 'reconnect')) === 1, 10000, "'reconnect'")
    const ms = performance.now() - t0
    console.log(`# listener restart to every peer reconnected and resynced: ${ms.toFixed(0)} ms`)

    // Resynced in place: the restarted listener's state, with references held before still live.
    for (const p of [a, b]) assert.strictEqual(await p.call('return show(ipos.t)'), "{ gen: 2, log: [ 'restarted' ] }")
    assert.deepStrictEqual(await a.call("return [held === ipos.t.log, events.filter((e) => e.kind === 'resync').length]"), [true, 1])
    await a.call("ipos.t.log.push('a2'); await ipos.flush()")
    await b.call("ipos.t.log.push('b2'); await ipos.flush()")
    await listener.call('await ipos.flush()')
    const want = "{ gen: 2, log: [ 'restarted', 'a2', 'b2' ] }"
    for (const p of [listener, a, b]) assert.strictEqual(await p.call('return show(ipos.t)'), want)
  } finally {
    listener.kill()
    a.kill()
    b.kill()
  }
})

test('a connected process killed in the middle of a large frame: the listener drops that connection only', { timeout: 60000 }, async () => {
  const ipos = IPOS.new()
  const errors = []
  ipos.on('error', (e) => errors.push(e))
  const left = []
  ipos.on('peerLeft', (e) => left.push(e))
  ipos.create('big', [])
  const path = socketPath()
  await ipos.listen(path)
  const victim = await joined(path)
  const survivor = await joined(path)
  try {
    // One tick of 100k pushes (a multi-MB frame), then SIGKILL before the write can finish.
    victim.call("for (let i = 0; i < 100000; i++) ipos.big.push({ i, s: 'y'.repeat(40) }); setImmediate(() => process.kill(process.pid, 'SIGKILL'))").catch(() => {})
    await victim.exited
    await until(() => left.length === 1, 10000, "the victim's 'peerLeft'")
    await survivor.call("ipos.big.push('after'); await ipos.flush()")
    ipos.big.push('root')
    await ipos.flush()
    const n = ipos.big.length
    // The frame arrived whole or not at all: never a part of it.
    assert.ok(n === 2 || n === 100002, `length ${n}`)
    assert.deepStrictEqual(ipos.big.slice(-2), ['after', 'root'])
    assert.strictEqual(await survivor.call('return ipos.big.length'), n)
    assert.ok(errors.every((e) => e.code === 'ERR_IPOS_BAD_FRAME'), errors.map((e) => e.code).join())
  } finally {
    ipos.close()
    survivor.kill()
  }
})

test('writes made while the listener is away are kept and replayed in order after the reconnect', { timeout: 60000 }, async () => {
  const path = socketPath()
  let listener = await spawnListener(path, { setup: "i.create('t', { log: [] })" })
  const a = await joined(path)
  const child = await spawnIpcChild(a)
  try {
    await a.call("ipos.t.log.push('before'); await ipos.flush()")
    listener.kill()
    await listener.exited
    await until(async () => (await count(a, 'disconnect')) === 1, 10000, "'disconnect'")
    await a.call("ipos.t.log.push('away 1'); ipos.t.log.push('away 2'); ipos.t.note = 'kept'")
    await child.call("ipos.t.log.push('away from the IPC child'); await ipos.flush()")
    // Nothing orders a batch while the root is away: each process shows its own writes only.
    assert.strictEqual(await a.call('return show(ipos.t)'), "{ log: [ 'before', 'away 1', 'away 2' ], note: 'kept' }")
    listener = await spawnListener(path, { setup: "i.create('t', { log: ['restarted'] })" })
    await until(async () => (await count(a, 'reconnect')) === 1, 10000, "'reconnect'")
    await a.call('await ipos.flush()')
    await listener.call('await ipos.flush()')
    const want = "{ log: [ 'restarted', 'away 1', 'away 2', 'away from the IPC child' ], note: 'kept' }"
    assert.strictEqual(await listener.call('return show(ipos.t)'), want)
    assert.strictEqual(await a.call('return show(ipos.t)'), want)
    assert.strictEqual(await child.call('return show(ipos.t)'), want)
    assert.deepStrictEqual(await a.call('return errors'), [])
  } finally {
    listener.kill()
    a.kill()
  }
})

test("a child's batch in flight through a connected process when the listener dies reaches the restarted listener once", { timeout: 60000 }, async () => {
  const path = socketPath()
  let listener = await spawnListener(path, { setup: "i.create('t', { log: [] })" })
  const a = await joined(path)
  const child = await spawnIpcChild(a)
  const relayed = () => a.call("return ipos[require('../../lib/state').STATE].peers.relayed.size")
  try {
    await child.call("ipos.t.log.push('before'); await ipos.flush()")
    // The listener stops reading: the child's next batch goes up through `a` and is never ordered.
    listener.child.kill('SIGSTOP')
    await child.call("ipos.t.log.push('in flight')")
    await until(async () => (await relayed()) === 1, 10000, 'the batch relayed up by a')
    listener.kill()
    await listener.exited
    await until(async () => (await count(a, 'disconnect')) === 1, 10000, "'disconnect'")
    listener = await spawnListener(path, { setup: "i.create('t', { log: ['restarted'] })" })
    await until(async () => (await count(a, 'reconnect')) === 1, 10000, "'reconnect'")
    await child.call('await ipos.flush()')
    await a.call('await ipos.flush()')
    await listener.call('await ipos.flush()')
    const want = "{ log: [ 'restarted', 'in flight' ] }"
    assert.strictEqual(await listener.call('return show(ipos.t)'), want)
    assert.strictEqual(await a.call('return show(ipos.t)'), want)
    assert.strictEqual(await child.call('return show(ipos.t)'), want)
    assert.strictEqual(await relayed(), 0, 'nothing kept once sequenced')
    assert.deepStrictEqual(await a.call('return errors'), [])
  } finally {
    listener.kill()
    a.kill()
  }
})
