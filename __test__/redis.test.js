'use strict'
// Processes on no common tree, sharing fields through a real redis-server: the stream orders the
// batches. Peers are started without an IPC channel (stdio pipes only).
const { test, before, after } = require('node:test')
const assert = require('assert')
const { startRedis, spawnRedisPeer } = require('./redis-server')
const { until } = require('./helpers')
const { initial, orderProblems } = require('./fixtures/random-ops')

let redis
before(async () => {
  redis = await startRedis()
})
after(() => redis && redis.stop())

let space = 0
/** A fresh shared space (`name`) per test, on the one server. */
function opts(extra) {
  return { redis: redis.url, name: `t${++space}`, ...extra }
}

async function stopAll(peers) {
  await Promise.all(peers.map((p) => p.stop()))
}

test('processes with no IPC relation converge on the stream order (random writers)', { timeout: 120000 }, async () => {
  const o = opts()
  const peers = [spawnRedisPeer(o), spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all(peers.map((p) => p.up))
    for (const seed of [1, 2, 3]) {
      const key = `r${seed}`
      await peers[0].call(`ipos.create(${JSON.stringify(key)}, require('./random-ops').initial()); await ipos.flush()`)
      await Promise.all(peers.map((p) => p.call(`await ipos.flush()`)))
      const logs = await Promise.all(peers.map((p, i) => p.call(`return await require('./random-ops').runRandom(ipos, ${JSON.stringify(key)}, ${seed * 10 + i}, 120)`)))
      // Each flush reads the log to its end as of then: after all three, everyone has everything.
      for (let round = 0; round < 2; round++) await Promise.all(peers.map((p) => p.call('await ipos.flush()')))
      const states = await Promise.all(peers.map((p) => p.call(`return show(ipos.get(${JSON.stringify(key)}))`)))
      for (const st of states) assert.strictEqual(st, states[0], `seed ${seed}: a process differs`)
      const mirrors = await Promise.all(peers.map((p) => p.call(`return require('./random-ops').liveAndMirror(ipos, ${JSON.stringify(key)})`)))
      for (const m of mirrors) assert.strictEqual(m.live, m.mirror, `seed ${seed}: live objects differ from the core mirror`)
      const value = await peers[0].call(`return raw(ipos.get(${JSON.stringify(key)}))`)
      assert.deepStrictEqual(orderProblems(value, [seed * 10, seed * 10 + 1, seed * 10 + 2], logs), [])
    }
    const errors = await Promise.all(peers.map((p) => p.call('return errors.map((e) => e.code).filter((c) => c !== "ERR_IPOS_CONFLICT")')))
    assert.deepStrictEqual(errors, [[], [], []])
  } finally {
    await stopAll(peers)
  }
})

test('a log entry over 64 KiB (read by the core while JS parses it) keeps its tagged values; its writer confirms it without parsing it', async () => {
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('big', []); await ipos.flush()`)
    await b.call('await ipos.flush()')
    await a.call(`for (let i = 0; i < 3000; i++) ipos.big.push({ id: i, name: 'user' + i, tags: ['a', 'b'] }); ipos.big.push(new Date(5), new Map([[1, 'x']]), -0, { '~': 'a user key' }, 'caf\\u00e9'); await ipos.flush()`)
    await b.call('await ipos.flush()')
    const look = "const x = ipos.big, n = x.length; return [n, x[n - 5] instanceof Date && x[n - 5].getTime(), x[n - 4] instanceof Map && x[n - 4].get(1), Object.is(x[n - 3], -0), x[n - 2]['~'], x[n - 1], JSON.stringify(x[n - 6])]"
    const want = [3005, 5, 'x', true, 'a user key', 'café', '{"id":2999,"name":"user2999","tags":["a","b"]}']
    assert.deepStrictEqual(await b.call(look), want)
    assert.deepStrictEqual(await a.call(look), want)
    const mirrors = await Promise.all([a, b].map((p) => p.call(`return require('./random-ops').liveAndMirror(ipos, 'big')`)))
    for (const m of mirrors) assert.strictEqual(m.live, m.mirror)
  } finally {
    await stopAll([a, b])
  }
})

test('a batch that does not apply is skipped everywhere and its origin reports ERR_IPOS_CONFLICT', async () => {
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', { k: 1 }); await ipos.flush()`)
    await b.call('await ipos.flush()')
    // A removal of x goes into the stream while b's JS is blocked (a synchronous XADD through
    // redis-cli), so b writes into x before it has read the removal: the stream orders the
    // removal first.
    const del = JSON.stringify('{"t":"b","o":"abcd","n":1,"ops":[["x","x"]]}')
    await b.call(`require('child_process').execFileSync('redis-cli', ['-s', ${JSON.stringify(redis.url)}, 'XADD', 'ipos:{${o.name}}:log', '*', 'b', ${del}]); ipos.x.k = 2; await ipos.flush()`)
    await a.call('await ipos.flush()')
    assert.deepStrictEqual(await a.call('return ipos.keys()'), [])
    assert.deepStrictEqual(await b.call('return ipos.keys()'), [])
    assert.deepStrictEqual(await b.call('return errors.map((e) => e.code)'), ['ERR_IPOS_CONFLICT'])
    assert.strictEqual(await a.call('return raw(ipos.x)'), undefined)
    assert.deepStrictEqual(await a.call('return errors.map((e) => e.code)'), [])
  } finally {
    await stopAll([a, b])
  }
})

