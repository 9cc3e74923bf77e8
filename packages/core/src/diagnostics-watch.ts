import { Guard, type GuardOwner } from './guard'
import { InvalidArgumentError } from './errors'
import { checkName, label, now, publishRelease, publishTryGrant, refreshProbes, settings, traceWait, WaitTrace, type Probe, type WaitInfo } from './diagnostics'
import { describe } from './options'
import { startTimer } from './wait-queue'

/**
 * Misuse detection: holds that last too long (`warnAfter`), guards garbage-collected without a
 * release, and holds or waits still pending when the process is about to exit. All of it rides
 * on the same observed path as the diagnostics channels, so a process that turns none of it on
 * (and subscribes to nothing) pays one boolean read per operation.
 */

/**
 * Process-wide misuse detection, for {@link detectMisuse}. Per-primitive options (`warnAfter`,
 * `detectDeadlock`) override these.
 * @example
 * ```ts
 * detectMisuse({ warnAfter: 5_000, leakedGuards: true, pendingAtExit: true })
 * ```
 */
export interface MisuseOptions {
  /** Warn (`process.emitWarning`, with the acquire site) when a lock or permit is held longer than this many ms. Never releases early. */
  warnAfter?: number | undefined
  /** Warn when a Guard is garbage-collected without being released, naming where it was acquired. */
  leakedGuards?: boolean | undefined
  /** When the process is about to exit (`beforeExit`), report holds still held and waits still pending. */
  pendingAtExit?: boolean | undefined
  /**
   * Reject a Lock / KeyedLock acquire that could only be granted after the caller's own
   * `runExclusive` of the same lock (or key) ends with a {@link DeadlockError}. Default: on where
   * AsyncLocalStorage is cheap (Node ≥ 24), off on Node 20/22.
   */
  detectDeadlock?: boolean | undefined
}

/**
 * Options every primitive accepts (`new Lock({ name: 'db' })`, `new Semaphore(4, { name })`, …).
 * @example
 * ```ts
 * const lock = new Lock({ name: 'ledger', warnAfter: 2_000 })
 * ```
 */
export interface PrimitiveOptions {
  /** A label used in error messages, warnings and diagnostics channel payloads. */
  name?: string | undefined
  /** Warn when one hold lasts longer than this many ms (Lock, Semaphore, KeyedLock); it is never released early. */
  warnAfter?: number | undefined
}

/**
 * Turns on process-wide misuse detection and returns a function that restores the previous
 * settings (handy in tests).
 * @throws {@link InvalidArgumentError} for a malformed option.
 * @example
 * ```ts
 * import { detectMisuse } from '@yieldpoint/core'
 * if (process.env.NODE_ENV !== 'production') detectMisuse({ warnAfter: 1_000, leakedGuards: true, pendingAtExit: true })
 * ```
 */
export function detectMisuse(options: MisuseOptions = {}): () => void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(`detectMisuse(options): options must be an object like { warnAfter: 5_000 }, got ${describe(options)}.`)
  }
  const warnAfter = checkWarnAfter(options.warnAfter, 'detectMisuse()')
  for (const flag of ['leakedGuards', 'pendingAtExit', 'detectDeadlock'] as const) {
    const v = options[flag]
    if (v !== undefined && typeof v !== 'boolean') throw new InvalidArgumentError(`detectMisuse(): options.${flag} must be a boolean, got ${describe(v)}.`)
  }
  const previous = { ...settings }
  if ('warnAfter' in options) settings.warnAfter = warnAfter
  if (options.leakedGuards !== undefined) settings.leakedGuards = options.leakedGuards
  if (options.pendingAtExit !== undefined) settings.pendingAtExit = options.pendingAtExit
  if (options.detectDeadlock !== undefined) settings.detectDeadlock = options.detectDeadlock
  settings.on = settings.warnAfter !== undefined || settings.leakedGuards || settings.pendingAtExit
  refreshProbes()
  if (settings.pendingAtExit) listenForExit()
  return () => {
    Object.assign(settings, previous)
    refreshProbes()
  }
}

/** @internal */
export function checkWarnAfter(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidArgumentError(`${what}: warnAfter must be a number of milliseconds > 0 (Infinity for never), got ${describe(value)}.`)
  }
  return value === Infinity ? undefined : value
}

/**
 * What a primitive knows about itself for diagnostics: its class, its name and its own misuse
 * options. One per primitive, built at construction.
 * @internal
 */
export class Meta implements WaitInfo {
  readonly name: string | undefined
  readonly warnAfter: number | undefined

