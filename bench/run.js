'use strict'
// `npm run bench`: ipos side by side with the original ipos and two hand-written IPC baselines.
//
//   node bench/run.js [--rounds N] [--quick] [--only A,B] [--impls ipos,per-op]
//                     [--timeout SECONDS] [--budget SECONDS]
//
// Every cell (implementation × scenario × round) runs in a fresh driver process (driver.js) with
// its own forked child, so one cell's heap and RSS never leak into another's. Within a round the
// implementations run one after the other, in an order that rotates each round, so machine
// noise spreads over all of them. Wire bytes are measured in one extra metered pass first.
// Medians go to stdout as markdown tables, and to bench/results.md and bench/results.json.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn, execFileSync } = require('child_process')
const { SCENARIOS, SIZES } = require('./scenarios')
const { summarise, targets, markdown, IMPLS } = require('./report')
const writers = require('./writers-report')
const redis = require('./redis-report')

function parseArgs(argv) {
  const o = { rounds: 5, quick: false, only: null, impls: IMPLS, timeout: null, budget: 480 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--quick') o.quick = true
    else if (a === '--rounds') o.rounds = Number(val())
    else if (a === '--only') o.only = val().toUpperCase().split(',')
    else if (a === '--impls') o.impls = val().split(',')
    else if (a === '--timeout') o.timeout = Number(val())
    else if (a === '--budget') o.budget = Number(val())
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 5).join('\n').replace(/^\/\/ ?/gm, ''))
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (o.quick && !argv.includes('--rounds')) o.rounds = 1
  if (!(o.rounds >= 1)) throw new Error('--rounds must be ≥ 1')
  for (const impl of o.impls) if (!IMPLS.includes(impl)) throw new Error(`unknown implementation ${impl} (known: ${IMPLS.join(', ')})`)
  for (const sid of o.only || []) if (!SCENARIOS[sid] && sid !== writers.ID && sid !== redis.ID) throw new Error(`unknown scenario ${sid}`)
  // A cell normally takes well under a few seconds; the cap is for an implementation that hangs
  // or crawls (the original on big inputs), which is then reported as "timeout".
  if (o.timeout === null) o.timeout = o.quick ? 15 : 30
  return o
}

// ---- running one cell --------------------------------------------------------------------

const live = new Set() // process group ids of drivers still running

/** Kills a driver and everything it forked: drivers lead their own process group. */
function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {}
  live.delete(pid)
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const pid of [...live]) killGroup(pid)
    process.exit(130)
  })
}
process.on('exit', () => {
  for (const pid of [...live]) killGroup(pid)
})

function runCell(cell, timeoutSec, script = 'driver.js', envName = 'BENCH_CELL') {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const p = spawn(process.execPath, [path.join(__dirname, script)], {
      env: { ...process.env, [envName]: JSON.stringify(cell) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills the child it forked as well
    })
    live.add(p.pid)
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(p.pid)
    }, timeoutSec * 1000)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      killGroup(p.pid) // whatever the driver left behind
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '))
      let result
      if (timedOut) result = { status: 'timeout', error: `no result within ${timeoutSec} s` }
      else if (line) result = JSON.parse(line.slice('@@RESULT '.length))
      else result = { status: 'error', error: `driver ended (${signal || `code ${code}`}) without a result: ${lastLines(stderr)}` }
      result.wallMs = Date.now() - t0
      resolve(result)
    })
  })
}

function lastLines(s) {
  return s.trim().split('\n').slice(-3).join(' | ') || '(no output)'
}

// ---- the schedule ------------------------------------------------------------------------

/** Which ipos was measured: the checkout (with its git commit) or BENCH_IPOS_PATH. */
function iposSource() {
  if (process.env.BENCH_IPOS_PATH) return `BENCH_IPOS_PATH=${process.env.BENCH_IPOS_PATH}`
  const root = path.join(__dirname, '..')
  const git = (args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    const dirty = git(['status', '--porcelain', '--', 'lib', 'src', 'crates', 'index.js']) !== ''
    return `the checkout at ${git(['rev-parse', '--short', 'HEAD'])}${dirty ? ' + uncommitted changes' : ''}`
  } catch {
    return 'the checkout'
  }
}

