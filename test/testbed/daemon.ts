import yaml from 'js-yaml';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { Daemon } from '../../src/daemon';
import { withTestDefaults } from './config';
import { IstiodLikeClient } from './xds-client';

export interface StartedDaemon {
  daemon: Daemon;
  config: Config;
  /** The first view's xDS address (127.0.0.1:port). */
  xdsAddress: string;
  /** A view's xDS address (127.0.0.1:port), by its cluster name. */
  viewAddress(cluster: string): string;
  /** The admin base URL. */
  admin: string;
}

/** Starts the real daemon in-process on free ports, with fast debounce for tests. */
export async function startDaemon(partial: Record<string, unknown>): Promise<StartedDaemon> {
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
  // The views listen on port 0; the one place a test asks the daemon which port each got.
  const viewAddress = (cluster: string): string => `127.0.0.1:${daemon.xds.port(cluster)}`;
  return { daemon, config, xdsAddress: viewAddress(config.clusters[0].name), viewAddress, admin: `http://127.0.0.1:${daemon.adminPort}` };
}

export interface SourceListing {
  name: string;
  state: string;
  reason?: string;
  details: Record<string, unknown>;
}

/** What /debug/sources says: each registry source, and the removals held back per source. */
export interface DebugSources {
  sources: SourceListing[];
  heldRemovals: { source: string; heldRemovals: number }[];
}

export async function debugSources(admin: string): Promise<DebugSources> {
  return yaml.load(await (await fetch(`${admin}/debug/sources`)).text()) as DebugSources;
}

/** One registry source as /debug/sources lists it. */
export async function sourceListing(admin: string, name: string): Promise<SourceListing> {
  const found = (await debugSources(admin)).sources.find((s) => s.name === name);
  if (!found) throw new Error(`no source ${name} in /debug/sources`);
  return found;
}

/** The xDS streams open on the daemon, as /debug/connections lists them. */
export async function xdsConnections(admin: string): Promise<{ cluster: string }[]> {
  return (yaml.load(await (await fetch(`${admin}/debug/connections`)).text()) as { connections: { cluster: string }[] }).connections;
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
