import type { TestProject } from 'vitest/node'
import { startCluster, startRedis } from './redis-server'

// One redis-server and one 3-master cluster for the whole run; tests that stop or pause Redis
// start their own server.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [single, cluster] = await Promise.all([startRedis(), startCluster()])
  project.provide('redisPort', single.port)
  project.provide('clusterPorts', cluster.ports)
  return async () => {
    await Promise.all([single.stop(), cluster.stop()])
  }
}
