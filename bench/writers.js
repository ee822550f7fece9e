'use strict'
// Scenario G, many writers: N children each set 5,000 keys of one shared Map at once (yielding
// to the event loop every 100 sets); timed from the parent's 'go' until every process (the
// parent and each child) holds all N × 5,000 keys. ipos side by side with a plain relay: each
// child sends the sets it made in one tick as one message to the parent, which applies them and
// forwards them to the other children.
//
// One cell per process, like driver.js: started by run.js with BENCH_WRITERS = { impl, writers,
// keys }, it forks its children (this same file, which then plays the child) and prints one
// `@@RESULT {json}` line.

const { fork } = require('child_process')
const { Control, errorText } = require('./control')

const RESULT = '@@RESULT '
const cfg = JSON.parse(process.env.BENCH_WRITERS)
const YIELD_EVERY = 100
const now = () => performance.now()
const tick = () => new Promise((resolve) => setImmediate(resolve))

// ---- the relay baseline ------------------------------------------------------------------------

/** A child's side of the relay: a Map, its own sets buffered per tick, peers' sets applied. */
function relayChild() {
  const m = new Map()
  let buf = []
  const flush = () => {
    const ops = buf
    buf = []
    process.send({ relay: ops })
  }
  process.on('message', (msg) => {
    if (msg && msg.relay) for (const [k, v] of msg.relay) m.set(k, v)
  })
  return {
    size: () => m.size,
    set(k, v) {
      m.set(k, v)
      if (buf.push([k, v]) === 1) queueMicrotask(flush)
    },
  }
}

/** The parent's side: applies each child's message and forwards it to every other child. */
function relayParent(children) {
  const m = new Map()
  for (const c of children) {
    c.on('message', (msg) => {
      if (!msg || !msg.relay) return
      for (const [k, v] of msg.relay) m.set(k, v)
      for (const o of children) if (o !== c) o.send(msg)
    })
  }
  return { size: () => m.size }
}

// ---- ipos ------------------------------------------------------------------------------------

function loadIpos() {
  return require(process.env.BENCH_IPOS_PATH || '..')
}

async function iposChild() {
  const ipos = await loadIpos().new({ syncTimeout: 60000 })
  ipos.on('error', (e) => process.send({ bench: 'error', message: errorText(e) }))
  return { size: () => ipos.m.size, set: (k, v) => ipos.m.set(k, v) }
}

// ---- the two roles ---------------------------------------------------------------------------

/** Resolves once `side` holds `total` keys (polled: a listener would cost ipos its events). */
async function full(side, total) {
  while (side.size() < total) await new Promise((resolve) => setTimeout(resolve, 1))
}

async function child() {
  const ctl = new Control(process)
  process.on('disconnect', () => process.exit(0))
  const side = cfg.impl === 'ipos' ? await iposChild() : relayChild()
  ctl.send('ready')
  const { id } = await ctl.next('go')
  for (let i = 0; i < cfg.keys; i++) {
    side.set(`w${id}:${i}`, i)
    if ((i + 1) % YIELD_EVERY === 0) await tick()
  }
  await full(side, cfg.keys * cfg.writers)
  ctl.send('full')
}

async function parent() {
  const children = []
  const ctls = []
  for (let i = 0; i < cfg.writers; i++) {
    const c = fork(__filename, [], { env: process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(c)
    const ctl = new Control(c)
    ctl.onFail = (e) => finish({ status: 'error', error: errorText(e) })
    c.on('exit', (code, signal) => ctl.fail(new Error(`child exited (${signal || `code ${code}`})`)))
    ctls.push(ctl)
  }
  let side
  if (cfg.impl === 'ipos') {
    const ipos = loadIpos().new()
    ipos.on('error', (e) => finish({ status: 'error', error: errorText(e) }))
    ipos.create('m', new Map())
    await Promise.all(children.map((c) => ipos.addProcess(c)))
    side = { size: () => ipos.m.size }
  } else {
    side = relayParent(children)
  }
  await Promise.all(ctls.map((c) => c.next('ready')))
  await tick()
  const total = cfg.keys * cfg.writers
  const t0 = now()
  ctls.forEach((c, id) => c.send('go', { id }))
  await Promise.all([full(side, total), ...ctls.map((c) => c.next('full'))])
  const seconds = (now() - t0) / 1000
  for (const c of children) c.kill('SIGKILL')
  return { status: 'ok', value: total / seconds, seconds }
}

let finished = false
function finish(result) {
  if (finished) return
  finished = true
  process.stdout.write(RESULT + JSON.stringify(result) + '\n', () => process.exit(0))
}

if (process.send) child().catch((e) => process.send({ bench: 'error', message: errorText(e) }))
else parent().then(finish, (e) => finish({ status: 'error', error: errorText(e) }))