test('entries a foreign or hostile client writes are skipped by every process alike, with a code', async () => {
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', [1]); await ipos.flush()`)
    const c = redis.client()
    const log = `ipos:{${o.name}}:log`
    await c.xadd(log, '*', 'hello', 'world')
    await c.xadd(log, '*', 'b', 'not json')
    await c.xadd(log, '*', 'b', '{"t":"q","q":1,"o":"aa","n":1,"ok":true,"ops":[]}')
    await c.xadd(log, '*', 'b', '{"t":"b","o":"aa","n":1,"ops":[["c","__proto__",1]]}')
    await c.xadd(log, '*', 'b', `{"t":"b","o":"aa","n":2,"ops":[["c","deep",${'['.repeat(2000)}${']'.repeat(2000)}]]}`)
    await c.xadd(log, '*', 'b', '{"t":"b","o":"aa","n":3,"ops":[["a","x",[],[2]]]}')
    // Tagged with an epoch that is not the space's: the tag is a hint only, the batch counts.
    await c.xadd(log, '*', 'b', '{"t":"b","o":"aa","n":4,"ops":[["a","x",[],[4]]]}', 'e', 'not-the-epoch')
    await a.call(`ipos.x.push(3); await ipos.flush()`)
    await b.call('await ipos.flush()')
    const want = ['ERR_IPOS_BAD_FRAME', 'ERR_IPOS_BAD_FRAME', 'ERR_IPOS_BAD_FRAME', 'ERR_IPOS_RESERVED_KEY', 'ERR_IPOS_TOO_DEEP']
    for (const p of [a, b]) {
      assert.deepStrictEqual(await p.call('return errors.map((e) => e.code)'), want)
      // A well-formed batch from a foreign writer is a batch like any other.
      assert.deepStrictEqual(await p.call('return raw(ipos.x)'), [1, 2, 4, 3])
    }
    // A process joining now reads the same entries and ends in the same state; what it met while
    // joining reaches the 'error' listener it attached once IPOS.new() resolved.
    const late = spawnRedisPeer(o)
    await late.up
    assert.deepStrictEqual(await late.call('return raw(ipos.x)'), [1, 2, 4, 3])
    assert.deepStrictEqual(await late.call('await new Promise((r) => setImmediate(r)); return errors.map((e) => e.code)'), want)
    await late.stop()
  } finally {
    await stopAll([a, b])
  }
})

