/**
 * Where the daemon's memory goes at a bench size: starts a real ZooKeeper with the estate, runs
 * the daemon in this process until its snapshot holds every provider, and prints the heap by
 * object kind. The profile behind the memory work in docs/performance.md.
 *   node --expose-gc --import tsx bench/profile.ts M [snap]
 */
import v8 from 'node:v8';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Daemon } from '../src/daemon';
import { parseConfig } from '../src/config/load';
import yaml from 'js-yaml';
import { ZookeeperServer } from '../test/support/zookeeper-server';
import { ZkWriter } from '../test/support/zk-client';
import { waitFor } from '../test/support/net';
import { generateEstate, SIZES } from '../bench/estate';

async function main() {
  const size = (process.argv[2] ?? 'M') as 'M';
  const zk = await new ZookeeperServer().start();
  const w = await ZkWriter.connect(zk.connect);
  const estate = generateEstate(SIZES[size]);
  await w.createMany(estate.paths, 1000);
  const base = process.memoryUsage();
  const cfg = parseConfig(yaml.dump({ logLevel: 'warn', admin: { port: 0 }, clusters: [{ name: 'default', listener: { port: 0 } }], sources: [{ name: 'zk', type: 'zookeeper', zookeeper: { connect: zk.connect, resyncIntervalMs: 0 } }], protection: { massRemoval: { threshold: 1, minEndpoints: 1e9, holdMs: 0 } } }));
  const d = new Daemon(cfg);
  const t0 = performance.now();
  await d.start();
  // In the default endpoint mode (inline) the ServiceEntries carry the endpoints.
  const endpoints = async () => (await d.metrics.endpoints.get()).values.reduce((n, v) => n + v.value, 0);
  const published = () => (d.snapshots()[0].types.get('ServiceEntry' as never)?.resources.size ?? 0) > 0;
  await waitFor('synced', async () => (await endpoints()) === estate.providers && published(), 600000, 20);
  console.log('synced in', Math.round(performance.now() - t0), 'ms');
  global.gc?.();
  const m = process.memoryUsage();
  console.log('heapUsed MB delta', ((m.heapUsed - base.heapUsed) / 2 ** 20).toFixed(1), 'external MB', ((m.external - base.external) / 2 ** 20).toFixed(1), 'arrayBuffers', ((m.arrayBuffers - base.arrayBuffers) / 2 ** 20).toFixed(1), 'rss', (m.rss / 2 ** 20).toFixed(0));
  if (process.argv[3] === 'snap') {
    const file = v8.writeHeapSnapshot(path.join(os.tmpdir(), `dia-${size}.heapsnapshot`));
    const h = JSON.parse(readFileSync(file, 'utf8'));
    const f = h.snapshot.meta.node_fields as string[];
    const types = h.snapshot.meta.node_types[0] as string[];
    const n = f.length;
    const agg = new Map<string, { size: number; count: number }>();
    for (let i = 0; i < h.nodes.length; i += n) {
      const type = types[h.nodes[i + f.indexOf('type')]];
      const name = h.strings[h.nodes[i + f.indexOf('name')]];
      const key = type === 'object' || type === 'closure' ? `${type}:${name}` : type;
      const a = agg.get(key) ?? { size: 0, count: 0 };
      a.size += h.nodes[i + f.indexOf('self_size')];
      a.count++;
      agg.set(key, a);
    }
    for (const [k, v] of [...agg].sort((a, b) => b[1].size - a[1].size).slice(0, 25)) console.log((v.size / 2 ** 20).toFixed(1).padStart(7), 'MB', String(v.count).padStart(8), k);
  }
  await d.stop(); await w.close(); await zk.destroy();
}
main().catch((e) => { console.error(e); process.exit(1); });
