'use strict'
// What the two socket implementations share: where the driver listens, how the child is told to
// connect (a harness message on the IPC channel the harness already has, so the timed work is
// the implementation's alone), and a meter of the bytes on the socket.

const os = require('os')
const path = require('path')

/** The socket the driver (parent role) of this cell listens on. */
function socketPath(driverPid) {
  return path.join(os.tmpdir(), `ipos-bench-${driverPid}.sock`)
}

/** Driver side: tells the child to connect now and resolves with its answer. */
function askToConnect(child) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m === null || typeof m !== 'object' || m.bench !== 'socket:joined') return
      child.removeListener('message', on)
      if (m.error) reject(new Error(m.error))
      else resolve()
    }
    child.on('message', on)
    child.send({ bench: 'socket:connect' })
  })
}

/** Child side: runs `join()` when the driver asks, and tells it how that went. */
function onConnectRequest(join) {
  const on = (m) => {
    if (m === null || typeof m !== 'object' || m.bench !== 'socket:connect') return
    process.removeListener('message', on)
    join().then(() => process.send({ bench: 'socket:joined' }), (e) => process.send({ bench: 'socket:joined', error: String(e && e.message) }))
  }
  process.on('message', on)
}

/** Bytes both ways on `getSocket()` (read when the window opens), for the bytes pass. */
function socketMeter(getSocket) {
  let sock = null
  let base = 0
  return {
    mark() {
      sock = getSocket()
      base = sock ? sock.bytesRead + sock.bytesWritten : 0
    },
    read() {
      if (!sock) return null
      const total = sock.bytesRead + sock.bytesWritten - base
      return { down: null, up: null, total }
    },
  }
}

module.exports = { socketPath, askToConnect, onConnectRequest, socketMeter }
