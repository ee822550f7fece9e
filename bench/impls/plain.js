'use strict'
// The common part of the two hand-written baselines: fields live in a plain object, each change
// is a small JSON op (`{ op: 'push', k, v }`), and the receiver applies it to its own plain
// object. `per-op.js` and `batched.js` differ only in how ops travel, so the comparison between
// them isolates the cost of one message per op.
//
// These are deliberately the cheapest thing that works: no proxies, no validation, no value
// snapshot (the batched one serialises at flush time, not at mutation time). They are the floor
// ipos is measured against, not a fair feature-for-feature competitor.

class PlainSide {
  /** `transmit(side, op)` sends one op to the peer, now or later. */
  constructor(transmit) {
    this.transmit = transmit
    this.fields = {}
    this.peer = null
    this.listeners = new Map() // key -> [fn]
    this.connected = null // resolve of connect()
    this.syncs = new Map() // id -> resolve
    this.syncId = 0
    this.onMessage = (m) => this.receive(m)
  }

  attach(peer) {
    this.peer = peer
    peer.on('message', this.onMessage)
  }

  send(op) {
    this.transmit(this, op)
  }

  // ---- the common bench interface --------------------------------------------------------

  create(key, value) {
    this.fields[key] = value
    if (this.peer) this.send({ op: 'create', k: key, v: value })
  }

  /** Parent side: ships every field as one message; resolves once the child acknowledged it. */
  connect(child) {
    this.attach(child)
    return new Promise((resolve) => {
      this.connected = resolve
      this.send({ op: 'snap', f: this.fields })
    })
  }

  push(key, value) {
    this.fields[key].push(value)
    this.send({ op: 'push', k: key, v: value })
  }

  setKey(key, prop, value) {
    this.fields[key][prop] = value
    this.send({ op: 'set', k: key, p: prop, v: value })
  }

  reset(key, value) {
    this.fields[key] = value
    this.send({ op: 'reset', k: key, v: value })
  }

  get(key) {
    return this.fields[key]
  }

  /** Resolves once the peer applied everything sent before: the channel is ordered. */
  sync() {
    const i = ++this.syncId
    return new Promise((resolve) => {
      this.syncs.set(i, resolve)
      this.send({ op: 'sync', i })
    })
  }

  onChange(key, fn) {
    if (!this.listeners.has(key)) this.listeners.set(key, [])
    this.listeners.get(key).push(fn)
  }

  close() {
    if (this.peer) this.peer.removeListener('message', this.onMessage)
  }

  // ---- receiving -------------------------------------------------------------------------

  receive(m) {
    if (m === null || typeof m !== 'object') return
    if (Array.isArray(m.ops)) for (const op of m.ops) this.apply(op)
    else if (typeof m.op === 'string') this.apply(m)
  }

  apply(o) {
    switch (o.op) {
      case 'snap':
        Object.assign(this.fields, o.f)
        return this.send({ op: 'snapok' })
      case 'snapok':
        return this.connected && this.connected()
      case 'create':
      case 'reset':
        this.fields[o.k] = o.v
        return this.notify(o.k)
      case 'push':
        this.fields[o.k].push(o.v)
        return this.notify(o.k)
      case 'set':
        this.fields[o.k][o.p] = o.v
        return this.notify(o.k)
      case 'sync':
        return this.send({ op: 'synced', i: o.i })
      case 'synced': {
        const resolve = this.syncs.get(o.i)
        this.syncs.delete(o.i)
        return resolve && resolve()
      }
    }
  }

  notify(key) {
    const fns = this.listeners.get(key)
    if (fns) for (const fn of fns) fn()
  }
}

/** Builds the `{ name, openParent, openChild }` module for a baseline with this transmit policy. */
function baseline(name, makeTransmit) {
  return {
    name,
    async openParent() {
      return new PlainSide(makeTransmit())
    },
    // The baselines have no handshake: the child is ready at once and gets the fields with the
    // parent's snapshot message, which arrives before any op (the channel is ordered).
    async openChild() {
      const side = new PlainSide(makeTransmit())
      side.attach(process)
      return side
    },
  }
}

module.exports = { PlainSide, baseline }
