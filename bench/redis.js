'use strict'
// Scenario R, across Redis: two processes that share fields only through a Redis Stream, ipos
// (`IPOS.new({ redis })`) side by side with a raw ioredis baseline that XADDs the ops made in one
// tick as one entry and reads the stream with XREAD BLOCK, applying the other process's ops to a
// plain object.
//
// One cell per process, like driver.js: started by run.js (via redis-report.js) with
// BENCH_REDIS = { impl, scenario, url, name, params }, it plays the writer (the pinger in
// ping-pong), forks the reader (this same file) and prints one `@@RESULT {json}` line. The fork's
// IPC channel carries the harness's control messages only: ipos data goes through Redis (`redis`
// wins over an IPC parent), the baseline has no other path.

const crypto = require('crypto')
const { fork } = require('child_process')
const { Control, errorText } = require('./control')
const { percentile } = require('./stats')

const RESULT = '@@RESULT '
const cfg = JSON.parse(process.env.BENCH_REDIS)
const now = () => performance.now()
const tick = () => new Promise((resolve) => setImmediate(resolve))
const item = (i) => ({ id: i, name: 'user' + i, tags: ['a', 'b'] })

// ---- the raw baseline ------------------------------------------------------------------------

/**
 * Fields in a plain object. The ops of one tick leave as one XADD (`o` = origin, `b` = the ops as
 * JSON); a second connection reads the stream in a loop (XREAD BLOCK) and applies every entry of
 * the other process. No validation, no snapshot: the floor, not a competitor.
 */
class RawSide {
  constructor(url, name) {
    const Redis = require('ioredis')
    this.cmd = new Redis({ path: url })
    this.blk = new Redis({ path: url })
    this.key = `raw:{${name}}:log`
    this.me = crypto.randomBytes(4).toString('hex')
    this.fields = {}
    this.buf = []
    this.last = Promise.resolve()
    this.lastId = '0-0'
    this.listeners = new Map()
    this.closed = false
  }

  /** Reads what the stream holds, then follows it. */
  async open() {
    this.apply(await this.cmd.xrange(this.key, '-', '+'))
    this.follow()
    return this
  }

  async follow() {
    while (!this.closed) {
      const res = await this.blk.xread('COUNT', 1000, 'BLOCK', 0, 'STREAMS', this.key, this.lastId).catch(() => null)
      if (res) this.apply(res[0][1])
    }
  }

  apply(entries) {
    for (const [id, f] of entries) {
      this.lastId = id
      if (f[1] === this.me) continue
      for (const op of JSON.parse(f[3])) {
        if (op[0] === 'c') this.fields[op[1]] = op[2]
        else if (op[0] === 'p') this.fields[op[1]].push(op[2])
        else this.fields[op[1]][op[2]] = op[3]
        const fns = this.listeners.get(op[1])
        if (fns) for (const fn of fns) fn()
      }
    }
  }

  send(op) {
    if (this.buf.push(op) === 1) {
      queueMicrotask(() => {
        const ops = this.buf
        this.buf = []
        this.last = this.cmd.xadd(this.key, '*', 'o', this.me, 'b', JSON.stringify(ops))
      })
    }
  }

  create(key, value) {
    this.fields[key] = value
    this.send(['c', key, value])
  }

  push(key, value) {
    this.fields[key].push(value)
    this.send(['p', key, value])
  }

  setKey(key, prop, value) {
    this.fields[key][prop] = value
    this.send(['s', key, prop, value])
  }

  get(key) {
    return this.fields[key]
  }

  onChange(key, fn) {
    if (!this.listeners.has(key)) this.listeners.set(key, [])
    this.listeners.get(key).push(fn)
  }

  /** Resolves once this process's ops are in the stream. */
  async settled() {
    await tick()
    await this.last
  }
}

// ---- ipos ------------------------------------------------------------------------------------

class IposSide {
  constructor(ipos) {
    this.ipos = ipos
  }

  create(key, value) {
    this.ipos.create(key, value)
  }

  push(key, value) {
    this.ipos[key].push(value)
  }

  setKey(key, prop, value) {
    this.ipos[key][prop] = value
  }

  get(key) {
    return this.ipos[key]
  }

  onChange(key, fn) {
    this.ipos.on('change', (ev) => {
      if (!ev.local && ev.key === key) fn()
    })
  }

  settled() {
    return this.ipos.flush()
  }
}

async function open() {
  if (cfg.impl === 'raw') return new RawSide(cfg.url, cfg.name).open()
  const IPOS = require(process.env.BENCH_IPOS_PATH || '..')
  const ipos = await IPOS.new({ redis: cfg.url, name: cfg.name })
  const side = new IposSide(ipos)
  ipos.on('error', (e) => fail(e))
  return side
}

