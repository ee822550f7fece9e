'use strict'
// Shared helpers: fork real children running fixtures/peer.js and talk to them.
const path = require('path')
const v8 = require('v8')
const { fork } = require('child_process')
const cluster = require('cluster')
const { Worker } = require('worker_threads')
const IPOS = require('..')
const { raw } = require('../lib/proxy')
const classes = require('./fixtures/classes')

for (const c of Object.values(classes)) IPOS.registerClass(c)

const PEER = path.join(__dirname, 'fixtures', 'peer.js')
const THREAD_PEER = path.join(__dirname, 'fixtures', 'thread-peer.js')
let nextId = 0

/** Forks a peer; `call(code)` runs code in it and resolves with the (v8-cloned) result. */
function spawnPeer({ opts, noInit, kind = 'fork', execArgv } = {}) {
  const env = { ...process.env, IPOS_OPTS: opts ? JSON.stringify(opts) : '', IPOS_NO_INIT: noInit ? '1' : '' }
  let child
  if (kind === 'thread') {
    child = new Worker(THREAD_PEER, { env })
    child.send = child.postMessage.bind(child)
    child.kill = () => child.terminate()
  } else if (kind === 'cluster') {
    cluster.setupPrimary({ exec: PEER, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child = cluster.fork(env)
    child.kill = (sig) => child.process.kill(sig)
  } else {
    child = fork(PEER, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...(execArgv ? { execArgv } : {}) })
  }
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
  /** Forks a grandchild under `peer`; returns a `call` that runs code in it. */
  async function spawnChild(options) {
    const id = ++nextId
    await call(`const { spawnPeer } = require('../helpers'); const p = spawnPeer(${JSON.stringify(options || {})}); globalThis.sub${id} = p; await p.up; await ipos.addProcess(p.child); return true`)
    return {
      call: (code) => call(`return await sub${id}.call(${JSON.stringify(code)})`),
      kill: () => call(`sub${id}.kill(); return true`),
    }
  }
  return { child, call, up, spawnChild, kill: () => child.kill('SIGKILL') }
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

/** The frames an ipos envelope carries: one frame string, or the frames one tick sent. */
function framesIn(m) {
  return typeof m.d === 'string' ? [m.d] : m.d
}

module.exports = { spawnPeer, until, plain, classes, IPOS, framesIn }
