'use strict'
// Membership churn under concurrent writers over real processes, six fixed seeds (more with
// `npm run soak -- --churn N`).
const { test } = require('node:test')
const { IPOS } = require('./helpers')
const { runChurn } = require('./fixtures/churn')

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`churn seed ${seed}: removed, re-added, killed and replaced children while everyone writes; the tree converges`, { timeout: 60000 }, async () => {
    await runChurn(IPOS, seed)
  })
}
