import { startTimer } from '@yieldpoint/core'
import type { RedisClient, RedisSubscription } from './client'
import { RedisUnavailableError } from './errors'

type Listener = (message: string) => void

/**
 * One subscriber connection per store or lock, dispatching messages to local listeners by
 * channel (not one SUBSCRIBE per key). The client re-subscribes after a reconnect; messages sent
 * while disconnected are lost, which is why every waiter also polls.
 * @internal
 */
export class Subscriber {
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly subscription: RedisSubscription

  constructor(client: RedisClient, channels: string[]) {
    this.subscription = client.subscribe(channels, (channel, message) => {
      for (const listener of this.listeners.get(channel) ?? []) {
        // Anyone with access may publish on these channels (redis-cli, another version during a
        // deploy): a message a listener cannot parse is not ours — ignore it. Thrown from here it
        // would escape the client's event handler and end the process.
        try {
          listener(message)
        } catch {}
      }
    })
  }

  /** Resolves when Redis confirmed the subscription, or rejects after `timeoutMs` (`Infinity`: waits). */
  start(timeoutMs: number): Promise<void> {
    const ready = this.subscription.ready()
    if (timeoutMs === Infinity) return ready
    return new Promise<void>((resolve, reject) => {
      const timer = startTimer(timeoutMs, () => reject(new RedisUnavailableError(`SUBSCRIBE: no answer from Redis within ${timeoutMs} ms.`)))
      ready.then(
        () => (timer.clear(), resolve()),
        (error: unknown) => (timer.clear(), reject(error)),
      )
    })
  }

  on(channel: string, listener: Listener): () => void {
    let set = this.listeners.get(channel)
    if (set === undefined) this.listeners.set(channel, (set = new Set()))
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel)
    }
  }

  close(): void {
    this.subscription.close()
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
      timer.clear()
      unregister()
      signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => (done(), reject(signal!.reason))
    const timer = startTimer(ms * (0.8 + Math.random() * 0.4), () => (done(), resolve()))
    const unregister = register(() => (done(), resolve()))
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function randomToken(): string {
  return `${process.pid}-${crypto.randomUUID()}`
}
