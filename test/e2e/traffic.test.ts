import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { zkRuleSource, zkSource } from '../testbed/daemon';
import { DubboProvider, testHosts } from '../testbed/dubbo-provider';
import { suiteStack } from '../testbed/harness';
import type { Istiod } from '../testbed/istiod';
import { freePort, sleep, waitFor } from '../testbed/net';
import { ProxylessClient } from '../testbed/proxyless';
import type { ZkWriter } from '../testbed/zk-client';

jest.setTimeout(600_000);

/**
 * Real requests through routes the adapter produced: real Dubbo 3.3 Triple providers (JVMs on
 * test hosts of their own, registered in a real ZooKeeper), the adapter with two cluster views,
 * one real istiod per view, and proxyless gRPC clients (@grpc/grpc-js-xds) that take their
 * listeners, routes, clusters and endpoints from an istiod and call the providers directly.
 * Each provider answers with its identity; the tests count where the calls went. The figures
 * go to docs/traffic.md (UPDATE_TRAFFIC_DOC=1, make traffic-doc).
 */

const SERVICE = 'dia.GreetingService';
const PORT = 50051; // the tri port of every ServiceEntry (mapping.protocols.tri)
const CALLS = 2000;
/** How far an observed share may be from the configured one: 2,000 calls give a standard deviation of 0.7 points at 90/10. */
const TOLERANCE = 0.05;
const SESSION_MS = 4000;

const host = (version: string, group?: string) => `${version}.${group ? `${group}.` : ''}dia.greetingservice`;
const triHeaders = (version: string, group?: string): Record<string, string> => ({ 'tri-service-version': version, ...(group ? { 'tri-service-group': group } : {}) });

const policyDoc = (name: string, body: string) => `apiVersion: dubbo-istio-adapter.io/v1
kind: TrafficPolicy
metadata: {name: ${name}}
spec:
${body}`;
const SPLIT = '/dubbo/config/dubbo-istio-adapter/split';
const split = (a: number, b: number) =>
  policyDoc('split', `  services: [split/${SERVICE}]\n  split: {label: env, weights: {blue: 50, green: 50}, clusters: {a: {blue: ${a}, green: ${100 - a}}, b: {blue: ${b}, green: ${100 - b}}}}\n`);
const ZONES = '/dubbo/config/dubbo-istio-adapter/zones';
const zones = policyDoc('zones', `  services: [zone/${SERVICE}]\n  zoneAffinity: {enabled: true}\n  outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s}\n`);

/** "hello x from version=1.0.0 host=198.18.0.2 env=blue" -> { version: '1.0.0', host: ..., env: 'blue' } */
const identity = (answer: string): Record<string, string> => Object.fromEntries([...answer.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));

interface Tally {
  calls: number;
  failed: number;
  /** answers by the identity key asked for (env, host, version, zone...) */
  by: Record<string, number>;
}

/** `n` calls, 16 in flight, counted by one key of the answering provider's identity. */
async function tally(client: ProxylessClient, target: string, headers: Record<string, string>, key: string, n = CALLS): Promise<Tally> {
  const t: Tally = { calls: 0, failed: 0, by: {} };
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        next++;
        t.calls++;
        try {
          const v = identity(await client.call(target, PORT, SERVICE, 'greet', 'traffic', headers))[key] ?? 'none';
          t.by[v] = (t.by[v] ?? 0) + 1;
        } catch {
          t.failed++;
        }
      }
    }),
  );
  return t;
}

const share = (t: Tally, v: string) => (t.by[v] ?? 0) / t.calls;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Calls until one is answered, for up to two minutes: the client has its routes to `target`. */
async function firstCall(client: ProxylessClient, target: string, headers: Record<string, string>): Promise<void> {
  await waitFor(
    `a first call to ${target}`,
    () =>
      client.call(target, PORT, SERVICE, 'greet', 'warm-up', headers).then(
        () => true,
        () => false,
      ),
    120000,
    500,
  );
}

interface Outcome {
  at: number;
  ok: boolean;
  /** The answering provider's identity. */
  id?: Record<string, string>;
  error?: string;
}

