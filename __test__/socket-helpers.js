'use strict'
// Processes with no IPC relation to the test or to each other (spawned without an 'ipc' entry),
// sharing state through a socket: see fixtures/socket-peer.js.
const os = require('os')
const path = require('path')
const v8 = require('v8')
const readline = require('readline')
const { spawn } = require('child_process')

const SOCKET_PEER = path.join(__dirname, 'fixtures', 'socket-peer.js')
let nextId = 0
let nextPath = 0

/** A fresh socket path for this test process. */
function socketPath(name = 's') {
  return path.join(os.tmpdir(), `ipos-${process.pid}-${++nextPath}-${name}.sock`)
}

/**
 * Spawns a socket peer. With `connect` it joins that listener at start (`up` resolves with the
 * error of a failed join, if any). `call(code)` runs code in it and resolves with the result.
 */
function spawnSocketPeer({ connect, token, opts, detached } = {}) {
  const env = { ...process.env, IPOS_CONNECT: connect || '', IPOS_TOKEN: token || '', IPOS_OPTS: opts ? JSON.stringify(opts) : '' }
  const child = spawn(process.execPath, [SOCKET_PEER], { env, stdio: ['pipe', 'pipe', 'inherit'], detached: !!detached })
  if (child.stdio.length > 3) throw new Error('a socket peer must have no IPC channel')
  const calls = new Map()
  let upResolve
  const up = new Promise((resolve) => { upResolve = resolve })
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('@@')) return process.stdout.write(line + '\n')
    const msg = JSON.parse(line.slice(2))
    if (msg.type === 'up') return upResolve(msg.error)
    const c = calls.get(msg.id)
    if (!c) return
    calls.delete(msg.id)
    const value = v8.deserialize(Buffer.from(msg.data, 'base64'))
    if (msg.ok) c.resolve(value)
    else c.reject(Object.assign(new Error(value.message), value))
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    for (const { reject } of calls.values()) reject(new Error(`socket peer exited (${signal || code})`))
    calls.clear()
    resolve(signal || code)
  }))
  child.stdin.on('error', () => {})
  function call(code) {
    const id = ++nextId
    return new Promise((resolve, reject) => {
      calls.set(id, { resolve, reject })
      child.stdin.write(JSON.stringify({ id, code }) + '\n')
    })
  }
  return { child, up, call, exited, kill: (sig = 'SIGKILL') => child.kill(sig) }
}

/** Spawns a socket peer that creates an instance and listens on `path` (resolves once listening). */
async function spawnListener(path, { token, opts, setup = '' } = {}) {
  const p = spawnSocketPeer({ opts })
  await p.up
  await p.call(`const i = IPOS.new(${JSON.stringify(opts || {})}); setIpos(i); watch(i); ${setup}; await i.listen(${JSON.stringify(path)}${token ? `, { token: ${JSON.stringify(token)} }` : ''}); return true`)
  return p
}

/** Spawns a socket peer joined to `path`; throws if it could not join. */
async function joined(path, options) {
  const p = spawnSocketPeer({ ...options, connect: path })
  const err = await p.up
  if (err) {
    p.kill()
    throw Object.assign(new Error(err.message), err)
  }
  return p
}

module.exports = { socketPath, spawnSocketPeer, spawnListener, joined }

/** Forks an IPC child under the socket peer `peer` and adds it there; returns a `call` into it. */
async function spawnIpcChild(peer) {
  const id = ++nextId
  await peer.call(`const { spawnPeer } = require('../helpers'); const p = spawnPeer(); globalThis.sub${id} = p; await p.up; await ipos.addProcess(p.child); return true`)
  return { call: (code) => peer.call(`return await sub${id}.call(${JSON.stringify(code)})`) }
}

module.exports.spawnIpcChild = spawnIpcChild
