'use strict'
// Writers keep their order: the root and three children push onto one shared array (and unshift
// onto another) at the same time. A push is an append wherever the array ends when the root
// orders it, so every writer's items come out exactly once and in the order it pushed them, in
// every process; unshifted items come out in the reverse order, at the front.
const { test } = require('node:test')
const assert = require('node:assert')
const { IPOS, spawnPeer } = require('./helpers')
const { raw } = require('../lib/proxy')

const ROUNDS = 200

/** The writer's loop, run in every process: 3 pushes, 1 unshift and 3 Map#set, then 2 ms. */
const WRITE = `
  for (let i = 0; i < ${ROUNDS}; i++) {
    const n = i * 3
    ipos.log.push(name + n)
    ipos.log.push(name + (n + 1))
    if (i % 2) ipos.log.push(name + (n + 2))
    else ipos.log.push(name + (n + 2), name + '!' + n) // a multi-item push too
    ipos.front.unshift(name + i)
    for (let k = 0; k < 3; k++) ipos.seen.set(name + (n + k), i)
    await new Promise((r) => setTimeout(r, 2))
  }
  await ipos.flush()
`

/** Problems with `name`'s items in `log` (appends) and `front` (prepends). */
function orderProblems(name, log, front) {
  const out = []
  const mine = log.filter((x) => x.startsWith(name) && !x.includes('!')).map((x) => Number(x.slice(name.length)))
  if (mine.length !== ROUNDS * 3) out.push(`${name}: ${mine.length} pushed items, expected ${ROUNDS * 3}`)
  if (new Set(mine).size !== mine.length) out.push(`${name}: an item appears twice`)
  for (let i = 1; i < mine.length; i++) {
    if (mine[i] <= mine[i - 1]) {
      out.push(`${name}: ${name}${mine[i - 1]} comes before ${name}${mine[i]} (…${log.slice(Math.max(0, log.indexOf(name + mine[i]) - 4), log.indexOf(name + mine[i]) + 4).join(' ')}…)`)
      break
    }
  }
  const extra = log.filter((x) => x.startsWith(name + '!'))
  for (const x of extra) {
    const n = Number(x.slice(name.length + 1))
    const at = log.indexOf(x)
    if (log[at - 1] !== name + (n + 2)) out.push(`${name}: ${x} is not right after ${name}${n + 2} (its own push call)`)
  }
  const pre = front.filter((x) => x.startsWith(name)).map((x) => Number(x.slice(name.length)))
  if (pre.length !== ROUNDS || pre.some((x, i) => i > 0 && x >= pre[i - 1])) out.push(`${name}: unshifted items out of order or missing (${pre.length})`)
  return out
}

test('concurrent writers (the root and 3 children) each keep their push and unshift order, each item exactly once', async () => {
  const root = IPOS.new()
  const errors = []
  root.on('error', (e) => errors.push(e.code))
  const peers = [spawnPeer(), spawnPeer(), spawnPeer()]
  try {
    await Promise.all(peers.map((p) => p.up))
    for (const p of peers) await root.addProcess(p.child)
    root.create('log', [])
    root.create('front', [])
    root.create('seen', new Map())
    await root.flush()
    const names = ['main', 'a', 'b', 'c']
    const AsyncFunction = (async () => {}).constructor
    await Promise.all([
      new AsyncFunction('ipos', 'name', WRITE)(root, 'main'),
      ...peers.map((p, i) => p.call(`const name = ${JSON.stringify(names[i + 1])}; ${WRITE}; return true`)),
    ])
    await root.flush()
    const log = [...raw(root.log)]
    const front = [...raw(root.front)]
    assert.strictEqual(log.length, names.length * ROUNDS * 3.5)
    assert.strictEqual(root.seen.size, names.length * ROUNDS * 3)
    const problems = names.flatMap((n) => orderProblems(n, log, front))
    assert.deepStrictEqual(problems, [])
    for (const p of peers) {
      const [l, f, size, errs] = await p.call('return [[...raw(ipos.log)], [...raw(ipos.front)], ipos.seen.size, errors.map((e) => e.code)]')
      assert.deepStrictEqual(l, log, 'every process holds the same log')
      assert.deepStrictEqual(f, front)
      assert.strictEqual(size, root.seen.size)
      assert.deepStrictEqual(errs, [])
    }
    assert.deepStrictEqual(errors, [])
  } finally {
    root.close()
    for (const p of peers) p.kill()
  }
})