/** Calls one at a time until `until` holds for an answer or `ms` pass; every outcome is timed. */
async function callsUntil(client: ProxylessClient, target: string, headers: Record<string, string>, until: (id: Record<string, string>) => boolean, ms: number): Promise<Outcome[]> {
  const log: Outcome[] = [];
  const start = Date.now();
  while (Date.now() - start < ms) {
    try {
      const id = identity(await client.call(target, PORT, SERVICE, 'greet', 'traffic', headers, 2000));
      log.push({ at: Date.now(), ok: true, id });
      if (until(id)) break;
    } catch (err) {
      log.push({ at: Date.now(), ok: false, error: String((err as Error).message) });
      await sleep(20);
    }
  }
  return log;
}

/** Calls one after another, without pause, until stop(); every outcome timed, in order. */
function callWithoutPause(client: ProxylessClient, target: string, headers: Record<string, string>) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      outcomes.push(
        await client.call(target, PORT, SERVICE, 'greet', 'calling', headers, 2000).then(
          (answer) => ({ at: Date.now(), ok: true, id: identity(answer) }),
          (err: Error) => ({ at: Date.now(), ok: false, error: err.message }),
        ),
      );
    }
  })();
  return {
    outcomes,
    stop: async (): Promise<Outcome[]> => {
      stopped = true;
      await running;
      return outcomes;
    },
  };
}

/**
 * Takes a provider host offline in ZooKeeper: its registrations go and it keeps serving, as
 * Dubbo's QoS "offline" does in a preStop hook. Returns how many registrations went.
 */
async function takeOffline(writer: ZkWriter, providerHost: string): Promise<number> {
  const dir = `/dubbo/${SERVICE}/providers`;
  const gone = (await writer.children(dir)).filter((n) => decodeURIComponent(n).includes(`://${providerHost}:`));
  for (const n of gone) await writer.remove(`${dir}/${n}`);
  return gone.length;
}

const results: { scenario: string; expected: string; observed: string }[] = [];
const note = (scenario: string, expected: string, observed: string) => results.push({ scenario, expected, observed });

let splitChart: { windows: { atMs: number; blue: number }[]; changedAtMs: number } | undefined;

