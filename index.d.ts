// Public typings for ipos. `IPOS.new<Fields>()` types the shared fields:
//   const ipos = IPOS.new<{ users: Map<string, User>; hits: number }>()
//   ipos.users.get('a')  // User | undefined
import type { ChildProcess } from 'child_process'
import type { Worker as ClusterWorker } from 'cluster'
import type { Worker as ThreadWorker } from 'worker_threads'
import type { Socket } from 'net'

declare namespace IPOS {
  /** Options for `IPOS.new()`. Pass the same `functions` choice in every process. */
  interface Options {
    /** ms after which a child's `IPOS.new()` resolves without a parent answering (default 100). */
    syncTimeout?: number
    /** Let functions travel (their source is evaluated by the receiver). Default false. */
    functions?: boolean
    /** Largest inbound frame accepted, in bytes (default 128 MiB). */
    maxFrameBytes?: number
    /** Deepest nesting of a shared value (default 1000). */
    maxDepth?: number
    /** Longest shared array (default 10,000,000); a change that would grow one further is refused. */
    maxArrayLength?: number
    /** Bytes a child may have queued and not taken before it is resynced with a snapshot instead (default 64 MiB; 0: unbounded). */
    maxBacklogBytes?: number
    /** ms after which `addProcess()` rejects with ERR_IPOS_TIMEOUT if the peer never joined (default 30000; 0: never). */
    joinTimeout?: number
    /** ms after which `flush()` rejects with ERR_IPOS_TIMEOUT when a peer does not answer (default 30000; 0: never). */
    flushTimeout?: number
    /** A duck-typed channel to the parent, used instead of `process`. */
    parent?: Channel
  }

  /** Options for `IPOS.new({ connect })`: join the tree of the process listening on a local socket. */
  interface ConnectOptions extends Options {
    /** The listener's socket path (a Windows named pipe: `\\.\pipe\name`). An IPC parent, if any, is left to the user. */
    connect: string
    /** The token the listener requires. */
    token?: string
    /** After losing the listener, retry with capped backoff and resync (default true); false: become the root of what is left. */
    reconnect?: boolean
  }

  /** Options for `ipos.listen(path, options)`. */
  interface ListenOptions {
    /** Peers must present this token; others are refused with ERR_IPOS_AUTH. */
    token?: string
    /** Mode of the socket file (default 0o600: this user only). */
    mode?: number
  }

  /** `'disconnect'` / `'reconnect'`: the parent this process attached to (a socket listener, Redis) is gone / back. */
  interface DisconnectEvent {
    peer: unknown
    role: 'parent'
    /** Over a socket: its path. */
    path?: string
    /** Over a socket: the error that ended the connection, if one did. */
    cause?: Error
  }

  /** Options for `IPOS.new({ redis })`: processes on any host share fields through a Redis Stream. */
  interface RedisOptions extends Options {
    /** `redis://[user:pass@]host:port/db`, `rediss://...` (TLS), a unix socket path, or an ioredis client (its settings are used for connections of ipos's own). */
    redis: string | { duplicate(options?: object): any }
    /** Names the shared space (default `'ipos'`). */
    name?: string
    /** Starts every key ipos uses in Redis (default `'ipos'`). */
    prefix?: string
    /** Log entries after which a new snapshot is written and the log trimmed (default 10000). */
    snapshotEvery?: number
  }

  /** Any object that carries messages: `send(message)` and `on('message', fn)`. */
  interface Channel {
    send(message: any, ...rest: any[]): any
    on(event: string, listener: (...args: any[]) => void): any
  }

  /** Anything `addProcess` can connect: a child process with an 'ipc' channel, a cluster worker, a worker thread, a channel. */
  type Peer = ChildProcess | ClusterWorker | ThreadWorker | Channel

  /** Membership: a peer joined (`'peer'`) or left (`'peerLeft'`). Over a socket the peer is the `net.Socket`. */
  interface PeerEvent {
    peer: Peer | NodeJS.Process | Socket
    role: 'parent' | 'child'
    /** For `'peerLeft'`: why (`'goodbye'`, `'gone'`, or an error code). */
    reason?: string
  }

  /** A path segment: an object key, an array index or Set position, or a Map key. */
  type Segment = string | number | unknown

  /** What changed, delivered once per op after it was applied. */
  interface ChangeEvent<K extends string = string> {
    key: K
    path: Segment[]
    kind:
      | 'create' | 'remove' | 'reset' | 'set' | 'delete' | 'splice'
      | 'mapSet' | 'mapDelete' | 'setAdd' | 'setDelete' | 'clear' | 'reorder' | 'call' | 'dispatch'
    /** true when this process made the change. */
    local: boolean
  }

  /** Errors thrown or emitted by ipos carry a stable `code` (see the README). */
  interface IposError extends Error {
    code: ErrorCode
    /** The key path the error is about, when there is one. */
    path?: string
    /** The peer a rejected frame came from (for `'error'` events). */
    peer?: Peer | NodeJS.Process | Socket
  }

