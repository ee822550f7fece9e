'use strict'
// Randomised convergence over real processes (root, 2 children, 1 grandchild), fixed seeds.
// Long runs: `npm run soak -- --seeds 1000`.
const { test } = require('node:test')
const { IPOS } = require('./helpers')
const { startTree, runSeed } = require('./fixtures/converge')

const SEEDS = [1, 2, 3, 4, 5, 6]

test('concurrent random writers in a 4-process tree converge to the same state', { timeout: 120000 }, async () => {
  const tree = await startTree(IPOS)
  try {
    for (const seed of SEEDS) await runSeed(tree, seed, 150)
  } finally {
    tree.stop()
  }
})