function rotate(list, by) {
  const k = by % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

function progress(text) {
  process.stderr.write(text)
}

function brief(sid, r) {
  if (r.status !== 'ok') return r.status
  const kind = SCENARIOS[sid].kind
  if (r.bytes) return `${r.bytes.total} B`
  if (kind === 'throughput') return `${Math.round(r.value / 1000)}k/s`
  if (kind === 'latency') return `${r.p50.toFixed(0)}µs`
  if (kind === 'join') return `${r.value.toFixed(0)}ms/${r.stallParent.toFixed(0)}ms`
  return `${r.value.toFixed(0)}ms`
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const mode = opts.quick ? 'quick' : 'full'
  const params = SIZES[mode]
  const sids = Object.keys(SCENARIOS).filter((s) => !opts.only || opts.only.includes(s))
  const started = Date.now()

  // A scenario may name the implementations it compares (the 1M-entry join: ipos and batched).
  const implsOf = (sid) => opts.impls.filter((i) => !SCENARIOS[sid].impls || SCENARIOS[sid].impls.includes(i))
  // Cells of slow scenarios (the 1M-entry join) get a longer cap.
  const timeoutOf = (sid) => opts.timeout * (SCENARIOS[sid].slow ? 4 : 1)
  const cells = {}
  for (const sid of sids) {
    cells[sid] = {}
    for (const impl of implsOf(sid)) cells[sid][impl] = { runs: [], bytes: null, failure: null }
  }

  progress(`ipos bench: ${mode} sizes, ${opts.rounds} round(s) + 1 metered pass, ${opts.impls.join(', ')}; cell timeout ${opts.timeout} s\n`)

  // Pass 0 meters bytes; its timings are skewed by the metering and thrown away.
  progress('bytes pass:')
  for (const sid of sids) {
    progress(` ${sid}[`)
    for (const impl of implsOf(sid)) {
      const r = await runCell({ impl, scenario: sid, params, bytes: true }, timeoutOf(sid))
      cells[sid][impl].bytes = r
      if (r.status === 'error') cells[sid][impl].failure = r // deterministic: no point repeating it
      progress(` ${impl}:${brief(sid, r)}`)
    }
    progress(' ]')
  }
  progress('\n')

  let roundsDone = 0
  let lastRoundMs = 0
  for (let round = 1; round <= opts.rounds; round++) {
    const elapsed = (Date.now() - started) / 1000
    if (round > 1 && elapsed + lastRoundMs / 1000 > opts.budget) {
      progress(`stopping after ${roundsDone} round(s): the next would exceed the ${opts.budget} s budget\n`)
      break
    }
    const roundStart = Date.now()
    progress(`round ${round}/${opts.rounds}:`)
    for (const sid of sids) {
      progress(` ${sid}[`)
      for (const impl of rotate(implsOf(sid), round - 1)) {
        const c = cells[sid][impl]
        if (c.failure) {
          progress(` ${impl}:-`)
          continue
        }
        const r = await runCell({ impl, scenario: sid, params, bytes: false }, timeoutOf(sid))
        if (r.status === 'ok') c.runs.push(r)
        else c.failure = r // a timeout or error is not retried: it would cost the budget again
        progress(` ${impl}:${brief(sid, r)}`)
      }
      progress(' ]')
    }
    progress('\n')
    roundsDone = round
    lastRoundMs = Date.now() - roundStart
  }

  // G (many writers) has its own cells: N children and a parent each, ipos against a relay.
  const g = !opts.only || opts.only.includes(writers.ID)
    ? await writers.run({ rounds: roundsDone || opts.rounds, quick: opts.quick, timeout: opts.timeout * 2 }, (cell, t) => runCell(cell, t, 'writers.js', 'BENCH_WRITERS'), progress)
    : null

  // R (across Redis) too: two processes and a redis-server of the section's own, ipos against
  // raw ioredis.
  const rr = !opts.only || opts.only.includes(redis.ID)
    ? await redis.run({ rounds: roundsDone || opts.rounds, quick: opts.quick, timeout: opts.timeout * 2 }, (cell, t) => runCell(cell, t, 'redis.js', 'BENCH_REDIS'), progress)
    : null

  const summary = summarise(cells)
  const meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    node: process.version,
    ipos: iposSource(),
    cpu: os.cpus()[0] ? os.cpus()[0].model.trim() : 'unknown CPU',
    cpus: os.cpus().length,
    mode,
    params,
    roundsRequested: opts.rounds,
    roundsDone,
    seconds: Math.round((Date.now() - started) / 1000),
  }
  const scenarios = Object.fromEntries(sids.map((s) => [s, SCENARIOS[s]]))
  const results = targets(summary)
  if (g) results.push(...g.targets)
  if (rr) results.push(...rr.targets)
  const md = markdown({ meta, scenarios, summary, results }) + (g ? g.markdown : '') + (rr ? rr.markdown : '')

  console.log(md)
  console.log('Targets:')
  for (const t of results) console.log(`  ${t.result.padEnd(4)} ${t.target} (${t.detail})`)
  // The README includes results.md: a run over a subset must not replace the full tables.
  if (opts.only || opts.impls.length < IMPLS.length) {
    console.log(`\n${meta.seconds} s; partial run (--only/--impls): bench/results.* left unchanged`)
    return
  }
  fs.writeFileSync(path.join(__dirname, 'results.md'), md)
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify({ meta, summary, targets: results, cells, writers: g && g.summary, redis: rr && rr.summary }, null, 2) + '\n')
  console.log(`\n${meta.seconds} s; wrote bench/results.md and bench/results.json`)
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
