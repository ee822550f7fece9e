'use strict'
// Every value type, both directions, over a real forked child: synchronise (created before
// connecting), create, update in place, reset and delete, compared exactly on the receiving side
// (util.inspect shows -0, NaN, holes, classes, null prototypes and binary contents).
const { test } = require('node:test')
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
