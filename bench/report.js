'use strict'
// Turns collected cells into per-scenario summaries (medians over rounds), markdown tables and
// the PASS/MISS lines for the targets. Pure: no I/O.

const { median, spreadPct, fmtNum, fmtOps, fmtBytes, fmtRatio } = require('./stats')

const IMPLS = ['ipos', 'original', 'per-op', 'batched', 'ipos-socket', 'socket']

/**
 * `cells`: { [scenario]: { [impl]: { runs: [result], bytes: result|null, failure: result|null } } }
 * Returns { [scenario]: { [impl]: summary } } where summary has status, medians and bytes.
 */
function summarise(cells) {
  const out = {}
  for (const [sid, byImpl] of Object.entries(cells)) {
    out[sid] = {}
    for (const [impl, c] of Object.entries(byImpl)) {
      const ok = c.runs.filter((r) => r.status === 'ok')
      const s = {
        status: ok.length ? 'ok' : c.failure ? c.failure.status : 'skipped',
        rounds: ok.length,
        error: c.failure ? c.failure.error || c.failure.status : null,
        value: median(ok.map((r) => r.value)),
        values: ok.map((r) => r.value),
        spreadPct: spreadPct(ok.map((r) => r.value)),
        rssParent: median(ok.map((r) => r.rssParent)),
        rssChild: median(ok.map((r) => r.rssChild)),
        bytes: c.bytes && c.bytes.status === 'ok' ? c.bytes.bytes : null,
        bytesStatus: c.bytes ? c.bytes.status : 'skipped',
      }
      if (ok.length && ok[0].stallParent !== undefined) {
        s.stallParent = median(ok.map((r) => r.stallParent))
        s.stallChild = median(ok.map((r) => r.stallChild))
        s.rssJoinParent = median(ok.map((r) => r.rssJoinParent))
        s.rssJoinChild = median(ok.map((r) => r.rssJoinChild))
      }
      if (ok.length && ok[0].p50 !== undefined) {
        s.p50 = median(ok.map((r) => r.p50))
        s.p99 = median(ok.map((r) => r.p99))
      }
      // A failure in a later round after earlier successes still deserves a mention.
      if (ok.length && c.failure) s.status = 'partial'
      out[sid][impl] = s
    }
  }
  return out
}

const has = (s) => s && (s.status === 'ok' || s.status === 'partial') && Number.isFinite(s.value)
const ratio = (a, b, key = 'value') => (has(a) && has(b) ? a[key] / b[key] : NaN)

function fmtValue(kind, x) {
  if (kind === 'throughput') return fmtOps(x)
  if (kind === 'latency') return `${fmtNum(x)} µs`
  return `${fmtNum(x)} ms`
}

function statusText(s) {
  if (!s) return 'not run'
  if (s.status === 'timeout') return 'timeout'
  if (s.status === 'error') return 'error'
  if (s.status === 'skipped') return 'skipped'
  return null
}

/** A join: time, peak RSS and longest stall of both processes, each against the batched baseline. */
function joinTable(sum) {
  const head = ['implementation', 'join time (median)', 'vs batched', 'wire bytes', 'peak RSS parent (join)', 'vs batched', 'peak RSS child (join)', 'vs batched', 'peak RSS parent / child (cell)', 'longest stall parent', 'longest stall child', 'spread']
  const rows = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
  const mib = (x) => (Number.isFinite(x) ? `${(x / 1024 / 1024).toFixed(0)} MiB` : '–')
  const ms = (x) => (Number.isFinite(x) ? `${fmtNum(x)} ms` : '–')
  for (const impl of IMPLS) {
    const s = sum[impl]
    if (!s) continue
    const bytes = s.bytes ? fmtBytes(s.bytes.total) : s.bytesStatus === 'ok' ? '–' : s.bytesStatus
    const bad = statusText(s)
    const name = s.status === 'partial' ? `${impl} (${s.rounds} rounds ok)` : impl
    const cells = bad
      ? [bad, '–', bytes, '–', '–', '–', '–', '–', '–', '–', '–']
      : [
          fmtValue('time', s.value), fmtRatio(ratio(s, sum.batched)), bytes,
          mib(s.rssJoinParent), fmtRatio(ratio(s, sum.batched, 'rssJoinParent')),
          mib(s.rssJoinChild), fmtRatio(ratio(s, sum.batched, 'rssJoinChild')),
          `${mib(s.rssParent)} / ${mib(s.rssChild)}`,
          ms(s.stallParent), ms(s.stallChild),
          Number.isFinite(s.spreadPct) ? `±${s.spreadPct.toFixed(0)}%` : '–',
        ]
    rows.push(`| ${[name, ...cells].join(' | ')} |`)
  }
  return rows.join('\n')
}