test('the log is compacted under a lease and a joiner after many trims converges', { timeout: 60000 }, async () => {
  const o = opts({ snapshotEvery: 25 })
  const peers = [spawnRedisPeer(o), spawnRedisPeer(o)]
  const c = redis.client()
  const log = `ipos:{${o.name}}:log`
  try {
    await Promise.all(peers.map((p) => p.up))
    await peers[0].call(`ipos.create('n', { list: [] }); await ipos.flush()`)
    await Promise.all(peers.map((p, i) => p.call(`for (let k = 0; k < 200; k++) { ipos.n.list.push(${i} * 1000 + k); await ipos.flush() }`)))
    for (let round = 0; round < 2; round++) await Promise.all(peers.map((p) => p.call('await ipos.flush()')))
    const snap = await c.hgetall(`ipos:{${o.name}}:snap`)
    assert.ok(Number(snap.q) >= 300, `a recent snapshot was written (q ${snap.q})`)
    const len = await c.xlen(log)
    assert.ok(len < 150, `the log was trimmed: ${len} entries left of 401`)
    const late = spawnRedisPeer(o)
    await late.up
    const want = await peers[0].call('return raw(ipos.n)')
    assert.strictEqual(want.list.length, 400)
    assert.deepStrictEqual(await late.call('return raw(ipos.n)'), want)
    assert.deepStrictEqual(await peers[1].call('return raw(ipos.n)'), want)
    // And it follows on from there.
    await late.call('ipos.n.list.push(-1); await ipos.flush()')
    await peers[0].call('await ipos.flush()')
    assert.deepStrictEqual((await peers[0].call('return raw(ipos.n)')).list.at(-1), -1)
    await late.stop()
    for (const p of peers) assert.deepStrictEqual(await p.call('return errors'), [])
  } finally {
    await stopAll(peers)
  }
})

test('a snapshot in Redis that fails validation is refused: IPOS.new rejects with its code', async () => {
  const o = opts()
  const c = redis.client()
  await c.hset(`ipos:{${o.name}}:snap`, 'id', '0-0', 'q', '0', 'frame', '{"t":"s","q":0,"f":[["__proto__",1]]}', 'trim', '0-0', 'epoch', 'e')
  const p = spawnRedisPeer(o)
  await assert.rejects(p.up, { code: 'ERR_IPOS_RESERVED_KEY' })
  await p.stop()
})

test('bad options fail with ERR_IPOS_BAD_OPTIONS', async () => {
  const IPOS = require('..')
  await assert.rejects(IPOS.new({ redis: 42 }), { code: 'ERR_IPOS_BAD_OPTIONS' })
  await assert.rejects(IPOS.new({ redis: redis.url, name: '' }), { code: 'ERR_IPOS_BAD_OPTIONS' })
  await assert.rejects(IPOS.new({ redis: redis.url, snapshotEvery: 0 }), { code: 'ERR_IPOS_BAD_OPTIONS' })
})

test('Redis restarted: with persistence members resume; emptied, the first member re-seeds it', { timeout: 60000 }, async () => {
  for (const persist of [true, false]) {
    const server = await startRedis({ persist })
    const o = { redis: server.url, name: 'r' }
    const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
    try {
      await Promise.all([a.up, b.up])
      await a.call(`ipos.create('x', { list: [1] }); await ipos.flush()`)
      await b.call('await ipos.flush()')
      await server.restart()
      // Writes made while Redis is gone or coming back stay pending and go out once.
      await a.call(`ipos.x.list.push(2)`)
      await Promise.all([a, b].map((p) => p.call(`if (!events.includes('reconnect')) await new Promise((r) => ipos.once('reconnect', r))`)))
      await a.call('await ipos.flush()')
      await b.call(`ipos.x.list.push(3); await ipos.flush()`)
      for (let round = 0; round < 2; round++) await Promise.all([a, b].map((p) => p.call('await ipos.flush()')))
      const want = { list: [1, 2, 3] }
      assert.deepStrictEqual(await a.call('return raw(ipos.x)'), want, `persist ${persist}`)
      assert.deepStrictEqual(await b.call('return raw(ipos.x)'), want, `persist ${persist}`)
      const late = spawnRedisPeer(o)
      await late.up
      assert.deepStrictEqual(await late.call('return raw(ipos.x)'), want, `persist ${persist}: a joiner after the restart`)
      await late.stop()
      for (const p of [a, b]) {
        const ev = await p.call('return events')
        assert.ok(ev.includes('disconnect') && ev.includes('reconnect'), `persist ${persist}: ${ev}`)
        assert.deepStrictEqual(await p.call('return errors'), [])
      }
    } finally {
      await stopAll([a, b])
      await server.stop()
    }
  }
})

