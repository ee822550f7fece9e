'use strict'
// Sharing with processes nobody spawned: `ipos.listen(path)` accepts connections on a local
// socket and makes each authenticated one a child, exactly as `addProcess` would;
// `IPOS.new({ connect: path })` joins such a tree as a child of the listener and, after losing
// it, reconnects and resyncs. Frames and links are in lib/socket.js.

const fs = require('fs')
const net = require('net')
const crypto = require('crypto')
const wt = require('worker_threads')
const { iposError } = require('./errors')
const { debug } = require('./debug')
const { VERSION } = require('./transport')
const { FrameReader, SocketLink, encode, authFrame, answerFrame, readHandshake, MAX_AUTH_BYTES } = require('./socket')

/** Reconnect backoff: the first retry after BACKOFF_MS, doubling up to BACKOFF_MAX_MS. */
const BACKOFF_MS = 50
const BACKOFF_MAX_MS = 2000

const isPipe = (path) => /^[\\/][\\/][.?][\\/]pipe[\\/]/i.test(path)

// ---- listening ---------------------------------------------------------------------------------

/** `ipos.listen(path, { token, mode })`: resolves once listening on `path`. */
async function listen(s, path, options) {
  s.assertOpen()
  const opts = listenOptions(path, options)
  await claimPath(path)
  s.assertOpen()
  const server = net.createServer()
  const pending = new Set() // connections not yet authenticated
  server.on('connection', (sock) => accept(s, sock, opts, pending))
  await new Promise((resolve, reject) => {
    const fail = (e) => reject(e.code === 'EADDRINUSE'
      ? inUse(path, 'another process started listening on it first')
      : iposError(Error, 'ERR_IPOS_LISTEN', `cannot listen on ${path}: ${e.message}`, { path, cause: e }))
    server.once('error', fail)
    // Only the socket's owner may connect unless `mode` says otherwise; the umask closes the gap
    // between creating the file and chmod (it cannot be changed inside a worker thread).
    const umask = wt.isMainThread && !isPipe(path) ? process.umask(~opts.mode & 0o777) : null
    try {
      server.listen({ path, exclusive: true }, () => {
        server.removeListener('error', fail)
        resolve()
      })
    } finally {
      if (umask !== null) process.umask(umask)
    }
  })
  if (!isPipe(path)) {
    try {
      fs.chmodSync(path, opts.mode)
    } catch {}
  }
  server.on('error', (e) => s.error(iposError(Error, 'ERR_IPOS_LISTEN', `the listener on ${path} failed: ${e.message}`, { path, cause: e })))
  debug('listening on %s', path)
  const stop = () => {
    for (const sock of pending) sock.destroy()
    // Closing the server removes the socket file it created.
    server.close()
  }
  if (s.closed) return stop()
  s.closers.push(stop)
}

function listenOptions(path, options) {
  if (typeof path !== 'string' || path.length === 0) throw badOptions('listen(path): path must be a non-empty string')
  if (options === undefined) options = {}
  if (options === null || typeof options !== 'object') throw badOptions('listen(path, options): options must be an object')
  const { token, mode = 0o600 } = options
  checkToken(token, 'listen')
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw badOptions('listen(path, { mode }): mode must be a file mode such as 0o600')
  return { token, mode }
}

function checkToken(token, where) {
  if (token === undefined) return
  if (typeof token !== 'string' || token.length === 0) throw badOptions(`${where}: token must be a non-empty string`)
  if (Buffer.byteLength(token) > MAX_AUTH_BYTES / 2) throw badOptions(`${where}: token must be at most ${MAX_AUTH_BYTES / 2} bytes`)
}

/**
 * Makes `path` free to listen on: a socket file nobody listens on (left by a process that was
 * killed) is removed; anything else that exists is left alone and refused.
 */
