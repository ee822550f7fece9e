'use strict'
// The Redis carrier: a Redis Stream is the log that orders every batch, in place of a root.
// Every attached process is a non-root whose parent is the log: it appends its `b` frames (and
// those its children send up) with XADD, reads the stream back in order with XREAD BLOCK, and
// hands each entry to the core as the next sequenced batch (PROTOCOL.md "Following a log").
//
// Keys (all in one hash slot, `{name}`), with `P` = prefix and `N` = name:
//   P:{N}:log    stream  one entry per batch: field `b` = the `b` frame text, field `e` = the
//                        epoch its writer had joined under (a hint, see `read`)
//   P:{N}:snap   hash    id (last entry the snapshot covers), q (its sequence number),
//                        frame (the `s` frame), trim (entries before it are gone), epoch
//   P:{N}:lease  string  the origin compacting right now (SET NX PX)

const crypto = require('crypto')
const { Link } = require('./transport')
const { iposError } = require('./errors')
const { debug } = require('./debug')
const { JOIN, COMPACT, TAKE, RESEND } = require('./lua')

const EMPTY = '{"t":"s","q":0,"f":[]}'
const LEASE_MS = 30000
const COUNT = 1000
const RETRY_MS = 200

/** A log entry on its way to the core (not a frame: the core sequences it itself). */
class LogEntry {
  constructor(text) {
    this.text = text
  }
}

/** `a` and `b` are stream ids: negative, 0 or positive like a comparator. */
function cmpId(a, b) {
  const i = a.indexOf('-')
  const j = b.indexOf('-')
  const ms = BigInt(a.slice(0, i)) - BigInt(b.slice(0, j))
  if (ms !== 0n) return ms < 0n ? -1 : 1
  const sq = BigInt(a.slice(i + 1)) - BigInt(b.slice(j + 1))
  return sq === 0n ? 0 : sq < 0n ? -1 : 1
}

/** `p`, or a rejection once `client`'s connection closes (ioredis leaves such commands unsettled). */
function untilClosed(client, p) {
  let onClose
  const closed = new Promise((resolve, reject) => {
    onClose = () => reject(new Error('the connection to Redis closed'))
    client.once('close', onClose)
  })
  return Promise.race([p, closed]).finally(() => client.removeListener('close', onClose))
}

function badOption(msg) {
  return iposError(TypeError, 'ERR_IPOS_BAD_OPTIONS', `IPOS.new({ redis }): ${msg}`)
}

/**
 * ioredis is an optional peer dependency: only processes that attach to Redis need it, so
 * `npm i ipos` stays free of runtime dependencies.
 */
function loadIoredis() {
  try {
    return require('ioredis')
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && /ioredis/.test(e.message)) {
      throw iposError(Error, 'ERR_IPOS_NO_REDIS_CLIENT', 'IPOS.new({ redis }) needs the ioredis package: npm i ioredis')
    }
    throw e
  }
}