test('flush() while Redis is down rejects with ERR_IPOS_TIMEOUT after its timeout; the write still goes out once Redis is back', { timeout: 60000 }, async () => {
  const server = await startRedis({ persist: true })
  const o = { redis: server.url, name: 'down' }
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', { list: [1] }); await ipos.flush()`)
    await server.kill()
    const e = await a.call(`ipos.x.list.push(2); try { await ipos.flush({ timeout: 300 }); return null } catch (e) { return [e.code, e.message] }`)
    assert.ok(e !== null && e[0] === 'ERR_IPOS_TIMEOUT' && /300 ms from parent/.test(e[1]), JSON.stringify(e))
    await server.start()
    await a.call('await ipos.flush({ timeout: 20000 })')
    await b.call('await ipos.flush({ timeout: 20000 })')
    assert.deepStrictEqual(await b.call('return raw(ipos.x)'), { list: [1, 2] })
    assert.deepStrictEqual(await a.call('return errors'), [])
  } finally {
    await stopAll([a, b])
    await server.stop()
  }
})

test('a log deleted under connected members (FLUSHALL, no restart): the first to notice re-seeds it and the others follow', { timeout: 60000 }, async () => {
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', { list: [1] }); await ipos.flush()`)
    await b.call('await ipos.flush()')
    // No connection closes: the members only learn of it from the log itself.
    const c = redis.client()
    await c.del(`ipos:{${o.name}}:log`, `ipos:{${o.name}}:snap`)
    await c.quit()
    // a writes into the emptied log; its flush finds no epoch there, reloads and re-seeds the
    // space from its own state, with its write in it once.
    await a.call(`ipos.x.list.push(2); await ipos.flush()`)
    assert.ok((await a.call('return events')).includes('resync'), 'a reloaded')
    await b.call(`ipos.x.list.push(3); await ipos.flush()`)
    for (let round = 0; round < 2; round++) await Promise.all([a, b].map((p) => p.call('await ipos.flush()')))
    const want = { list: [1, 2, 3] }
    assert.deepStrictEqual(await a.call('return raw(ipos.x)'), want)
    assert.deepStrictEqual(await b.call('return raw(ipos.x)'), want)
    const late = spawnRedisPeer(o)
    await late.up
    assert.deepStrictEqual(await late.call('return raw(ipos.x)'), want, 'a joiner reads the re-seeded space')
    await late.stop()
    for (const p of [a, b]) assert.deepStrictEqual(await p.call('return errors'), [])
  } finally {
    await stopAll([a, b])
  }
})

test('a child of a Redis process: its writes go up through it into the stream, the stream comes down to it', { timeout: 60000 }, async () => {
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', { list: ['a0'] }); await ipos.flush()`)
    // c is an ordinary forked child of a (an IPC channel, IPOS.new() with no options).
    await a.call(`const { spawnPeer } = require('../helpers'); globalThis.c = spawnPeer(); await c.up; await ipos.addProcess(c.child); return true`)
    const c = (code) => a.call(`return await c.call(${JSON.stringify(code)})`)
    assert.deepStrictEqual(await c('return raw(ipos.x)'), { list: ['a0'] })
    // Up: c's flush resolves once its write is in the stream and its parent read it back.
    await c(`ipos.x.list.push('c1'); ipos.create('fromC', { n: 1 }); await ipos.flush()`)
    await b.call('await ipos.flush()')
    assert.deepStrictEqual(await b.call('return raw(ipos.x)'), { list: ['a0', 'c1'] })
    assert.deepStrictEqual(await b.call('return raw(ipos.fromC)'), { n: 1 })
    // Down: b's write reaches c through the stream and a.
    await b.call(`ipos.x.list.push('b1'); ipos.fromC.n = 2; await ipos.flush()`)
    await a.call('await ipos.flush()')
    await c('await ipos.flush()')
    assert.deepStrictEqual(await c('return raw(ipos.x)'), { list: ['a0', 'c1', 'b1'] })
    assert.deepStrictEqual(await c('return raw(ipos.fromC)'), { n: 2 })
    // Concurrent writers from all three converge on the stream's order.
    await Promise.all([
      a.call(`for (let i = 0; i < 30; i++) { ipos.x.list.push('a' + i); if (i % 7 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush()`),
      b.call(`for (let i = 0; i < 30; i++) { ipos.x.list.push('b' + i); if (i % 5 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush()`),
      c(`for (let i = 0; i < 30; i++) { ipos.x.list.push('c' + i); if (i % 3 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush()`),
    ])
    for (let round = 0; round < 2; round++) await Promise.all([a.call('await ipos.flush()'), b.call('await ipos.flush()'), c('await ipos.flush()')])
    const want = await b.call('return raw(ipos.x)')
    assert.strictEqual(want.list.length, 93)
    assert.deepStrictEqual(await a.call('return raw(ipos.x)'), want)
    assert.deepStrictEqual(await c('return raw(ipos.x)'), want)
    for (const who of ['a', 'b', 'c']) assert.deepStrictEqual(want.list.slice(3).filter((v) => v[0] === who), Array.from({ length: 30 }, (_, i) => who + i), `${who}'s writes keep their order`)
    assert.deepStrictEqual(await c('return errors'), [])
    for (const p of [a, b]) assert.deepStrictEqual(await p.call('return errors'), [])
    await a.call('c.kill(); return true')
  } finally {
    await stopAll([a, b])
  }
})

