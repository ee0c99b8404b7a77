import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Pipeline } from '../../src/daemon/pipeline';
import type { IstioObject } from '../../src/istio/types';
import { Catalog } from '../../src/model/catalog';
import { RuleStore } from '../../src/rules/store';
import { documentName } from '../../src/registry/types';
import { dubbo3Fixture, testConfig, urls, zkInstances } from '../testbed/config';
import { prng } from '../testbed/random';

jest.setTimeout(300_000);

/** istiod's own validation (test/servers/istiod/validate), built with istiod. */
const ISTIO_VALIDATE = path.resolve(__dirname, '../../.cache/istiod/bin/istio-validate');
const URLS = 100_000;
const INSTANCES = 20_000;

const rnd = prng(20261204);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const junk = () => pick(['', ' ', '%', '/', '..', '-', '_', '\u00e9', '\u4e2d', '$', '*', ':', '@', '#', '&', '=', 'x'.repeat(300), '\u0000']);

const PROTOCOLS = ['dubbo', 'dubbo', 'dubbo', 'tri', 'tri', 'grpc', 'rest', 'http', 'DUBBO', 'injvm', ''];
const hostPart = () =>
  pick([
    () => `10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
    () => `[2001:db8::${Math.floor(rnd() * 65536).toString(16)}]`,
    () => pick(['[2001:db8:::1]', '999.999.999.999', '10.0.0', '10.0.0.1.2', '0.0.0.0', '255.255.255.255', '[fe80::1%25eth0]', '[::ffff:10.0.0.1]', '[::]', '01.02.03.04', '']),
    () => pick(['provider-7.example.internal', 'localhost', 'Provider_1', 'a'.repeat(300)]),
  ])();
const portPart = () => pick([() => String(20880 + Math.floor(rnd() * 100)), () => pick(['0', '65535', '65536', '-1', 'x', '', '020880', '99999999999'])])();
const ifacePart = () =>
  pick([
    () => `com.example.app${Math.floor(rnd() * 300)}.Service${Math.floor(rnd() * 5)}`,
    () => `com.example.CaseTwin${pick(['', 'S'])}ervice`.replace('TwinS', pick(['TwinS', 'twins', 'TWINS'])),
    () => pick(['com.foo.1', '1.2', 'a..b', '.a', 'a.', 'a.b_c', 'a.b-c', 'Foo', 'x'.repeat(300) + '.Y', 'com.example.Svc' + junk()]),
  ])();
const valuePart = () => pick([() => pick(['1.0.0', '2.0.0', '1.0', 'v1', '1_0', '1-0', 'latest', '0']), () => '', () => junk(), () => `v${Math.floor(rnd() * 5)}${junk()}`])();
const weightPart = () => pick(['100', '0', '-1', '2147483647', '2147483648', '4294967296', '1e10', 'abc', '1.5', '']);

function providerUrl(): { iface: string; url: string } {
  const iface = ifacePart();
  const params: string[] = [`interface=${encodeURIComponent(iface)}`, 'side=provider', `timestamp=${1700000000000 + Math.floor(rnd() * 1e6)}`];
  const optional: [number, () => string][] = [
    [0.6, () => `application=${encodeURIComponent(pick(['shop', 'orders', junk()]))}`],
    [0.5, () => `version=${encodeURIComponent(valuePart())}`],
    [0.2, () => `group=${encodeURIComponent(valuePart())}`],
    [0.3, () => `weight=${weightPart()}`],
    [0.4, () => `env=${encodeURIComponent(pick(['blue', 'green', junk()]))}`],
    [0.15, () => `dubbo.tag=${encodeURIComponent(pick(['gray', 'canary', junk()]))}`],
    [0.3, () => `region=${encodeURIComponent(pick(['cn-hangzhou', '', junk()]))}`],
    [0.3, () => `zone=${encodeURIComponent(pick(['zone-a', '/', junk()]))}`],
    [0.1, () => `idc=${encodeURIComponent(pick(['idc-7', junk()]))}`],
    [0.1, () => 'mesh=true'],
    [0.05, () => `category=${pick(['providers', 'consumers', 'routers'])}`],
    [0.05, () => `enabled=${pick(['true', 'false'])}`],
  ];
  for (const [p, f] of optional) if (rnd() < p) params.push(f());
  let url = `${pick(PROTOCOLS)}://${hostPart()}:${portPart()}/${iface}?${params.join('&')}`;
  // A few raw mutations, where parsers meet what no generator thought of.
  for (let i = rnd() < 0.3 ? 1 + Math.floor(rnd() * 3) : 0; i > 0; i--) {
    const at = Math.floor(rnd() * url.length);
    const op = rnd();
    url = op < 0.33 ? url.slice(0, at) + url.slice(at + 1) : op < 0.66 ? url.slice(0, at) + junk() + url.slice(at) : url.slice(0, at) + url[Math.floor(rnd() * url.length)] + url.slice(at + 1);
  }
  return { iface, url: rnd() < 0.5 ? encodeURIComponent(url) : url };
}

/** An application-level instance of the shop fixture with its address, port, labels and endpoints mutated. */
function instance(template: Record<string, unknown>, i: number): string {
  const inst = structuredClone(template) as { address: string; port: number | string; id: string; payload: { metadata: Record<string, string> } };
  inst.address = rnd() < 0.7 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : hostPart().replace(/^\[|\]$/g, '');
  inst.port = rnd() < 0.8 ? 20880 : pick([0, 65536, -1, 'x', 1e10]);
  inst.id = `${inst.address}:${inst.port}`;
  const md = inst.payload.metadata;
  if (rnd() < 0.4) md.env = valuePart();
  if (rnd() < 0.3) md.zone = valuePart();
  if (rnd() < 0.2)
    md['dubbo.endpoints'] = JSON.stringify([
      { port: pick([20880, 0, 70000, 'x']), protocol: pick(PROTOCOLS) },
      { port: pick([50051, -5]), protocol: 'tri' },
    ]);
  if (rnd() < 0.1) md['dubbo.endpoints'] = junk();
  let text = JSON.stringify(inst);
  if (rnd() < 0.1) {
    const at = Math.floor(rnd() * text.length);
    text = text.slice(0, at) + junk() + text.slice(at + 1);
  }
  return text;
}

/** Runs the estate through the pipeline in one endpoint mode; returns what a view serves and what our validation held back. */
function serve(endpointMode: 'inline' | 'workloadentry', byIface: Map<string, string[]>, instances: string[]) {
  const fx = dubbo3Fixture();
  const config = testConfig({ render: { endpointMode } });
  const catalog = new Catalog(config.mapping, config.protection, ['zk'], { rejected: () => {}, warning: () => {} }, config.render.emptyServiceGraceMs);
  const invalid: { object: IstioObject; problems: string[] }[] = [];
  const unencodable: string[] = [];
  const pipeline = new Pipeline(config, catalog, new RuleStore(['config'], { rejected: () => {}, changed: () => {} }), {
    builder: () => ({ unencodable: (_k, name, e) => unencodable.push(`${name}: ${e.message}`) }),
    invalid: (_c, object, problems) => invalid.push({ object, problems }),
    noVirtualAddress: () => {},
  });
  for (const [iface, entries] of byIface) catalog.setService('zk', iface, urls(entries));
  const rev = Object.keys(fx.shop.applicationLevel).find((k) => k.startsWith('/dubbo/metadata/'))!;
  catalog.setDocument('zk', documentName.metadata('shop-provider', rev.split('/').pop()!), fx.shop.applicationLevel[rev]);
  catalog.setService('zk', 'app:shop-provider', zkInstances(instances));
  pipeline.run(1_700_000_000_000);
  return { served: pipeline.objects(config.clusters[0].name), invalid, unencodable };
}

function istiodRefuses(objects: IstioObject[]): { name: string; kind: string; error: string }[] {
  if (objects.length === 0) return [];
  const input = objects.map((o) => JSON.stringify({ kind: o.kind, name: o.name, namespace: o.namespace, labels: o.labels, annotations: o.annotations, spec: o.spec })).join('\n') + '\n';
  const r = spawnSync(ISTIO_VALIDATE, { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`istio-validate failed: ${r.stderr}`);
  const results = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; kind: string; error: string });
  expect(results).toHaveLength(objects.length);
  return results.filter((x) => x.error);
}

