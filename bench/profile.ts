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
import { ZookeeperServer } from '../test/testbed/zookeeper-server';
import { ZkWriter } from '../test/testbed/zk-client';
import { waitFor } from '../test/testbed/net';
import { generateEstate, SIZES } from '../bench/estate';

async function main() {
  const size = (process.argv[2] ?? 'M') as 'M';
  const zk = await new ZookeeperServer().start();
  const w = await ZkWriter.connect(zk.connect);
  const estate = generateEstate(SIZES[size]);
  await w.createMany(estate.paths, 1000);
  const base = process.memoryUsage();
  const cfg = parseConfig(
    yaml.dump({
      logLevel: 'warn',
      admin: { port: 0 },
      clusters: [{ name: 'default', listener: { port: 0 } }],
      sources: [{ name: 'zk', type: 'zookeeper', zookeeper: { connect: zk.connect, resyncIntervalMs: 0 } }],
      protection: { massRemoval: { threshold: 1, minEndpoints: 1e9, holdMs: 0 } },
    }),
  );
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
  console.log(
    'heapUsed MB delta',
    ((m.heapUsed - base.heapUsed) / 2 ** 20).toFixed(1),
    'external MB',
    ((m.external - base.external) / 2 ** 20).toFixed(1),
    'arrayBuffers',
    ((m.arrayBuffers - base.arrayBuffers) / 2 ** 20).toFixed(1),
    'rss',
    (m.rss / 2 ** 20).toFixed(0),
  );
  if (process.argv[3] === 'snap') {
    const file = v8.writeHeapSnapshot(path.join(os.tmpdir(), `dia-${size}.heapsnapshot`));
    const h = readSnapshot(file);
    const f = h.meta.node_fields;
    const types = h.meta.node_types[0];
    const n = f.length;
    const [ti, ni, si] = ['type', 'name', 'self_size'].map((x) => f.indexOf(x));
    const agg = new Map<string, { size: number; count: number }>();
    for (let i = 0; i < h.nodes.length; i += n) {
      const type = types[h.nodes[i + ti]];
      const name = h.strings[h.nodes[i + ni]];
      const key = type === 'object' || type === 'closure' ? `${type}:${name}` : type;
      const a = agg.get(key) ?? { size: 0, count: 0 };
      a.size += h.nodes[i + si];
      a.count++;
      agg.set(key, a);
    }
    for (const [k, v] of [...agg].sort((a, b) => b[1].size - a[1].size).slice(0, 25)) console.log((v.size / 2 ** 20).toFixed(1).padStart(7), 'MB', String(v.count).padStart(8), k);
  }
  await d.stop();
  await w.close();
  await zk.destroy();
}
/**
 * The parts of a heap snapshot the aggregation needs. At L the file is larger than the longest
 * string V8 allows, so it is not JSON.parse'd whole: the node array and the strings are read
 * straight from the bytes.
 */
function readSnapshot(file: string): { meta: { node_fields: string[]; node_types: [string[]] }; nodes: Float64Array; strings: string[] } {
  const b = readFileSync(file);
  const nodesAt = b.indexOf('"nodes":[');
  const head = b.toString('utf8', 0, nodesAt).replace(/,\s*$/, '');
  const meta = JSON.parse(head + '}').snapshot.meta;
  const nums: number[] = [];
  let i = nodesAt + 9;
  let v = -1;
  for (; b[i] !== 0x5d; i++) {
    const c = b[i];
    if (c >= 0x30 && c <= 0x39) v = (v < 0 ? 0 : v * 10) + c - 0x30;
    else if (v >= 0) {
      nums.push(v);
      v = -1;
    }
  }
  if (v >= 0) nums.push(v);
  const strings: string[] = [];
  for (let j = b.indexOf('"strings":[') + 11; b[j] !== 0x5d; j++) {
    if (b[j] !== 0x22) continue;
    let k = j + 1;
    while (b[k] !== 0x22) k += b[k] === 0x5c ? 2 : 1;
    strings.push(JSON.parse(b.toString('utf8', j, k + 1)) as string);
    j = k;
  }
  return { meta, nodes: Float64Array.from(nums), strings };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
