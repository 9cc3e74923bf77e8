import { InvalidArgumentError } from './errors'
import { describe } from './options'

/**
 * The key rule shared by KeyedLock, SingleFlight and SingleFlightCache: keys are compared like
 * `Map` keys (SameValueZero) — primitives by value, objects by identity. Because two equal-looking
 * object literals are *different* keys (and would silently never share a lock or a load), plain
 * objects and arrays are rejected, as are `undefined`, `null` and `NaN`, which are almost always a
 * bug upstream (`product:${undefined}`). Class instances, functions and symbols are accepted and
 * compared by identity.
 * @internal
 */
export function checkKey(key: unknown, api: string): void {
  if (key === undefined || key === null || (typeof key === 'number' && Number.isNaN(key))) {
    throw new InvalidArgumentError(`${api}: key must not be ${describe(key)}. Pass a string or number that identifies the resource, e.g. \`product:\${id}\`.`)
  }
  if (typeof key === 'object') {
    const proto = Object.getPrototypeOf(key)
    if (Array.isArray(key) || proto === Object.prototype || proto === null) {
      throw new InvalidArgumentError(
        `${api}: key is a plain ${Array.isArray(key) ? 'array' : 'object'}, which is compared by identity, so an ` +
          `equal-looking key would never match it. Turn it into a string (e.g. JSON.stringify(key) or \`\${a}:\${b}\`).`,
      )
    }
  }
}

const objectIds = new WeakMap<object, number>()
let nextObjectId = 0
const kindOrder: Record<string, number> = { bigint: 0, number: 0, boolean: 1, string: 2, symbol: 3, object: 4, function: 4 }

function objectId(value: object): number {
  let id = objectIds.get(value)
  if (id === undefined) objectIds.set(value, (id = ++nextObjectId))
  return id
}

/**
 * One total order over valid keys, the same for every caller in the process, so multi-key
 * acquisition in this order can never deadlock: numbers before booleans before strings before
 * symbols before objects; objects (and symbols) by a process-wide identity number.
 * @internal
 */
export function compareKeys(a: unknown, b: unknown): number {
  const ka = kindOrder[typeof a]!
  const kb = kindOrder[typeof b]!
  if (ka !== kb) return ka - kb
  if (typeof a === 'symbol' || typeof a === 'object' || typeof a === 'function') {
    return symbolOrObjectId(a) - symbolOrObjectId(b)
  }
  if ((a as number) < (b as number)) return -1
  if ((a as number) > (b as number)) return 1
  // Equal values of different types (`1` and `1n`) are different keys (Map keeps them apart), so
  // they must not compare equal: a sort would leave them in arrival order and two acquireMany
  // calls could take them in opposite orders. Numbers go first.
  return typeof a === typeof b ? 0 : typeof a === 'number' ? -1 : 1
}

const symbolIds = new Map<symbol, number>()
function symbolOrObjectId(value: unknown): number {
  if (typeof value === 'symbol') {
    let id = symbolIds.get(value)
    if (id === undefined) symbolIds.set(value, (id = ++nextObjectId))
    return id
  }
  return objectId(value as object)
}