  type ErrorCode =
    | 'ERR_IPOS_UNSHAREABLE' | 'ERR_IPOS_CIRCULAR' | 'ERR_IPOS_RESERVED_KEY' | 'ERR_IPOS_TOO_DEEP'
    | 'ERR_IPOS_OUT_OF_RANGE' | 'ERR_IPOS_NO_IPC' | 'ERR_IPOS_UNKNOWN_FIELD' | 'ERR_IPOS_INHERENT_PROPERTY'
    | 'ERR_IPOS_BAD_KEY' | 'ERR_IPOS_BAD_OPTIONS' | 'ERR_IPOS_BAD_CLASS' | 'ERR_IPOS_CLOSED'
    | 'ERR_IPOS_PEER_GONE' | 'ERR_IPOS_UNKNOWN_CLASS' | 'ERR_IPOS_CONFLICT' | 'ERR_IPOS_APPLY'
    | 'ERR_IPOS_BAD_FRAME' | 'ERR_IPOS_VERSION' | 'ERR_IPOS_FRAME_TOO_LARGE' | 'ERR_IPOS_BAD_VALUE'
    | 'ERR_IPOS_FUNCTIONS_DISABLED' | 'ERR_IPOS_BAD_PATH' | 'ERR_IPOS_UNKNOWN_FIELD'
    | 'ERR_IPOS_BAD_SEQUENCE' | 'ERR_IPOS_INTERNAL' | 'ERR_IPOS_NATIVE' | 'ERR_IPOS_LIMIT'
    | 'ERR_IPOS_TIMEOUT' | 'ERR_IPOS_NO_REDIS_CLIENT' | 'ERR_IPOS_AUTH' | 'ERR_IPOS_CONNECT' | 'ERR_IPOS_PATH_IN_USE' | 'ERR_IPOS_LISTEN'

  /** The methods every instance has; field names that collide are reachable with `get()`. */
  interface Methods<F extends Record<string, any>> {
    /** Connects a peer; resolves once it holds the full state. Throws a TypeError without an IPC channel. */
    addProcess(peer: Peer): Promise<void>
    /** true if the peer was connected and is now disconnected. */
    removeProcess(peer: Peer): boolean
    /**
     * Accepts peers on a local socket (a Unix socket path, or a Windows named pipe); resolves once
     * listening. Each process that joins with `IPOS.new({ connect: path })` becomes a child, as
     * with `addProcess`. Rejects with ERR_IPOS_PATH_IN_USE if another process listens there or
     * any other file exists there (a stale socket nobody listens on is replaced).
     */
    listen(path: string, options?: ListenOptions): Promise<void>
    /** Creates or overwrites a field in every connected process. */
    create<K extends keyof F & string>(key: K, value: F[K]): void
    create(key: string, value: unknown): void
    /** The live value of a field. */
    get<K extends keyof F & string>(key: K): F[K]
    get(key: string): unknown
    /** Removes a field everywhere; true if it existed. */
    delete(key: keyof F & string | string): boolean
    /** Whether a field exists. */
    has(key: string): boolean
    /** The field names. */
    keys(): Array<keyof F & string>
    on(event: 'change', listener: (ev: ChangeEvent<keyof F & string>) => void): this
    on(event: 'error', listener: (err: IposError) => void): this
    on(event: 'peer' | 'peerLeft', listener: (ev: PeerEvent) => void): this
    /** This process's state was replaced by its parent's (re-added, or resynced), in place. */
    on(event: 'resync', listener: (ev: { peer: Peer | NodeJS.Process | Socket }) => void): this
    /** Attached over a socket or to Redis: the connection to the parent was lost (writes stay pending) / is back and resynced. */
    on(event: 'disconnect' | 'reconnect', listener: (ev: DisconnectEvent) => void): this
    once(event: 'change', listener: (ev: ChangeEvent<keyof F & string>) => void): this
    once(event: 'error', listener: (err: IposError) => void): this
    once(event: 'peer' | 'peerLeft', listener: (ev: PeerEvent) => void): this
    once(event: 'resync', listener: (ev: { peer: Peer | NodeJS.Process | Socket }) => void): this
    once(event: 'disconnect' | 'reconnect', listener: (ev: DisconnectEvent) => void): this
    off(event: 'change' | 'error' | 'peer' | 'peerLeft' | 'resync' | 'disconnect' | 'reconnect', listener: (...args: any[]) => void): this
    /** Resolves when every connected peer has applied everything sent so far; rejects with ERR_IPOS_TIMEOUT after `timeout` ms (default `flushTimeout`; 0: never) if one does not answer. */
    flush(options?: { timeout?: number }): Promise<void>
    /** Detaches from every channel and stops listening (removing the socket file), so processes can exit on their own. */
    close(): void
  }

  /** An instance: the methods plus one property per field. */
  type Instance<F extends Record<string, any> = Record<string, any>> = Methods<F> & F
}

interface IPOSStatic {
  /**
   * Joins the tree of the process listening on `options.connect`; resolves once its state is
   * applied here. Rejects with ERR_IPOS_CONNECT (with `path` and `cause`) if nothing listens,
   * ERR_IPOS_AUTH if the token is refused.
   */
  'new'<F extends Record<string, any> = Record<string, any>>(options: IPOS.ConnectOptions): Promise<IPOS.Instance<F>>
  /**
   * In a process with a parent channel (a child process, a cluster worker, a worker thread) this
   * returns a Promise resolving once the parent's state is applied (or after `syncTimeout` ms with
   * no ipos parent): `await` it there. Elsewhere it returns the instance. Typed as the instance,
   * which `await` passes through, so one line works in both: `const ipos = await IPOS.new<F>()`.
   */
  /**
   * Attached to Redis: resolves once the latest snapshot and every log entry after it are applied.
   * Every process attached to the same server and `name` shares the same fields.
   */
  'new'<F extends Record<string, any> = Record<string, any>>(options: IPOS.RedisOptions): Promise<IPOS.Instance<F>>
  'new'<F extends Record<string, any> = Record<string, any>>(options?: IPOS.Options): IPOS.Instance<F>
  /** Lets instances of `ctor` be shared; call in every process before `IPOS.new()`. */
  registerClass<T>(
    ctor: (new (...args: any[]) => T) & { from?(data: any): T },
    serialize?: (instance: T) => unknown,
    deserialize?: (data: any) => T,
  ): void
  readonly IPOS: IPOSStatic
  readonly default: IPOSStatic
}

declare const IPOS: IPOSStatic
export = IPOS
