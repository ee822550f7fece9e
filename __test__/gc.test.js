'use strict'
// No proxy leaks: values dropped from the shared state (and their proxies, side-table entries
// and cached children) can be collected.
const { test } = require('node:test')
const assert = require('node:assert')
const v8 = require('v8')
const vm = require('vm')
const { IPOS } = require('./helpers')
const { raw } = require('../lib/proxy')

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

async function collected(registerAll) {
  const seen = new Set()
  const reg = new FinalizationRegistry((name) => seen.add(name))
  const names = registerAll(reg)
  for (let i = 0; i < 20 && seen.size < names.length; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 10))
  }
  return names.filter((n) => !seen.has(n))
}

test('a nested value removed from the shared state is collected with its proxies', async () => {
  const ipos = IPOS.new()
  ipos.create('x', { inner: { list: [{ deep: new Map([['k', { v: 1 }]]) }] }, keep: 1 })
  const left = await collected((reg) => {
    const inner = ipos.x.inner
    const item = inner.list[0]
    const entry = item.deep.get('k')
    entry.v = 2 // every level has a proxy and a side-table entry now
    reg.register(raw(inner), 'inner')
    reg.register(raw(item), 'item')
    reg.register(raw(entry), 'entry')
    reg.register(inner, 'inner proxy')
    delete ipos.x.inner
    return ['inner', 'item', 'entry', 'inner proxy']
  })
  assert.deepStrictEqual(left, [])
  ipos.close()
})

test('a deleted field, and an element a reset removed, are collected', async () => {
  const ipos = IPOS.new()
  ipos.create('a', { big: new Array(10000).fill('x') })
  ipos.create('b', [{ n: 1 }])
  const left = await collected((reg) => {
    reg.register(raw(ipos.a), 'a')
    reg.register(raw(ipos.b[0]), 'b[0]')
    ipos.delete('a')
    ipos.b = [] // a reset patches in place: the element is spliced out
    return ['a', 'b[0]']
  })
  assert.deepStrictEqual(left, [])
  ipos.close()
})

test('reading many values does not grow memory without bound', async () => {
  const ipos = IPOS.new()
  ipos.create('rows', Array.from({ length: 2000 }, (_, i) => ({ i, tags: [i] })))
  const round = () => {
    ipos.rows = Array.from({ length: 2000 }, (_, i) => ({ i, tags: [i] }))
    for (const row of ipos.rows) row.tags.length // a proxy per row and per tags array
  }
  for (let i = 0; i < 5; i++) round()
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 40; i++) round()
  await new Promise((r) => setTimeout(r, 10))
  gc()
  const grown = process.memoryUsage().heapUsed - before
  assert.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MiB over 40 rounds`)
  ipos.close()
})
