'use strict'
// Hostile and malformed frames from a real child (and from a hand-driven parent): each is rejected
// whole with an 'error' event carrying a stable code and the peer, nothing changes, and the
// channel keeps working for the next valid frame.
const { test, before, after } = require('node:test')
const assert = require('node:assert')
const path = require('path')
const util = require('util')
const { fork } = require('child_process')
const { IPOS, spawnPeer, until, framesIn } = require('./helpers')
const { raw } = require('../lib/proxy')
const { rng, liveAndMirror } = require('./fixtures/random-ops')

const show = (v) => util.inspect(raw(v), { depth: null, breakLength: Infinity })
const RAW = path.join(__dirname, 'fixtures', 'raw-peer.js')
const MAX_FRAME = 1 << 20

let ipos
let child
const errors = []

/** Sends frames (strings or objects) or whole envelopes from the raw child; resolves once the parent processed them. */
function fromChild(msg) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m && m.type === 'done') {
        child.removeListener('message', on)
        resolve(m.received)
      }
    }
    child.on('message', on)
    child.send(msg)
  })
}

before(async () => {
  ipos = IPOS.new({ maxFrameBytes: MAX_FRAME })
  ipos.on('error', (e) => errors.push(e))
  ipos.create('f', { a: 1, list: [1, 2], m: new Map([['k', 1]]) })
  child = fork(RAW, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise((r) => child.once('message', r))
  await ipos.addProcess(child)
})

after(() => {
  ipos.close()
  child.kill()
})

const b = (ops) => JSON.stringify({ t: 'b', o: 'fa1e', n: 1, ops })
/** ~100 KB of valid ops. */
const bigOps = () => Array.from({ length: 2000 }, (_, i) => ['s', 'f', ['a'], `value ${i} `.repeat(4)])
const deep = (n) => '['.repeat(n) + ']'.repeat(n)

const HOSTILE = [
  ['garbage', 'not json at all', 'ERR_IPOS_BAD_FRAME'],
  ['truncated JSON', b([['s', 'f', ['a'], 2]]).slice(0, -3), 'ERR_IPOS_BAD_FRAME'],
  ['unknown frame type', '{"t":"zz"}', 'ERR_IPOS_BAD_FRAME'],
  ['wrong field type', '{"t":"b","o":"raw-peer","n":"1","ops":[]}', 'ERR_IPOS_BAD_FRAME'],
  ['missing field', '{"t":"b","o":"raw-peer","ops":[]}', 'ERR_IPOS_BAD_FRAME'],
  ['op of wrong arity', b([['s', 'f']]), 'ERR_IPOS_BAD_FRAME'],
  ['unknown op', b([['zz', 'f', []]]), 'ERR_IPOS_BAD_FRAME'],
  ['path that does not exist', b([['s', 'f', ['nope', 'deeper'], 1]]), 'ERR_IPOS_BAD_PATH'],
  ['unknown field', b([['s', 'nope', ['a'], 1]]), 'ERR_IPOS_UNKNOWN_FIELD'],
  ['splice out of range', b([['p', 'f', ['list'], 5, 0, [1]]]), 'ERR_IPOS_OUT_OF_RANGE'],
  ['index far past the end', b([['s', 'f', ['list', 4000000000], 1]]), 'ERR_IPOS_OUT_OF_RANGE'],
  ['__proto__ key in a path', b([['s', 'f', ['__proto__'], { polluted: true }]]), 'ERR_IPOS_RESERVED_KEY'],
  ['constructor key in a value', b([['s', 'f', ['x'], { constructor: 1 }]]), 'ERR_IPOS_RESERVED_KEY'],
  ['prototype as a field name', b([['c', 'prototype', 1]]), 'ERR_IPOS_RESERVED_KEY'],
  ['unknown tag', b([['s', 'f', ['a'], { '~': 'Q' }]]), 'ERR_IPOS_BAD_VALUE'],
  ['tag with extra keys', b([['s', 'f', ['a'], { '~': 'u', x: 1 }]]), 'ERR_IPOS_BAD_VALUE'],
  ['Map tag with a bad payload', b([['s', 'f', ['a'], { '~': 'M', v: 5 }]]), 'ERR_IPOS_BAD_VALUE'],
  ['duplicate Map keys', b([['s', 'f', ['a'], { '~': 'M', v: [[1, 1], [1, 2]] }]]), 'ERR_IPOS_BAD_VALUE'],
  ['hole outside an array', b([['s', 'f', ['a'], { '~': '_' }]]), 'ERR_IPOS_BAD_VALUE'],
  ['function without opt-in', b([['s', 'f', ['a'], { '~': 'F', v: 'process.exit(7)' }]]), 'ERR_IPOS_FUNCTIONS_DISABLED'],
  ['absurd depth', b([['s', 'f', ['a'], 0]]).replace(',0]', `,${deep(5000)}]`), 'ERR_IPOS_TOO_DEEP'],
  ['frame over maxFrameBytes', b([['s', 'f', ['a'], 'x'.repeat(MAX_FRAME)]]), 'ERR_IPOS_FRAME_TOO_LARGE'],
  ['sequenced frame from a child', '{"t":"q","q":1,"o":"x","n":1,"ok":true,"ops":[]}', 'ERR_IPOS_BAD_SEQUENCE'],
  ['snapshot from a child', '{"t":"s","q":0,"f":[]}', 'ERR_IPOS_BAD_SEQUENCE'],
  ['hello of another version', '{"t":"h","v":2,"id":"x","fn":false}', 'ERR_IPOS_VERSION'],
  ['batch whose second op fails', b([['s', 'f', ['a'], 99], ['s', 'f', ['nope', 'x'], 1]]), 'ERR_IPOS_BAD_PATH'],
  // Frames over 64 KiB are read by the core on another thread while JS parses them: the same
  // verdicts, and nothing applied.
  ['big batch whose last op fails', b([...bigOps(), ['s', 'f', ['nope', 'x'], 1]]), 'ERR_IPOS_BAD_PATH'],
  ['big batch, truncated', b(bigOps()).slice(0, -2), 'ERR_IPOS_BAD_FRAME'],
  ['big batch with a reserved key deep inside', b([...bigOps(), ['s', 'f', ['x'], { y: [{ z: 1 }] }]]).replace('"z":1', '"__proto__":{"polluted":1}'), 'ERR_IPOS_RESERVED_KEY'],
]

for (const [name, frame, code] of HOSTILE) {
  test(`rejected whole: ${name}`, async () => {
    const before = show(ipos.f)
    const n = errors.length
    await fromChild({ type: 'frames', frames: [frame] })
    assert.strictEqual(errors.length, n + 1, 'one error event')
    const e = errors[n]
    assert.strictEqual(e.code, code, e.message)
    assert.strictEqual(e.peer, child)
    assert.strictEqual(show(ipos.f), before)
    const { live, mirror } = liveAndMirror(ipos, 'f')
    assert.strictEqual(live, mirror)
    assert.strictEqual({}.polluted, undefined)
  })
}

test('malformed envelopes: unknown protocol version, frame not a string, frames not all strings, no frames', async () => {
  const before = show(ipos.f)
  const n = errors.length
  const good = b([['s', 'f', ['a'], 42]])
  await fromChild({ type: 'envelopes', envelopes: [
    { cmd: 'NODE_IPOS', v: 99, d: '{}' },
    { cmd: 'NODE_IPOS', v: 1, d: { t: 'b' } },
    { cmd: 'NODE_IPOS', v: 1, d: [good, 5] }, // rejected whole: the good frame is not applied either
    { cmd: 'NODE_IPOS', v: 1, d: [] },
  ] })
  assert.deepStrictEqual(errors.slice(n).map((e) => e.code), ['ERR_IPOS_VERSION', 'ERR_IPOS_BAD_FRAME', 'ERR_IPOS_BAD_FRAME', 'ERR_IPOS_BAD_FRAME'])
  assert.strictEqual(show(ipos.f), before)
})

test('an envelope may carry several frames (what one tick sent): each is taken in order, a bad one alone is rejected', async () => {
  const n = errors.length
  await fromChild({ type: 'envelopes', envelopes: [
    { cmd: 'NODE_IPOS', v: 1, d: [b([['s', 'f', ['a'], 7]]), b([['s', 'f', ['nope', 'x'], 1]]), b([['s', 'f', ['a'], 8]])] },
  ] })
  assert.deepStrictEqual(errors.slice(n).map((e) => e.code), ['ERR_IPOS_BAD_PATH'])
  assert.strictEqual(ipos.f.a, 8)
  ipos.f.a = 1
  await ipos.flush()
})

test('the channel keeps working: a valid frame after all that is applied', async () => {
  const received = await fromChild({ type: 'frames', frames: [b([['s', 'f', ['a'], 2], ['p', 'f', ['list'], 2, 0, [3]]])] })
  assert.strictEqual(show(ipos.f), "{ a: 2, list: [ 1, 2, 3 ], m: Map(1) { 'k' => 1 } }")
  // the root sequenced it and sent it back down to its origin
  assert.ok(received.some((f) => f.t === 'q' && f.ok === true && f.o === 'fa1e'))
})

test('fuzz: 600 mutated frames never crash, never desynchronise live objects from the mirror', async () => {
  const seeds = [
    b([['s', 'f', ['a'], 2]]),
    b([['p', 'f', ['list'], 1, 0, [{ x: { '~': 'M', v: [[1, 2]] } }]]]),
    b([['ms', 'f', ['m'], 'k', { '~': 'S', v: [1, 2] }]]),
    b([['c', 'g', { deep: [[[{ '~': 'n', v: 'NaN' }]]], d: { '~': 'D', v: 5 } }]]),
    b([['d', 'f', ['a']], ['md', 'f', ['m'], 'k'], ['sa', 'g', ['s'], 1]]),
  ]
  const r = rng(42)
  const alphabet = '{}[]",:0123456789-~abcdnpqstuvx_\\ '
  const mutate = (s) => {
    const i = Math.floor(r() * s.length)
    switch (Math.floor(r() * 6)) {
      case 0: return s.slice(0, i) + alphabet[Math.floor(r() * alphabet.length)] + s.slice(i + 1)
      case 1: return s.slice(0, i) + s.slice(i + 1 + Math.floor(r() * 5))
      case 2: return s.slice(0, i) + s.slice(i, i + 1 + Math.floor(r() * 8)) + s.slice(i)
      case 3: return s.slice(0, i)
      case 4: return s.slice(0, i) + pickOf(['{"~":"u"}', '"__proto__"', '{"~":"#","v":0}', '[', '1e999', '-0', 'null', '"\\ud800"']) + s.slice(i)
      default: return s.replace(/"[a-z]"/, pickOf(['"zz"', '"c"', '"x"', '"p"', '"s"']))
    }
  }
  const pickOf = (a) => a[Math.floor(r() * a.length)]
  const n = errors.length
  for (let round = 0; round < 12; round++) {
    const frames = []
    for (let i = 0; i < 50; i++) {
      let s = seeds[Math.floor(r() * seeds.length)]
      const times = 1 + Math.floor(r() * 3)
      for (let k = 0; k < times; k++) s = mutate(s)
      frames.push(s)
    }
    await fromChild({ type: 'frames', frames })
    for (const key of ipos.keys()) {
      const { live, mirror } = liveAndMirror(ipos, key)
      assert.strictEqual(live, mirror, `field ${key} after round ${round}`)
    }
  }
  assert.ok(errors.length - n > 300, `most mutations are rejected (${errors.length - n})`)
  assert.ok(errors.slice(n).every((e) => /^ERR_IPOS_[A-Z_]+$/.test(e.code) && e.code !== 'ERR_IPOS_INTERNAL' && e.code !== 'ERR_IPOS_APPLY'), [...new Set(errors.slice(n).map((e) => e.code))].join())
  assert.strictEqual({}.polluted, undefined)
  await fromChild({ type: 'frames', frames: [b([['c', 'final', 'ok']])] })
  assert.strictEqual(ipos.final, 'ok')
})

test('a hostile parent: bad frames to a real ipos child are rejected and reported there, and a lost sequenced frame makes it ask for a snapshot', async () => {
  const peer = spawnPeer()
  await peer.up
  const send = (d) => peer.child.send({ cmd: 'NODE_IPOS', v: 1, d: typeof d === 'string' ? d : JSON.stringify(d) })
  let acks = 0
  let requests = 0
  try {
    // Play parent by hand: answer the child's hello, and each resync request, with a snapshot.
    await new Promise((resolve) => {
      peer.child.on('internalMessage', (m) => {
        if (!m || m.cmd !== 'NODE_IPOS') return
        for (const d of framesIn(m)) onFrame(JSON.parse(d))
      })
      const onFrame = (f) => {
        if (f.t === 'h') send({ t: 's', q: 0, f: [['f', { a: 1 }]] })
        if (f.t === 'R') {
          requests++
          send({ t: 's', q: 0, f: [['f', { a: 1 }]] })
        }
        if (f.t === 'A' && ++acks === 1) resolve()
      }
      send({ t: 'h', v: 1, id: 'fade', fn: false })
    })
    const errorCount = () => peer.call('return errors.length')
    /** Sends a frame the child rejects; resolves once it has been reported (and, when it asks for a snapshot, that is applied). */
    const bad = async (frame, resyncs) => {
      const [n, a] = [await errorCount(), acks]
      send(frame)
      await until(async () => (await errorCount()) > n && acks === a + (resyncs ? 1 : 0), 3000, 'the rejection')
    }
    const q = (seq, ops) => ({ t: 'q', q: seq, o: 'fade', n: seq, ok: true, ops })
    // A big snapshot (read off-thread) with a poisoned key deep inside is rejected whole too.
    const poisoned = { filler: 'y'.repeat(300 * 1024), deep: { a: [{ b: 1 }] } }
    await bad(JSON.stringify({ t: 's', q: 0, f: [['f', poisoned]] }).replace('"b":1', '"__proto__":{"polluted":1}'), false)
    assert.strictEqual(requests, 0, 'a rejected snapshot loses nothing')
    // Each sequenced frame the child cannot take (or cannot even read) costs it a resync.
    await bad('{"t":"q",', true)
    await bad(q(5, [['s', 'f', ['a'], 2]]), true) // a gap in the sequence
    await bad(q(1, [['s', 'f', ['__proto__', 'x'], 2]]), true)
    await bad(q(1, [['s', 'f', ['a'], { '~': 'F', v: 'process.exit(9)' }]]), true)
    // Big frames (read by the core while JS parses them) are judged the same way.
    await bad(q(1, [...bigOps(), ['s', 'f', ['nope', 'x'], 1]]), true)
    await bad(JSON.stringify(q(1, bigOps())).slice(0, -2), true)
    send(q(1, [...bigOps(), ['s', 'f', ['a'], 3]]))
    await until(async () => (await peer.call('return show(ipos.f)')) === '{ a: 3 }', 3000, 'the valid frame')
    assert.deepStrictEqual(await peer.call('return errors.map((e) => e.code)'), ['ERR_IPOS_RESERVED_KEY', 'ERR_IPOS_BAD_FRAME', 'ERR_IPOS_BAD_SEQUENCE', 'ERR_IPOS_RESERVED_KEY', 'ERR_IPOS_FUNCTIONS_DISABLED', 'ERR_IPOS_BAD_PATH', 'ERR_IPOS_BAD_FRAME'])
    assert.strictEqual(requests, 6)
    assert.strictEqual(await peer.call("const { live, mirror } = require('./random-ops').liveAndMirror(ipos, 'f'); return live === mirror"), true)
  } finally {
    peer.kill()
  }
})
