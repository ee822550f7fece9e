'use strict'
// The randomised convergence test over sockets: the root listens, two unrelated processes join it
// through the socket, and one of them is the IPC parent of a fourth. Same seeds and checks as
// converge.test.js.
const { test } = require('node:test')
const { IPOS } = require('./helpers')
const { runSeed } = require('./fixtures/converge')
const { socketPath, joined, spawnIpcChild } = require('./socket-helpers')

const SEEDS = [1, 2, 3, 4, 5, 6]

test('concurrent random writers in a 4-process socket tree converge to the same state', { timeout: 120000 }, async () => {
  const root = IPOS.new()
  const errors = []
  root.on('error', (e) => errors.push(e.code))
  const path = socketPath()
  await root.listen(path)
  const c1 = await joined(path)
  const c2 = await joined(path)
  const g = await spawnIpcChild(c1)
  const tree = { root, peers: [c1, c2, g], names: ['socket child 1', 'socket child 2', 'IPC grandchild'], errors }
  try {
    for (const seed of SEEDS) await runSeed(tree, seed, 150)
  } finally {
    root.close()
    c1.kill()
    c2.kill()
  }
})
