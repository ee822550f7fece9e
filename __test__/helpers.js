'use strict'
// Shared helpers: fork real children running fixtures/peer.js and talk to them.
const path = require('path')
const v8 = require('v8')
const { fork } = require('child_process')
const IPOS = require('..')
const { raw } = require('../lib/proxy')
const classes = require('./fixtures/classes')

for (const c of Object.values(classes)) IPOS.registerClass(c)

const PEER = path.join(__dirname, 'fixtures', 'peer.js')
let nextId = 0

/** Forks a peer; `call(code)` runs code in it and resolves with the (v8-cloned) result. */
function spawnPeer({ opts, env, noInit, script } = {}) {
  const child = fork(script || PEER, [], {
    env: { ...process.env, IPOS_OPTS: opts ? JSON.stringify(opts) : '', IPOS_NO_INIT: noInit ? '1' : '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const calls = new Map()
  const up = new Promise((resolve) => {
    child.on('message', (msg) => {
      if (msg && msg.type === 'up') return resolve()
      if (msg && calls.has(msg.id)) {
        const { resolve: res, reject } = calls.get(msg.id)
        calls.delete(msg.id)
        const value = v8.deserialize(Buffer.from(msg.data, 'base64'))
        if (msg.ok) res(value)
        else reject(Object.assign(new Error(value.message), value))
      }
    })
  })
  child.on('exit', () => {
    for (const { reject } of calls.values()) reject(new Error('peer exited'))
    calls.clear()
  })
  function call(code) {
    const id = ++nextId
    return new Promise((resolve, reject) => {
      calls.set(id, { resolve, reject })
      child.send({ type: 'call', id, code })
    })
  }
  return { child, call, up, kill: () => child.kill('SIGKILL') }
}

/** Resolves when `fn()` returns truthy (polled), or rejects after `ms`. */
async function until(fn, ms = 5000, what = 'condition') {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A deep copy of a field's live value, without proxies (comparable with deepStrictEqual). */
function plain(v) {
  return raw(v)
}

module.exports = { spawnPeer, until, plain, classes, IPOS }
