'use strict'
// Numbers only: summaries of samples and human formatting. No I/O here.

/** Median of a list of numbers (mean of the middle two for even lengths); NaN when empty. */
function median(xs) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Percentile with linear interpolation between closest ranks (p in [0, 100]). */
function percentile(xs, p) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const r = (p / 100) * (s.length - 1)
  const lo = Math.floor(r)
  const hi = Math.ceil(r)
  return s[lo] + (s[hi] - s[lo]) * (r - lo)
}

/** Half the min–max range relative to the median, in percent: a quick noise indicator. */
function spreadPct(xs) {
  if (xs.length < 2) return NaN
  const m = median(xs)
  return ((Math.max(...xs) - Math.min(...xs)) / 2 / m) * 100
}

function fmtNum(x, digits = 3) {
  if (!Number.isFinite(x)) return '–'
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US')
  return Number(x.toPrecision(digits)).toString()
}

function fmtOps(x) {
  if (!Number.isFinite(x)) return '–'
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M/s`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k/s`
  return `${x.toFixed(0)} /s`
}

function fmtBytes(x) {
  if (!Number.isFinite(x)) return '–'
  if (x >= 1024 * 1024) return `${(x / 1024 / 1024).toFixed(2)} MiB`
  if (x >= 1024) return `${(x / 1024).toFixed(1)} KiB`
  return `${Math.round(x)} B`
}

function fmtRatio(x) {
  if (!Number.isFinite(x)) return '–'
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`
}

module.exports = { median, percentile, spreadPct, fmtNum, fmtOps, fmtBytes, fmtRatio }
