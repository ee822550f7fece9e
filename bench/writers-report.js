'use strict'
// Scenario G (many writers, see writers.js): runs its cells for 2, 4 and 8 writers, ipos and the
// relay alternating, and turns the medians into a table and the targets: at 8 writers ipos keeps
// at least half the relay's throughput, and loses no larger a share of its 2-writer throughput
// than the relay does as writers are added.

const { median, spreadPct, fmtOps, fmtRatio } = require('./stats')

const ID = 'G'
const WRITERS = [2, 4, 8]
const IMPLS = ['ipos', 'relay']

async function run({ rounds, quick, timeout }, runCell, progress) {
  const keys = quick ? 500 : 5000
  const cells = {}
  for (const n of WRITERS) for (const impl of IMPLS) cells[`${impl}/${n}`] = { runs: [], failure: null }
  for (let round = 1; round <= rounds; round++) {
    progress(`G round ${round}/${rounds}:`)
    for (const n of WRITERS) {
      for (const impl of round % 2 ? IMPLS : [...IMPLS].reverse()) {
        const c = cells[`${impl}/${n}`]
        if (c.failure) continue
        const r = await runCell({ impl, writers: n, keys }, timeout)
        if (r.status === 'ok') c.runs.push(r)
        else c.failure = r
        progress(` ${impl}×${n}:${r.status === 'ok' ? `${Math.round(r.value / 1000)}k/s` : r.status}`)
      }
    }
    progress('\n')
  }
  const summary = {}
  for (const [k, c] of Object.entries(cells)) {
    const values = c.runs.map((r) => r.value)
    summary[k] = { value: median(values), values, spreadPct: spreadPct(values), error: c.failure && (c.failure.error || c.failure.status) }
  }
  const v = (impl, n) => summary[`${impl}/${n}`].value
  const rows = WRITERS.map((n) => {
    const s = (impl) => summary[`${impl}/${n}`]
    const cell = (impl) => (Number.isFinite(s(impl).value) ? `${fmtOps(s(impl).value)} ±${Number.isFinite(s(impl).spreadPct) ? s(impl).spreadPct.toFixed(0) : '–'}%` : s(impl).error || 'not run')
    return `| ${n} | ${cell('ipos')} | ${cell('relay')} | ${fmtRatio(v('ipos', n) / v('relay', n))} | ${fmtRatio(v('ipos', n) / v('ipos', 2))} | ${fmtRatio(v('relay', n) / v('relay', 2))} |`
  })
  const ratio8 = v('ipos', 8) / v('relay', 8)
  const keepIpos = v('ipos', 8) / v('ipos', 2)
  const keepRelay = v('relay', 8) / v('relay', 2)
  const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'MISS')
  const targets = [
    { scenario: ID, target: 'G: at 8 writers ipos ≥ 0.5× the relay', result: verdict(Number.isFinite(ratio8) ? ratio8 >= 0.5 : null), detail: fmtRatio(ratio8) },
    { scenario: ID, target: 'G: from 2 to 8 writers ipos keeps at least the share of its throughput the relay keeps', result: verdict(Number.isFinite(keepIpos) && Number.isFinite(keepRelay) ? keepIpos >= keepRelay : null), detail: `ipos keeps ${fmtRatio(keepIpos)}, the relay ${fmtRatio(keepRelay)}` },
  ]
  const markdown = [
    '',
    '### G. many writers, one shared Map',
    '',
    `N children each \`m.set(key, i)\` ${keys.toLocaleString('en-US')} keys of one shared Map at once (a yield every 100 sets), from the parent's go until every process holds all N × ${keys.toLocaleString('en-US')} keys. The relay: each child sends the sets it made in one tick as one message to the parent, which applies them and forwards them to the other children. Median of ${rounds} round${rounds === 1 ? '' : 's'}.`,
    '',
    '| writers | ipos | relay | ipos vs relay | ipos vs its 2 writers | relay vs its 2 writers |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    ...targets.map((t) => `- **${t.result}** ${t.target} (${t.detail})`),
  ].join('\n') + '\n'
  return { summary, markdown, targets }
}

module.exports = { ID, run }
