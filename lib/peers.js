'use strict'
// Peers: the parent link and the child links of one instance. Lifecycle (attach, handshake,
// leave), where frames go (up to the parent, or down to every child from the root), ping-based
// flush, and the function gate that depends on who is connected.

const { childLink } = require('./transport')
const { Outgoing, CHUNK_BYTES } = require('./join')
const { iposError } = require('./errors')
const { debug, linkName } = require('./debug')

class Peers {
  constructor(state) {
    this.s = state
    this.parent = null // link to the parent, once it exists
    this.upstream = null // the parent link once its snapshot is applied: ops go up, not down
    this.children = new Map() // target -> link
    this.away = false // the parent is gone but will be back (see `suspend`)
    // Children's batches relayed up (or held while away) and not yet seen sequenced: origin ->
    // [{ n, frame, link }] in order. If the parent is lost before their `q` comes down, they go
    // to the parent joined next (those its snapshot lacks), or this process, become the root,
    // sequences them itself. Without this, a batch in flight when the parent died would stay
    // pending in its writer forever, shown there and nowhere else.
    this.relayed = new Map()
    this.relayedBytes = 0
    this.waiters = new Map() // link -> { resolve, reject } for addProcess
    this.pingId = 0
    this.onFrameBound = (link, d) => this.s.inbound.onFrame(link, d)
    this.onGoneBound = (link) => this.drop(link)
    this.onBehindBound = (link) => this.onBehind(link)
    this.onDrainedBound = (link) => this.onDrained(link)
    this.streamDone = (out) => {
      if (out.link.stream === out) out.link.stream = null
    }
  }

  hello() {
    return `{"t":"h","v":1,"id":"${this.s.origin}","fn":${this.s.functionsWanted}}`
  }

