import type { Redis } from 'ioredis'

type Listener = (message: string) => void

/**
 * One subscriber connection per store or lock, dispatching messages to local listeners by
 * channel (not one SUBSCRIBE per key). ioredis re-subscribes after a reconnect; messages sent
 * while disconnected are lost, which is why every waiter also polls.
 * @internal
 */
export class Subscriber {
  private readonly listeners = new Map<string, Set<Listener>>()
  private ready: Promise<void> | undefined

  constructor(
    private readonly connection: Redis,
    private readonly channels: string[],
    timeoutMs: number,
  ) {
    connection.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message)
    })
    // Errors surface through the commands that fail; the connection reconnects by itself.
    connection.on('error', () => {})
    // Subscribe whenever the connection becomes ready: a SUBSCRIBE sent while it was still
    // connecting (or down) may have failed, and ioredis only re-subscribes what succeeded.
    connection.on('ready', () => void this.start(timeoutMs).catch(() => {}))
    if (connection.status === 'ready') void this.start(timeoutMs).catch(() => {})
  }

  /** Subscribes (once); resolves when Redis confirmed, or rejects after `timeoutMs`. */
  start(timeoutMs: number): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('SUBSCRIBE timed out')), timeoutMs)
      this.connection.subscribe(...this.channels).then(
        () => (clearTimeout(timer), resolve()),
        (error: unknown) => (clearTimeout(timer), reject(error)),
      )
    }).catch((error: unknown) => {
      this.ready = undefined // try again next time
      throw error
    })
    return this.ready
  }

  on(channel: string, listener: Listener): () => void {
    let set = this.listeners.get(channel)
    if (set === undefined) this.listeners.set(channel, (set = new Set()))
    set.add(listener)
    return () => set.delete(listener)
  }

  close(): void {
    this.connection.disconnect()
  }
}

/**
 * Resolves after `ms` (with ±20% jitter so many followers do not poll in lockstep), on
 * `wake()`, or when `signal` aborts (then rejects with its reason). Leaves nothing behind.
 * @internal
 */
export function nap(ms: number, signal: AbortSignal | undefined, register: (wake: () => void) => () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const done = (): void => {
      clearTimeout(timer)
      unregister()
      signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => (done(), reject(signal!.reason))
    const timer = setTimeout(() => (done(), resolve()), ms * (0.8 + Math.random() * 0.4))
    const unregister = register(() => (done(), resolve()))
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function randomToken(): string {
  return `${process.pid}-${crypto.randomUUID()}`
}