  constructor(
    readonly primitive: string,
    options: PrimitiveOptions | undefined,
  ) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new InvalidArgumentError(`${primitive}: options must be an object like { name: 'db' }, got ${describe(options)}.`)
    }
    this.name = checkName(options?.name, primitive)
    this.warnAfter = checkWarnAfter(options?.warnAfter, primitive)
    // The hot paths read one flag per kind (probe.on); a primitive with its own warnAfter turns
    // the lock-like kinds' flags on, and the observed path lets the others straight through.
    if (this.warnAfter !== undefined && !settings.perPrimitive) {
      settings.perPrimitive = true
      refreshProbes()
    }
  }

  /** `Lock` / `Lock("db")`. */
  get who(): string {
    return this.name === undefined ? this.primitive : `${this.primitive}(${JSON.stringify(this.name)})`
  }

  /** `Lock.acquire()` / `Lock("db").acquire()`. */
  label(method: string): string {
    return label(this.primitive, this.name, method)
  }

  /**
   * On the observed path (`probe.on`): whether this operation needs observing at all — someone
   * listens, or a misuse check applies to this primitive.
   */
  needed(probe: Probe): boolean {
    return this.warnAfter !== undefined || settings.on || probe.active
  }
}

// ---------------------------------------------------------------------------------------------
// Holds: the observed path's Guard.

/** Every hold still held and wait still pending (only while `pendingAtExit` is on). */
const liveHolds = new Set<Hold>()
const pendingWaits = new Set<{ label: string; site: Error | undefined }>()

interface Leaked {
  what: string
  site: Error | undefined
}

const leaks = new FinalizationRegistry<Leaked>((leaked) => {
  emit(
    `a Guard of ${leaked.what} was garbage-collected without being released, so it is held ` +
      `forever. Release every guard (use \`using guard = await …acquire()\` or runExclusive).`,
    'YP_GUARD_LEAKED',
    leaked.site,
  )
})

/**
 * The owner of the Guard handed to a caller on the observed path: releasing it releases the
 * primitive's own guard, then publishes the hold time and stops the hold's watchers. Exclusion is
 * never weakened: a warning never releases anything.
 */
class Hold implements GuardOwner {
  private timer: { clear(): void } | undefined = undefined

  constructor(
    private readonly grantedAt: number,
    private readonly probe: Probe,
    private readonly info: WaitInfo,
    private readonly inner: Guard,
    readonly what: string,
    readonly site: Error | undefined,
    warnAfter: number | undefined,
  ) {
    if (warnAfter !== undefined) {
      this.timer = startTimer(
        warnAfter,
        () => {
          this.timer = undefined
          if (this.inner.released) return
          emit(`${what} has been held for more than ${warnAfter} ms (warnAfter) and is still held; it will not be released early.`, 'YP_HELD_TOO_LONG', site)
        },
        true,
      )
    }
    if (settings.pendingAtExit) liveHolds.add(this)
  }

  releaseGuard(): void {
    if (this.inner.released) return
    // Published before the release itself, so a hand-off reads in causal order: release, then
    // the next waiter's grant (which happens inside inner.release()).
    publishRelease(this.probe, this.info, this.grantedAt)
    this.timer?.clear()
    this.timer = undefined
    leaks.unregister(this)
    liveHolds.delete(this)
    this.inner.release()
  }
}

/** The Guard a caller gets on the observed path. */
function hold(probe: Probe, meta: Meta, info: WaitInfo, inner: Guard, site: Error | undefined, grantedAt = now()): Guard {
  const what = describeHold(meta, info)
  const h = new Hold(grantedAt, probe, info, inner, what, site, meta.warnAfter ?? settings.warnAfter)
  const guard = new Guard(h, 0)
  if (settings.leakedGuards) leaks.register(guard, { what, site }, h)
  return guard
}

function describeHold(meta: Meta, info: WaitInfo): string {
  const base = meta.name === undefined ? `a ${meta.primitive}` : `${meta.primitive} ${JSON.stringify(meta.name)}`
  if (info.key !== undefined) return `${base} (key ${String(info.key)})`
  if (info.permits !== undefined && info.permits !== 1) return `${base} (${info.permits} permits)`
  return base
}

/** Captures where a hold or wait started, only when a warning could need it. */
function captureSite(at: Function): Error | undefined {
  if (!(settings.on || settings.warnAfter !== undefined)) return undefined
  const site = new Error('acquired here')
  Error.captureStackTrace(site, at)
  return site
}

/**
 * The observed `acquire`: publishes the wait and wraps the granted Guard so its release is
 * published and watched. `at` is the public method (frames above it are left out of the site).
 * @internal
 */
export function watchAcquire(
  probe: Probe,
  meta: Meta,
  info: WaitInfo,
  waiting: number,
  signal: AbortSignal | undefined,
  at: Function,
  run: () => Promise<Guard>,
): Promise<Guard> {
  if (!meta.needed(probe)) return run()
  const site = meta.warnAfter !== undefined ? forceSite(at) : captureSite(at)
  const pending = settings.pendingAtExit ? { label: describeHold(meta, info), site } : undefined
  if (pending !== undefined) pendingWaits.add(pending)
  const observed = traceWait(probe, 'acquire', info, waiting, signal, run, (guard, at) => {
    if (pending !== undefined) pendingWaits.delete(pending)
    return hold(probe, meta, info, guard, site, at)
  })
  if (pending === undefined) return observed
  return observed.catch((error: unknown) => {
    pendingWaits.delete(pending)
    throw error
  })
}