test('a process killed right after Redis accepted its write loses nothing', { timeout: 60000 }, async () => {
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', { list: [] }); await ipos.flush()`)
    await b.call('await ipos.flush()')
    const exit = new Promise((resolve) => a.child.once('exit', (code, signal) => resolve(signal)))
    // a dies (SIGKILL) in the reply to the XADD of its second write: before it read either back.
    const sent = a.call(`
      const Redis = require('ioredis')
      const xadd = Redis.prototype.xadd
      let n = 0
      Redis.prototype.xadd = function (...args) {
        const p = xadd.apply(this, args)
        if (++n === 2) p.then(() => process.kill(process.pid, 'SIGKILL'))
        return p
      }
      ipos.x.list.push('first')
      await new Promise((r) => setImmediate(r))
      ipos.x.list.push('second')
      return true
    `).catch(() => 'no answer')
    assert.strictEqual(await exit, 'SIGKILL')
    await sent
    await b.call('await ipos.flush()')
    assert.deepStrictEqual(await b.call('return raw(ipos.x)'), { list: ['first', 'second'] })
    const late = spawnRedisPeer(o)
    await late.up
    assert.deepStrictEqual(await late.call('return raw(ipos.x)'), { list: ['first', 'second'] })
    await late.stop()
    assert.deepStrictEqual(await b.call('return errors'), [])
  } finally {
    await stopAll([a, b])
  }
})

