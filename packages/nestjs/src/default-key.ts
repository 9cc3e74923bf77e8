import { InvalidArgumentError } from '@yieldpoint/core'

/**
 * The default `@SingleFlight` key: `Class.method:` + a faithful encoding of the arguments. Two
 * calls get the same key only if their arguments are equal value by value, so only what can be
 * encoded that way is accepted — primitives (`undefined`, `null`, `NaN` and `-0` kept apart from
 * each other), and arrays and plain objects of them. Anything else (`Set`, `Map`, `Date`, class
 * instances, functions, symbols, cycles) would collapse calls that differ, as `JSON.stringify`
 * did ("profile of alice" for Bob): it throws, asking for a `key` function.
 * @internal
 */
export function defaultKey(where: string, args: unknown[]): string {
  return `${where}:${encode(args, where, 'arguments', new Set())}`
}

function encode(value: unknown, where: string, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value) // NaN, Infinity kept distinct from null
    case 'bigint':
      return `${value}n`
    case 'boolean':
      return String(value)
    case 'undefined':
      return 'undefined'
    case 'object': {
      if (value === null) return 'null'
      if (seen.has(value)) return unkeyable(where, path, 'a circular structure')
      const proto = Object.getPrototypeOf(value)
      if (Array.isArray(value)) {
        seen.add(value)
        const items: string[] = []
        for (let i = 0; i < value.length; i++) items.push(i in value ? encode(value[i], where, `${path}[${i}]`, seen) : 'hole')
        seen.delete(value)
        return `[${items.join(',')}]`
      }
      if (proto !== Object.prototype && proto !== null) return unkeyable(where, path, `an instance of ${(value as object).constructor?.name ?? 'a class'}`)
      if (Object.getOwnPropertySymbols(value).length) return unkeyable(where, path, 'an object with symbol keys')
      seen.add(value)
      const entries = Object.keys(value)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${encode((value as Record<string, unknown>)[k], where, `${path}.${k}`, seen)}`)
      seen.delete(value)
      return `{${entries.join(',')}}`
    }
    default:
      return unkeyable(where, path, `a ${typeof value}`)
  }
}

function unkeyable(where: string, path: string, what: string): never {
  throw new InvalidArgumentError(
    `@SingleFlight() on ${where}: ${path} is ${what}, which the default key cannot tell apart from other values ` +
      "(calls that differ would share one result). Pass a key option, e.g. @SingleFlight({ key: (user) => 'profile:' + user.id }).",
  )
}
