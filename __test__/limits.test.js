'use strict'
// Bounded cost per frame: no frame makes a process allocate more than a small multiple of its
// size plus a fixed allowance. The holes that far indices and longer lengths make (nothing on the
// wire) come out of a fixed allowance per batch, and no array grows past `maxArrayLength`; a
// frame that would pass either is refused whole, with ERR_IPOS_LIMIT, before anything grows.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { fork } = require('child_process')
const { IPOS, spawnPeer, until } = require('./helpers')
const { raw } = require('../lib/proxy')

const RAW = path.join(__dirname, 'fixtures', 'raw-peer.js')
const MiB = 1024 * 1024

let ipos
let child
const errors = []

/** Sends frames from the raw child; resolves once the parent has processed them. */
function fromChild(frames) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m && m.type === 'done') {
        child.removeListener('message', on)
        resolve(m.received)
      }
    }
    child.on('message', on)
    child.send({ type: 'frames', frames })
  })
}

let batch = 0
const b = (ops) => JSON.stringify({ t: 'b', o: 'fa1e', n: ++batch, ops })

before(async () => {
  ipos = IPOS.new()
  ipos.on('error', (e) => errors.push(e))
  ipos.create('arr', [])
  child = fork(RAW, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise((r) => child.once('message', r))
  await ipos.addProcess(child)
})

after(() => {
  ipos.close()
  child.kill()
})

test('a 50 KB frame asking for 200 million holes is refused whole; RSS stays flat; the channel keeps working', async () => {
  // What a child sends for `ipos.arr[99998] = 1` (allowed alone), 2,000 times with indices each
  // 99,999 further: every op reaches less than 100,000 past the end the one before left.
  const ops = []
  for (let i = 0; i < 2000; i++) ops.push(['s', 'arr', [99998 + i * 99999], 1])
  const frame = b(ops)
  assert.ok(frame.length < 60000, `${frame.length} bytes`)
  global.gc && global.gc()
  const rss0 = process.memoryUsage().rss
  const n = errors.length
  await fromChild([frame])
  const grown = process.memoryUsage().rss - rss0
  assert.ok(grown < 100 * MiB, `RSS grew by ${(grown / MiB).toFixed(0)} MiB`)
  assert.deepStrictEqual(errors.slice(n).map((e) => e.code), ['ERR_IPOS_LIMIT'])
  assert.match(errors[n].message, /at most 100000/)
  assert.strictEqual(raw(ipos.arr).length, 0, 'nothing applied')
  assert.strictEqual(ipos.arr.length, 0)
  // The same op once is fine, and so is the next frame's own allowance.
  await fromChild([b([ops[0]]), b([['s', 'arr', [199997], 2]])])
  assert.strictEqual(errors.length, n + 1)
  assert.strictEqual(ipos.arr.length, 199998)
  assert.strictEqual(ipos.arr[99998], 1)
  assert.strictEqual(ipos.arr[199997], 2)
  assert.ok(!(5 in ipos.arr), 'holes stay holes')
})

test('maxArrayLength: a local write past it throws before anything changes; a peer\'s frame past it is refused', async () => {
  const root = IPOS.new({ maxArrayLength: 1000 })
  const errs = []
  root.on('error', (e) => errs.push(e.code))
  const peer = spawnPeer() // default maxArrayLength: it lets its own writes through
  try {
    await peer.up
    await root.addProcess(peer.child)
    root.create('list', [1, 2, 3])
    await root.flush()
    const tries = [
      () => root.list.push(...new Array(998).fill(0)),
      () => { root.list[1000] = 1 },
      () => { root.list.length = 1001 },
      () => root.list.unshift(...new Array(998).fill(0)),
      () => root.list.splice(1, 0, ...new Array(998).fill(0)),
    ]
    for (const t of tries) assert.throws(t, (e) => e instanceof RangeError && e.code === 'ERR_IPOS_LIMIT' && /maxArrayLength \(1000\)/.test(e.message))
    root.list.push(...new Array(997).fill(0))
    assert.strictEqual(root.list.length, 1000, 'exactly the limit is allowed')
    await root.flush()
    assert.strictEqual(await peer.call('return ipos.list.length'), 1000)
    // The peer allows longer arrays; the root refuses its batch and the peer rolls back.
    await peer.call('ipos.list.push(1); await ipos.flush(); return true')
    await until(async () => (await peer.call('return errors.length')) > 0, 5000, 'the refusal to reach the peer')
    assert.deepStrictEqual(errs, ['ERR_IPOS_LIMIT'])
    assert.deepStrictEqual(await peer.call('return [ipos.list.length, errors.map((e) => e.code)]'), [1000, ['ERR_IPOS_CONFLICT']])
    assert.strictEqual(root.list.length, 1000)
  } finally {
    root.close()
    peer.kill()
  }
})

test('many far writes in one tick leave as several batches, each within the allowance, and all apply', async () => {
  const root = IPOS.new()
  const errs = []
  root.on('error', (e) => errs.push(e.code))
  const peer = spawnPeer()
  try {
    await peer.up
    await root.addProcess(peer.child)
    root.create('lists', { a: [], b: [], c: [] })
    await root.flush()
    await peer.call("ipos.lists.a[99998] = 1; ipos.lists.b.length = 100000; ipos.lists.c[99999] = 3; ipos.lists.a.push(2); await ipos.flush(); return true")
    await root.flush()
    assert.deepStrictEqual([root.lists.a.length, root.lists.b.length, root.lists.c.length], [100000, 100000, 100000])
    assert.deepStrictEqual([root.lists.a[99998], root.lists.a[99999], root.lists.c[99999]], [1, 2, 3])
    assert.deepStrictEqual(errs, [])
    assert.deepStrictEqual(await peer.call('return errors.map((e) => e.code)'), [])
  } finally {
    root.close()
    peer.kill()
  }
})
