'use strict'
// Every value type, both directions, over a real forked child: synchronise (created before
// connecting), create, update in place, reset and delete, compared exactly on the receiving side
// (util.inspect shows -0, NaN, holes, classes, null prototypes and binary contents).
const { test } = require('node:test')
const assert = require('node:assert')
const { spawnPeer, IPOS } = require('./helpers')
const fixtures = require('./fixtures/values')
const { local, lifecycle } = require('./fixtures/lifecycle')

test('every value type, parent to child', async () => {
  const ipos = IPOS.new()
  for (const [k, v] of Object.entries(fixtures.values())) ipos.create('sync_' + k, v)
  const peer = spawnPeer()
  await peer.up
  await ipos.addProcess(peer.child)
  try {
    await lifecycle(local(ipos), peer.call)
  } finally {
    ipos.close()
    peer.kill()
  }
})

test('every value type, child to parent', async () => {
  const ipos = IPOS.new()
  const peer = spawnPeer()
  await peer.up
  await ipos.addProcess(peer.child)
  try {
    // the child creates the "synchronise" set before a second parent connects to it
    await peer.call("for (const [k, v] of Object.entries(fixtures.values())) ipos.create('sync_' + k, v); await ipos.flush()")
    await lifecycle(peer.call, local(ipos))
  } finally {
    ipos.close()
    peer.kill()
  }
})

test('pushed values travel as they were at the push, whatever changes them later in the same tick', async () => {
  const ipos = IPOS.new()
  ipos.create('arr', [])
  const peer = spawnPeer()
  await peer.up
  await ipos.addProcess(peer.child)
  const show = (v) => require('util').inspect(v, { depth: null, breakLength: Infinity })
  try {
    const mine = { a: 1, list: [1] }
    ipos.arr.push(mine)
    mine.a = 2 // the caller's own object is not shared: the pushed copy keeps a: 1
    mine.list.push('not shared')
    ipos.arr[0].list.push(2) // a change inside a pushed copy, same tick
    ipos.arr.push({ b: [3, 2, 1] })
    ipos.arr[1].b.sort()
    ipos.arr.push({ c: 1 })
    ipos.arr[2].c = 5
    delete ipos.arr[2].c
    ipos.arr.push(7, 8)
    ipos.arr.push({ d: new Date(0), n: -0 }) // values that need tags go the other way
    ipos.arr.push({ e: [{ f: 1 }] })
    ipos.arr[6].e[0].f = 'changed'
    ipos.arr.push('s', null, true)
    ipos.arr.push({ last: 1 })
    const expected = "[ { a: 1, list: [ 1, 2 ] }, { b: [ 1, 2, 3 ] }, {}, 7, 8, { d: 1970-01-01T00:00:00.000Z, n: -0 }, { e: [ { f: 'changed' } ] }, 's', null, true, { last: 1 } ]"
    assert.strictEqual(show(require('../lib/proxy').raw(ipos.arr)), expected)
    await ipos.flush()
    assert.strictEqual(await peer.call("return require('util').inspect(raw(ipos.arr), { depth: null, breakLength: Infinity })"), expected)
  } finally {
    ipos.close()
    peer.kill()
  }
})

test('values set on objects and arrays travel as they were at the set, whatever changes them later in the same tick', async () => {
  const ipos = IPOS.new()
  ipos.create('o', { keep: 1, arr: [0, 1, 2] })
  const peer = spawnPeer()
  await peer.up
  await ipos.addProcess(peer.child)
  const show = (v) => require('util').inspect(v, { depth: null, breakLength: Infinity })
  try {
    const mine = { x: 1, inner: { y: [1] } }
    ipos.o.a = mine
    mine.x = 'not shared'
    ipos.o.a.inner.y.push(2) // inside a value set earlier in this tick
    ipos.o.b = { list: [3, 1, 2] }
    ipos.o.b.list.reverse()
    ipos.o.arr[1] = { z: 1 }
    ipos.o.arr[1].z = 2
    delete ipos.o.arr[0]
    ipos.o.c = 5
    ipos.o.c = 6
    delete ipos.o.keep
    ipos.o.d = { when: new Date(0) } // needs a tag: written at once
    ipos.o.d.when = 'later'
    ipos.o.e = { m: 1 }
    ipos.o.arr[5] = 'after a hole'
    ipos.o.e.m = { deeper: [] }
    ipos.o.e.m.deeper.push({ last: true })
    const expected = "{ arr: [ <1 empty item>, { z: 2 }, 2, <2 empty items>, 'after a hole' ], a: { x: 1, inner: { y: [ 1, 2 ] } }, b: { list: [ 2, 1, 3 ] }, c: 6, d: { when: 'later' }, e: { m: { deeper: [ { last: true } ] } } }"
    assert.strictEqual(show(require('../lib/proxy').raw(ipos.o)).replace(/\s*\n\s*/g, ' '), expected)
    await ipos.flush()
    const there = await peer.call("return require('util').inspect(raw(ipos.o), { depth: null, breakLength: Infinity })")
    assert.strictEqual(there.replace(/\s*\n\s*/g, ' '), expected)
  } finally {
    ipos.close()
    peer.kill()
  }
})

test('a batch over 64 KiB (read by the core on another thread while JS parses it) keeps its tagged values, both ways', async () => {
  const ipos = IPOS.new()
  ipos.create('big', [])
  const peer = spawnPeer()
  await peer.up
  await ipos.addProcess(peer.child)
  const push = "for (let i = 0; i < 3000; i++) ipos.big.push({ id: i, name: 'user' + i, tags: ['a', 'b'] }); ipos.big.push(new Date(5), new Map([[1, 'x']]), -0, { '~': 'a user key' }, 'caf\\u00e9')"
  const look = "const b = ipos.big, n = b.length; return [n, b[n - 5] instanceof Date && b[n - 5].getTime(), b[n - 4] instanceof Map && b[n - 4].get(1), Object.is(b[n - 3], -0), b[n - 2]['~'], b[n - 1], JSON.stringify(b[n - 6])]"
  const want = (n) => [n, 5, 'x', true, 'a user key', 'café', '{"id":2999,"name":"user2999","tags":["a","b"]}']
  try {
    new Function('ipos', push)(ipos)
    await ipos.flush()
    assert.deepStrictEqual(await peer.call(look), want(3005))
    await peer.call(push + '; await ipos.flush()')
    assert.deepStrictEqual(new Function('ipos', look)(ipos), want(6010))
  } finally {
    ipos.close()
    peer.kill()
  }
})