function table(scn, sum, params) {
  if (scn.kind === 'join') return joinTable(sum)
  const rows = []
  const lat = scn.kind === 'latency'
  const head = lat
    ? ['implementation', 'p50', 'p99', 'p50 vs per-op', 'p50 vs batched', 'p50 vs original', 'wire bytes (per round trip)', 'peak RSS parent', 'peak RSS child', 'spread']
    : ['implementation', scn.kind === 'throughput' ? 'ops/s (median)' : 'time (median)', 'vs batched', 'vs original', scn.kind === 'throughput' ? 'wire bytes (per op)' : 'wire bytes', 'peak RSS parent', 'peak RSS child', 'spread']
  rows.push(`| ${head.join(' | ')} |`)
  rows.push(`|${head.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`)
  const perOp = scn.kind === 'throughput' ? params.n : lat ? params.rtt : 1
  for (const impl of IMPLS) {
    const s = sum[impl]
    if (!s) continue
    const bad = statusText(s)
    const bytes = s.bytes
      ? perOp > 1 ? `${fmtBytes(s.bytes.total)} (${fmtNum(s.bytes.total / perOp)} B)` : fmtBytes(s.bytes.total)
      : s.bytesStatus === 'ok' ? '–' : s.bytesStatus
    const mib = (x) => (Number.isFinite(x) ? `${(x / 1024 / 1024).toFixed(0)} MiB` : '–')
    const spread = Number.isFinite(s.spreadPct) ? `±${s.spreadPct.toFixed(0)}%` : '–'
    const name = s.status === 'partial' ? `${impl} (${s.rounds} rounds ok)` : impl
    let cells
    if (bad) cells = lat ? [bad, bad, '–', '–', '–', bytes, '–', '–', '–'] : [bad, '–', '–', bytes, '–', '–', '–']
    else if (lat) {
      cells = [
        fmtValue('latency', s.p50), fmtValue('latency', s.p99),
        fmtRatio(ratio(s, sum['per-op'], 'p50')), fmtRatio(ratio(s, sum.batched, 'p50')), fmtRatio(ratio(s, sum.original, 'p50')),
        bytes, mib(s.rssParent), mib(s.rssChild), spread,
      ]
    } else {
      cells = [
        fmtValue(scn.kind, s.value), fmtRatio(ratio(s, sum.batched)), fmtRatio(ratio(s, sum.original)),
        bytes, mib(s.rssParent), mib(s.rssChild), spread,
      ]
    }
    rows.push(`| ${[name, ...cells].join(' | ')} |`)
  }
  return rows.join('\n')
}

