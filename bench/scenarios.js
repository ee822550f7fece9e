'use strict'
// The scenarios, each with both of its sides: `parent(side, ctx)` runs in the driver and returns
// the measurement, `child(side, ctx)` runs in the forked child. `side` is an implementation's
// common interface (see impls/), `ctx` the harness (control messages, wire meter, RSS, sizes).
//
// Setup done by the driver before `parent()` runs: the fields from `fields(params)` are created
// in the parent, the child is forked and, unless `standalone`, connected. Timed windows start
// after setup, so process start-up and connecting are not part of A–D and F.
//
// `check*(side, params)` verify the receiver really holds the data after the window (untimed);
// they return an error text or null.

const { monitorEventLoopDelay } = require('perf_hooks')
const { percentile } = require('./stats')
const { RssPeak } = require('./meter')

const now = () => performance.now()

const item = (i) => ({ id: i, name: 'user' + i, tags: ['a', 'b'] })

function bigObject(entries) {
  const o = {}
  for (let i = 0; i < entries; i++) o['k' + i] = { id: i, name: 'name' + i, score: i * 1.5, tags: ['x', 'y'] }
  return o
}

const CHANGED = { id: 5, name: 'changed', score: -1, tags: ['x', 'y', 'z'] }

function checkArray(side, { n }) {
  const arr = side.get('arr')
  if (!arr || arr.length !== n) return `receiver holds ${arr && arr.length} items, expected ${n}`
  const last = arr[n - 1]
  if (!last || last.id !== n - 1 || last.name !== 'user' + (n - 1)) return `last item is ${JSON.stringify(last)}`
  return null
}

