'use strict'
// Sharing through a local socket between processes with no IPC relation to each other (spawned
// without an 'ipc' entry): every value kind both ways, nested changes, sibling relay, a connected
// process that is the IPC parent of a child, and the listener's and the connector's API.
const { test } = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const net = require('net')
const { spawn } = require('child_process')
const { IPOS, spawnPeer, until } = require('./helpers')
const { socketPath, spawnSocketPeer, joined, spawnIpcChild } = require('./socket-helpers')
const { local, lifecycle } = require('./fixtures/lifecycle')
const fixtures = require('./fixtures/values')
const util = require('util')
const { raw } = require('../lib/proxy')

const show = (v) => util.inspect(raw(v), { depth: null, breakLength: Infinity })

async function listening(options, listenOptions) {
  const ipos = IPOS.new(options)
  const errors = []
  ipos.on('error', (e) => errors.push(e))
  const path = socketPath()
  await ipos.listen(path, listenOptions)
  return { ipos, path, errors }
}

test('every value type, listener to a connected process', async () => {
  const { ipos, path } = await listening()
  for (const [k, v] of Object.entries(fixtures.values())) ipos.create('sync_' + k, v)
  const peer = await joined(path)
  try {
    await lifecycle(local(ipos), peer.call)
  } finally {
    ipos.close()
    peer.kill()
  }
})

test('every value type, connected process to the listener', async () => {
  const { ipos, path } = await listening()
  const peer = await joined(path)
  try {
    await peer.call("for (const [k, v] of Object.entries(fixtures.values())) ipos.create('sync_' + k, v); await ipos.flush()")
    await lifecycle(peer.call, local(ipos))
  } finally {
    ipos.close()
    peer.kill()
  }
})

test('nested changes both ways and relay between connected siblings', async () => {
  const { ipos, path, errors } = await listening()
  ipos.create('doc', { users: [{ name: 'a', tags: new Set(['x']) }], meta: { n: 0, by: new Map() } })
  const a = await joined(path)
  const b = await joined(path)
  try {
    await a.call("ipos.doc.users[0].tags.add('from a'); ipos.doc.meta.by.set('a', { at: [1, 2] }); ipos.doc.users.push({ name: 'b', tags: new Set() }); await ipos.flush()")
    await ipos.flush()
    assert.deepStrictEqual(raw(ipos.doc), { users: [{ name: 'a', tags: new Set(['x', 'from a']) }, { name: 'b', tags: new Set() }], meta: { n: 0, by: new Map([['a', { at: [1, 2] }]]) } })
    assert.strictEqual(await b.call('return show(ipos.doc)'), show(ipos.doc))
    await b.call("ipos.doc.meta.by.get('a').at.push(3); ipos.doc.users[1].tags.add('from b'); await ipos.flush()")
    ipos.doc.meta.n++
    ipos.doc.users[0].name = 'root'
    await ipos.flush()
    assert.deepStrictEqual(raw(ipos.doc), { users: [{ name: 'root', tags: new Set(['x', 'from a']) }, { name: 'b', tags: new Set(['from b']) }], meta: { n: 1, by: new Map([['a', { at: [1, 2, 3] }]]) } })
    assert.strictEqual(await a.call('return show(ipos.doc)'), show(ipos.doc))
    assert.strictEqual(await b.call('return show(ipos.doc)'), show(ipos.doc))
    assert.deepStrictEqual(errors, [])
  } finally {
    ipos.close()
    a.kill()
    b.kill()
  }
})

test('a listener that is itself a connected-to process: no process here has an IPC channel', async () => {
  const path = socketPath()
  const root = spawnSocketPeer()
  await root.up
  await root.call(`const i = IPOS.new(); setIpos(i); watch(i); i.create('t', { log: [] }); await i.listen(${JSON.stringify(path)}); return true`)
  const a = await joined(path)
  const b = await joined(path)
  try {
    await a.call("ipos.t.log.push('a'); await ipos.flush()")
    await b.call("ipos.t.log.push('b'); await ipos.flush()")
    await root.call('await ipos.flush()')
    for (const p of [root, a, b]) assert.strictEqual(await p.call('return show(ipos.t)'), "{ log: [ 'a', 'b' ] }")
  } finally {
    root.kill()
    a.kill()
    b.kill()
  }
})

