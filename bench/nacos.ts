/**
 * The Nacos source, gRPC (pushes) against HTTP (polling), side by side in one run against one
 * real Nacos 3.1 on loopback holding `services` Dubbo services of one provider each, registered
 * with Nacos's API: cold sync against a bare listing over the same transport (the lower bound),
 * requests per second sent to Nacos at rest, the daemon's CPU and RSS at rest, and the latency
 * from an instance change (Nacos's API answered) to the xDS client holding it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { mapLimit } from '../src/registry/nacos-client';
import { DaemonProcess } from '../test/testbed/daemon-process';
import { dubboMetadata, NacosServer, NacosWriter } from '../test/testbed/nacos-server';
import { freePort, sleep } from '../test/testbed/net';
import { endpointsIn, firstArrival, holds, pct, rawClient } from './measure';

const ROOT = path.resolve(__dirname, '..');
const REST_SECONDS = 10;
const CONCURRENCY = 8;

export interface NacosTransportResult {
  transport: 'grpc' | 'http';
  /** Nacos server settings other than the defaults, if any. */
  server?: string;
  coldSyncMs: number;
  lowerBoundMs: number;
  /** Requests per second the daemon sent Nacos at rest, and its CPU share and RSS meanwhile. */
  restRps: number;
  restCpuPercent: number;
  rssMb: number;
  changeMs: { p50: number; p99: number; n: number };
}

export interface NacosResult {
  services: number;
  registerMs: number;
  pollMs: number;
  transports: NacosTransportResult[];
}

const svc = (i: number) => `providers:bench.nacos.Service${i}:1.0.0:`;
const ip = (i: number) => `10.70.${(i >> 8) & 255}.${i & 255}`;
const meta = (i: number, weight?: number) => dubboMetadata(`bench.nacos.Service${i}`, { version: '1.0.0', ...(weight ? { weight: String(weight) } : {}) });

/** bench/nacos-lower-bound.mjs, timed from its spawn as the daemon is (both pay Node's start). */
async function lowerBound(transport: string, address: string, services: number): Promise<number> {
  const t0 = performance.now();
  const p = spawn(process.execPath, [path.join(ROOT, 'bench/nacos-lower-bound.mjs'), transport, address, String(CONCURRENCY)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => p.once('exit', r));
  const ms = performance.now() - t0;
  if (Number(out) !== services) throw new Error(`the ${transport} lower bound read ${out.trim()} instances, not ${services}`);
  return ms;
}

/**
 * `fuzzyWatchLimit`: Nacos's nacos.naming.fuzzy.watch.max.pattern.match.service.count (500 by
 * default), raised so that one pattern may watch the whole estate; then only gRPC is measured.
 */
export async function benchNacos(services: number, changes: number, opts: { fuzzyWatchLimit?: number } = {}): Promise<NacosResult> {
  const limit = opts.fuzzyWatchLimit;
  const nacos = await new NacosServer(limit ? { properties: { 'nacos.naming.fuzzy.watch.max.pattern.match.service.count': String(limit) } } : {}).start();
  const writer = new NacosWriter(nacos.base);
  const pollMs = 5000; // the default
  try {
    const t0 = performance.now();
    await mapLimit(
      Array.from({ length: services }, (_, i) => i),
      32,
      (i) => writer.register({ service: svc(i), ip: ip(i), port: 20880, metadata: meta(i) }),
    );
    const registerMs = performance.now() - t0;
    console.error(`[nacos ${services}] registered in ${Math.round(registerMs)} ms`);
    const transports: NacosTransportResult[] = [];
    let weight = 1;
    for (const transport of limit ? (['grpc'] as const) : (['grpc', 'http'] as const)) {
      const lower = await lowerBound(transport, nacos.address, services);
      const d = new DaemonProcess();
      const port = await freePort();
      const start = await d.start(
        {
          sources: [{ name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address, transport, pollMs, concurrency: CONCURRENCY } }],
          xds: { debounce: { quietMs: 100, maxDelayMs: 1000 } },
          clusters: [{ name: 'default', listener: { port } }],
          protection: { massRemoval: { threshold: 1, minEndpoints: 1_000_000, holdMs: 0 } },
        },
        'warn',
      );
      await d.up();
      const c = rawClient(port);
      try {
        const cold = (await firstArrival([c], (b) => endpointsIn(b) === services, 600_000)).at - start;
        await sleep(2000);
        const req0 = await d.metric('dia_nacos_requests_total');
        const cpu0 = await d.metric('dia_process_cpu_seconds_total');
        await sleep(REST_SECONDS * 1000);
        const restRps = ((await d.metric('dia_nacos_requests_total')) - req0) / REST_SECONDS;
        const restCpuPercent = (((await d.metric('dia_process_cpu_seconds_total')) - cpu0) / REST_SECONDS) * 100;
        const rssMb = d.rssMb();
        const latencies: number[] = [];
        for (let k = 0; k < changes; k++) {
          const i = (k * 7919) % services;
          const w = 10 + (weight++ % 80);
          const arrived = firstArrival([c], holds(ip(i), w), 60_000);
          const t = performance.now();
          await writer.register({ service: svc(i), ip: ip(i), port: 20880, metadata: meta(i, w) });
          latencies.push((await arrived).at - t);
          await sleep((k * 1237) % pollMs); // spread over the poll interval, as changes come
        }
        const r: NacosTransportResult = {
          transport,
          ...(limit ? { server: `fuzzy watch limit ${limit.toLocaleString('en-US')}` } : {}),
          coldSyncMs: cold,
          lowerBoundMs: lower,
          restRps,
          restCpuPercent,
          rssMb,
          changeMs: { p50: pct(latencies, 50), p99: pct(latencies, 99), n: latencies.length },
        };
        console.error(
          `[nacos ${services} ${transport}${limit ? ` limit ${limit}` : ''}] cold ${Math.round(cold)} ms (bare ${Math.round(lower)} ms), at rest ${restRps.toFixed(1)} req/s ${restCpuPercent.toFixed(1)}% CPU ${Math.round(rssMb)} MB, change p50 ${Math.round(r.changeMs.p50)} p99 ${Math.round(r.changeMs.p99)} ms`,
        );
        transports.push(r);
      } finally {
        c.close();
        await d.stop();
      }
    }
    return { services, registerMs, pollMs, transports };
  } finally {
    await nacos.destroy();
  }
}
