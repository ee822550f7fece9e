'use strict'
// Baseline: a raw `net` socket between the same two processes. Ops made in one synchronous
// stretch leave as one length-prefixed JSON message (`{ ops: [...] }`), the batching rule of
// impls/batched.js and of ipos; the receiver applies them to a plain object.

const fs = require('fs')
const net = require('net')
const { PlainSide } = require('./plain')
const { socketPath, askToConnect, onConnectRequest, socketMeter } = require('./socket-common')

/** A socket dressed as a channel: `send(msg)` and 'message' events, length-prefixed JSON on the wire. */
class FramedSocket {
  constructor(sock) {
    this.sock = sock
    this.fns = []
    this.chunks = []
    this.have = 0
    sock.on('data', (chunk) => {
      this.chunks.push(chunk)
      this.have += chunk.length
      // Joined only once a whole message is there, so a big one is copied once.
      while (this.have >= 4) {
        if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks)]
        const n = this.chunks[0].readUInt32BE(0)
        if (this.have < 4 + n) break
        if (this.chunks[0].length < 4 + n) this.chunks = [Buffer.concat(this.chunks)]
        const first = this.chunks[0]
        const msg = JSON.parse(first.toString('utf8', 4, 4 + n))
        if (first.length === 4 + n) this.chunks.shift()
        else this.chunks[0] = first.subarray(4 + n)
        this.have -= 4 + n
        for (const fn of this.fns) fn(msg)
      }
    })
  }

  send(msg) {
    const text = JSON.stringify(msg)
    const n = Buffer.byteLength(text)
    const out = Buffer.allocUnsafe(4 + n)
    out.writeUInt32BE(n, 0)
    out.write(text, 4)
    return this.sock.write(out)
  }

  on(ev, fn) {
    if (ev === 'message') this.fns.push(fn)
  }

  removeListener(ev, fn) {
    this.fns = this.fns.filter((f) => f !== fn)
  }
}

function batchedTransmit() {
  let buffer = []
  let scheduled = false
  let target = null
  const flush = () => {
    scheduled = false
    const ops = buffer
    buffer = []
    target.peer.send({ ops })
  }
  return (side, op) => {
    buffer.push(op)
    target = side
    if (!scheduled) {
      scheduled = true
      queueMicrotask(flush)
    }
  }
}

class SocketSide extends PlainSide {
  meter() {
    return socketMeter(() => this.peer && this.peer.sock)
  }
}

module.exports = {
  name: 'socket',
  async openParent() {
    const side = new SocketSide(batchedTransmit())
    const server = net.createServer()
    side.accepted = new Promise((resolve) => server.once('connection', resolve))
    const file = socketPath(process.pid)
    fs.rmSync(file, { force: true })
    process.on('exit', () => fs.rmSync(file, { force: true }))
    await new Promise((resolve) => server.listen(file, resolve))
    // The same handshake as the other baselines: the fields as one message, then an ack.
    side.connect = async (child) => {
      const [sock] = await Promise.all([side.accepted, askToConnect(child)])
      return PlainSide.prototype.connect.call(side, new FramedSocket(sock))
    }
    return side
  },
  async openChild() {
    const side = new SocketSide(batchedTransmit())
    onConnectRequest(() => new Promise((resolve, reject) => {
      const sock = net.connect(socketPath(process.ppid), () => {
        side.attach(new FramedSocket(sock))
        resolve()
      })
      sock.once('error', reject)
    }))
    return side
  },
}
