import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Guard } from '../src'

// The published .d.ts is the API: internal plumbing must not be in it (stripInternal + #private).
// turbo builds the package before its tests (`test` depends on `build`).
const dts = join(import.meta.dirname, '..', 'dist', 'index.d.ts')

describe('published types', () => {
  it('dist/index.d.ts exists (build first: pnpm --filter @yieldpoint/core build)', () => {
    expect(existsSync(dts)).toBe(true)
  })

  it('internal members are not in the published .d.ts', () => {
    const text = readFileSync(dts, 'utf8')
    for (const name of [
      'reacquire',
      'currentToken',
      'nextToken',
      'releaseGuard',
      'waiterLeft',
      'releasePermits',
      'checkRequest',
      'GuardOwner',
      'WaitQueue',
      'KeyEntry',
      'keyLock',
      '@internal',
    ]) {
      expect(text, name).not.toContain(name)
    }
    expect(text).not.toMatch(/\bdrop\(/)
    expect(text).not.toMatch(/\bgrab\(|\btakeCallback\(/)
    expect(text).not.toMatch(/constructor\(owner/)
  })

  it('Guard.from is the supported way to build a guard from outside core', () => {
    let calls = 0
    const guard = Guard.from(() => calls++)
    guard.release()
    guard.release()
    expect(calls).toBe(1)
    expect(guard.released).toBe(true)
    expect(() => Guard.from(1 as never)).toThrow(/release must be a function/)
  })
})
