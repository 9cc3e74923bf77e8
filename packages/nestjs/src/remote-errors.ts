import * as common from '@nestjs/common'
import { HttpException } from '@nestjs/common'
import { defaultReviveError, defaultSerializeError, type ReviveError, type SerializedError } from '@yieldpoint/core'

// biome-ignore lint/suspicious/noExplicitAny: Nest's own exception constructors take `any` bodies
type HttpExceptionClass = new (objectOrError?: any) => HttpException

// Every built-in HttpException subclass of @nestjs/common (NotFoundException, ConflictException, …).
const BUILT_IN = (Object.values(common) as unknown[]).filter(
  (value): value is HttpExceptionClass => typeof value === 'function' && (value as { prototype?: unknown }).prototype instanceof HttpException,
)

/**
 * `serializeError` for a cache shared between Nest processes: the default fields (name, message,
 * code, status) plus an `HttpException`'s response body, so {@link reviveHttpException} can
 * rebuild the same exception — same class, status and body — in another process.
 *
 * @example
 * ```ts
 * YieldpointModule.forRoot({ store, cache: { serializeError: serializeHttpException, reviveError: reviveHttpException } })
 * ```
 */
export function serializeHttpException(error: unknown): SerializedError {
  const serialized = defaultSerializeError(error)
  if (error instanceof HttpException) {
    serialized.status = error.getStatus()
    serialized.response = error.getResponse()
  }
  return serialized
}

/**
 * `reviveError` for a cache shared between Nest processes: a leader's `NotFoundException` is a
 * `NotFoundException` (status 404, same body) for every follower, so Nest's exception filter
 * answers exactly as it did for the leader. Built-in exceptions are rebuilt by class; others
 * with a status become an `HttpException` with that status and body (name kept); errors without
 * a status fall back to core's `defaultReviveError` (a `RemoteError`). Use
 * {@link reviveHttpExceptionWith} to rebuild your own exception classes too.
 *
 * @example
 * ```ts
 * new SingleFlightCache({ store, serializeError: serializeHttpException, reviveError: reviveHttpException })
 * ```
 */
export const reviveHttpException: ReviveError = reviveHttpExceptionWith([])

/**
 * A {@link reviveHttpException} that also knows your own `HttpException` subclasses (matched by
 * class name; each must accept the response body as its first constructor argument, as Nest's
 * built-ins do).
 *
 * @example
 * ```ts
 * class OutOfStockException extends ConflictException {}
 * const reviveError = reviveHttpExceptionWith([OutOfStockException])
 * ```
 */
export function reviveHttpExceptionWith(classes: HttpExceptionClass[]): ReviveError {
  const byName = new Map<string, HttpExceptionClass>()
  for (const cls of [...BUILT_IN, ...classes]) byName.set(cls.name, cls)
  return (serialized) => {
    const status = typeof serialized.status === 'number' ? serialized.status : typeof serialized.statusCode === 'number' ? serialized.statusCode : undefined
    if (status === undefined) return defaultReviveError(serialized)
    const body = serialized.response ?? serialized.message
    const cls = byName.get(serialized.name)
    if (cls !== undefined) {
      const revived = new cls(body)
      if (revived.getStatus() === status) return revived
    }
    const revived = new HttpException(body as string | Record<string, unknown>, status)
    revived.name = serialized.name
    return revived
  }
}
