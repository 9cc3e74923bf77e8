import { inject } from 'vitest'
import type { Lib, Target } from './clients'

export interface Combo {
  lib: Lib
  target: Target
  name: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisPort: number
    clusterPorts: number[]
  }
}

/** The four combinations (lib × topology), or those in YP_REDIS_MATRIX (e.g. `ioredis/cluster`). */
export function matrix(): Combo[] {
  const targets: Target[] = [
    { topology: 'single', port: inject('redisPort') },
    { topology: 'cluster', ports: inject('clusterPorts') },
  ]
  const only = process.env.YP_REDIS_MATRIX?.split(',')
  const all = (['ioredis', 'node-redis'] as Lib[]).flatMap((lib) => targets.map((target) => ({ lib, target, name: `${lib}/${target.topology}` })))
  return only ? all.filter((c) => only.includes(c.name)) : all
}