test('a connected process that is the IPC parent of a child: the child shares the socket tree', async () => {
  const { ipos, path } = await listening()
  ipos.create('t', { log: ['root'] })
  const mid = await joined(path)
  const other = await joined(path)
  const child = await spawnIpcChild(mid)
  try {
    assert.strictEqual(await child.call('return show(ipos.t)'), "{ log: [ 'root' ] }")
    await child.call("ipos.t.log.push('ipc child'); await ipos.flush()")
    assert.deepStrictEqual([...ipos.t.log], ['root', 'ipc child'])
    assert.strictEqual(await other.call('return show(ipos.t)'), "{ log: [ 'root', 'ipc child' ] }")
    await other.call("ipos.t.log.push('other'); ipos.create('fresh', 1); await ipos.flush()")
    await ipos.flush()
    assert.strictEqual(await child.call('return show(ipos.t) + show(ipos.fresh)'), "{ log: [ 'root', 'ipc child', 'other' ] }1")
  } finally {
    ipos.close()
    mid.kill()
    other.kill()
  }
})

test('connect wins over an IPC parent, whose channel is left to the user', async () => {
  const { ipos, path } = await listening()
  ipos.create('v', 1)
  const p = spawnPeer({ noInit: true })
  await p.up
  try {
    // The call itself travels over the IPC channel: it keeps working as the user's.
    const got = await p.call(`const i = await IPOS.new({ connect: ${JSON.stringify(path)} }); setIpos(i); return i.v`)
    assert.strictEqual(got, 1)
    await p.call('ipos.v = 2; await ipos.flush()')
    assert.strictEqual(ipos.v, 2)
  } finally {
    ipos.close()
    p.kill()
  }
})

test("membership events: 'peer' and 'peerLeft' on the listener, the socket as the peer", async () => {
  const { ipos, path } = await listening()
  const seen = []
  ipos.on('peer', (e) => seen.push(['peer', e.role, e.peer instanceof net.Socket]))
  ipos.on('peerLeft', (e) => seen.push(['peerLeft', e.role, e.peer instanceof net.Socket]))
  const p = await joined(path)
  await until(() => seen.length === 1, 5000, "'peer'")
  p.kill()
  await until(() => seen.length === 2, 5000, "'peerLeft'")
  assert.deepStrictEqual(seen, [['peer', 'child', true], ['peerLeft', 'child', true]])
  ipos.close()
})

test('a token: the right one joins, a wrong or missing one is refused with ERR_IPOS_AUTH on both sides', async () => {
  const { ipos, path, errors } = await listening({}, { token: 's3cret' })
  ipos.create('v', 'secret state')
  const good = await joined(path, { token: 's3cret' })
  try {
    assert.strictEqual(await good.call('return ipos.v'), 'secret state')
    for (const token of ['wrong', undefined]) {
      const bad = spawnSocketPeer({ connect: path, token })
      const err = await bad.up
      assert.strictEqual(err && err.code, 'ERR_IPOS_AUTH', `token ${token}`)
      bad.kill()
    }
    await until(() => errors.length === 2, 5000, 'listener errors')
    assert.deepStrictEqual(errors.map((e) => e.code), ['ERR_IPOS_AUTH', 'ERR_IPOS_AUTH'])
    await good.call("ipos.v = 'still works'; await ipos.flush()")
    assert.strictEqual(ipos.v, 'still works')
  } finally {
    ipos.close()
    good.kill()
  }
})

test('connecting where nothing listens rejects with ERR_IPOS_CONNECT (code, path, cause)', async () => {
  const path = socketPath()
  await assert.rejects(IPOS.new({ connect: path }), (e) => e.code === 'ERR_IPOS_CONNECT' && e.path === path && e.cause && e.cause.code === 'ENOENT')
  // A socket file left by a killed listener: nobody accepts on it.
  await staleSocket(path)
  await assert.rejects(IPOS.new({ connect: path, reconnect: false }), (e) => e.code === 'ERR_IPOS_CONNECT' && e.cause.code === 'ECONNREFUSED')
  fs.unlinkSync(path)
})

