import 'reflect-metadata'
import { SingleFlight, WithLock, Concurrency } from '../src'
export class S {
  @SingleFlight({ key: (id: string) => id }) a(id: string) {
    return Promise.resolve(id)
  }
  @SingleFlight({ key: () => 'k' }) b(id: string) {
    return Promise.resolve(id)
  }
  // @ts-expect-error key takes a number, the method a string
  @SingleFlight({ key: (id: number) => String(id) }) c(id: string) {
    return Promise.resolve(id)
  }
  @SingleFlight() d(id: string) {
    return Promise.resolve(id)
  }
  @WithLock((id: string, _n: number) => id) e(id: string, n: number) {
    return Promise.resolve(id + n)
  }
  // @ts-expect-error key needs two arguments, the method takes one
  @WithLock((id: string, n: number) => id + n) f(id: string) {
    return Promise.resolve(id)
  }
  @WithLock('fixed') g(id: string) {
    return Promise.resolve(id)
  }
  @Concurrency({ permits: 2, signal: (_id: string, s?: AbortSignal) => s }) h(id: string, s?: AbortSignal) {
    return Promise.resolve(id + String(s))
  }
}
