'use strict'
// The public API against real children: set-up, handshake in either order, sync timeouts,
// add/remove, field errors, foreign messages, functions opt-in, close, module styles, example.
const { test } = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { spawn, exec, execFileSync, fork } = require('child_process')
const { spawnPeer, until, IPOS, framesIn } = require('./helpers')

const ROOT = path.join(__dirname, '..')

test('IPOS.new() returns an instance in a process without a parent channel', () => {
  const ipos = IPOS.new()
  assert.ok(!(ipos instanceof Promise))
  assert.strictEqual(typeof ipos.create, 'function')
  ipos.close()
})

test("a child's IPOS.new() resolves once the parent's state is applied, not on the timeout", { timeout: 20000 }, async () => {
  const ipos = IPOS.new()
  ipos.create('x', { ready: true })
  const peer = spawnPeer({ opts: { syncTimeout: 60000 } })
  await peer.up
  await ipos.addProcess(peer.child)
  // The call waits for the child's IPOS.new(): only the handshake can resolve it in time.
  assert.deepStrictEqual(await peer.call('return ipos.x.ready'), true)
  ipos.close()
  peer.kill()
})

test('a child without an ipos parent resolves after syncTimeout; a parent connecting later still syncs it', async () => {
  const peer = spawnPeer({ opts: { syncTimeout: 50 } })
  await peer.up
  assert.deepStrictEqual(await peer.call('return ipos.keys()'), [])
  const ipos = IPOS.new()
  ipos.create('late', [1, 2])
  await ipos.addProcess(peer.child)
  assert.deepStrictEqual(await peer.call('return [...ipos.late]'), [1, 2])
  ipos.close()
  peer.kill()
})

test('either side may start the handshake: addProcess before the child calls IPOS.new()', async () => {
  const ipos = IPOS.new()
  ipos.create('first', 'parent')
  const peer = spawnPeer({ noInit: true })
  await peer.up
  const added = ipos.addProcess(peer.child)
  await new Promise((r) => setTimeout(r, 100))
  const got = await peer.call("setIpos(await IPOS.new()); return require('../..') === IPOS")
  assert.strictEqual(got, true)
  await added
  assert.strictEqual(await peer.call('return globalThis.x = 1'), 1)
  ipos.close()
  peer.kill()
})

test('addProcess throws a TypeError for a process without an IPC channel', () => {
  const ipos = IPOS.new()
  const noIpc = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1000)'], { stdio: 'ignore' })
  const shell = exec(`"${process.execPath}" -e "0"`)
  try {
    for (const target of [noIpc, shell, {}, null, 42]) {
      assert.throws(() => ipos.addProcess(target), (e) => e instanceof TypeError && e.code === 'ERR_IPOS_NO_IPC' && /ipc/.test(e.message))
    }
  } finally {
    noIpc.kill()
    shell.kill()
    ipos.close()
  }
})

test('addProcess twice is a no-op; removeProcess reports and stops sharing; exit removes automatically', async () => {
  const ipos = IPOS.new()
  ipos.create('n', 1)
  const a = spawnPeer()
  const b = spawnPeer()
  await Promise.all([a.up, b.up])
  await ipos.addProcess(a.child)
  await ipos.addProcess(a.child)
  await ipos.addProcess(b.child)
  let frames = 0
  const send = a.child.send
  a.child.send = function (m, ...r) {
    if (m && m.cmd === 'NODE_IPOS') frames += framesIn(m).length
    return send.call(this, m, ...r)
  }
  ipos.n = 2
  await ipos.flush()
  assert.strictEqual(frames, 2, 'one ops frame and one ping, not two of each')
  assert.strictEqual(ipos.removeProcess(a.child), true)
  assert.strictEqual(ipos.removeProcess(a.child), false)
  ipos.n = 3
  await ipos.flush()
  assert.strictEqual(await a.call('return ipos.n'), 2)
  assert.strictEqual(await b.call('return ipos.n'), 3)
  b.kill()
  await new Promise((r) => b.child.once('exit', r))
  assert.strictEqual(ipos.removeProcess(b.child), false)
  ipos.n = 4 // nothing to send to, nothing throws
  await ipos.flush()
  ipos.close()
  a.kill()
})

test('fields: unknown and inherent properties throw the original messages; get and delete', async () => {
  const ipos = IPOS.new()
  assert.throws(() => { ipos.nope = 1 }, { message: 'Cannot set unknown field `nope`. Initialise a field with `.create()`', code: 'ERR_IPOS_UNKNOWN_FIELD' })
  assert.throws(() => { ipos.create = 1 }, { message: 'Cannot change inherent property `create`', code: 'ERR_IPOS_INHERENT_PROPERTY' })
  ipos.create('myValue', 23)
  ipos.myValue = 'foo'
  assert.strictEqual(ipos.myValue, 'foo')
  ipos.create('myArray', [])
  ipos.myArray.push('myString')
  assert.deepStrictEqual([...ipos.get('myArray')], ['myString'])
  assert.strictEqual(ipos.delete('myArray'), true)
  assert.strictEqual(ipos.delete('myArray'), false)
  assert.strictEqual(ipos.myArray, undefined)
  ipos.create('get', 'shadowed') // reachable through get(), the method stays a method
  assert.strictEqual(ipos.get('get'), 'shadowed')
  assert.throws(() => ipos.create('__proto__', 1), { code: 'ERR_IPOS_RESERVED_KEY' })
  ipos.close()
})