test('a process that fell a whole interval behind reloads the snapshot and keeps each of its writes once', { timeout: 60000 }, async () => {
  const o = opts({ snapshotEvery: 5 })
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('n', { list: [] }); await ipos.flush()`)
    await b.call('await ipos.flush()')
    // b1 goes into the log, then b's thread is blocked (b2 made meanwhile leaves after) while a
    // writes many intervals: the snapshot b reloads holds b1 and not b2.
    const blocked = b.call(`ipos.n.list.push('b1'); await new Promise((r) => setImmediate(r)); const end = Date.now() + 400; while (Date.now() < end); ipos.n.list.push('b2'); return true`)
    await a.call(`for (let k = 0; k < 40; k++) { ipos.n.list.push(k); await ipos.flush() }`)
    await blocked
    for (let round = 0; round < 2; round++) await Promise.all([a.call('await ipos.flush()'), b.call('await ipos.flush()')])
    assert.ok((await b.call('return events')).includes('resync'), 'b reloaded the snapshot')
    const want = await a.call('return raw(ipos.n).list')
    assert.deepStrictEqual(want.filter((x) => typeof x === 'string'), ['b1', 'b2'])
    assert.strictEqual(want.length, 42)
    assert.deepStrictEqual(await b.call('return raw(ipos.n).list'), want)
    for (const p of [a, b]) assert.deepStrictEqual(await p.call('return errors'), [])
  } finally {
    await stopAll([a, b])
  }
})

test('a write Redis accepted but nobody read back before it restarted empty is appended again, once', { timeout: 60000 }, async () => {
  const server = await startRedis({ persist: false })
  const o = { redis: server.url, name: 'lost' }
  const a = spawnRedisPeer(o)
  let b = null
  try {
    await a.up
    await a.call(`ipos.create('x', { list: ['first'] }); await ipos.flush()`)
    // a's reader misses the next entry and then waits: its write is in the log, read by no one.
    await a.call(`
      const L = ipos[require('../../lib/state').STATE].peers.parent
      const deliver = L.deliver
      const xread = L.blk.xread
      globalThis.missed = 0
      L.deliver = function (entries) {
        missed += entries.length
        L.deliver = deliver
        L.blk.xread = function () {
          L.blk.xread = xread
          return new Promise(() => {}) // a closed connection ends the read
        }
      }
      ipos.x.list.push('accepted, not read back')
      return true`)
    await until(() => a.call('return missed === 1 && ipos[require("../../lib/state").STATE].peers.parent.inflight.size === 0'), 10000, 'the XADD answered and the entry missed')
    await server.restart()
    await a.call(`if (!events.includes('reconnect')) await new Promise((r) => ipos.once('reconnect', r))`)
    await a.call('await ipos.flush()')
    const want = { list: ['first', 'accepted, not read back'] }
    assert.deepStrictEqual(await a.call('return raw(ipos.x)'), want)
    assert.strictEqual(await a.call("return ipos[require('../../lib/state').STATE].core.pending"), 0)
    b = spawnRedisPeer(o)
    await b.up
    assert.deepStrictEqual(await b.call('return raw(ipos.x)'), want)
    assert.deepStrictEqual(await a.call('return errors'), [])
  } finally {
    await stopAll(b ? [a, b] : [a])
    await server.stop()
  }
})

test('a Redis process that listens on a socket: its socket peers write into the stream through it and see the stream', { timeout: 60000 }, async () => {
  const { socketPath, joined } = require('./socket-helpers')
  const o = opts()
  const [a, b] = [spawnRedisPeer(o), spawnRedisPeer(o)]
  const path = socketPath('redis')
  let s = null
  try {
    await Promise.all([a.up, b.up])
    await a.call(`ipos.create('x', { list: ['a0'] }); await ipos.listen(${JSON.stringify(path)}); await ipos.flush()`)
    s = await joined(path)
    assert.deepStrictEqual(await s.call('return raw(ipos.x)'), { list: ['a0'] })
    // Up: the socket peer's flush resolves once its write is in the stream and read back.
    await s.call("ipos.x.list.push('s1'); ipos.create('fromS', 1); await ipos.flush()")
    await b.call('await ipos.flush()')
    assert.deepStrictEqual(await b.call('return [raw(ipos.x), ipos.fromS]'), [{ list: ['a0', 's1'] }, 1])
    // Down: b's write reaches the socket peer through the stream and a.
    await b.call("ipos.x.list.push('b1'); ipos.fromS = 2; await ipos.flush()")
    await a.call('await ipos.flush()')
    await s.call('await ipos.flush()')
    assert.deepStrictEqual(await s.call('return [raw(ipos.x), ipos.fromS]'), [{ list: ['a0', 's1', 'b1'] }, 2])
    // All three at once converge on the stream's order.
    await Promise.all([
      a.call("for (let i = 0; i < 20; i++) { ipos.x.list.push('a' + i); if (i % 4 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush()"),
      b.call("for (let i = 0; i < 20; i++) { ipos.x.list.push('b' + i); if (i % 3 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush()"),
      s.call("for (let i = 0; i < 20; i++) { ipos.x.list.push('s' + i); if (i % 5 === 0) await new Promise((r) => setImmediate(r)) } await ipos.flush()"),
    ])
    for (let round = 0; round < 2; round++) await Promise.all([a, b, s].map((p) => p.call('await ipos.flush()')))
    const want = await b.call('return raw(ipos.x)')
    assert.strictEqual(want.list.length, 63)
    assert.deepStrictEqual(await a.call('return raw(ipos.x)'), want)
    assert.deepStrictEqual(await s.call('return raw(ipos.x)'), want)
    for (const who of ['a', 'b', 's']) assert.deepStrictEqual(want.list.slice(3).filter((v) => v[0] === who), Array.from({ length: 20 }, (_, i) => who + i), `${who}'s writes keep their order`)
    for (const p of [a, b, s]) assert.deepStrictEqual(await p.call('return errors'), [])
  } finally {
    if (s) s.kill()
    await stopAll([a, b])
  }
})
