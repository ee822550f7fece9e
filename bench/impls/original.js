'use strict'
// ipos@0.2.6, the pure-JS original (installed as `ipos-original`, ESM only).
//
// It has no change event and no flush, so two things here use the channel directly:
// - sync(): a plain message round trip on the same channel. The original sends each change at
//   once (no buffering) and applies each one synchronously on arrival, so a plain message sent
//   after the changes is answered after they were applied.
// - onChange(): its messages reach ordinary 'message' listeners (it does not hide its traffic),
//   and its own listener was registered first, so when ours runs the change is applied. This is
//   the best case for the original: a user would otherwise have to poll.

let IPOS = null
async function load() {
  if (IPOS === null) IPOS = (await import('ipos-original')).default
  return IPOS
}

class OriginalSide {
  constructor(ipos, peer) {
    this.ipos = ipos
    this.peer = null
    this.syncs = new Map()
    this.syncId = 0
    if (peer) this.attach(peer)
  }

  attach(peer) {
    this.peer = peer
    peer.on('message', (m) => {
      if (m === null || typeof m !== 'object') return
      if (typeof m.benchBarrier === 'number') peer.send({ benchBarrierOk: m.benchBarrier })
      else if (typeof m.benchBarrierOk === 'number') {
        const resolve = this.syncs.get(m.benchBarrierOk)
        this.syncs.delete(m.benchBarrierOk)
        if (resolve) resolve()
      }
    })
  }

  create(key, value) {
    this.ipos.create(key, value)
  }

  connect(child) {
    this.attach(child)
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
    const i = ++this.syncId
    return new Promise((resolve) => {
      this.syncs.set(i, resolve)
      this.peer.send({ benchBarrier: i })
    })
  }

  onChange(key, fn) {
    this.peer.on('message', (m) => {
      if (m === null || typeof m !== 'object' || m.protocol !== 'ipos') return
      if ((m.type === 'update' && m.on === key) || (m.type === 'set' && m.key === key)) fn()
    })
  }

  close() {
    if (this.peer && this.peer !== process) this.ipos.removeProcess(this.peer)
  }
}

module.exports = {
  name: 'original',
  async openParent() {
    return new OriginalSide((await load()).new(), null)
  },
  async openChild({ syncTimeout }) {
    return new OriginalSide(await (await load()).new({ syncTimeout }), process)
  },
}
