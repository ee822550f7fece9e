'use strict'
// Every value type, both directions, over a real forked child: synchronise (created before
// connecting), create, update in place, reset and delete, compared exactly on the receiving side
// (util.inspect shows -0, NaN, holes, classes, null prototypes and binary contents).
const { test } = require('node:test')
const assert = require('node:assert')
const util = require('util')
const { spawnPeer, IPOS } = require('./helpers')
const { raw } = require('../lib/proxy')
const classes = require('./fixtures/classes')
const fixtures = require('./fixtures/values')

const AsyncFunction = (async () => {}).constructor
const show = (v) => util.inspect(raw(v), { depth: null, breakLength: Infinity })
const KEYS = Object.keys(fixtures.values())

function local(ipos) {
  return (code) => new AsyncFunction('ipos', 'show', 'fixtures', 'classes', code)(ipos, show, fixtures, classes)
}

const SHOW_ALL = 'const out = {}; for (const k of ipos.keys()) out[k] = show(ipos.get(k)); return out'

/** Runs the whole lifecycle with `act` making changes and `observe` reading the other side. */
async function lifecycle(act, observe) {
  const expected = {}
  for (const k of KEYS) expected[k] = show(fixtures.values()[k])

  // synchronise: fields created before the connection
  let seen = await observe(SHOW_ALL)
  for (const k of KEYS) assert.strictEqual(seen['sync_' + k], expected[k], `synchronised ${k}`)

  // create after connecting
  await act("for (const [k, v] of Object.entries(fixtures.values())) ipos.create('c_' + k, v); await ipos.flush()")
  seen = await observe(SHOW_ALL)
  for (const k of KEYS) assert.strictEqual(seen['c_' + k], expected[k], `created ${k}`)

  // update in place
  const after = await act(`
    for (const [k, code] of Object.entries(fixtures.updates)) new Function('v', code)(ipos.get('c_' + k))
    await ipos.flush()
    const out = {}; for (const k of Object.keys(fixtures.updates)) out[k] = show(ipos.get('c_' + k)); return out`)
  seen = await observe(SHOW_ALL)
  for (const k of Object.keys(fixtures.updates)) {
    assert.notStrictEqual(after[k], expected[k], `update changed ${k}`)
    assert.strictEqual(seen['c_' + k], after[k], `updated ${k}`)
  }

  // reset every field to the next value in the list (a change of type each time)
  await act(`
    const vals = fixtures.values(); const keys = Object.keys(vals)
    keys.forEach((k, i) => { ipos['c_' + k] = vals[keys[(i + 1) % keys.length]] })
    await ipos.flush()`)
  seen = await observe(SHOW_ALL)
  KEYS.forEach((k, i) => assert.strictEqual(seen['c_' + k], expected[KEYS[(i + 1) % KEYS.length]], `reset ${k}`))

  // delete
  await act("for (const k of ipos.keys()) if (k.startsWith('c_') && !ipos.delete(k)) throw new Error(k); await ipos.flush()")
  seen = await observe(SHOW_ALL)
  assert.deepStrictEqual(Object.keys(seen).filter((k) => k.startsWith('c_')), [])
  assert.strictEqual(Object.keys(seen).length, KEYS.length)
}

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
