'use strict'
// The harness's own conversation between the driver and its child: plain `{ bench: type, ... }`
// messages on the same IPC channel the implementations use. It keeps a reference to the channel's
// original `send`, taken before the wire meter wraps it, so harness traffic is never counted as
// an implementation's bytes.

class Control {
  /** `peer` is a ChildProcess (driver side) or `process` (child side). */
  constructor(peer) {
    this.peer = peer
    this.rawSend = peer.send
    this.queues = new Map() // type -> messages that arrived before anyone asked for them
    this.waiters = new Map() // type -> [{ resolve, reject }]
    this.failure = null
    this.onFail = null // called once, with the error, when the peer fails
    this.handlers = new Map() // type -> fn(msg) for requests answered on the spot
    peer.on('message', (m) => {
      if (m === null || typeof m !== 'object' || typeof m.bench !== 'string') return
      if (m.bench === 'error') return this.fail(new Error(`child: ${m.message}`))
      const h = this.handlers.get(m.bench)
      if (h) return h(m)
      const w = this.waiters.get(m.bench)
      if (w && w.length) return w.shift().resolve(m)
      if (!this.queues.has(m.bench)) this.queues.set(m.bench, [])
      this.queues.get(m.bench).push(m)
    })
  }

  send(type, data) {
    this.rawSend.call(this.peer, { bench: type, ...data })
  }

  /** Resolves with the next message of `type` (queued ones first); rejects once the peer failed. */
  next(type) {
    if (this.failure) return Promise.reject(this.failure)
    const q = this.queues.get(type)
    if (q && q.length) return Promise.resolve(q.shift())
    return new Promise((resolve, reject) => {
      if (!this.waiters.has(type)) this.waiters.set(type, [])
      this.waiters.get(type).push({ resolve, reject })
    })
  }

  /** Answers every `type` message with `fn(msg)`'s result (awaited) as `type + ':ok'`. */
  answer(type, fn) {
    this.handlers.set(type, async (m) => {
      try {
        this.send(`${type}:ok`, { data: await fn(m) })
      } catch (e) {
        this.send('error', { message: errorText(e) })
      }
    })
  }

  async request(type, data) {
    const reply = this.next(`${type}:ok`)
    this.send(type, data)
    return (await reply).data
  }

  /** The peer failed or went away: every pending and future wait rejects with `err`. */
  fail(err) {
    if (this.failure) return
    this.failure = err
    if (this.onFail) this.onFail(err)
    for (const list of this.waiters.values()) for (const w of list) w.reject(err)
    this.waiters.clear()
  }
}

function errorText(e) {
  if (!(e instanceof Error)) return String(e)
  const where = (e.stack || '').split('\n').slice(1, 3).map((l) => l.trim()).join(' | ')
  return `${e.code ? `[${e.code}] ` : ''}${e.message}${where ? ` (${where})` : ''}`
}

module.exports = { Control, errorText }
