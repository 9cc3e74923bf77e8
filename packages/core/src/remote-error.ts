import { YieldpointError } from './errors'

/**
 * An error as it crosses a process boundary (a remote store's wire format). The default
 * {@link defaultSerializeError} keeps `name`, `message`, `code`, `status` and `statusCode`; a custom one
 * may add fields (e.g. an HTTP error's response body) for its {@link ReviveError} to read.
 * @example
 * ```ts
 * const wire: SerializedError = { name: 'NotFoundError', message: 'no product 7', status: 404 }
 * ```
 */
export interface SerializedError {
  name: string
  message: string
  code?: unknown
  status?: unknown
  statusCode?: unknown
  [field: string]: unknown
}

/**
 * Turns a loader's error into something a remote store can send (it must survive JSON).
 * @example
 * ```ts
 * const serializeError: SerializeError = (e) => ({ ...defaultSerializeError(e), details: (e as MyError).details })
 * ```
 */
export type SerializeError = (error: unknown) => SerializedError

/**
 * Rebuilds, in another process, the error a leader's loader failed with.
 * @example
 * ```ts
 * const reviveError: ReviveError = (s) => (s.status === 404 ? new NotFound(s.message) : defaultReviveError(s))
 * ```
 */
export type ReviveError = (serialized: SerializedError) => unknown

/**
 * An error raised in another process (a remote leader's loader failed), rebuilt by the default
 * {@link defaultReviveError}. It keeps the original `name`, `message`, `status`/`statusCode`
 * (so Express's error handler answers with the leader's status) and `code` (the original one
 * when there was one, else `'ERR_YP_REMOTE'`); `remote` holds everything that crossed.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RemoteError && e.status === 404) return notFound() }
 * ```
 */
export class RemoteError extends YieldpointError {
  readonly status?: unknown
  readonly statusCode?: unknown
  /** Everything that crossed the wire. */
  readonly remote: SerializedError
  constructor(serialized: SerializedError) {
    super(typeof serialized.code === 'string' ? serialized.code : 'ERR_YP_REMOTE', String(serialized.message))
    // The leader's message exactly (no docs link appended): a 404's text is the same everywhere.
    this.message = String(serialized.message)
    // The leader's kind of error, for logs; test with instanceof RemoteError, not the name.
    this.name = typeof serialized.name === 'string' ? serialized.name : 'RemoteError'
    if (serialized.status !== undefined) this.status = serialized.status
    if (serialized.statusCode !== undefined) this.statusCode = serialized.statusCode
    this.remote = serialized
  }
}

/**
 * The default {@link SerializeError}: `name`, `message`, `code`, `status`, `statusCode` of an
 * Error (own or inherited); a non-Error becomes `{ name: 'Error', message: String(value) }`.
 * @example
 * ```ts
 * defaultSerializeError(Object.assign(new Error('gone'), { status: 404 })) // { name: 'Error', message: 'gone', status: 404 }
 * ```
 */
export function defaultSerializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const { code, status, statusCode } = error as Error & { code?: unknown; status?: unknown; statusCode?: unknown }
    const out: SerializedError = { name: error.name, message: error.message }
    if (code !== undefined) out.code = code
    if (status !== undefined) out.status = status
    if (statusCode !== undefined) out.statusCode = statusCode
    return out
  }
  return { name: 'Error', message: String(error) }
}

/**
 * The default {@link ReviveError}: a {@link RemoteError} carrying the serialized fields.
 * @example
 * ```ts
 * defaultReviveError({ name: 'HttpError', message: 'gone', status: 404 }) // RemoteError, status 404
 * ```
 */
export function defaultReviveError(serialized: SerializedError): unknown {
  return new RemoteError(serialized)
}
