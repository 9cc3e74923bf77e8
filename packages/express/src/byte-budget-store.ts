import type { CacheEntry, Store } from '@yieldpoint/core'
import { LRUCache } from 'lru-cache'
import type { CapturedResponse } from './capture'

// lru-cache arms one timer per entry for its ttl: keep it within what a timer can hold.
const LONGEST_TIMER = 2 ** 31 - 1

/**
 * Bytes an entry holds: its key (the URL and any precondition values — up to Node's 16 KiB header
 * limit, so long URLs with tiny bodies would otherwise fill memory past the budget), its body and
 * headers, plus a fixed allowance for bookkeeping.
 */
function entrySize(entry: CacheEntry<CapturedResponse>, key: string): number {
  const response = entry.kind === 'value' ? entry.value : undefined
  const body = response?.body
  const bytes = body === undefined ? 0 : Buffer.isBuffer(body) ? body.length : (body.data?.length ?? 0)
  let headers = 0
  for (const [name, value] of Object.entries(response?.headers ?? {})) headers += name.length + String(value).length
  return key.length + bytes + headers + 256
}

/**
 * The default store of `coalesce()`'s micro-cache: an LRU bounded by entries (`max`) *and* bytes
 * (`maxBytes`, lru-cache's `maxSize`/`sizeCalculation`). An entry is dropped as soon as it can no
 * longer be served (the cache's `keepFor`: ttl plus the stale windows), and one that is not worth
 * keeping at all (`ttl: 0`, coalescing only) is never stored. Invariant: held bytes ≤ maxBytes.
 * @example
 * ```ts
 * new SingleFlightCache<string, CapturedResponse>({ ttl: 5_000, store: new ByteBudgetStore({ max: 1_000, maxBytes: 64 * 2 ** 20 }) })
 * ```
 */
export class ByteBudgetStore implements Store<string, CapturedResponse> {
  private readonly lru: LRUCache<string, CacheEntry<CapturedResponse>>

  constructor(options: { max: number; maxBytes: number }) {
    this.lru = new LRUCache<string, CacheEntry<CapturedResponse>>({
      max: options.max,
      maxSize: options.maxBytes,
      sizeCalculation: entrySize,
      ttlAutopurge: true,
    })
  }

  get(key: string): CacheEntry<CapturedResponse> | undefined {
    return this.lru.get(key)
  }

  set(key: string, entry: CacheEntry<CapturedResponse>, keepFor: number): void {
    if (!(keepFor > 0)) {
      this.lru.delete(key) // nothing left to serve it for: keep nothing
      return
    }
    // An entry larger than the whole budget is not stored (lru-cache refuses it).
    this.lru.set(key, entry, Number.isFinite(keepFor) ? { ttl: Math.min(Math.ceil(keepFor), LONGEST_TIMER) } : {})
  }

  delete(key: string): void {
    this.lru.delete(key)
  }

  clear(): void {
    this.lru.clear()
  }

  /** Entries held right now. */
  get size(): number {
    return this.lru.size
  }

  /** Bytes held right now (as counted by the size calculation). */
  get bytes(): number {
    return this.lru.calculatedSize
  }
}