/** The targets ipos is held to. Each returns { ok: true|false|null, text }. */
const TARGETS = [
  ...['A', 'B', 'C'].flatMap((sid) => [
    { sid, label: `${sid}: ipos throughput ≥ 0.8× batched`, test: (sum) => cmp(sum, 'value', 'batched', (r) => r >= 0.8) },
    { sid, label: `${sid}: ipos throughput ≥ 5× original`, test: (sum) => cmp(sum, 'value', 'original', (r) => r >= 5) },
  ]),
  { sid: 'D', label: 'D: ipos ping-pong p50 ≤ 1.25× per-op', test: (sum) => cmp(sum, 'p50', 'per-op', (r) => r <= 1.25) },
  { sid: 'E', label: 'E: ipos connect time ≤ baseline (batched: one message with the whole field)', test: (sum) => cmp(sum, 'value', 'batched', (r) => r <= 1) },
  {
    sid: 'F',
    label: 'F: ipos wire bytes < 1 KB',
    test: (sum) => {
      const s = sum.ipos
      if (!s || !s.bytes) return { ok: false, text: `ipos bytes: ${s ? s.bytesStatus : 'not run'}` }
      return { ok: s.bytes.total < 1024, text: `${s.bytes.total} B` }
    },
  },
  { sid: 'F', label: 'F: ipos time < 0.5× baseline (batched: resend the whole field)', test: (sum) => cmp(sum, 'value', 'batched', (r) => r < 0.5) },
  // Over a local socket: against a raw `net` socket carrying the same ops, and against IPC.
  ...['A', 'B'].map((sid) => ({ sid, label: `${sid}: ipos-socket throughput ≥ 0.8× socket`, test: (sum) => cmp(sum, 'value', 'socket', (r) => r >= 0.8, 'ipos-socket') })),
  { sid: 'D', label: 'D: ipos-socket ping-pong p50 ≤ 1.25× socket', test: (sum) => cmp(sum, 'p50', 'socket', (r) => r <= 1.25, 'ipos-socket') },
  { sid: 'E', label: 'E: ipos-socket connect time ≤ ipos over IPC', test: (sum) => cmp(sum, 'value', 'ipos', (r) => r <= 1, 'ipos-socket') },
  ...['J', 'K'].flatMap((sid) => [
    { sid, label: `${sid}: ipos peak RSS parent during the join ≤ 1.5× batched`, test: (sum) => cmp(sum, 'rssJoinParent', 'batched', (r) => r <= 1.5) },
    { sid, label: `${sid}: ipos peak RSS child during the join ≤ 1.5× batched`, test: (sum) => cmp(sum, 'rssJoinChild', 'batched', (r) => r <= 1.5) },
    { sid, label: `${sid}: ipos peak RSS parent over the cell ≤ 1.5× batched`, test: (sum) => cmp(sum, 'rssParent', 'batched', (r) => r <= 1.5) },
    { sid, label: `${sid}: ipos peak RSS child over the cell ≤ 1.5× batched`, test: (sum) => cmp(sum, 'rssChild', 'batched', (r) => r <= 1.5) },
  ]),
  { sid: 'K', label: 'K: ipos join time ≤ 1.0× batched', test: (sum) => cmp(sum, 'value', 'batched', (r) => r <= 1) },
  {
    sid: 'K',
    label: "K: the parent's longest stall during the join ≤ 50 ms",
    test: (sum) => {
      const s = sum.ipos
      if (!has(s)) return { ok: false, text: `ipos: ${s ? s.status : 'not run'}` }
      return { ok: s.stallParent <= 50, text: `${fmtNum(s.stallParent)} ms` }
    },
  },
]

function cmp(sum, key, ref, pass, impl = 'ipos') {
  const a = sum[impl]
  const b = sum[ref]
  // Errors are printed once under their table; here the status is enough.
  if (!has(a)) return { ok: false, text: `${impl}: ${a ? a.status : 'not run'}` }
  if (!has(b)) return { ok: null, text: `${ref}: ${b ? b.status : 'not run'}` }
  const r = a[key] / b[key]
  return { ok: pass(r), text: `${fmtRatio(r)}` }
}

function targets(summary) {
  return TARGETS.filter((t) => summary[t.sid]).map((t) => {
    const r = t.test(summary[t.sid])
    return { scenario: t.sid, target: t.label, result: r.ok === true ? 'PASS' : r.ok === false ? 'MISS' : 'n/a', detail: r.text }
  })
}

function markdown({ meta, scenarios, summary, results }) {
  const out = []
  out.push(`Measured ${meta.date} on ${meta.cpu} (${meta.cpus} cores), Node ${meta.node}, ipos from ${meta.ipos}; ${meta.mode} sizes, median of ${meta.roundsDone} round${meta.roundsDone === 1 ? '' : 's'} (implementations alternate within each round; every cell is a fresh parent and child process). Wire bytes come from a separate metered pass.`)
  out.push('')
  out.push('Ratios divide this row by the reference: above 1 is faster for ops/s, below 1 is faster for times. Spread is ±half the min–max range over rounds.')
  for (const [sid, scn] of Object.entries(scenarios)) {
    if (!summary[sid]) continue
    out.push('')
    out.push(`### ${scn.title}`)
    out.push('')
    out.push(`${scn.describe(meta.params)}.`)
    out.push('')
    out.push(table(scn, summary[sid], meta.params))
    const lines = results.filter((r) => r.scenario === sid).map((t) => `- **${t.result}** ${t.target} (${t.detail})`)
    for (const [impl, s] of Object.entries(summary[sid])) if (s.error) lines.push(`- ${impl} failed: \`${s.error}\``)
    if (lines.length) out.push('', ...lines)
  }
  return out.join('\n') + '\n'
}

module.exports = { summarise, targets, markdown, IMPLS }
