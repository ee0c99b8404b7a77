import yaml from 'js-yaml';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { Daemon } from '../../src/daemon';
import { withTestDefaults } from './config';
import { IstiodLikeClient } from './xds-client';

/** Starts the real daemon in-process on free ports, with fast debounce for tests. */
export async function startDaemon(partial: Record<string, unknown>): Promise<{ daemon: Daemon; config: Config; xdsAddress: string; admin: string }> {
  const config = parseConfig(
    yaml.dump({
      admin: { port: 0 },
      clusters: [{ name: 'default', listener: { port: 0 } }],
      xds: { debounce: { quietMs: 20, maxDelayMs: 200 } },
      ...withTestDefaults(partial),
    }),
  );
  const daemon = new Daemon(config);
  await daemon.start();
  return { daemon, config, xdsAddress: `127.0.0.1:${daemon.xds.port('default')}`, admin: `http://127.0.0.1:${daemon.adminPort}` };
}

export function zkSource(connect: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'zk', type: 'zookeeper', zookeeper: { connect, sessionTimeoutMs: 4000, resyncIntervalMs: 0, ...extra } };
}

/** The same ZooKeeper as config center: one session with the registry source (same timeout). */
export function zkRuleSource(connect: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'zk-rules', type: 'zookeeper', zookeeper: { connect, sessionTimeoutMs: 4000, ...extra } };
}

export const SE = 'networking.istio.io/v1/ServiceEntry';
export const WE = 'networking.istio.io/v1/WorkloadEntry';

/** Smallest WorkloadEntry count the client ever received after it first had `from` of them. */
export function minWorkloadsSince(c: IstiodLikeClient, from: number): number {
  const h = c.history.filter((x) => x.typeUrl === WE);
  const start = h.findIndex((x) => x.count >= from);
  return Math.min(...h.slice(start).map((x) => x.count));
}

export async function metricValue(admin: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}
