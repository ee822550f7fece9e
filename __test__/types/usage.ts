// Compiled with `tsc --noEmit` by __test__/typescript.test.js: the public typings must accept
// every documented use and reject obvious misuse (the @ts-expect-error lines).
import IPOS = require('../..')
import { fork } from 'child_process'

interface User { name: string; langs: string[] }
type Fields = { users: Map<string, User>; hits: number; cfg: { limits: { max: number } } }

class Point {
  constructor(public x: number, public y: number) {}
  serialize() { return [this.x, this.y] }
  static from(d: [number, number]) { return new Point(d[0], d[1]) }
}

async function main(): Promise<void> {
  IPOS.registerClass(Point)
  IPOS.registerClass(Point, (p) => [p.x, p.y], (d: [number, number]) => new Point(d[0], d[1]))
  const ipos = IPOS.new<Fields>({ syncTimeout: 200, functions: false, maxFrameBytes: 1 << 20, flushTimeout: 10000 })
  const child = fork('child.js')
  await ipos.addProcess(child)
  const removed: boolean = ipos.removeProcess(child)
  ipos.create('users', new Map())
  const u: User | undefined = ipos.users.get('a')
  const n: number = ipos.hits + ipos.cfg.limits.max
  ipos.cfg.limits.max = 5
  ipos.on('change', (ev) => {
    const k: 'users' | 'hits' | 'cfg' = ev.key
    const local: boolean = ev.local
    void k; void local
  })
  ipos.on('error', (err) => { const code: string = err.code; void code })
  await ipos.flush()
  await ipos.flush({ timeout: 5000 })
  // @ts-expect-error flush options are checked
  await ipos.flush({ timeout: '5s' })
  const existed: boolean = ipos.delete('hits')
  ipos.close()

  const inChild = await IPOS.new<Fields>()
  inChild.users.set('b', { name: 'B', langs: [] })
  await ipos.listen('/tmp/app.sock', { token: 't', mode: 0o660 })
  const attached = await IPOS.new<Fields>({ connect: '/tmp/app.sock', token: 't', reconnect: true })
  attached.on('disconnect', (ev) => { const p: string | undefined = ev.path; void p })
  attached.on('reconnect', (ev) => { const r: 'parent' = ev.role; void r })
  const visits: number = attached.hits
  void visits
  // @ts-expect-error listen options are checked
  await ipos.listen('/tmp/app.sock', { mode: 'rw' })
  const { IPOS: Named } = IPOS
  Named.new()

  // @ts-expect-error a field must have the declared type
  ipos.hits = 'many'
  // @ts-expect-error the options are checked
  IPOS.new({ syncTimeout: 'soon' })
  void removed; void u; void n; void existed
}
void main
