'use strict'
// Hostile bytes on the listener's socket: an oversized length, garbage, truncated frames, a peer
// that stalls mid-frame, a wrong or missing token. Each drops that connection only, with an
// 'error' carrying a stable code; nothing from an unauthenticated connection reaches the state,
// and a real connected process keeps working throughout.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const net = require('net')
const { IPOS, until } = require('./helpers')
const { socketPath, joined } = require('./socket-helpers')

const MAX_FRAME = 1 << 20
const TOKEN = 'hunter2'
let ipos
let path
let good
const errors = []

before(async () => {
  ipos = IPOS.new({ maxFrameBytes: MAX_FRAME, joinTimeout: 300 })
  ipos.on('error', (e) => errors.push(e))
  ipos.create('f', { n: 0 })
  path = socketPath()
  await ipos.listen(path, { token: TOKEN })
  good = await joined(path, { token: TOKEN })
})

after(() => {
  ipos.close()
  good.kill()
})

const frame = (text) => {
  const body = Buffer.from(text)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  return Buffer.concat([head, body])
}
const header = (n) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const auth = (token) => frame(JSON.stringify({ ipos: 1, token }))
const WRITE = frame(JSON.stringify({ t: 'b', o: 'beef', n: 1, ops: [['s', 'f', ['n'], 666]] }))

/** Connects, writes `bytes` (a list, written one by one), resolves with what came back once the listener closed the connection. */
function hostile(bytes, { end = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(path)
    const got = []
    sock.on('data', (d) => got.push(d))
    sock.on('error', () => {})
    sock.on('close', () => resolve(Buffer.concat(got)))
    sock.on('connect', () => {
      for (const b of bytes) sock.write(b)
      if (end) sock.end()
    })
  })
}

/** Runs `attack`, then checks the listener reported `code` and that the state and the good peer are untouched. */
async function expectDropped(code, attack) {
  const seen = errors.length
  const reply = await attack()
  await until(() => errors.length > seen, 5000, `an error ${code}`)
  assert.strictEqual(errors[seen].code, code)
  assert.strictEqual(ipos.f.n, 0, 'nothing from the hostile connection reached the state')
  assert.strictEqual(ipos.f.n, await good.call('return ipos.f.n'))
  return reply
}

test('a length over the limit before authentication is dropped at once, before any of the frame is sent', async () => {
  await expectDropped('ERR_IPOS_FRAME_TOO_LARGE', () => hostile([header(0xfffffff0)]))
  // Over the (small) limit for an unauthenticated peer, though well under maxFrameBytes.
  await expectDropped('ERR_IPOS_FRAME_TOO_LARGE', () => hostile([header(MAX_FRAME - 1)]))
})

test('a length over maxFrameBytes after authentication is dropped at once', async () => {
  await expectDropped('ERR_IPOS_FRAME_TOO_LARGE', () => hostile([auth(TOKEN), header(MAX_FRAME + 1)]))
})

test('garbage: random bytes, a first frame that is no handshake, text that is no frame, bytes that are no UTF-8', async () => {
  const seen = errors.length
  await hostile([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')])
  await until(() => errors.length > seen, 5000, 'an error')
  assert.ok(['ERR_IPOS_FRAME_TOO_LARGE', 'ERR_IPOS_BAD_FRAME'].includes(errors[seen].code), errors[seen].code)
  await expectDropped('ERR_IPOS_BAD_FRAME', () => hostile([WRITE]))
  await expectDropped('ERR_IPOS_BAD_FRAME', () => hostile([auth(TOKEN), frame('not json at all')]))
  await expectDropped('ERR_IPOS_BAD_FRAME', () => hostile([auth(TOKEN), Buffer.concat([header(4), Buffer.from([0xff, 0xfe, 0x80, 0x81])])]))
})

test('a truncated frame (the connection ends inside it) is dropped and reported', async () => {
  const body = Buffer.from(JSON.stringify({ t: 'b', o: 'beef', n: 1, ops: [['s', 'f', ['n'], 666]] }))
  await expectDropped('ERR_IPOS_BAD_FRAME', () => hostile([auth(TOKEN), header(body.length), body.subarray(0, 10)], { end: true }))
})

test('half a frame and then nothing: the handshake times out (joinTimeout) and the connection is dropped', async () => {
  const a = auth(TOKEN)
  await expectDropped('ERR_IPOS_TIMEOUT', () => hostile([a.subarray(0, 9)]))
  // Authenticated, but it never completes its join: the same limit ends it.
  await expectDropped('ERR_IPOS_TIMEOUT', () => hostile([a, header(100), Buffer.from('{"t":"h"')]))
})

test('a wrong or missing token is refused with ERR_IPOS_AUTH, and frames sent after it never apply', async () => {
  const reply = await expectDropped('ERR_IPOS_AUTH', () => hostile([auth('wrong'), WRITE]))
  const answer = JSON.parse(reply.subarray(4).toString())
  assert.deepStrictEqual([answer.ok, answer.code], [false, 'ERR_IPOS_AUTH'])
  await expectDropped('ERR_IPOS_AUTH', () => hostile([auth(null), WRITE]))
})

test('a peer that speaks another protocol version is refused with ERR_IPOS_VERSION', async () => {
  await expectDropped('ERR_IPOS_VERSION', () => hostile([frame(JSON.stringify({ ipos: 2, token: TOKEN }))]))
})

test('after all of that the listener still serves: the connected process writes, a new one joins', async () => {
  await good.call('ipos.f.n = 1; await ipos.flush()')
  assert.strictEqual(ipos.f.n, 1)
  const late = await joined(path, { token: TOKEN })
  try {
    assert.strictEqual(await late.call('return ipos.f.n'), 1)
  } finally {
    late.kill()
  }
})