/** The options for ioredis from `redis`: a URL, a unix socket path or an ioredis client. */
function clients(redis) {
  const Redis = loadIoredis()
  const own = { enableAutoPipelining: false, enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: (n) => Math.min(50 * n, 1000) }
  if (redis !== null && typeof redis === 'object' && typeof redis.duplicate === 'function') {
    // A client of the user's: its settings, our connections (ours to configure and to close).
    return [redis.duplicate(own), redis.duplicate(own)]
  }
  if (typeof redis !== 'string' || redis.length === 0) throw badOption('`redis` is a redis:// or rediss:// URL, a unix socket path or an ioredis client')
  const make = () => (/^rediss?:\/\//.test(redis) ? new Redis(redis, own) : new Redis({ ...own, path: redis }))
  return [make(), make()]
}

class RedisLink extends Link {
  constructor(s) {
    const o = s.opts
    const name = o.name === undefined ? 'ipos' : o.name
    const prefix = o.prefix === undefined ? 'ipos' : o.prefix
    const every = o.snapshotEvery === undefined ? 10000 : o.snapshotEvery
    if (typeof name !== 'string' || name.length === 0) throw badOption('`name` is a non-empty string')
    if (typeof prefix !== 'string') throw badOption('`prefix` is a string')
    if (!Number.isSafeInteger(every) || every < 1) throw badOption('`snapshotEvery` is a positive integer')
    const [cmd, blk] = clients(o.redis)
    super(cmd, true)
    this.s = s
    this.cmd = cmd // commands, XADD
    this.blk = blk // XREAD BLOCK only
    this.keys = [`${prefix}:{${name}}:log`, `${prefix}:{${name}}:snap`, `${prefix}:{${name}}:lease`]
    this.every = every
    this.lastId = '0-0'
    this.epoch = null
    this.snapQ = 0
    this.waiting = [] // pings: { id, answer } once the reader is past `id`
    this.sent = 0
    this.inflight = new Map() // XADDs not answered yet, in order
    this.uncertain = [] // frames whose XADD got no answer, in order
    this.queued = [] // frames made while the connection is down
    this.down = false
    this.compacting = false
    this.reading = false
    this.recheck = false
    this.joinedResolve = null
    this.joined = new Promise((resolve, reject) => {
      this.joinedResolve = resolve
      this.joinedReject = reject
    })
    this.joined.catch(() => {})
    this.abortRead = null
    this._onBlkClose = () => {
      const abort = this.abortRead
      this.abortRead = null
      if (abort !== null) abort(new Error('the connection to Redis closed'))
    }
    this._onClose = () => this.onClose()
    this._onReady = () => this.onReady()
    this._onError = (e) => debug('redis: %s', e.message)
  }

  _listen() {
    for (const c of [this.cmd, this.blk]) c.on('error', this._onError)
    this.cmd.on('close', this._onClose)
    this.cmd.on('ready', this._onReady)
    this.blk.on('close', this._onBlkClose)
    Promise.all([this.cmd.connect(), this.blk.connect()]).then(() => this.join(), (e) => this.fail(e))
  }

  _unlisten() {
    this.cmd.removeListener('close', this._onClose)
    this.cmd.removeListener('ready', this._onReady)
    this.blk.removeListener('close', this._onBlkClose)
    // Writes already handed to Redis still go out; QUIT follows them.
    this.cmd.quit().catch(() => this.cmd.disconnect())
    this.blk.disconnect()
    for (const w of this.waiting) w.answer()
    this.waiting = []
  }

  fail(e) {
    const err = iposError(Error, 'ERR_IPOS_REDIS', `cannot reach Redis: ${e && e.message}`, { cause: e })
    this.joinedReject(err)
  }

  /** Loads the latest snapshot and the log after it, then follows the log. */
  async join() {
    let r
    // A reload: batches made before it that are still pending once the log is read are not in
    // the log (accepted, then lost with a Redis that restarted empty or trimmed by a reseed):
    // they go in again, once each.
    const before = this.s.joined ? this.unordered() : null
    try {
      const s = this.s
      const seed = s.joined ? s.core.snapshot() : EMPTY
      r = await untilClosed(this.cmd, this.cmd.eval(JOIN, 2, this.keys[0], this.keys[1], seed, crypto.randomBytes(8).toString('hex'), s.joined ? String(s.core.seq) : '0'))
    } catch (e) {
      if (this.gone) return
      // Joined before: this was a reload; try again (the connection may be coming back).
      if (this.s.joined) this.pause(this.cmd).then(() => this.join())
      else this.fail(e)
      return
    }
    if (this.gone) return
    const [id, frame, epoch, q, entries] = r
    this.epoch = epoch
    this.snapQ = Number(q)
    this.lastId = id
    debug('redis: joining at %s (q %s), %d entries after it', id, q, entries.length)
    this.onFrame(this, frame)
    this.deliver(entries)
    await this.s.inbound.idle()
    if (this.gone) return
    if (!this.s.joined) return // refused: `send` got the nack
    if (before !== null && before.size > 0) {
      const inHand = new Set([...this.inflight.values(), ...this.uncertain, ...this.queued])
      const lost = [...this.unordered()].filter((f) => before.has(f) && !inHand.has(f))
      if (lost.length > 0) debug('redis: %d batch(es) made before the reload are not in the log; appending them again', lost.length)
      for (const f of lost) this.append(f)
    }
    this.joinedResolve()
    if (!this.reading) this.read()
    await this.placeLater()
  }

  /**
   * Pings that waited for the connection or a reload: everything sent before them is in the log
   * now, so each is answered once the reader reaches the log's end as of now.
   */
  async placeLater() {
    if (!this.waiting.some((w) => w.id === 'later') || this.down || this.uncertain.length > 0 || this.queued.length > 0 || !this.reading) return
    const top = await this.cmd.xrevrange(this.keys[0], '+', '-', 'COUNT', 1).catch(() => [])
    const end = top.length > 0 ? top[0][0] : this.lastId
    for (const w of this.waiting) if (w.id === 'later') w.id = end
    if (cmpId(end, this.lastId) <= 0) this.deliver([])
  }

  /** The `b` frames this process made or relayed that the log has not ordered yet, oldest first. */
  unordered() {
    const s = this.s
    const out = new Set(s.core.pendingFrames())
    for (const list of s.peers.relayed.values()) for (const e of list) out.add(e.frame)
    return out
  }

  /**
   * XREAD BLOCK in a loop. Before a read's entries are delivered, whether the log was trimmed
   * or lost behind us is checked whenever it could have been:
   * - trimmed past us: a trim only removes entries older than the snapshot before the latest,
   *   so at least a full interval (`snapshotEvery` entries) follows what it removed; a read
   *   that returns fewer than min(COUNT, interval) entries cannot have been cut short by one.
   * - lost (a server restarted empty, a reseed): a connection that closed is checked when it is
   *   back; otherwise every member tags its entries with the epoch it joined under, so an entry
   *   of another epoch (or a foreign entry without one) is the sign to look.
   * A read that needs none of this costs one command (the common case: a follower that keeps
   * up reads a few entries at a time).
   */
  async read() {
    this.reading = true
    const full = Math.min(COUNT, this.every)
    while (!this.gone) {
      let entries
      try {
        entries = await new Promise((resolve, reject) => {
          this.abortRead = reject // a closed connection leaves the read unsettled
          this.blk.xread('COUNT', COUNT, 'BLOCK', 0, 'STREAMS', this.keys[0], this.lastId).then((r) => resolve(r ? r[0][1] : []), reject)
        })
      } catch (e) {
        entries = null
      }
      this.abortRead = null
      if (this.gone) break
      if (entries === null || this.recheck) {
        this.recheck = false
        if (entries === null) await this.pause(this.blk)
        // Back after an error (or asked to look): the log may have been lost meanwhile, and a
        // blocking read of an empty log would wait for someone's next write to tell.
        const now = this.gone ? null : await this.blk.hmget(this.keys[1], 'trim', 'epoch').catch(() => null)
        if (now !== null && this.stale(now)) return this.reload(now)
        if (entries === null) continue
      }
      if (entries.length >= full || entries.some((e) => !this.tagged(e[1]))) {
        const now = await this.blk.hmget(this.keys[1], 'trim', 'epoch').catch(() => null)
        if (this.gone) break
        // Not answered (the connection closed): read again, and look once it is back.
        if (now === null) continue
        if (this.stale(now)) return this.reload(now)
      }
      this.deliver(entries)
    }
    this.reading = false
  }

  /** Whether entry `fields` is tagged with the epoch this process joined under. */
  tagged(fields) {
    return fields.length === 4 && fields[2] === 'e' && fields[3] === this.epoch
  }

  /**
   * The log may have been lost without this process's connections noticing (a ping read another
   * epoch): the reader looks now, after its current read is given up.
   */
  lookAgain() {
    if (this.gone || !this.reading) return
    this.recheck = true
    const abort = this.abortRead
    this.abortRead = null
    if (abort !== null) {
      // The blocked XREAD cannot be taken back on its connection: a new connection replaces it.
      this.blk.disconnect(true)
      abort(new Error('looking at the log again'))
    }
  }

  /** Whether the log was emptied (restarted without persistence) or trimmed past what we read. */
  stale([trim, epoch]) {
    return epoch !== this.epoch || (trim !== null && cmpId(trim, this.lastId) > 0)
  }

  /** Starts over from the latest snapshot. */
  reload([, epoch]) {
    debug('redis: log %s; reloading the snapshot', epoch !== this.epoch ? 'lost' : 'trimmed past us')
    this.reading = false
    return this.join()
  }

  /** RETRY_MS, or less: until `client` is connected again. */
  pause(client) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        client.removeListener('ready', done)
        resolve()
      }
      const timer = setTimeout(done, RETRY_MS)
      client.once('ready', done)
    })
  }

  deliver(entries) {
    for (const [id, fields] of entries) {
      this.lastId = id
      // A `b` field (and at most the epoch tag) or nothing we know: the core then skips the
      // entry like every process does. The tag is only a hint (see `read`): an entry is taken
      // the same way whatever its tag says, so every process applies the same entries.
      const text = fields[0] === 'b' && (fields.length === 2 || (fields.length === 4 && fields[2] === 'e')) ? fields[1] : ''
      if (this.uncertain.length > 0) this.uncertain = this.uncertain.filter((f) => f !== text)
      this.onFrame(this, new LogEntry(text))
    }
    // Writes the change listeners made in answer leave now, before the next read is issued.
    this.s.outbox.flush()
    if (this.waiting.length > 0) {
      const still = []
      for (const w of this.waiting) {
        if (w.id !== 'later' && cmpId(w.id, this.lastId) <= 0) w.answer()
        else still.push(w)
      }
      this.waiting = still
    }
    this.compact()
  }

  /** Frames from the core: `b` goes into the log, a ping is answered once its batches are back. */
  send(frame) {
    if (this.gone) return false
    switch (frame[6]) {
      case 'b': this.append(frame); break
      case 'p': this.ping(JSON.parse(frame).i); break
      case 'N': this.joinedReject(iposError(Error, JSON.parse(frame).code, `the snapshot in Redis was refused: ${JSON.parse(frame).m}`)); break
      default: // hello, ack, goodbye: the log has no one to tell
    }
    return true
  }

  append(frame) {
    if (this.down || this.uncertain.length > 0) {
      this.queued.push(frame)
      return
    }
    // In flight until Redis answers. A connection that closes first leaves it in doubt (ioredis
    // never settles such a command): maybe in the log, maybe not; resent on reconnect only if not.
    const k = ++this.sent
    this.inflight.set(k, frame)
    this.cmd.xadd(this.keys[0], 'NOMKSTREAM', '*', 'b', frame, 'e', this.epoch).then((id) => {
      this.inflight.delete(k)
      // No log: it was deleted under us (the frame stays pending and goes in again once the
      // space is re-seeded, see `join`).
      if (id === null) this.lookAgain()
    }, () => this.doubt())
  }

  /** Everything still in flight may or may not have reached the log. */
  doubt() {
    for (const f of this.inflight.values()) this.uncertain.push(f)
    this.inflight.clear()
  }

  /**
   * Answered once this process has read the log up to its end as of now: past every batch sent
   * before (same connection, so the XREVRANGE runs after their XADDs) and every other member's
   * batch already in the log.
   */
  ping(i) {
    const answer = () => this.onFrame(this, `{"t":"P","i":${i}}`)
    if (this.down || this.uncertain.length > 0 || this.queued.length > 0 || !this.reading) return this.waiting.push({ id: 'later', answer })
    // The epoch too: entry ids of a log that was lost and started over say nothing about ours.
    untilClosed(this.cmd, Promise.all([this.cmd.xrevrange(this.keys[0], '+', '-', 'COUNT', 1), this.cmd.hget(this.keys[1], 'epoch')])).then(([top, epoch]) => {
      const id = top.length > 0 ? top[0][0] : '0-0'
      if (this.gone) answer()
      else if (epoch !== this.epoch) {
        this.waiting.push({ id: 'later', answer }) // answered after the reload
        this.lookAgain()
      }
      else if (cmpId(id, this.lastId) <= 0) answer()
      else this.waiting.push({ id, answer })
    }, () => this.waiting.push({ id: 'later', answer }))
  }

  onClose() {
    if (this.down || this.gone) return
    this.doubt()
    this.down = true
    debug('redis: disconnected')
    this.s.emitter.emit('disconnect', { peer: this.target, role: 'parent' })
  }

  /** Reconnected: what may have been lost is resent once, then what waited, in order. */
  async onReady() {
    if (!this.down || this.gone) return
    const again = this.uncertain
    const queued = this.queued
    this.uncertain = []
    this.queued = []
    try {
      if (again.length + queued.length > 0) {
        await untilClosed(this.cmd, this.cmd.eval(RESEND, 1, this.keys[0], this.lastId, this.epoch, ...again, ...queued))
      }
    } catch (e) {
      this.uncertain = again.concat(queued, this.uncertain)
      return
    }
    this.down = false
    await this.placeLater()
    debug('redis: reconnected')
    this.s.emitter.emit('reconnect', { peer: this.target, role: 'parent' })
  }

  /** Every `snapshotEvery` entries, one member (the lease holder) writes a snapshot and trims. */
  compact() {
    const s = this.s
    if (this.compacting || this.gone || this.down || s.core.seq - this.snapQ < this.every) return
    this.compacting = true
    const done = () => {
      this.compacting = false
    }
    untilClosed(this.cmd, this.cmd.eval(TAKE, 2, this.keys[1], this.keys[2], String(s.core.seq), String(this.every), s.origin, String(LEASE_MS))).then((got) => {
      if (got >= 0) {
        // Another member wrote one lately: the next is due one interval after it.
        this.snapQ = got
        return
      }
      if (got !== -1 || this.gone || s.inbound.inbox !== null) {
        // Someone else is at it: look again one interval later.
        this.snapQ = s.core.seq
        return
      }
      // Taken together, synchronously: the confirmed state after exactly the entries read.
      const id = this.lastId
      const q = s.core.seq
      const frame = s.core.snapshot()
      return untilClosed(this.cmd, this.cmd.eval(COMPACT, 3, ...this.keys, id, frame, String(q), s.origin, String(this.every))).then((at) => {
        debug('redis: snapshot at %s (q %d, %d B): %s', id, q, frame.length, at === q ? 'written' : `not needed (the one in place is at q ${at})`)
        this.snapQ = at >= 0 ? at : q
      })
    }).catch((e) => debug('redis: compaction failed: %s', e.message)).then(done)
  }
}

/** `IPOS.new({ redis })`: resolves once the snapshot and the log after it are applied. */
async function attach(s) {
  const link = new RedisLink(s)
  const ms = s.opts.joinTimeout
  let timer = null
  if (ms > 0 && ms < Infinity) {
    timer = setTimeout(() => link.joinedReject(iposError(Error, 'ERR_IPOS_TIMEOUT', `Redis did not answer within ${ms} ms (joinTimeout)`)), ms)
  }
  s.peers.connectParent(link)
  try {
    await link.joined
  } catch (e) {
    s.close()
    throw e
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { attach, LogEntry, RedisLink, cmpId }
