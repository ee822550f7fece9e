'use strict'
// Scenario R (across Redis, see redis.js): starts one redis-server for the section, runs its cells
// (ipos and the raw ioredis baseline alternating, the server emptied between cells) and turns the
// medians into a table and the targets: throughput ≥ 0.8× the raw baseline, ping-pong p50 ≤ 1.25×
// the raw baseline's round trip.

const { median, spreadPct, fmtNum, fmtOps, fmtRatio } = require('./stats')

const ID = 'R'
const IMPLS = ['ipos', 'raw']

function variants(quick) {
  const n = quick ? 2000 : 20000
  return [
    { scenario: 'push', kind: 'throughput', params: { n, chunk: 0 }, title: `push ${n.toLocaleString('en-US')} objects in one synchronous stretch` },
    { scenario: 'ticks', kind: 'throughput', params: { n, chunk: 100 }, title: `push ${n.toLocaleString('en-US')} objects, a yield every 100 (${n / 100} ticks)` },
    { scenario: 'pingpong', kind: 'latency', params: quick ? { rtt: 200, warmup: 20 } : { rtt: 2000, warmup: 200 }, title: 'ping-pong' },
  ]
}

async function run({ rounds, quick, timeout }, runCell, progress) {
  let server
  try {
    server = await require('../__test__/redis-server').startRedis()
  } catch (e) {
    progress(`R: no Redis section: ${e.message}\n`)
    const error = `no redis-server: ${e.message}`
    return { summary: null, markdown: `\n### R. across Redis\n\nNot run: ${error}\n`, targets: [{ scenario: ID, target: 'R: Redis section', result: 'MISS', detail: error }] }
  }
  const admin = server.client()
  const list = variants(quick)
  const cells = {}
  for (const v of list) for (const impl of IMPLS) cells[`${impl}/${v.scenario}`] = { runs: [], failure: null }
  let k = 0
  try {
    for (let round = 1; round <= rounds; round++) {
      progress(`R round ${round}/${rounds}:`)
      for (const v of list) {
        for (const impl of round % 2 ? IMPLS : [...IMPLS].reverse()) {
          const c = cells[`${impl}/${v.scenario}`]
          if (c.failure) continue
          await admin.flushall()
          const r = await runCell({ impl, scenario: v.scenario, url: server.url, name: `b${++k}`, params: v.params }, timeout)
          if (r.status === 'ok') c.runs.push(r)
          else c.failure = r
          const brief = r.status !== 'ok' ? r.status : v.kind === 'latency' ? `${r.p50.toFixed(0)}µs` : `${Math.round(r.value / 1000)}k/s`
          progress(` ${impl}:${v.scenario}:${brief}`)
        }
      }
      progress('\n')
    }
  } finally {
    await server.stop()
  }

  const summary = {}
  for (const [key, c] of Object.entries(cells)) {
    const ok = c.runs
    summary[key] = {
      value: median(ok.map((r) => r.value)),
      values: ok.map((r) => r.value),
      spreadPct: spreadPct(ok.map((r) => r.value)),
      p99: median(ok.map((r) => r.p99).filter((x) => x !== undefined)),
      logBytesPerOp: median(ok.filter((r) => r.log).map((r) => r.log.perOp)),
      logEntries: median(ok.filter((r) => r.log).map((r) => r.log.entries)),
      error: c.failure && (c.failure.error || c.failure.status),
    }
  }
  const s = (impl, v) => summary[`${impl}/${v.scenario}`]
  const ratio = (v) => s('ipos', v).value / s('raw', v).value
  const spread = (x) => (Number.isFinite(x.spreadPct) ? ` ±${x.spreadPct.toFixed(0)}%` : '')
  const show = (x, v) => {
    if (!Number.isFinite(x.value)) return x.error || 'not run'
    if (v.kind === 'latency') return `${fmtNum(x.value)} / ${fmtNum(x.p99)} µs${spread(x)}`
    return `${fmtOps(x.value)}${spread(x)}`
  }
  const log = (x) => (Number.isFinite(x.logBytesPerOp) ? `${fmtNum(x.logBytesPerOp)} B/op, ${fmtNum(x.logEntries)} entries` : '–')
  const verdict = (r, pass) => (Number.isFinite(r) ? (pass(r) ? 'PASS' : 'MISS') : 'n/a')
  const targets = list.map((v) => {
    const r = ratio(v)
    return v.kind === 'latency'
      ? { scenario: ID, target: `R ${v.scenario}: ipos p50 ≤ 1.25× raw ioredis`, result: verdict(r, (x) => x <= 1.25), detail: fmtRatio(r) }
      : { scenario: ID, target: `R ${v.scenario}: ipos throughput ≥ 0.8× raw ioredis`, result: verdict(r, (x) => x >= 0.8), detail: fmtRatio(r) }
  })
  const errors = Object.entries(summary).filter(([, x]) => x.error).map(([key, x]) => `- ${key} failed: \`${x.error}\``)
  const markdown = [
    '',
    '### R. across Redis',
    '',
    `Two processes sharing fields only through a Redis Stream on one local redis-server (unix socket), the server emptied before every cell. ipos: \`IPOS.new({ redis })\` in both. Raw ioredis: the ops of one tick leave as one \`XADD\` (JSON), a second connection reads the stream with \`XREAD BLOCK\` and applies the other process's ops to a plain object. Push: from the first push until the reader holds every item (polled every millisecond by both). Ping-pong: one sets \`ping.v = i\`, the other observes it and sets \`pong.v = i\`, the first observes that. Median of ${rounds} round${rounds === 1 ? '' : 's'}, p50 / p99 for ping-pong.`,
    '',
    '| scenario | ipos | raw ioredis | ipos vs raw | ipos log | raw log |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...list.map((v) => `| ${v.title} | ${show(s('ipos', v), v)} | ${show(s('raw', v), v)} | ${fmtRatio(ratio(v))} | ${log(s('ipos', v))} | ${log(s('raw', v))} |`),
    '',
    ...targets.map((t) => `- **${t.result}** ${t.target} (${t.detail})`),
    ...errors,
  ].join('\n') + '\n'
  return { summary, markdown, targets }
}

module.exports = { ID, run }
