'use strict'
// Links over a local socket (a Unix domain socket, or a Windows named pipe through the same `net`
// API). There is no envelope to escape: each frame travels as a 4-byte big-endian byte length
// followed by the frame's UTF-8 text. The length is checked before a single byte of the frame is
// buffered, so a peer can never make this process hold more than the limit in force.
//
// A connection starts with one auth frame from the connecting side and the listener's answer
// (see `authFrame` / `answerFrame`); only after that does the link reach the rest of ipos.

const { isUtf8 } = require('buffer')
const { iposError } = require('./errors')
const { debug, linkName } = require('./debug')
const { Link, VERSION } = require('./transport')

/** Largest frame accepted before a connection is authenticated (the auth frame and its answer). */
const MAX_AUTH_BYTES = 16 * 1024

/**
 * Cuts a byte stream into frames. `onFrame(text)` gets each one; `onError(err)` is called once,
 * for a length over `limit` or bytes that are not UTF-8, and nothing is delivered after it.
 */
class FrameReader {
  constructor(limit, onFrame, onError) {
    this.limit = limit
    this.onFrame = onFrame
    this.onError = onError
    this.chunks = []
    this.have = 0 // bytes in `chunks`
    this.need = -1 // length of the frame being read, or -1 while its header is incomplete
    this.dead = false
  }

  push(chunk) {
    if (this.dead) return
    this.chunks.push(chunk)
    this.have += chunk.length
    while (!this.dead) {
      if (this.need < 0) {
        if (this.have < 4) return
        const len = this.take(4).readUInt32BE(0)
        if (len > this.limit) {
          return this.fail(iposError(Error, 'ERR_IPOS_FRAME_TOO_LARGE', `a peer announced a ${len}-byte frame; at most ${this.limit} are accepted here${this.limit === MAX_AUTH_BYTES ? ' before it is authenticated' : ' (maxFrameBytes)'}`))
        }
        this.need = len
      }
      if (this.have < this.need) return
      const bytes = this.take(this.need)
      this.need = -1
      if (!isUtf8(bytes)) return this.fail(iposError(Error, 'ERR_IPOS_BAD_FRAME', 'a peer sent a frame that is not UTF-8 text'))
      this.onFrame(bytes.toString('utf8'))
    }
  }

  /** Removes and returns the first `n` buffered bytes (`n` <= `have`). */
  take(n) {
    this.have -= n
    const first = this.chunks[0]
    if (first.length === n) {
      this.chunks.shift()
      return first
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let at = 0
    while (at < n) {
      const c = this.chunks[0]
      const k = Math.min(c.length, n - at)
      c.copy(out, at, 0, k)
      at += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    return out
  }

  /** Whether the stream stopped inside a frame. */
  partial() {
    return this.have > 0 || this.need >= 0
  }

  fail(err) {
    this.dead = true
    this.chunks = []
    this.have = 0
    this.onError(err)
  }
}

/** One frame as it goes on the wire. */
function encode(text) {
  const n = Buffer.byteLength(text)
  const buf = Buffer.allocUnsafe(4 + n)
  buf.writeUInt32BE(n, 0)
  buf.write(text, 4)
  return buf
}

/** The first frame of a connection: protocol version and token. */
function authFrame(token) {
  return JSON.stringify({ ipos: VERSION, token: token === undefined ? null : token })
}

/** The listener's answer to it. */
function answerFrame(err) {
  return JSON.stringify(err ? { ipos: VERSION, ok: false, code: err.code, m: err.message } : { ipos: VERSION, ok: true })
}

/** Parses a handshake frame of either side: the object, or null if it is not one. */
function readHandshake(text) {
  let v
  try {
    v = JSON.parse(text)
  } catch {
    return null
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'ipos' in v ? v : null
}

/** Errors from a peer after which its connection is dropped: it does not speak the protocol. */
const FATAL = new Set(['ERR_IPOS_BAD_FRAME', 'ERR_IPOS_FRAME_TOO_LARGE', 'ERR_IPOS_VERSION', 'ERR_IPOS_BAD_SEQUENCE'])

/**
 * A link over one connected socket. The connection is owned by whoever made the link (the
 * listener or the connecting side), which reads it and hands each frame to `deliver`.
 */
class SocketLink extends Link {
  constructor(socket, isParent, target) {
    super(target, isParent)
    this.socket = socket
    this.cause = null
    this.corked = false
    this._uncork = () => {
      this.corked = false
      this.socket.uncork()
    }
  }

  /** Delivers one frame text read off the socket. */
  deliver(text) {
    if (debug.enabled) debug('in %s %d B %s', linkName(this), text.length, text.slice(0, 60))
    if (this.onFrame !== null && !this.gone) this.onFrame(this, text)
  }

  _out(frame, written) {
    const sock = this.socket
    if (sock.destroyed || !sock.writable) return this.lost()
    if (debug.enabled) debug('out %s %d B %s', linkName(this), frame.length, frame.slice(0, 60))
    const buf = encode(frame)
    const n = buf.length
    this.queued += n
    // The frames of one tick leave in one write (see Link#_out).
    if (!this.corked) {
      this.corked = true
      sock.cork()
      queueMicrotask(this._uncork)
    }
    // `written` paces a streamed snapshot: it must be called once the socket took the bytes.
    sock.write(buf, () => {
      this._written(n)
      if (written) written()
    })
  }

  // The owner reads the socket; nothing to (un)subscribe here.
  _listen() {}
  _unlisten() {}

  /**
   * A frame from this peer was rejected (already reported): one that shows the peer does not
   * speak ipos ends the connection, so a broken or hostile peer costs nothing further.
   */
  onPeerError(err) {
    if (FATAL.has(err.code)) this.socket.destroy()
  }

  /** Reports `err` through the frame path (so it keeps its place among frames) and drops the connection. */
  fail(err) {
    if (this.gone) return
    if (this.onFrame !== null) this.onFrame(this, err)
    this.socket.destroy()
  }

  /** Leaves without reporting loss: what was written (a goodbye) still goes out, then the socket ends. */
  detach() {
    if (this.gone) return
    this.gone = true
    const sock = this.socket
    sock.end()
    // A peer that never reads must not keep the socket (and this process) alive.
    const timer = setTimeout(() => sock.destroy(), 2000)
    timer.unref()
    sock.once('close', () => clearTimeout(timer))
  }
}

module.exports = { FrameReader, SocketLink, encode, authFrame, answerFrame, readHandshake, MAX_AUTH_BYTES }