/** Leaves a socket file at `path` that nobody listens on (its listener was SIGKILLed). */
async function staleSocket(path) {
  const p = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' })
  await new Promise((r) => p.on('exit', r))
  assert.ok(fs.lstatSync(path).isSocket())
}

test('listen: a stale socket is replaced; a live one or any other file is refused with ERR_IPOS_PATH_IN_USE and left alone', async () => {
  const path = socketPath()
  await staleSocket(path)
  const first = IPOS.new()
  await first.listen(path)
  first.create('v', 'first')
  const second = IPOS.new()
  await assert.rejects(second.listen(path), (e) => e.code === 'ERR_IPOS_PATH_IN_USE' && e.path === path)
  const p = await joined(path)
  assert.strictEqual(await p.call('return ipos.v'), 'first', 'the first listener still serves')
  p.kill()
  first.close()
  second.close()

  const file = socketPath('file')
  fs.writeFileSync(file, 'precious')
  const third = IPOS.new()
  await assert.rejects(third.listen(file), (e) => e.code === 'ERR_IPOS_PATH_IN_USE')
  assert.strictEqual(fs.readFileSync(file, 'utf8'), 'precious')
  fs.unlinkSync(file)
  third.close()
})

test('the socket file gets mode 0o600 by default (or `mode`), and close() removes it', async () => {
  const { ipos, path } = await listening()
  assert.strictEqual(fs.statSync(path).mode & 0o777, 0o600)
  const p = await joined(path, { opts: { reconnect: false } })
  ipos.close()
  assert.strictEqual(fs.existsSync(path), false)
  // The connected process saw its parent leave and became the root of what is left.
  await until(async () => (await p.call("return events.some((e) => e.kind === 'disconnect')")), 5000, "'disconnect'")
  p.kill()
  const other = await listening({}, { mode: 0o660 })
  assert.strictEqual(fs.statSync(other.path).mode & 0o777, 0o660)
  other.ipos.close()
})

test('bad arguments throw ERR_IPOS_BAD_OPTIONS and change nothing', async () => {
  const ipos = IPOS.new()
  for (const [args, what] of [[[''], 'empty path'], [[42], 'path not a string'], [[socketPath(), { token: 5 }], 'token'], [[socketPath(), { mode: 'rw' }], 'mode'], [[socketPath(), 'x'], 'options']]) {
    await assert.rejects(ipos.listen(...args), (e) => e.code === 'ERR_IPOS_BAD_OPTIONS', what)
  }
  assert.throws(() => IPOS.new({ connect: 7 }), (e) => e.code === 'ERR_IPOS_BAD_OPTIONS')
  assert.throws(() => IPOS.new({ connect: socketPath(), reconnect: 'yes' }), (e) => e.code === 'ERR_IPOS_BAD_OPTIONS')
  ipos.close()
  await assert.rejects(ipos.listen(socketPath()), (e) => e.code === 'ERR_IPOS_CLOSED')
})

test('a state of several snapshot chunks streams over the socket, and a write during the join arrives once', async () => {
  const { ipos, path } = await listening()
  const big = {}
  for (let i = 0; i < 40000; i++) big['k' + i] = { id: i, name: 'entry ' + i, tags: ['a', 'b'] }
  ipos.create('big', big) // about 2.4 MB of frame text: three chunks or more
  ipos.create('log', [])
  const joining = joined(path)
  ipos.log.push('during the join')
  const peer = await joining
  try {
    await ipos.flush()
    assert.deepStrictEqual(await peer.call("const b = ipos.big; return [Object.keys(b).length, b.k39999.name, [...ipos.log]]"), [40000, 'entry 39999', ['during the join']])
  } finally {
    ipos.close()
    peer.kill()
  }
})