async function claimPath(path) {
  if (isPipe(path)) return
  let st
  try {
    st = fs.lstatSync(path)
  } catch (e) {
    if (e.code === 'ENOENT') return
    throw inUse(path, e.message)
  }
  if (!st.isSocket()) throw inUse(path, 'a file that is not a socket exists there; ipos never removes it')
  const live = await new Promise((resolve) => {
    const probe = net.connect(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', (e) => resolve(e.code !== 'ECONNREFUSED'))
  })
  if (live) throw inUse(path, 'another process listens on it')
  debug('removing the stale socket %s', path)
  try {
    fs.unlinkSync(path)
  } catch (e) {
    if (e.code !== 'ENOENT') throw inUse(path, `cannot remove the stale socket: ${e.message}`)
  }
}

function inUse(path, why) {
  return iposError(Error, 'ERR_IPOS_PATH_IN_USE', `cannot listen on ${path}: ${why}`, { path })
}

/**
 * One accepted connection: it must present the token within `joinTimeout` before any of its
 * frames reaches the core; then it is a child like any other.
 */
function accept(s, sock, opts, pending) {
  if (s.closed) return sock.destroy()
  pending.add(sock)
  const link = new SocketLink(sock, false, sock)
  let authed = false
  let refused = false
  const refuse = (err, tell) => {
    if (refused) return
    refused = true
    reader.dead = true
    pending.delete(sock)
    clearTimeout(timer)
    s.error(err, link)
    if (tell) sock.end(encode(answerFrame(err)))
    else sock.destroy()
    // end() waits for the peer; one that does not read gets no more time than this.
    setTimeout(() => sock.destroy(), 1000).unref()
  }
  const onFrame = (text) => {
    if (authed) return link.deliver(text)
    const err = checkAuth(text, opts.token)
    if (err !== null) return refuse(err, true)
    authed = true
    pending.delete(sock)
    clearTimeout(timer)
    reader.limit = s.opts.maxFrameBytes
    link.send(answerFrame(null))
    s.peers.addLink(link).catch((e) => {
      if (e.code !== 'ERR_IPOS_PEER_GONE') s.error(e, link)
    })
  }
  const reader = new FrameReader(MAX_AUTH_BYTES, onFrame, (err) => (authed ? link.fail(err) : refuse(err, false)))
  const ms = s.opts.joinTimeout
  const timer = ms > 0 && ms < Infinity
    ? setTimeout(() => refuse(iposError(Error, 'ERR_IPOS_TIMEOUT', `a connection on the socket did not authenticate within ${ms} ms (joinTimeout)`), false), ms)
    : null
  sock.on('data', (chunk) => reader.push(chunk))
  sock.on('error', (e) => { link.cause = e })
  sock.on('close', () => {
    pending.delete(sock)
    clearTimeout(timer)
    if (!reader.dead && reader.partial()) {
      const err = iposError(Error, 'ERR_IPOS_BAD_FRAME', 'a peer\'s connection closed in the middle of a frame; the partial frame was dropped')
      reader.dead = true
      if (authed) link.fail(err)
      else refuse(err, false)
    }
    if (authed) link.lost()
  })
}

/** null if `text` is an auth frame with the right token, else the error to refuse it with. */
function checkAuth(text, token) {
  const v = readHandshake(text)
  if (v === null || (v.token !== null && typeof v.token !== 'string')) {
    return iposError(Error, 'ERR_IPOS_BAD_FRAME', 'a connection on the socket did not start with an ipos handshake')
  }
  if (v.ipos !== VERSION) {
    return iposError(Error, 'ERR_IPOS_VERSION', `a connecting peer speaks ipos protocol version ${JSON.stringify(v.ipos)}; this process speaks ${VERSION}: install the same ipos version in both`)
  }
  if (token !== undefined && (typeof v.token !== 'string' || !sameToken(v.token, token))) {
    return iposError(Error, 'ERR_IPOS_AUTH', v.token === null ? 'a connecting peer presented no token; this listener requires one' : 'a connecting peer presented a wrong token')
  }
  return null
}

/** Compares without leaking through timing how much of the token matched. */
function sameToken(a, b) {
  const h = (x) => crypto.createHash('sha256').update(x).digest()
  return crypto.timingSafeEqual(h(a), h(b))
}

function badOptions(message) {
  return iposError(TypeError, 'ERR_IPOS_BAD_OPTIONS', message)
}

module.exports = { listen, checkToken, badOptions, BACKOFF_MS, BACKOFF_MAX_MS }