describe(`${URLS.toLocaleString('en')} fuzzed provider URLs and ${INSTANCES.toLocaleString('en')} application-level instances`, () => {
  const byIface = new Map<string, string[]>();
  for (let i = 0; i < URLS; i++) {
    const { iface, url } = providerUrl();
    const list = byIface.get(iface) ?? [];
    list.push(url);
    byIface.set(iface, list);
  }
  const fx = dubbo3Fixture();
  const template = JSON.parse(fx.shop.applicationLevel['/services/shop-provider/10.20.0.1:20880']) as Record<string, unknown>;
  const instances = Array.from({ length: INSTANCES }, (_, i) => instance(template, i));

  it.each(['inline', 'workloadentry'] as const)('%s: istiod accepts every object served, and only a bad service identity ever holds an object back', (mode) => {
    const { served, invalid, unencodable } = serve(mode, byIface, instances);
    const count = (kind: string) => served.filter((o) => o.kind === kind).length;
    console.log(
      `${mode}: served ${count('ServiceEntry')} ServiceEntries, ${count('WorkloadEntry')} WorkloadEntries, ${count('DestinationRule')} DestinationRules, ${count('VirtualService')} VirtualServices; held back ${invalid.length}`,
    );
    expect(count('ServiceEntry')).toBeGreaterThan(500);
    expect(count('VirtualService')).toBeGreaterThan(50);
    expect(unencodable).toEqual([]);
    expect(istiodRefuses(served)).toEqual([]);
    // What our own validation held back: never an endpoint's fault (one bad provider would then
    // take its service down), only a host istiod would refuse for the whole service.
    const notHost = invalid.filter((x) => x.problems.some((p) => !/^host "[^"]*" (ends in an all-numeric label|is not a DNS-1123 subdomain)$/.test(p)));
    expect(notHost.map((x) => `${x.object.kind} ${x.object.name}: ${x.problems[0]}`).slice(0, 5)).toEqual([]);
    // And istiod refuses those as well: our validation is no stricter than istiod's.
    expect(istiodRefuses(invalid.map((x) => x.object))).toHaveLength(invalid.length);
  });
});