/** The blue share of each window of 100 calls over time, with the moment the weights changed. */
function splitSvg(c: NonNullable<typeof splitChart>): string {
  const W = 640;
  const H = 220;
  const pad = 40;
  const end = Math.max(...c.windows.map((w) => w.atMs), 1);
  const x = (ms: number) => (pad + (ms / end) * (W - 2 * pad)).toFixed(1);
  const y = (share: number) => (H - pad - share * (H - 2 * pad)).toFixed(1);
  const points = c.windows.map((w) => `${x(w.atMs)},${y(w.blue)}`).join(' ');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${pad}" y1="${y(0)}" x2="${W - pad}" y2="${y(0)}" stroke="#999"/><line x1="${pad}" y1="${y(0)}" x2="${pad}" y2="${y(1)}" stroke="#999"/>`,
    ...[0, 0.1, 0.5, 0.9, 1].map((v) => `<text x="${pad - 6}" y="${y(v)}" text-anchor="end" dy="4">${v * 100}%</text>`),
    `<line x1="${x(c.changedAtMs)}" y1="${y(0)}" x2="${x(c.changedAtMs)}" y2="${y(1)}" stroke="#c33" stroke-dasharray="4 3"/>`,
    `<text x="${x(c.changedAtMs)}" y="${pad - 8}" text-anchor="middle" fill="#c33">weights written: 90/10 to 10/90</text>`,
    `<polyline points="${points}" fill="none" stroke="#2a6fdb" stroke-width="2"/>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">seconds (${(end / 1000).toFixed(1)} s shown); each point is a window of 100 calls in cluster A: share answered by blue</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The figures of every scenario, as a table: .cache/traffic/results.md, and docs/traffic.md when asked. */
afterAll(() => {
  const table = ['| scenario | expected | observed |', '|---|---|---|', ...results.map((r) => `| ${r.scenario} | ${r.expected} | ${r.observed} |`)].join('\n');
  const out = path.resolve(__dirname, '../../.cache/traffic');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'results.md'), table + '\n');
  if (splitChart) writeFileSync(path.join(out, 'traffic-split.svg'), splitSvg(splitChart));
  if (process.env.UPDATE_TRAFFIC_DOC === '1') {
    const doc = path.resolve(__dirname, '../../docs/traffic.md');
    const text = readFileSync(doc, 'utf8');
    const begin = '<!-- results: begin -->';
    const end = '<!-- results: end -->';
    writeFileSync(doc, text.slice(0, text.indexOf(begin) + begin.length) + `\n${table}\n` + text.slice(text.indexOf(end)));
    if (splitChart) writeFileSync(path.resolve(__dirname, '../../docs/traffic-split.svg'), splitSvg(splitChart));
  }
});
describe('traffic through two real istiods to real Dubbo Triple providers', () => {
  const stack = suiteStack();
  let writer: ZkWriter;
  const providers: Record<string, DubboProvider> = {};
  let istiodA: Istiod;
  let istiodB: Istiod;
  /** Clients in cluster A, zone-a; in cluster B, zone-a; in cluster A, zone-b. */
  let inA: ProxylessClient;
  let inB: ProxylessClient;
  let inAZoneB: ProxylessClient;

  beforeAll(async () => {
    const zk = await stack.zookeeper();
    writer = await stack.zkWriter(zk.connect);
    await writer.put(SPLIT, split(90, 10));
    await writer.put(ZONES, zones);
    const registry = `zookeeper://${zk.connect}?session=${SESSION_MS}`;
    const [h1, h2, h3, h4, h5] = testHosts();
    const provider = async (name: string, h: string, services: string[], params: Record<string, string>, tag?: string) => {
      const tri = await freePort();
      providers[name] = stack.own(
        `provider ${name}`,
        new DubboProvider({ registry, host: h, protocols: [`tri:${tri}`], services, registerMode: 'interface', application: `greeting-${name}`, params, tag }),
        (p) => p.destroy(),
      );
    };
    // One JVM exports several services (version:group), each scenario its own group.
    await provider('blue-a', h1, ['1.0.0:split', '1.0.0', '1.0.0:zone'], { env: 'blue', region: 'r1', zone: 'zone-a' });
    await provider('green-b', h2, ['1.0.0:split', '2.0.0', '1.0.0:zone'], { env: 'green', region: 'r1', zone: 'zone-b' });
    await provider('gray', h3, ['1.0.0:tag'], { role: 'gray' }, 'gray');
    await provider('plain', h4, ['1.0.0:tag', '1.0.0:life'], { role: 'plain' });
    await provider('doomed', h5, ['1.0.0:life'], { role: 'doomed' });
    await Promise.all(Object.values(providers).map((p) => p.start()));
    const started = await stack.daemon({
      sources: [zkSource(zk.connect)],
      rules: { sources: [zkRuleSource(zk.connect)] },
      clusters: [
        { name: 'a', listener: { port: 0 } },
        { name: 'b', listener: { port: 0 } },
      ],
      render: { endpointMode: 'inline' },
      protection: { massRemoval: { threshold: 0.9, minEndpoints: 100 } },
    });
    const view = (c: string) => `xds://${started.viewAddress(c)}`;
    istiodA = await stack.istiod({ configSources: [view('a')] });
    istiodB = await stack.istiod({ configSources: [view('b')] });
    inA = stack.own('client', new ProxylessClient(istiodA.xdsAddress, { ip: '127.0.0.1', name: 'client-a', locality: { region: 'r1', zone: 'zone-a' } }), (c) => c.close());
    inB = stack.own('client', new ProxylessClient(istiodB.xdsAddress, { ip: '127.0.0.1', name: 'client-b', locality: { region: 'r1', zone: 'zone-a' } }), (c) => c.close());
    inAZoneB = stack.own('client', new ProxylessClient(istiodA.xdsAddress, { ip: '127.0.0.1', name: 'client-a2', locality: { region: 'r1', zone: 'zone-b' } }), (c) => c.close());
    // Every client reaches every host it will call before the measurements start.
    for (const [c, target, h] of [
      [inA, host('1.0.0', 'split'), triHeaders('1.0.0', 'split')],
      [inB, host('1.0.0', 'split'), triHeaders('1.0.0', 'split')],
      [inA, host('1.0.0'), triHeaders('1.0.0')],
      [inA, host('2.0.0'), triHeaders('2.0.0')],
      [inA, host('1.0.0', 'tag'), triHeaders('1.0.0', 'tag')],
      [inA, host('1.0.0', 'zone'), triHeaders('1.0.0', 'zone')],
      [inAZoneB, host('1.0.0', 'zone'), triHeaders('1.0.0', 'zone')],
      [inA, host('1.0.0', 'life'), triHeaders('1.0.0', 'life')],
    ] as const)
      await firstCall(c, target, h);
  });

  it('splits blue/green 90/10 in cluster A and 10/90 in cluster B, from one TrafficPolicy', async () => {
    const a = await tally(inA, host('1.0.0', 'split'), triHeaders('1.0.0', 'split'), 'env');
    const b = await tally(inB, host('1.0.0', 'split'), triHeaders('1.0.0', 'split'), 'env');
    note('blue/green split, cluster A', `90% blue (±${TOLERANCE * 100} points), no failed call`, `${pct(share(a, 'blue'))} blue of ${a.calls}, ${a.failed} failed`);
    note('blue/green split, cluster B', `10% blue (±${TOLERANCE * 100} points), no failed call`, `${pct(share(b, 'blue'))} blue of ${b.calls}, ${b.failed} failed`);
    expect(a.failed + b.failed).toBe(0);
    expect(Math.abs(share(a, 'blue') - 0.9)).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(share(b, 'blue') - 0.1)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('moves the split in cluster A when the weights change in the config center, and only there', async () => {
    // Windows of 100 calls in cluster A, before and after the change: the chart in docs/traffic.md.
    const windows: { atMs: number; blue: number }[] = [];
    const window = async (t0: number) => {
      const w = await tally(inA, host('1.0.0', 'split'), triHeaders('1.0.0', 'split'), 'env', 100);
      windows.push({ atMs: Date.now() - t0, blue: share(w, 'blue') });
      return w;
    };
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) await window(t0);
    const written = Date.now();
    await writer.put(SPLIT, split(10, 10));
    // Until a window has at most 30% blue: the routes have moved.
    let movedAt = 0;
    while (!movedAt && Date.now() - written < 60000) if (share(await window(t0), 'blue') <= 0.3) movedAt = Date.now();
    expect(movedAt).toBeGreaterThan(0);
    while (Date.now() - movedAt < 1500) await window(t0);
    splitChart = { windows, changedAtMs: written - t0 };
    const a = await tally(inA, host('1.0.0', 'split'), triHeaders('1.0.0', 'split'), 'env');
    const b = await tally(inB, host('1.0.0', 'split'), triHeaders('1.0.0', 'split'), 'env');
    note(
      'weights changed for cluster A (90/10 to 10/90)',
      'A follows within the debounce plus istiod push; B unchanged',
      `A moved within ${((movedAt - written) / 1000).toFixed(2)} s (the first window of 100 calls with at most 30% blue); then A ${pct(share(a, 'blue'))} blue, B ${pct(share(b, 'blue'))} blue`,
    );
    expect(Math.abs(share(a, 'blue') - 0.1)).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(share(b, 'blue') - 0.1)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('isolates versions: a 2.0.0 client never reaches a 1.0.0 provider, nor the reverse', async () => {
    const v1 = await tally(inA, host('1.0.0'), triHeaders('1.0.0'), 'version');
    const v2 = await tally(inA, host('2.0.0'), triHeaders('2.0.0'), 'version');
    note('version isolation, 1.0.0 host', 'every call answered by 1.0.0', JSON.stringify(v1.by) + `, ${v1.failed} failed`);
    note('version isolation, 2.0.0 host', 'every call answered by 2.0.0', JSON.stringify(v2.by) + `, ${v2.failed} failed`);
    expect(v1.by).toEqual({ '1.0.0': CALLS });
    expect(v2.by).toEqual({ '2.0.0': CALLS });
  });

  it('routes by tag: tagged calls to the tag, untagged never to a tagged provider, an unknown tag falls back', async () => {
    const target = host('1.0.0', 'tag');
    const gray = await tally(inA, target, { ...triHeaders('1.0.0', 'tag'), 'dubbo.tag': 'gray' }, 'role');
    const none = await tally(inA, target, triHeaders('1.0.0', 'tag'), 'role');
    const unknown = await tally(inA, target, { ...triHeaders('1.0.0', 'tag'), 'dubbo.tag': 'nobody' }, 'role');
    note('tag route, header dubbo.tag: gray', 'every call to the gray provider', JSON.stringify(gray.by));
    note('tag route, no tag', 'never the gray provider', JSON.stringify(none.by));
    note('tag route, a tag no provider has (not forced)', 'falls back to untagged providers, as Dubbo', JSON.stringify(unknown.by));
    expect(gray.by).toEqual({ gray: CALLS });
    expect(none.by).toEqual({ plain: CALLS });
    expect(unknown.by).toEqual({ plain: CALLS });
  });

  it('keeps calls in the caller zone while it has providers', async () => {
    const za = await tally(inA, host('1.0.0', 'zone'), triHeaders('1.0.0', 'zone'), 'zone');
    const zb = await tally(inAZoneB, host('1.0.0', 'zone'), triHeaders('1.0.0', 'zone'), 'zone');
    note('zone affinity, client in zone-a', 'every call to zone-a', JSON.stringify(za.by));
    note('zone affinity, client in zone-b', 'every call to zone-b', JSON.stringify(zb.by));
    expect(za.by).toEqual({ 'zone-a': CALLS });
    expect(zb.by).toEqual({ 'zone-b': CALLS });
  });

  it('recovers when a provider is killed: calls fail only until the session timeout plus the push', async () => {
    const target = host('1.0.0', 'life');
    const h = triHeaders('1.0.0', 'life');
    const calls = callWithoutPause(inA, target, h);
    await sleep(500);
    const killed = Date.now();
    providers.doomed.kill();
    // When istiod no longer has its endpoint: the ZooKeeper session timeout, then the adapter's push.
    const doomed = providers.doomed.opts.host;
    const inIstiod = async () =>
      (await istiodA.configz()).some(
        (o) => o.kind === 'ServiceEntry' && (o.spec.hosts as string[])[0] === target && ((o.spec.endpoints ?? []) as { address: string }[]).some((e) => e.address === doomed),
      );
    expect(await inIstiod()).toBe(true);
    await waitFor('the endpoint withdrawn in istiod', async () => !(await inIstiod()), 60000, 100);
    const withdrawnMs = Date.now() - killed;
    await sleep(2000);
    const outcomes = await calls.stop();
    const failures = outcomes.filter((o) => !o.ok);
    const lastFailure = failures.length ? failures[failures.length - 1].at - killed : 0;
    note(
      'a provider killed (SIGKILL) while a client calls',
      `calls recover within the ZooKeeper session (${SESSION_MS / 1000} s) plus the push`,
      (failures.length
        ? `${failures.length} of ${outcomes.length} calls failed, the last ${(lastFailure / 1000).toFixed(2)} s after the kill`
        : `none of ${outcomes.length} calls failed: the kernel reset the dead JVM's connections, and gRPC stopped picking it at once, before its endpoint was withdrawn`) +
        `; istiod dropped the endpoint ${(withdrawnMs / 1000).toFixed(2)} s after the kill`,
    );
    expect(withdrawnMs).toBeLessThan(SESSION_MS + 5000);
    expect(lastFailure).toBeLessThan(SESSION_MS + 5000);
    const after = await tally(inA, target, h, 'role', 200);
    expect(after).toMatchObject({ failed: 0, by: { plain: 200 } });
  });

  it('a provider that is taken offline before it stops costs no call, and its zone fails over to the next', async () => {
    const target = host('1.0.0', 'zone');
    const h = triHeaders('1.0.0', 'zone');
    const started = Date.now();
    expect(await takeOffline(writer, providers['blue-a'].opts.host)).toBeGreaterThan(0);
    const log = await callsUntil(inA, target, h, (id) => id.zone === 'zone-b', 60000);
    const moved = log[log.length - 1];
    await providers['blue-a'].destroy(); // then SIGTERM
    const after = await tally(inA, target, h, 'zone', 500);
    const errors = log.filter((l) => l.error).map((l) => l.error);
    const failed = errors.length + after.failed;
    note(
      'a provider taken offline (its registrations removed, as Dubbo QoS offline in a preStop) while a zone-a client calls, then stopped; zone-a is left empty',
      'no failed call; the client fails over to zone-b',
      `${failed} failed${errors.length ? ` (${[...new Set(errors)].join('; ')})` : ''}; calls in zone-b ${((moved.at - started) / 1000).toFixed(2)} s after the deregistration; after the stop ${JSON.stringify(after.by)}`,
    );
    expect(failed).toBe(0);
    expect(after.by).toEqual({ 'zone-b': 500 });
  });
});

describe('registry migration with traffic: providers move from ZooKeeper to Nacos one by one', () => {
  const stack = suiteStack();

  it('loses no call while every provider moves', async () => {
    const zk = await stack.zookeeper();
    const nacos = await stack.nacos();
    const hosts = testHosts().slice(8, 12);
    const provider = async (registry: string, h: string, from: string) =>
      stack.own(
        `provider ${h}`,
        new DubboProvider({ registry, host: h, protocols: [`tri:${await freePort()}`], services: ['1.0.0:move'], registerMode: 'interface', application: 'greeting-move', params: { from } }),
        (p) => p.destroy(),
      );
    const inZk = await Promise.all(hosts.slice(0, 2).map((h) => provider(`zookeeper://${zk.connect}?session=${SESSION_MS}`, h, 'zookeeper')));
    await Promise.all(inZk.map((p) => p.start()));
    const started = await stack.daemon({
      sources: [zkSource(zk.connect), { name: 'nacos', type: 'nacos', nacos: { serverAddr: nacos.address } }],
      render: { endpointMode: 'inline' },
      protection: { massRemoval: { threshold: 0.9, minEndpoints: 100 } },
    });
    const istiod = await stack.istiod({ configSources: [`xds://${started.xdsAddress}`] });
    const client = stack.own('client', new ProxylessClient(istiod.xdsAddress, { ip: '127.0.0.1', name: 'client-m' }), (c) => c.close());
    const target = host('1.0.0', 'move');
    const h = triHeaders('1.0.0', 'move');
    await firstCall(client, target, h);

    const calls = callWithoutPause(client, target, h);
    const { outcomes } = calls;
    const began = Date.now();
    // One by one: the provider starts in Nacos; its ZooKeeper twin is taken offline (its
    // registrations removed, as Dubbo's QoS offline does), and stopped once no call reaches it.
    const writer = await stack.zkWriter(zk.connect);
    for (let i = 0; i < 2; i++) {
      const moved = await provider(`nacos://${nacos.address}`, hosts[2 + i], 'nacos');
      await moved.start();
      await waitFor('the new provider is called', () => outcomes.slice(-50).some((o) => o.id?.host === hosts[2 + i]), 60000, 100);
      await takeOffline(writer, hosts[i]);
      const offlineAt = outcomes.length;
      await waitFor('no call reaches the old provider', () => outcomes.length - offlineAt > 100 && outcomes.slice(-100).every((o) => o.id?.host !== hosts[i]), 60000, 100);
      await inZk[i].destroy();
    }
    await sleep(2000);
    await calls.stop();
    const failed = outcomes.filter((o) => !o.ok).length;
    const errors = [...new Set(outcomes.filter((o) => o.error).map((o) => o.error))];
    const tail = outcomes.slice(-200);
    note(
      'registry migration: 2 providers move from ZooKeeper to Nacos one by one (both sources configured; each old provider taken offline, then stopped)',
      'no failed call; in the end every call to a Nacos provider',
      `${failed} of ${outcomes.length} calls failed${errors.length ? ` (${errors.join('; ')})` : ''} over ${((Date.now() - began) / 1000).toFixed(1)} s; the last 200 calls: ${JSON.stringify(tail.reduce<Record<string, number>>((m, o) => ((m[o.id?.from ?? 'failed'] = (m[o.id?.from ?? 'failed'] ?? 0) + 1), m), {}))}`,
    );
    expect(failed).toBe(0);
    expect(tail.every((o) => o.id?.from === 'nacos')).toBe(true);
  });
});