  /** A root with no parent and no child (not even one joining): no frame has anywhere to go. */
  alone() {
    return this.parent === null && this.children.size === 0 && !this.away && this.s.core.isRoot
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  connectParent(link) {
    this.parent = link
    debug('connecting to parent')
    link.attach(this.onFrameBound, this.onGoneBound)
    link.send(this.hello())
  }

  addChild(target) {
    this.s.assertOpen()
    const existing = this.children.get(target)
    if (existing) return existing.ready
    return this.addLink(childLink(target))
  }

  /** Connects a child over `link` (keyed by `link.target`); resolves once it joined. */
  addLink(link) {
    link.ready = new Promise((resolve, reject) => this.waiters.set(link, { resolve, reject }))
    const ms = this.s.opts.joinTimeout
    if (ms > 0 && ms < Infinity) {
      // A peer that never answers (no IPOS in it, a stuck channel) must not leave addProcess() pending.
      const timer = setTimeout(() => {
        if (!this.waiters.has(link)) return
        link.detach()
        this.forget(link, iposError(Error, 'ERR_IPOS_TIMEOUT', `the process did not join within ${ms} ms (joinTimeout): does it call IPOS.new()?`))
      }, ms)
      link.ready.then(() => clearTimeout(timer), () => clearTimeout(timer))
    }
    link.maxBacklog = this.s.opts.maxBacklogBytes
    link.onBehind = this.onBehindBound
    link.onDrained = this.onDrainedBound
    this.children.set(link.target, link)
    debug('adding %s', linkName(link))
    link.attach(this.onFrameBound, this.onGoneBound)
    link.send(this.hello())
    return link.ready
  }

  removeChild(target) {
    const link = this.children.get(target)
    if (!link) return false
    link.send('{"t":"g"}')
    link.detach()
    this.forget(link)
    return true
  }

  forget(link, why) {
    this.stopSnapshot(link)
    if (this.children.get(link.target) === link) this.children.delete(link.target)
    if (link.state === 'synced') {
      link.state = 'new'
      this.s.emitter.emit('peerLeft', { peer: link.target, role: 'child', reason: why ? why.code : 'gone' })
    }
    this.refreshFunctionGate()
    const w = this.waiters.get(link)
    if (w) {
      this.waiters.delete(link)
      w.reject(why || (link.cause
        ? iposError(Error, 'ERR_IPOS_PEER_GONE', `sending to the process failed: ${link.cause && link.cause.message}`, { cause: link.cause })
        : iposError(Error, 'ERR_IPOS_PEER_GONE', 'the process went away before it connected')))
    }
    for (const resolve of link.pings.values()) resolve()
    link.pings.clear()
  }

  /**
   * A peer said goodbye. A parent that did may connect this process again (re-adding it after
   * `removeProcess()`, or from a new instance after `close()`): the link stays parked, hearing
   * only a new hello and keeping nothing alive, and this process is the root of what is left.
   */
  onGoodbye(link) {
    if (link === this.parent && link.park) {
      link.park()
      link.state = 'new'
      this.left(link, 'goodbye')
      return
    }
    link.detach()
    this.drop(link)
  }

  /** A channel closed or a peer said goodbye. */
  drop(link) {
    if (link === this.parent) {
      this.parent = null
      // A socket parent that this process reconnects to: stay its child meanwhile.
      if (link.session && link.session.keeps()) this.suspend(link)
      else this.left(link, 'gone')
      if (link.session) link.session.lost(link)
    } else this.forget(link)
  }

  /**
   * The parent is gone but this process will join it again: it stays a non-root, so what it
   * writes meanwhile stays pending in the core (sent nowhere) until the resync.
   */
  suspend(link) {
    this.refreshFunctionGate()
    const wasSynced = this.upstream !== null
    this.upstream = null
    this.away = true
    for (const resolve of link.pings.values()) resolve()
    link.pings.clear()
    if (wasSynced) this.s.emitter.emit('peerLeft', { peer: link.target, role: 'parent', reason: 'gone' })
  }

  /** The parent left: this process becomes the root of what is left. */
  left(link, reason) {
    this.s.inbound.abortJoin(link, null)
    this.refreshFunctionGate()
    const wasSynced = this.upstream !== null
    this.upstream = null
    for (const resolve of link.pings.values()) resolve()
    link.pings.clear()
    link.heldPings = null
    if (!wasSynced) return
    // We are the root of what is left. Pending ops we already show here become sequenced, so
    // our children get them too; so do the children's batches the old root may never have seen.
    // Maps whose order waited for pending batches are put in order first.
    const order = this.s.core.reorder()
    if (order !== '[]') this.s.inbound.applyRemote(JSON.parse(order), link)
    for (const f of this.s.core.becomeRoot()) this.sendDown(f)
    for (const { frame, link: from } of this.takeRelayed()) this.s.inbound.onFrame(from, frame)
    this.s.emitter.emit('peerLeft', { peer: link.target, role: 'parent', reason })
  }

  // ---- handshake -----------------------------------------------------------------------------

  onHello(link, v) {
    if (link.isParent) {
      if (link.parked) link.unpark()
      link.functions = v.fn
      this.refreshFunctionGate()
      if (this.upstream === null) link.send(this.hello())
      return
    }
    if (link.state !== 'new' && link.peerId === v.id) return
    link.peerId = v.id
    link.functions = v.fn
    this.refreshFunctionGate()
    link.state = 'syncing'
    debug('hello from %s (%s): sending snapshot', linkName(link), v.id)
    this.sendSnapshot(link)
  }

  /**
   * Streams the state to a child (lib/join.js): a chunk per turn of the event loop, from a copy
   * taken now. Frames for the child made meanwhile wait for the last chunk, so it gets each
   * change after the snapshot, exactly once.
   */
  sendSnapshot(link) {
    this.stopSnapshot(link)
    // The chunks on the channel may pass the backlog limit (they are never dropped).
    link.allowance = 4 * CHUNK_BYTES
    link.stream = new Outgoing(this.s.core, link, this.streamDone)
    link.stream.pump()
  }

  stopSnapshot(link) {
    if (link.stream) link.stream.stop()
  }

  /** Sends a frame to a child, after the snapshot it is being sent if there is one. */
  /** Sends or holds one frame; returns whether `written` (if given) will be called. */
  post(link, frame, written) {
    if (link.stream) {
      link.stream.hold(frame)
      return false
    }
    return link.send(frame, written)
  }

  /** The parent's snapshot is applied: ops now go up, and children get the state we now share. */
  synced(link) {
    debug('snapshot from parent applied')
    const again = link.state === 'synced'
    const back = this.away
    this.upstream = link
    this.away = false
    link.state = 'synced'
    link.send('{"t":"A"}')
    // The snapshot holds what the root sequenced: relayed batches it holds are done with.
    for (const origin of [...this.relayed.keys()]) this.onSequenced(origin)
    if (back) this.resend(link)
    for (const c of this.children.values()) if (c.state !== 'new') this.sendSnapshot(c)
    const held = link.heldPings
    link.heldPings = null
    if (held) for (const i of held) this.onPing(link, i)
    if (!again) this.s.emitter.emit('peer', { peer: link.target, role: 'parent' })
  }

  /**
   * We could not take a sequenced frame from the parent: ask it for a fresh snapshot. Its pings
   * wait until that snapshot is applied, so its flush() still means "applied here".
   */
  requestResync(link) {
    debug('behind the parent: asking for a snapshot')
    if (!link.heldPings) link.heldPings = []
    link.send('{"t":"R"}')
  }

  /**
   * Sends a child a fresh snapshot (it asked, being behind): it replaces its state in place,
   * keeps its own pending writes and passes the snapshot on to its own children.
   */
  resync(link) {
    if (link.state === 'new') return
    debug('resyncing %s', linkName(link))
    this.sendSnapshot(link)
  }

  /**
   * Back from away, over a new connection: nothing says which of our batches reached the old
   * parent, so every one still pending after the snapshot goes up again, then what the children
   * sent meanwhile.
   */
  resend(link) {
    for (const f of this.s.core.pendingFrames()) link.send(f)
    for (const list of this.relayed.values()) for (const e of list) link.send(e.frame)
  }

  /**
   * A child's batch on its way to the root (this process is not the root): `v` is the core's
   * verdict, naming its origin and number.
   */
  relayUp(frame, v, from) {
    if (this.relayedBytes + frame.length <= this.s.opts.maxBacklogBytes) {
      let list = this.relayed.get(v.o)
      if (list === undefined) this.relayed.set(v.o, (list = []))
      list.push({ n: v.n, frame, link: from })
      this.relayedBytes += frame.length
    } else debug('not keeping a relayed batch: maxBacklogBytes reached')
    // Away, it waits for the parent we will join again.
    if (this.upstream !== null) this.upstream.send(frame)
  }

  /** A `q` for `origin` came down: its relayed batches up to the one sequenced are done with. */
  onSequenced(origin) {
    const list = this.relayed.get(origin)
    if (list === undefined) return
    const last = this.s.core.lastSequenced(origin)
    let i = 0
    while (i < list.length && list[i].n <= last) this.relayedBytes -= list[i++].frame.length
    if (i === list.length) this.relayed.delete(origin)
    else if (i > 0) list.splice(0, i)
  }

  /** Every relayed batch still kept, oldest first per origin; none kept afterwards. */
  takeRelayed() {
    const out = []
    for (const list of this.relayed.values()) out.push(...list)
    this.relayed.clear()
    this.relayedBytes = 0
    return out
  }

  /** A child acknowledged our snapshot: its addProcess() resolves. */
  onAck(link) {
    if (link.state === 'synced') return // a resync's snapshot is applied
    debug('%s joined', linkName(link))
    link.state = 'synced'
    const w = this.waiters.get(link)
    if (w) {
      this.waiters.delete(link)
      w.resolve()
    }
    this.s.emitter.emit('peer', { peer: link.target, role: 'child' })
  }

  /** A child refused our snapshot: it is not connected, and addProcess() says why. */
  onNack(link, v) {
    link.detach()
    this.forget(link, iposError(Error, v.code, `the process could not apply this process's state: ${v.m}`))
  }

  // ---- backlog -------------------------------------------------------------------------------

  /**
   * A child has more than `maxBacklogBytes` not yet taken from its channel (stopped, or slower
   * than the writers): stop queueing state for it, so this process's memory stays bounded. Once
   * the channel drains, it gets a snapshot instead of everything it missed (as a Redis replica
   * whose output buffer overflowed gets a full resync).
   */
  onBehind(link) {
    debug('%s is behind: %d B queued; frames for it are dropped until it drains', linkName(link), link.queued)
  }

  onDrained(link) {
    debug('%s drained: sending a fresh snapshot', linkName(link))
    // The pings held while it was behind follow the snapshot's last chunk.
    const held = link.held
    link.held = []
    link.behind = false
    this.sendSnapshot(link)
    for (const f of held) this.post(link, f)
  }

  // ---- routing -------------------------------------------------------------------------------

  /**
   * A frame made here goes up to the parent, or down to every child when this is the root.
   * Returns how many links will call `written` (if given) once they have written it out.
   */
  sendOut(frame, written) {
    if (this.upstream !== null) return this.upstream.send(frame, written) && written ? 1 : 0
    if (this.away) return 0
    let n = 0
    for (const link of this.children.values()) if (link.state !== 'new' && this.post(link, frame, written)) n++
    return written ? n : 0
  }

  sendDown(frame) {
    for (const link of this.children.values()) if (link.state !== 'new') this.post(link, frame)
  }

  /**
   * A sequenced batch goes to every child; the one whose peer made it only needs the ack.
   * `frame` may be a function that returns it: called only if some child needs it.
   */
  sendDownQ(frame, elided, origin) {
    for (const link of this.children.values()) {
      if (link.state === 'new') continue
      if (elided && link.peerId === origin) this.post(link, elided)
      else {
        if (typeof frame === 'function') frame = frame()
        this.post(link, frame)
      }
    }
  }

  // ---- flush ---------------------------------------------------------------------------------

  active(except) {
    const out = []
    if (this.upstream !== null && this.upstream !== except) out.push(this.upstream)
    for (const l of this.children.values()) if (l !== except && l.state !== 'new' && !l.gone) out.push(l)
    return out
  }

  /** A promise answered by `link`'s pong (or its going away); its `id` is the ping's. */
  ping(link) {
    const id = ++this.pingId
    const p = new Promise((resolve) => {
      link.pings.set(id, resolve)
      if (!this.post(link, `{"t":"p","i":${id}}`) && link.gone) {
        link.pings.delete(id)
        resolve()
      }
    })
    p.id = id
    return p
  }

  /**
   * A ping floods the tree away from where it came from and is answered once every link beyond
   * has answered: frames travel in order, so every earlier frame has been applied everywhere.
   */
  onPing(link, i) {
    const others = this.active(link)
    const pong = () => this.post(link, `{"t":"P","i":${i}}`)
    if (others.length === 0) return pong()
    Promise.all(others.map((l) => this.ping(l))).then(pong)
  }

  onPong(link, i) {
    const resolve = link.pings.get(i)
    if (resolve) {
      link.pings.delete(i)
      resolve()
    }
  }

  /**
   * Resolves once every active link answered a ping; rejects with ERR_IPOS_TIMEOUT after `ms`
   * (0 or Infinity: waits for ever) naming the links that did not, whose pings are then forgotten:
   * a stopped peer or an unreachable Redis does not leave the caller waiting for good.
   */
  flush(ms) {
    const links = this.active(null)
    const waits = links.map((l) => this.ping(l))
    const all = Promise.all(waits).then(() => undefined)
    if (!(ms > 0 && ms < Infinity) || links.length === 0) return all
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const late = links.filter((l, i) => l.pings.has(waits[i].id))
        for (let i = 0; i < links.length; i++) links[i].pings.delete(waits[i].id)
        const who = late.map(linkName).join(', ')
        reject(iposError(Error, 'ERR_IPOS_TIMEOUT', `flush(): no answer within ${ms} ms from ${who || 'a peer'} (flushTimeout); what was sent stays on its way`))
      }, ms)
      all.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  close() {
    for (const link of this.active(null)) link.send('{"t":"g"}')
    if (this.parent) {
      this.parent.detach()
      this.drop(this.parent)
    }
    for (const link of [...this.children.values()]) {
      link.detach()
      this.forget(link)
    }
  }

  /**
   * Functions may be encoded only while every connected process accepts them: a peer that did not
   * opt in would reject the frame, so the write fails here instead, before anything changes.
   */
  refreshFunctionGate() {
    const s = this.s
    let ok = s.functionsWanted
    if (ok && this.parent !== null && this.parent.functions === false) ok = false
    if (ok) for (const l of this.children.values()) if (l.functions === false) ok = false
    s.opts.functions = ok && s.functionsWanted
  }
}

module.exports = { Peers }