const SCENARIOS = {
  A: {
    title: 'A. push small objects, parent → child',
    kind: 'throughput',
    describe: (p) => `${p.n.toLocaleString('en-US')} × \`arr.push({id, name, tags})\` in the parent, until the child applied all (sender awaits its sync: \`flush()\` / an acked barrier)`,
    fields: () => ({ arr: [] }),
    async parent(side, ctx) {
      const { n } = ctx.params
      ctx.meter.mark()
      const t0 = now()
      for (let i = 0; i < n; i++) side.push('arr', item(i))
      await side.sync()
      const s = (now() - t0) / 1000
      return { value: n / s, seconds: s }
    },
    async child() {},
    checkChild: checkArray,
  },

  B: {
    title: 'B. push small objects, child → parent',
    kind: 'throughput',
    describe: (p) => `${p.n.toLocaleString('en-US')} × \`arr.push({id, name, tags})\` in the child, until the parent applied all (timed in the child)`,
    fields: () => ({ arr: [] }),
    async parent(side, ctx) {
      ctx.meter.mark()
      ctx.ctl.send('go')
      const { seconds } = await ctx.ctl.next('done')
      return { value: ctx.params.n / seconds, seconds }
    },
    async child(side, ctx) {
      await ctx.ctl.next('go')
      const { n } = ctx.params
      const t0 = now()
      for (let i = 0; i < n; i++) side.push('arr', item(i))
      await side.sync()
      ctx.ctl.send('done', { seconds: (now() - t0) / 1000 })
    },
    checkParent: checkArray,
  },

  C: {
    title: 'C. object key sets, parent → child',
    kind: 'throughput',
    describe: (p) => `${p.n.toLocaleString('en-US')} × \`obj['k' + (i % 1000)] = i\` in the parent, until the child applied all`,
    fields: () => ({ obj: {} }),
    async parent(side, ctx) {
      const { n } = ctx.params
      ctx.meter.mark()
      const t0 = now()
      for (let i = 0; i < n; i++) side.setKey('obj', 'k' + (i % 1000), i)
      await side.sync()
      const s = (now() - t0) / 1000
      return { value: n / s, seconds: s }
    },
    async child() {},
    checkChild(side, { n }) {
      const obj = side.get('obj')
      const keys = Object.keys(obj || {}).length
      if (keys !== Math.min(n, 1000)) return `receiver holds ${keys} keys, expected ${Math.min(n, 1000)}`
      const k = 'k' + ((n - 1) % 1000)
      if (obj[k] !== n - 1) return `${k} is ${obj[k]}, expected ${n - 1}`
      return null
    },
  },

  D: {
    title: 'D. ping-pong latency',
    kind: 'latency',
    describe: (p) => `parent sets \`ping.v = i\`, the child observes it and sets \`pong.v = i\`, the parent observes that; ${p.rtt.toLocaleString('en-US')} round trips after ${p.warmup} warm-up. ipos observes with its 'change' event, the baselines with a callback after applying; the original has no change event, so it is observed through its own traffic on 'message' (its best case)`,
    fields: () => ({ ping: { v: 0 }, pong: { v: 0 } }),
    async parent(side, ctx) {
      const { rtt, warmup } = ctx.params
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
        if (i === warmup + 1) ctx.meter.mark()
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
    async child(side) {
      side.onChange('ping', () => side.setKey('pong', 'v', side.get('ping').v))
    },
  },

  E: {
    title: 'E. connect a child to a big field',
    kind: 'time',
    standalone: true,
    describe: (p) => `a field of ${p.entries.toLocaleString('en-US')} entries \`{id, name, score, tags}\`; from \`addProcess\` (baselines: \`send(fields)\`) until the child holds it`,
    fields: (p) => ({ big: bigObject(p.entries) }),
    async parent(side, ctx) {
      ctx.meter.mark()
      const t0 = now()
      await side.connect(ctx.child)
      const ms = now() - t0
      return { value: ms, ms }
    },
    async child() {},
    checkChild(side, { entries }) {
      const big = side.get('big')
      const keys = Object.keys(big || {}).length
      if (keys !== entries) return `child holds ${keys} entries, expected ${entries}`
      const last = big['k' + (entries - 1)]
      if (!last || last.id !== entries - 1 || last.tags[1] !== 'y') return `last entry is ${JSON.stringify(last)}`
      return null
    },
  },

  F: {
    title: 'F. reset the big field with one entry changed',
    kind: 'time',
    describe: (p) => `\`big = {...big, k5: {…}}\` on the ${p.entries.toLocaleString('en-US')}-entry field (building the new object is timed too), until the child's change listener sees k5 changed`,
    fields: (p) => ({ big: bigObject(p.entries) }),
    async parent(side, ctx) {
      const seen = ctx.ctl.next('seen')
      ctx.meter.mark()
      const t0 = now()
      side.reset('big', { ...side.get('big'), k5: { ...CHANGED, tags: [...CHANGED.tags] } })
      await seen
      const ms = now() - t0
      return { value: ms, ms }
    },
    async child(side, ctx) {
      let sent = false
      side.onChange('big', () => {
        if (sent) return
        const k5 = side.get('big').k5
        if (k5 && k5.name === CHANGED.name) {
          sent = true
          ctx.ctl.send('seen')
        }
      })
    },
    checkChild(side, { entries }) {
      const big = side.get('big')
      const keys = Object.keys(big || {}).length
      if (keys !== entries) return `child holds ${keys} entries, expected ${entries}`
      if (big.k5.score !== CHANGED.score || big.k5.tags.length !== 3 || big.k6.name !== 'name6') return `k5/k6 are ${JSON.stringify([big.k5, big.k6])}`
      return null
    },
  },
}

/**
 * A join of a child to a big field, with what it costs both processes: time from `addProcess`
 * (baselines: sending every field) until the child holds it, and the longest event-loop stall in
 * the parent and in the child meanwhile (`monitorEventLoopDelay`). The child starts its monitor
 * on the 'stall' control message, which reaches it before any of the join's traffic.
 */
// Peak RSS is reported twice: during the join (what joining costs) and over the cell's life
// (which for ipos includes creating the field: encoding it and building the core's mirror).
function joinScenario(id, size) {
  return {
    title: `${id}. join a child to a big field (${size === 'joinBig' ? '1M' : '100k'} entries at full size)`,
    kind: 'join',
    standalone: true,
    size,
    // A baseline that sends one message per op does the same for a join (one message with every
    // field), and the original needs minutes for a million entries: ipos against the batched floor.
    impls: size === 'joinBig' ? ['ipos', 'batched'] : null,
    slow: size === 'joinBig',
    describe: (p) => `a field of ${p[size].toLocaleString('en-US')} entries \`{id, name, score, tags}\`; from \`addProcess\` (baselines: \`send(fields)\`, one message) until the child holds it, with the longest event-loop stall in each process during the join; peak RSS during the join, and over the whole cell (for ipos that includes creating the field and its mirror)`,
    fields: (p) => ({ big: bigObject(p[size]) }),
    async parent(side, ctx) {
      await ctx.ctl.request('stall')
      const h = monitorEventLoopDelay({ resolution: 5 })
      h.enable()
      // The monitor measures from its first tick on: a stall before that would go unseen.
      await new Promise((r) => setTimeout(r, 30))
      const rss = new RssPeak(10)
      ctx.meter.mark()
      const t0 = now()
      await side.connect(ctx.child)
      const ms = now() - t0
      h.disable()
      return { value: ms, ms, stallParent: h.max / 1e6, rssJoinParent: rss.stop() }
    },
    async child() {},
    checkChild(side, p) {
      return checkBig(side, p[size])
    },
  }
}

function checkBig(side, entries) {
  const big = side.get('big')
  const keys = Object.keys(big || {}).length
  if (keys !== entries) return `child holds ${keys} entries, expected ${entries}`
  const last = big['k' + (entries - 1)]
  if (!last || last.id !== entries - 1 || last.tags[1] !== 'y') return `last entry is ${JSON.stringify(last)}`
  return null
}

SCENARIOS.J = joinScenario('J', 'joinSmall')
SCENARIOS.K = joinScenario('K', 'joinBig')

/** Sizes per mode. */
const SIZES = {
  full: { n: 20000, rtt: 2000, warmup: 200, entries: 100000, joinSmall: 100000, joinBig: 1000000 },
  quick: { n: 2000, rtt: 200, warmup: 20, entries: 10000, joinSmall: 10000, joinBig: 100000 },
}

module.exports = { SCENARIOS, SIZES }