/**
 * The observed `acquireCallback`: the same messages as {@link watchAcquire}, published in the tick
 * of the grant; a withdrawn wait ends as `aborted`.
 * @internal
 */
export function watchAcquireCallback(
  probe: Probe,
  meta: Meta,
  info: WaitInfo,
  waiting: number,
  signal: AbortSignal | undefined,
  at: Function,
  onGrant: (guard: Guard) => void,
  onError: (reason: unknown) => void,
  run: (onGrant: (guard: Guard) => void, onError: (reason: unknown) => void) => () => void,
): () => void {
  if (!meta.needed(probe)) return run(onGrant, onError)
  const site = meta.warnAfter !== undefined ? forceSite(at) : captureSite(at)
  const pending = settings.pendingAtExit ? { label: describeHold(meta, info), site } : undefined
  if (pending !== undefined) pendingWaits.add(pending)
  const trace = new WaitTrace(probe, 'acquire', info, waiting, signal)
  let withdraw: () => void
  try {
    withdraw = run(
      (inner) => {
        if (pending !== undefined) pendingWaits.delete(pending)
        const at = now()
        const guard = hold(probe, meta, info, inner, site, at)
        trace.granted(guard, at)
        onGrant(guard)
      },
      (reason) => {
        if (pending !== undefined) pendingWaits.delete(pending)
        trace.failed(reason)
        onError(reason)
      },
    )
  } catch (error) {
    trace.returned(error)
    throw error
  }
  trace.returned()
  return () => {
    withdraw()
    if (pending !== undefined) pendingWaits.delete(pending)
    trace.failed(new DOMException('The wait was withdrawn.', 'AbortError'))
  }
}

/** The observed `tryAcquire`. @internal */
export function watchTryAcquire(probe: Probe, meta: Meta, info: WaitInfo, at: Function, guard: Guard | undefined): Guard | undefined {
  if (guard === undefined || !meta.needed(probe)) return guard
  publishTryGrant(probe, info)
  return hold(probe, meta, info, guard, meta.warnAfter !== undefined ? forceSite(at) : captureSite(at))
}

/** The observed wait of Event, Condition, Barrier: published, and pending until it settles. @internal */
export function watchWait<T>(probe: Probe, meta: Meta, waiting: number, signal: AbortSignal | undefined, at: Function, run: () => Promise<T>): Promise<T> {
  if (!meta.needed(probe)) return run()
  const pending = settings.pendingAtExit ? { label: describeHold(meta, {} as WaitInfo), site: captureSite(at) } : undefined
  if (pending === undefined) return traceWait(probe, 'wait', meta, waiting, signal, run)
  pendingWaits.add(pending)
  const done = (): void => void pendingWaits.delete(pending)
  const p = traceWait(probe, 'wait', meta, waiting, signal, run)
  p.then(done, done)
  return p
}

function forceSite(at: Function): Error {
  const site = new Error('acquired here')
  Error.captureStackTrace(site, at)
  return site
}

// ---------------------------------------------------------------------------------------------
// Warnings.

/** Frames of `site` without its first line ("Error: acquired here"). */
function frames(site: Error | undefined): string {
  if (site === undefined || site.stack === undefined) return ''
  const lines = site.stack.split('\n')
  return lines.slice(1).join('\n')
}

function emit(message: string, code: string, site: Error | undefined): void {
  const where = frames(site)
  const first = where.split('\n')[0]?.trim().replace(/^at /, '')
  const warning = new Error(first ? `${message} Acquired at ${first}.` : message)
  warning.name = 'YieldpointWarning'
  ;(warning as Error & { code: string }).code = code
  if (where) {
    warning.stack = `${warning.name}: ${warning.message}\n${where}`
    ;(warning as Error & { detail: string }).detail = `Acquired at:\n${where}`
  }
  process.emitWarning(warning)
}

let exitListening = false

function listenForExit(): void {
  if (exitListening) return
  exitListening = true
  process.on('beforeExit', reportAtExit)
}

/** Reports holds still held and waits still pending; called on `beforeExit`. @internal */
export function reportAtExit(): void {
  if (!settings.pendingAtExit) return
  const holds = [...liveHolds]
  const waits = [...pendingWaits]
  liveHolds.clear()
  pendingWaits.clear()
  for (const h of holds) emit(`the process is about to exit while ${h.what} is still held.`, 'YP_HELD_AT_EXIT', h.site)
  if (waits.length > 0) {
    const byLabel = new Map<string, number>()
    for (const w of waits) byLabel.set(w.label, (byLabel.get(w.label) ?? 0) + 1)
    const list = [...byLabel].map(([what, n]) => `${n} on ${what}`).join(', ')
    emit(`the process is about to exit with waits that will never be granted: ${list}.`, 'YP_PENDING_AT_EXIT', waits[0]!.site)
  }
}
