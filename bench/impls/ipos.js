'use strict'
// This package. Changes are plain property writes and method calls on the live proxies; a peer
// observes them with the 'change' event, and `flush()` waits until every peer applied them.

// Loaded on first use so a broken build shows up as that cell's error, not as a crash of the run.
// BENCH_IPOS_PATH points the bench at another build of the package (e.g. a copy made before a
// change) without touching this checkout.
let IPOS = null
function load() {
  if (IPOS === null) IPOS = require(process.env.BENCH_IPOS_PATH || '../..')
  return IPOS
}

class IposSide {
  constructor(ipos) {
    this.ipos = ipos
    // An 'error' listener turns ipos's warnings into failures of the cell instead of stderr
    // noise; the harness sets `onError` to fail the cell at once rather than at its timeout.
    this.error = null
    this.onError = null
    ipos.on('error', (e) => {
      if (this.error !== null) return
      this.error = e
      if (this.onError) this.onError(e)
    })
  }

  create(key, value) {
    this.ipos.create(key, value)
  }

  connect(child) {
    return this.ipos.addProcess(child)
  }

  push(key, value) {
    this.ipos[key].push(value)
  }

  setKey(key, prop, value) {
    this.ipos[key][prop] = value
  }

  reset(key, value) {
    this.ipos[key] = value
  }

  get(key) {
    return this.ipos[key]
  }

  sync() {
    return this.ipos.flush()
  }

  onChange(key, fn) {
    this.ipos.on('change', (ev) => {
      if (!ev.local && ev.key === key) fn()
    })
  }

  close() {
    this.ipos.close()
  }
}

module.exports = {
  name: 'ipos',
  async openParent() {
    return new IposSide(load().new())
  },
  async openChild({ syncTimeout }) {
    return new IposSide(await load().new({ syncTimeout }))
  },
}
