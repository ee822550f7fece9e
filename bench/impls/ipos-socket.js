'use strict'
// This package over a local socket: the driver listens (`ipos.listen`), the child joins it with
// `IPOS.new({ connect })` when the driver connects it. Same operations as impls/ipos.js.

const { socketPath, askToConnect, onConnectRequest, socketMeter } = require('./socket-common')

let IPOS = null
function load() {
  if (IPOS === null) IPOS = require(process.env.BENCH_IPOS_PATH || '../..')
  return IPOS
}

class Side {
  constructor(ipos) {
    this.ipos = null
    this.error = null
    this.onError = null
    this.changeFns = [] // registered before the child joined: attached once it has
    if (ipos) this.use(ipos)
  }

  use(ipos) {
    this.ipos = ipos
    ipos.on('error', (e) => {
      if (this.error !== null) return
      this.error = e
      if (this.onError) this.onError(e)
    })
    for (const [key, fn] of this.changeFns) this.watch(key, fn)
  }

  watch(key, fn) {
    this.ipos.on('change', (ev) => {
      if (!ev.local && ev.key === key) fn()
    })
  }

  create(key, value) {
    this.ipos.create(key, value)
  }

  async connect(child) {
    this.child = child
    await askToConnect(child)
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
    return this.ipos ? this.ipos[key] : undefined
  }

  sync() {
    return this.ipos.flush()
  }

  onChange(key, fn) {
    if (this.ipos) this.watch(key, fn)
    else this.changeFns.push([key, fn])
  }

  meter() {
    return socketMeter(() => this.peerSocket)
  }

  close() {
    if (this.ipos) this.ipos.close()
  }
}

module.exports = {
  name: 'ipos-socket',
  async openParent() {
    const ipos = load().new()
    const side = new Side(ipos)
    ipos.on('peer', (e) => { side.peerSocket = e.peer })
    const file = socketPath(process.pid)
    // The driver ends with process.exit(), which does not close servers.
    process.on('exit', () => require('fs').rmSync(file, { force: true }))
    await ipos.listen(file)
    return side
  },
  // Ready at once; joins when the driver connects it (scenario E times exactly that). The package
  // is loaded now, as the IPC child has it loaded before its parent connects it: the timed join
  // is the join alone.
  async openChild() {
    const side = new Side(null)
    const IPOS = load()
    onConnectRequest(async () => side.use(await IPOS.new({ connect: socketPath(process.ppid) })))
    return side
  },
}