// ---- the scenarios ---------------------------------------------------------------------------

/** Resolves once `cond()` holds; polled, so neither implementation pays for a change listener. */
async function until(cond) {
  while (!cond()) await new Promise((resolve) => setTimeout(resolve, 1))
}

function checkArray(side, n) {
  const arr = side.get('arr')
  if (!arr || arr.length !== n) return `reader holds ${arr && arr.length} items, expected ${n}`
  const last = arr[n - 1]
  if (!last || last.id !== n - 1 || last.name !== 'user' + (n - 1)) return `last item is ${JSON.stringify(last)}`
  return null
}

/** Push `n` items, a yield every `chunk` (0: in one synchronous stretch); done when the reader holds all. */
const push = {
  fields: () => ({ arr: [] }),
  async writer(side, ctl, { n, chunk }) {
    const done = ctl.next('done')
    const t0 = now()
    for (let i = 0; i < n; i++) {
      side.push('arr', item(i))
      if (chunk > 0 && (i + 1) % chunk === 0) await tick()
    }
    const { check } = await done
    const seconds = (now() - t0) / 1000
    if (check) throw new Error(`wrong result: ${check}`)
    return { value: n / seconds, seconds }
  },
  async reader(side, ctl, { n }) {
    await until(() => side.get('arr').length >= n)
    ctl.send('done', { check: checkArray(side, n) })
  },
}

const SCENARIOS = {
  push,
  ticks: push,
  pingpong: {
    fields: () => ({ ping: { v: 0 }, pong: { v: 0 } }),
    async writer(side, ctl, { rtt, warmup }) {
      let waiting = null
      side.onChange('pong', () => {
        if (waiting !== null && side.get('pong').v === waiting.i) {
          const w = waiting
          waiting = null
          w.resolve()
        }
      })
      const samples = []
      for (let i = 1; i <= warmup + rtt; i++) {
        const t0 = now()
        await new Promise((resolve) => {
          waiting = { i, resolve }
          side.setKey('ping', 'v', i)
        })
        if (i > warmup) samples.push((now() - t0) * 1000)
      }
      const p50 = percentile(samples, 50)
      return { value: p50, p50, p99: percentile(samples, 99) }
    },
    async reader(side) {
      side.onChange('ping', () => side.setKey('pong', 'v', side.get('ping').v))
    },
  },
}

// ---- the two roles ---------------------------------------------------------------------------

/** Bytes of the `b` fields in the log per op: what each implementation stores for an op. */
async function logBytes(n) {
  const Redis = require('ioredis')
  const c = new Redis({ path: cfg.url })
  try {
    const key = cfg.impl === 'raw' ? `raw:{${cfg.name}}:log` : `ipos:{${cfg.name}}:log`
    let bytes = 0
    let entries = 0
    for (const [, f] of await c.xrange(key, '-', '+')) {
      entries++
      bytes += Buffer.byteLength(f[f.indexOf('b') + 1])
    }
    return { perOp: bytes / n, entries }
  } finally {
    c.disconnect()
  }
}

async function reader() {
  const ctl = new Control(process)
  process.on('disconnect', () => process.exit(0))
  const scenario = SCENARIOS[cfg.scenario]
  const side = await open()
  for (const key of Object.keys(scenario.fields(cfg.params))) {
    if (side.get(key) === undefined) throw new Error(`the reader joined without field ${key}`)
  }
  const running = scenario.reader(side, ctl, cfg.params)
  ctl.send('ready')
  await running
}

let child = null

async function writer() {
  const scenario = SCENARIOS[cfg.scenario]
  const side = await open()
  for (const [key, value] of Object.entries(scenario.fields(cfg.params))) side.create(key, value)
  await side.settled()
  child = fork(__filename, [], { env: process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ctl = new Control(child)
  ctl.onFail = (e) => finish({ status: 'error', error: errorText(e) })
  child.on('exit', (code, signal) => ctl.fail(new Error(`reader exited (${signal || `code ${code}`})`)))
  await ctl.next('ready')
  await tick()
  const result = await scenario.writer(side, ctl, cfg.params)
  if (cfg.scenario !== 'pingpong') result.log = await logBytes(cfg.params.n)
  return { status: 'ok', ...result }
}

let finished = false
function finish(result) {
  if (finished) return
  finished = true
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  process.stdout.write(RESULT + JSON.stringify(result) + '\n', () => process.exit(0))
}

function fail(e) {
  if (process.send) process.send({ bench: 'error', message: errorText(e) })
  else finish({ status: 'error', error: errorText(e) })
}

if (process.send) reader().catch(fail)
else writer().then(finish, fail)
