'use strict'
// One measurement cell: one implementation × one scenario × one round, in a fresh process so
// peak RSS and heap state belong to that cell alone. Started by run.js without an IPC channel
// (an implementation would otherwise take run.js for its own parent), it plays the parent role,
// forks child.js, and prints one `@@RESULT {json}` line on stdout.
//
// The cell comes in BENCH_CELL: { impl, scenario, params, bytes }. With `bytes`, the wire meter
// runs and the cell only reports bytes (its timings are skewed by the metering).

const path = require('path')
const { fork } = require('child_process')
const { SCENARIOS } = require('./scenarios')
const { Control, errorText } = require('./control')
const { WireMeter, RssPeak } = require('./meter')

const RESULT = '@@RESULT '
const cell = JSON.parse(process.env.BENCH_CELL)
const rss = new RssPeak()
let child = null

const settle = () => new Promise((resolve) => setImmediate(resolve))

async function main() {
  const scenario = SCENARIOS[cell.scenario]
  const impl = require(`./impls/${cell.impl}`)
  const params = cell.params

  const side = await impl.openParent()
  side.onError = (e) => finish({ status: 'error', error: errorText(e) })
  for (const [key, value] of Object.entries(scenario.fields(params))) side.create(key, value)
  // Let an implementation finish work it deferred (ipos ships `create` from a microtask) so
  // none of it lands in a timed window.
  await settle()

  child = fork(path.join(__dirname, 'child.js'), [], {
    env: { ...process.env, BENCH_CELL: JSON.stringify(cell) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ctl = new Control(child) // before the meter, so control traffic stays unmetered
  const meter = cell.bytes ? (side.meter ? side.meter() : new WireMeter(child)) : { mark() {}, read: () => null }
  // A failing child (its error message, or its exit) ends the cell at once: the parent may be
  // waiting on something that will never come.
  ctl.onFail = (e) => finish({ status: 'error', error: errorText(e) })
  child.on('exit', (code, signal) => ctl.fail(new Error(`child exited (${signal || `code ${code}`})`)))

  // The child says 'loaded' right before it opens its side, then 'ready' once that resolved.
  await ctl.next('loaded')
  if (!scenario.standalone) await Promise.all([side.connect(child), ctl.next('ready')])
  else await ctl.next('ready')
  await settle()
  if (side.error) throw side.error

  const result = await scenario.parent(side, { child, ctl, meter, params })
  rss.sample()
  await settle()
  const report = await ctl.request('report')
  const problems = [report.check, scenario.checkParent ? scenario.checkParent(side, params) : null].filter(Boolean)
  if (problems.length) throw new Error(`wrong result: ${problems.join('; ')}`)

  return {
    status: 'ok',
    ...result,
    bytes: meter.read(),
    rssParent: rss.sample(),
    rssChild: report.rss,
    stallChild: report.stall === null ? undefined : report.stall,
    rssJoinChild: report.joinRss === null ? undefined : report.joinRss,
  }
}

let finished = false
function finish(result) {
  if (finished) return
  finished = true
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  process.stdout.write(RESULT + JSON.stringify(result) + '\n', () => process.exit(0))
}

main().then(finish, (e) => finish({ status: 'error', error: errorText(e) }))
