'use strict'
// The child side of a cell, forked by driver.js. Opens its implementation's side, runs the
// scenario's child part, and answers the driver's 'report' with its peak RSS and the check of
// what it received.

const { SCENARIOS } = require('./scenarios')
const { Control, errorText } = require('./control')
const { RssPeak } = require('./meter')
const { monitorEventLoopDelay } = require('perf_hooks')

const cell = JSON.parse(process.env.BENCH_CELL)
const rss = new RssPeak()
const ctl = new Control(process)

// Never outlive the driver, whatever an implementation keeps open.
process.on('disconnect', () => process.exit(0))

async function main() {
  const scenario = SCENARIOS[cell.scenario]
  const impl = require(`./impls/${cell.impl}`)
  let side = null
  // The longest event-loop stall from the parent's 'stall' (sent right before a join) to 'report'.
  // Both, and the peak RSS of that window, for the join scenarios.
  let stall = null
  let joinRss = null
  ctl.answer('stall', () => {
    stall = monitorEventLoopDelay({ resolution: 5 })
    stall.enable()
    joinRss = new RssPeak(10)
  })
  ctl.answer('report', () => ({
    stall: stall === null ? null : (stall.disable(), stall.max / 1e6),
    joinRss: joinRss === null ? null : joinRss.stop(),
    rss: rss.sample(),
    check: scenario.checkChild && side ? scenario.checkChild(side, cell.params) : null,
  }))
  ctl.send('loaded')
  // A standalone child (scenario E) gives up waiting for the parent after a short while, as an
  // idle child would; the parent connects it later and that connect is what E times.
  side = await impl.openChild({ syncTimeout: scenario.standalone ? 100 : 60000 })
  if (side.error) throw side.error
  side.onError = (e) => ctl.send('error', { message: errorText(e) })
  ctl.send('ready')
  await scenario.child(side, { ctl, params: cell.params })
  rss.sample()
}

main().catch((e) => ctl.send('error', { message: errorText(e) }))
