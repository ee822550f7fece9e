'use strict'
// A real redis-server for the Redis tests: started on a unix socket in a fresh directory (no port
// to collide on), stopped after. Without one installed, the tests fail saying how to get one.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn, execFileSync } = require('child_process')
const Redis = require('ioredis')

function binary() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('the Redis tests need a redis-server binary and none is on PATH: install one (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`). .ci/run installs it.')
  }
}

/**
 * Starts redis-server on a unix socket. `persist`: an append-only file, so a restart keeps the
 * data. Returns `{ url, stop(), restart(), client() }`.
 */
async function startRedis({ persist = false } = {}) {
  const bin = binary()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipos-redis-'))
  const sock = path.join(dir, 'redis.sock')
  let proc = null
  let spawnedAt = 0
  const clients = []
  async function up() {
    spawnedAt = Date.now()
    proc = spawn(bin, ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', persist ? 'yes' : 'no', '--appendfsync', 'always'], { stdio: 'ignore' })
    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.exited = exited
    for (let i = 0; ; i++) {
      const c = new Redis({ path: sock, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
      c.on('error', () => {})
      try {
        await c.connect()
        await c.ping()
        c.disconnect()
        return
      } catch (e) {
        c.disconnect()
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 50))])
        if (code !== undefined || i > 200) throw new Error(`redis-server (${bin}) did not start on ${sock}: ${code !== undefined ? `exited with ${code}` : e.message}`)
      }
    }
  }
  async function down() {
    if (proc === null) return
    const p = proc
    proc = null
    p.kill('SIGKILL')
    await p.exited
  }
  await up()
  return {
    url: sock,
    /** A plain client for the test's own commands (closed by stop). */
    client() {
      const c = new Redis({ path: sock })
      c.on('error', () => {})
      clients.push(c)
      return c
    },
    /** When the server process was last started (Date.now()). */
    get spawnedAt() {
      return spawnedAt
    },
    /** Kills the server (SIGKILL); `start()` brings it back on the same socket and directory. */
    kill: down,
    start: up,
    async restart(ms = 0) {
      await down()
      if (ms > 0) await new Promise((r) => setTimeout(r, ms))
      await up()
    },
    async stop() {
      for (const c of clients) c.disconnect()
      await down()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

module.exports = { startRedis }

const PEER = path.join(__dirname, 'fixtures', 'redis-peer.js')

/**
 * Starts a process attached to Redis, with no IPC channel to this one (stdio pipes only).
 * `up` resolves once its `IPOS.new({ redis })` resolved (rejects if it failed); `call(code)` runs
 * code in it. Ending stdin (`stop()`) lets it exit.
 */
function spawnRedisPeer(opts) {
  const child = spawn(process.execPath, [PEER], { env: { ...process.env, IPOS_OPTS: JSON.stringify(opts) }, stdio: ['pipe', 'pipe', 'inherit'] })
  // A peer killed on purpose closes its stdin under us.
  child.stdin.on('error', () => {})
  const calls = new Map()
  let nextId = 0
  let buf = ''
  const up = new Promise((resolve, reject) => calls.set(0, { resolve, reject }))
  child.stdout.on('data', (chunk) => {
    buf += chunk
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i))
      buf = buf.slice(i + 1)
      const c = calls.get(msg.id)
      if (!c) continue
      calls.delete(msg.id)
      const value = require('v8').deserialize(Buffer.from(msg.data, 'base64'))
      if (msg.ok) c.resolve(value)
      else c.reject(Object.assign(new Error(value.message), value))
    }
  })
  child.on('exit', () => {
    for (const c of calls.values()) c.reject(new Error('peer exited'))
    calls.clear()
  })
  function call(code) {
    const id = ++nextId
    return new Promise((resolve, reject) => {
      calls.set(id, { resolve, reject })
      child.stdin.write(`${JSON.stringify({ id, code })}\n`)
    })
  }
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return { child, up, call, stop: () => { child.stdin.end(); return exited }, kill: () => { child.kill('SIGKILL'); return exited } }
}

module.exports.spawnRedisPeer = spawnRedisPeer