test("the user's own messages pass through untouched in both directions, and ipos traffic never shows", async () => {
  const ipos = IPOS.new()
  ipos.create('t', [])
  const peer = spawnPeer()
  await peer.up
  const seenHere = []
  peer.child.on('message', (m) => seenHere.push(m))
  await peer.call("globalThis.seen = []; process.on('message', (m) => seen.push(m))")
  await ipos.addProcess(peer.child)
  const mine = [{ hello: 1 }, 'plain string', [1, 2], { cmd: 'not ours', d: 'x' }, { ipos: 1, d: 'lookalike' }]
  for (const m of mine) {
    peer.child.send(m)
    ipos.t.push(JSON.stringify(m))
  }
  await ipos.flush()
  const seenThere = await peer.call("process.send({ back: true }); return seen.filter((m) => !(m && m.type === 'call'))")
  assert.deepStrictEqual(seenThere, mine)
  await until(() => seenHere.some((m) => m && m.back), 2000, 'the child\'s own message')
  assert.ok(seenHere.every((m) => !(m && m.cmd === 'NODE_IPOS')))
  ipos.close()
  peer.kill()
})

test('functions travel only when both sides opt in', async () => {
  const plain = IPOS.new()
  assert.throws(() => plain.create('f', () => 1), (e) => e instanceof TypeError && /functions: true/.test(e.message))
  plain.close()

  const ipos = IPOS.new({ functions: true })
  ipos.create('fn', { add: (a, b) => a + b })
  const yes = spawnPeer({ opts: { functions: true } })
  const no = spawnPeer()
  await Promise.all([yes.up, no.up])
  await ipos.addProcess(yes.child)
  assert.strictEqual(await yes.call('return ipos.fn.add(2, 3)'), 5)
  // A process that did not opt in rejects the frame whole and says why; it keeps working.
  await assert.rejects(ipos.addProcess(no.child), { code: 'ERR_IPOS_FUNCTIONS_DISABLED' })
  // (the child reported it too, as a warning: its 'error' listener did not exist yet)
  assert.strictEqual(await no.call("return typeof ipos.fn"), 'undefined')
  // While a process that did not opt in is connected, writing a function fails here, at once.
  const gated = IPOS.new({ functions: true })
  gated.create('plain', {})
  const maybe = spawnPeer()
  await maybe.up
  await gated.addProcess(maybe.child)
  assert.throws(() => { gated.plain.f = (a, b) => a - b }, (e) => e instanceof TypeError && e.code === 'ERR_IPOS_UNSHAREABLE')
  assert.deepStrictEqual(Object.keys(gated.plain), [])
  gated.close()
  maybe.kill()
  ipos.close()
  yes.kill()
  no.kill()
})

test('close() detaches so both processes can exit on their own', async () => {
  const ipos = IPOS.new()
  ipos.create('c', 1)
  const child = fork(path.join(__dirname, 'fixtures', 'idle-child.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await ipos.addProcess(child)
  const exited = new Promise((r) => child.once('exit', (code) => r(code)))
  ipos.close()
  assert.strictEqual(await exited, 0)
  assert.throws(() => ipos.create('d', 1), { code: 'ERR_IPOS_CLOSED' })
})

test('a child that closes its side exits while the parent keeps running', async () => {
  const ipos = IPOS.new()
  const child = fork(path.join(__dirname, 'fixtures', 'idle-child.js'), ['close-self'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise((r) => child.once('exit', (code) => r(code)))
  await ipos.addProcess(child)
  assert.strictEqual(await exited, 0)
  ipos.close()
})

test('require, import default and import { IPOS } give the same class', () => {
  const url = require('url').pathToFileURL(path.join(ROOT, 'index.mjs')).href
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import IPOS from ${JSON.stringify(url)}
    import { IPOS as Named } from ${JSON.stringify(url)}
    import { createRequire } from 'module'
    const req = createRequire(import.meta.url)(${JSON.stringify(ROOT)})
    const cjsNamed = (await import(${JSON.stringify(require('url').pathToFileURL(path.join(ROOT, 'index.js')).href)})).IPOS
    console.log(IPOS === Named, IPOS === req, req.IPOS === req, cjsNamed === req, typeof IPOS.new().create)`], { encoding: 'utf8' })
  assert.strictEqual(out.trim(), 'true true true true function')
})

test('npm run example prints what the child sees', () => {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'example', 'main-process.js')], { encoding: 'utf8', timeout: 30000 })
  assert.strictEqual(out, [
    "sub sees exampleArray: [ 'hello' ]",
    "sub sees exampleObject: { from: 'the other side' }",
    "sub sees users: Map(1) { 'ada' => { name: 'Ada', langs: [ 'en', 'fr' ] } }",
    'main sees: hello from the sub-process',
    '',
  ].join('\n'))
})

test('a big snapshot is read off the JS thread; frames right behind it keep their order', async () => {
  const ipos = IPOS.new()
  const big = {}
  for (let i = 0; i < 20000; i++) big['k' + i] = { i, s: 'x'.repeat(10) }
  ipos.create('big', big)
  ipos.create('log', [])
  const peer = spawnPeer()
  await peer.up
  const added = ipos.addProcess(peer.child)
  // these leave right behind the snapshot, while the child may still be reading it
  const pushes = (async () => {
    for (let i = 0; i < 50; i++) {
      ipos.log.push(i)
      await new Promise((r) => setImmediate(r))
    }
  })()
  await added
  await pushes
  await ipos.flush()
  const there = await peer.call("return [Object.keys(ipos.big).length, ipos.big.k19999.i, raw(ipos.log).join(',')]")
  assert.deepStrictEqual(there, [20000, 19999, Array.from({ length: 50 }, (_, i) => i).join(',')])
  ipos.close()
  peer.kill()
})
