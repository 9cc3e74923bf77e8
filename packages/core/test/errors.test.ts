import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, Lock, Semaphore, TimeoutError, YieldpointError, errorDocsUrl } from '../src/index'

describe('error messages link to their page', () => {
  it('ends every message with the docs page of its code, once', async () => {
    const thrown: unknown[] = []
    try {
      new Semaphore(-1)
    } catch (e) {
      thrown.push(e)
    }
    try {
      new Lock().release()
    } catch (e) {
      thrown.push(e)
    }
    const lock = new Lock()
    await lock.acquire()
    thrown.push(await lock.acquire({ timeout: 0 }).catch((e: unknown) => e))
    expect(thrown).toHaveLength(3)
    for (const e of thrown) {
      expect(e).toBeInstanceOf(YieldpointError)
      const err = e as YieldpointError
      expect(err.message.endsWith(` See https://yieldpoint.dev/errors/${err.code}`)).toBe(true)
      expect(err.message.split('https://').length).toBe(2)
    }
    expect(thrown[2]).toBeInstanceOf(TimeoutError)
  })

  it('does not add the link twice to a message that already carries it (a revived error)', () => {
    const first = new InvalidArgumentError('bad')
    const again = new InvalidArgumentError(first.message)
    expect(again.message).toBe(first.message)
    expect(errorDocsUrl('ERR_YP_X')).toBe('https://yieldpoint.dev/errors/ERR_YP_X')
  })

  it('links only yieldpoint codes: an error carrying a foreign code keeps its message', () => {
    class Revived extends YieldpointError {}
    expect(new Revived('E_ORIGIN', 'origin failed').message).toBe('origin failed')
  })
})
