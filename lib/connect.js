'use strict'
// `IPOS.new({ connect: path, token, reconnect })`: this process joins the tree of the process
// listening on `path`, as its child. After losing the listener it stays a non-root: its writes
// stay pending in the core while it retries with capped backoff, and on reconnecting it joins
// again and takes the listener's snapshot in place (`'resync'`, then `'reconnect'`).

const net = require('net')
const { iposError } = require('./errors')
const { debug } = require('./debug')
const { FrameReader, SocketLink, encode, authFrame, readHandshake, MAX_AUTH_BYTES } = require('./socket')
const { checkToken, badOptions, BACKOFF_MS, BACKOFF_MAX_MS } = require('./listen')

/** Resolves with `ipos` once the listener's state is applied here; rejects if it cannot be. */
function connect(ipos, s, options) {
  const { connect: path, token, reconnect = true } = options
  if (typeof path !== 'string' || path.length === 0) throw badOptions('IPOS.new({ connect }): connect must be a socket path')
  checkToken(token, 'IPOS.new({ token })')
  if (typeof reconnect !== 'boolean') throw badOptions('IPOS.new({ reconnect }): reconnect must be a boolean')
  const session = new Session(s, path, token, reconnect)
  s.closers.push(() => session.close())
  return session.first().then(() => ipos)
}

class Session {
  constructor(s, path, token, reconnect) {
    this.s = s
    this.path = path
    this.token = token
    this.reconnect = reconnect
    this.sock = null // the current connection (also while it authenticates)
    this.up = false // a link through this session has the listener's state applied
    this.joined = false // the first join succeeded
    this.tries = 0
    this.timer = null
    this.closed = false
    this.firstFail = null
  }

  /** The first join: resolves once the listener's state is applied, rejects on any failure. */
  first() {
    const s = this.s
    return new Promise((resolve, reject) => {
      const ms = s.opts.joinTimeout
      const timer = ms > 0 && ms < Infinity
        ? setTimeout(() => fail(iposError(Error, 'ERR_IPOS_TIMEOUT', `the listener on ${this.path} did not hand over its state within ${ms} ms (joinTimeout)`, { path: this.path })), ms)
        : null
      const fail = (err) => {
        if (this.joined || this.firstFail === null) return
        this.firstFail = null
        clearTimeout(timer)
        s.readyResolve = null
        s.close()
        reject(err)
      }
      this.firstFail = fail
      s.readyResolve = () => {
        clearTimeout(timer)
        this.firstFail = null
        this.joined = true
        this.up = true
        resolve()
      }
      this.attempt()
    })
  }

  /** One connection attempt: connect, authenticate, then hand the link to the peers. */
  attempt() {
    this.timer = null
    if (this.closed) return
    const s = this.s
    const sock = net.connect(this.path)
    this.sock = sock
    let link = null
    let failed = false
    // Before its state arrives a failure ends the first join or schedules another attempt.
    const failure = (err) => {
      if (failed) return
      failed = true
      sock.destroy()
      if (this.firstFail !== null) return this.firstFail(err)
      if (err.code !== 'ERR_IPOS_CONNECT') s.error(err)
      this.retry()
    }
    const onFrame = (text) => {
      if (link !== null) return link.deliver(text)
      const v = readHandshake(text)
      if (v === null || typeof v.ok !== 'boolean') return failure(iposError(Error, 'ERR_IPOS_BAD_FRAME', `what listens on ${this.path} did not answer with an ipos handshake`, { path: this.path }))
      if (!v.ok) {
        const code = typeof v.code === 'string' && v.code.startsWith('ERR_IPOS_') ? v.code : 'ERR_IPOS_AUTH'
        return failure(iposError(Error, code, `the listener on ${this.path} refused this process: ${String(v.m).slice(0, 500)}`, { path: this.path }))
      }
      reader.limit = s.opts.maxFrameBytes
      link = new SocketLink(sock, true, sock)
      link.session = this
      link.onResynced = () => this.resynced()
      debug('connected to %s', this.path)
      s.peers.connectParent(link)
    }
    const reader = new FrameReader(MAX_AUTH_BYTES, onFrame, (err) => (link !== null ? link.fail(err) : failure(err)))
    sock.on('connect', () => sock.write(encode(authFrame(this.token))))
    sock.on('data', (chunk) => reader.push(chunk))
    sock.on('error', (e) => {
      if (link !== null) link.cause = e
      else if (!sock.connecting && sock.bytesRead + sock.bytesWritten > 0) failure(iposError(Error, 'ERR_IPOS_CONNECT', `the connection to ${this.path} failed: ${e.message}`, { path: this.path, cause: e }))
      else failure(iposError(Error, 'ERR_IPOS_CONNECT', `nothing listens on ${this.path} (${e.code || e.message})`, { path: this.path, cause: e }))
    })
    sock.on('close', () => {
      if (!reader.dead && reader.partial()) {
        reader.dead = true
        const err = iposError(Error, 'ERR_IPOS_BAD_FRAME', `the connection to ${this.path} closed in the middle of a frame; the partial frame was dropped`, { path: this.path })
        if (link !== null) link.fail(err)
      }
      if (link !== null) link.lost()
      else failure(iposError(Error, 'ERR_IPOS_CONNECT', `the listener on ${this.path} closed the connection before it was set up`, { path: this.path }))
    })
  }

  /**
   * The link to the listener is gone (peers.drop). Returns whether this process stays a child
   * that is away (and retries) rather than becoming the root of what is left.
   */
  keeps() {
    return this.reconnect && this.joined && !this.closed && !this.s.closed
  }

  /** Called after peers.drop() took the link off: tell the user and retry. */
  lost(link) {
    if (this.firstFail !== null) {
      return this.firstFail(link.cause
        ? iposError(Error, 'ERR_IPOS_CONNECT', `the connection to ${this.path} failed while joining: ${link.cause.message}`, { path: this.path, cause: link.cause })
        : iposError(Error, 'ERR_IPOS_CONNECT', `the listener on ${this.path} went away while this process joined`, { path: this.path }))
    }
    if (this.closed || this.s.closed) return
    if (this.up) {
      this.up = false
      debug('lost the listener on %s', this.path)
      this.s.emitter.emit('disconnect', { peer: link.target, role: 'parent', path: this.path, cause: link.cause || undefined })
    }
    if (this.reconnect) this.retry()
  }

  retry() {
    if (this.closed || this.s.closed || this.timer !== null) return
    const ms = Math.min(BACKOFF_MAX_MS, BACKOFF_MS * 2 ** this.tries)
    this.tries++
    // Jitter, so processes that lost the same listener do not all come back in the same tick.
    this.timer = setTimeout(() => this.attempt(), ms * (0.75 + Math.random() * 0.5))
  }

  /** The listener's snapshot is applied again after a reconnect. */
  resynced() {
    if (!this.joined || this.up) return
    this.up = true
    this.tries = 0
    debug('reconnected to %s', this.path)
    const parent = this.s.peers.parent
    this.s.emitter.emit('reconnect', { peer: parent && parent.target, role: 'parent', path: this.path })
  }

  close() {
    this.closed = true
    clearTimeout(this.timer)
    this.timer = null
    if (this.sock !== null && (this.s.peers.parent === null || this.s.peers.parent.socket !== this.sock)) this.sock.destroy()
  }
}

module.exports = { connect }
