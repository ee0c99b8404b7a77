import yaml from 'js-yaml';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderService, type RenderSettings } from '../../src/istio/render';
import { toManifest } from '../../src/istio/manifest';
import { validateObject } from '../../src/istio/kinds';
import { isDns1123Label, labelValue, objectName, hostFromTemplate } from '../../src/istio/names';
import { Catalog, type CatalogService } from '../../src/model/catalog';
import { parseProvidersFile } from '../../src/registry/file';
import { fixtureProviderEntries, testConfig, urlServices } from '../testbed/config';

const cfg = testConfig();
const view = cfg.clusters[0];
const settings = { mapping: cfg.mapping, render: cfg.render };

function servicesFrom(entries: Map<string, string[]>, c = cfg): CatalogService[] {
  const cat = new Catalog(
    c.mapping,
    c.protection,
    ['s'],
    {
      rejected: (_s, e, r) => {
        throw new Error(`${e}: ${r}`);
      },
      warning: () => {},
    },
    1000,
  );
  cat.replaceAll('s', urlServices(entries));
  cat.commit(1_700_000_000_000);
  return [...cat.serviceIds()].sort().map((id) => cat.service(id)!);
}

const example = (): Map<string, string[]> => {
  const r = parseProvidersFile(readFileSync(path.resolve(__dirname, '../../config/providers.yaml'), 'utf8'));
  if ('error' in r) throw new Error(r.error);
  return r.services;
};

describe('names and labels from hostile input', () => {
  it('are made in linear time: a 200,000-character run of separators is no stall', () => {
    const run = '-'.repeat(200_000);
    expect(labelValue(`a${run}b`)).toMatch(/^a-[0-9a-f]{10}$/);
    expect(labelValue(`${'_'.repeat(200_000)}!`)).toMatch(/^[0-9a-f]{10}$/);
    expect(hostFromTemplate('{group}.{interface}', { group: `g${run}x`, interface: 'a.B' })).toMatch(/^g-[0-9a-f]{10}\.a\.b$/);
  });
});

describe('renderService', () => {
  it('renders the example providers exactly as the reviewed golden file', () => {
    const docs = servicesFrom(example())
      .flatMap((s) => renderService(s, settings, view))
      .map(toManifest);
    const text = docs.map((d) => yaml.dump(d, { lineWidth: 200 })).join('---\n');
    const golden = path.resolve(__dirname, '../golden/example-workloadentry.yaml');
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });

  it('produces only valid objects for every fixture URL', () => {
    const byIface = new Map<string, string[]>();
    for (const e of fixtureProviderEntries()) {
      const iface = /interface%3D([^%]+)/.exec(e)![1];
      byIface.set(iface, [...(byIface.get(iface) ?? []), e]);
    }
    const objs = servicesFrom(byIface).flatMap((s) => renderService(s, settings, view));
    expect(objs.filter((o) => o.kind === 'WorkloadEntry')).toHaveLength(4);
    for (const o of objs) expect(validateObject(o)).toEqual([]);
  });

  it('is deterministic: same input, same objects and versions', () => {
    const a = servicesFrom(example()).flatMap((s) => renderService(s, settings, view));
    const b = servicesFrom(example()).flatMap((s) => renderService(s, settings, view));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('never changes the ServiceEntry when only endpoints churn (workloadentry mode)', () => {
    const one = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B?application=x']]]));
    const two = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B?application=x', 'dubbo://10.0.0.2:20881/a.B?application=x&weight=5']]]));
    const se = (s: CatalogService[]) => renderService(s[0], settings, view).find((o) => o.kind === 'ServiceEntry')!;
    expect(se(two).version).toBe(se(one).version);
  });

  it("keeps Dubbo version off Istio's version label, and volatile parameters off labels", () => {
    const [svc] = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B?version=1.2.3&pid=77&timestamp=1700000000000&application=x']]]));
    const we = renderService(svc, settings, view).find((o) => o.kind === 'WorkloadEntry')!;
    expect(we.spec.labels).toEqual({ app: 'x', 'dubbo.version': '1.2.3', 'dubbo.apache.org/meshed': 'false', 'dubbo.apache.org/service': '1-2-3-a-b' });
    expect(we.name).toBe('1-2-3-a-b-10-0-0-1-20880');
  });

  it('gives each protocol of a service its own ServiceEntry for the one host, in either mode, so no endpoint is on a port it did not register', () => {
    const inline = testConfig({ render: { endpointMode: 'inline' } });
    const u = (protocol: string, ip: string, port: number) => `${protocol}://${ip}:${port}/a.Multi?application=m&interface=a.Multi`;
    const [svc] = servicesFrom(new Map([['a.Multi', [u('dubbo', '10.0.0.1', 20880), u('tri', '10.0.0.2', 50051), u('dubbo', '10.0.0.3', 20890), u('tri', '10.0.0.3', 50061)]]]), inline);
    const entries = renderService(svc, { mapping: inline.mapping, render: inline.render }, view);
    expect(
      entries.map((o) => [
        o.kind,
        o.name,
        o.spec.hosts,
        (o.spec.ports as { name: string }[]).map((p) => p.name),
        (o.spec.endpoints as { address: string; ports: Record<string, number> }[]).map((e) => `${e.address} ${JSON.stringify(e.ports)}`),
      ]),
    ).toEqual([
      ['ServiceEntry', 'a-multi', ['a.multi'], ['tcp-dubbo'], ['10.0.0.1 {"tcp-dubbo":20880}', '10.0.0.3 {"tcp-dubbo":20890}']],
      ['ServiceEntry', expect.stringMatching(/^a-multi-grpc-tri-[0-9a-f]{10}$/), ['a.multi'], ['grpc-tri'], ['10.0.0.2 {"grpc-tri":50051}', '10.0.0.3 {"grpc-tri":50061}']],
    ]);
    for (const o of entries) expect(validateObject(o)).toEqual([]);
    // workloadentry mode renders such a service inline too (istiod keeps one selector-based entry per host).
    const [we] = servicesFrom(new Map([['a.Multi', [u('dubbo', '10.0.0.1', 20880), u('tri', '10.0.0.2', 50051)]]]));
    const objs = renderService(we, settings, view);
    expect(objs.map((o) => o.kind)).toEqual(['ServiceEntry', 'ServiceEntry']);
    expect(objs.map((o) => (o.spec.endpoints as { address: string }[]).map((e) => e.address))).toEqual([['10.0.0.1'], ['10.0.0.2']]);
  });

  it('renders endpoints inline in inline mode, with the same endpoint content', () => {
    const inline = testConfig({ render: { endpointMode: 'inline' } });
    const svcs = servicesFrom(example(), inline);
    const objs = svcs.flatMap((s) => renderService(s, { mapping: inline.mapping, render: inline.render }, view));
    expect(objs.every((o) => o.kind === 'ServiceEntry')).toBe(true);
    const se = objs.find((o) => o.name === 'org-apache-dubbo-demo-demoservice')!;
    expect(se.spec.workloadSelector).toBeUndefined();
    expect(se.spec.endpoints).toEqual([
      { address: '192.168.0.114', ports: { 'tcp-dubbo': 20880 }, labels: { app: 'dubbo-demo-api-provider', 'dubbo.apache.org/meshed': 'false' }, weight: 100 },
      {
        address: '192.168.0.115',
        ports: { 'tcp-dubbo': 20882 },
        labels: { app: 'dubbo-demo-api-provider', env: 'green', 'dubbo.apache.org/meshed': 'true' },
        weight: 100,
        locality: 'cn-hangzhou/cn-hangzhou-b',
      },
    ]);
    for (const o of objs) expect(validateObject(o)).toEqual([]);
  });

  it('applies the cluster view: revision label and network', () => {
    const [svc] = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B']]]));
    const objs = renderService(svc, settings, { ...view, revision: 'canary', overrides: { network: 'net-a' } });
    expect(objs.every((o) => o.labels['istio.io/rev'] === 'canary')).toBe(true);
    expect(objs.find((o) => o.kind === 'WorkloadEntry')!.spec.network).toBe('net-a');
  });

  it('filters services and endpoints per cluster view, and applies its overrides', () => {
    const svcs = servicesFrom(
      new Map([
        ['a.Orders', ['dubbo://10.0.0.1:20880/a.Orders?env=blue&zone=z1&region=r1', 'dubbo://10.0.0.2:20880/a.Orders?env=green']],
        ['a.Stock', ['dubbo://10.0.0.3:20880/a.Stock?env=blue']],
      ]),
    );
    const east = {
      ...view,
      filter: {
        services: { matchExpressions: [{ key: 'dubbo.apache.org/interface', operator: 'In' as const, values: ['a.Orders'] }] },
        endpoints: { matchLabels: { env: 'blue' } },
      },
      overrides: { locality: 'east/east-1', labels: { 'topology.istio.io/cluster': 'east', env: 'blue-east' } },
    };
    const objs = svcs.flatMap((svc) => renderService(svc, settings, east));
    expect(objs.filter((o) => o.kind === 'ServiceEntry').map((o) => o.spec.hosts)).toEqual([['a.orders']]);
    const wes = objs.filter((o) => o.kind === 'WorkloadEntry');
    expect(wes.map((w) => w.spec.address)).toEqual(['10.0.0.1']);
    expect(wes[0].spec).toMatchObject({ locality: 'east/east-1', labels: { 'topology.istio.io/cluster': 'east', env: 'blue-east' } });
    // The same service in a view without filters or overrides is rendered from the same input.
    const all = svcs.flatMap((svc) => renderService(svc, settings, view));
    expect(all.filter((o) => o.kind === 'WorkloadEntry')).toHaveLength(3);
  });

  it('keeps a service whose endpoints the view filters out, with no endpoints', () => {
    const [svc] = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B?env=green']]]));
    const objs = renderService(svc, settings, { ...view, filter: { endpoints: { matchLabels: { env: 'blue' } } } });
    expect(objs.map((o) => o.kind)).toEqual(['ServiceEntry']);
  });

  it('matches a tag that is no valid label value by the sanitized value its endpoints carry (the fuzz suite found it)', () => {
    const [svc] = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B?dubbo.tag=%40gray', 'dubbo://10.0.0.2:20880/a.B']]]));
    const rules = { set: { rules: [] }, tagLabel: 'dubbo.tag', tagHeader: 'dubbo-tag' } as unknown as RenderSettings['rules'];
    const objs = renderService(svc, { ...settings, rules }, view);
    const vs = objs.find((o) => o.kind === 'VirtualService')!;
    const tcp = vs.spec.tcp as { match?: { sourceLabels: Record<string, string> }[] }[];
    expect(tcp[0].match![0].sourceLabels).toEqual({ 'dubbo.tag': labelValue('@gray') });
    expect(validateObject(vs)).toEqual([]);
  });

  it('uses host and namespace templates from config', () => {
    const c = testConfig({
      mapping: { hostTemplate: '{version}.{interface}.dubbo.svc', groupHostTemplate: '{version}.{group}.{interface}.dubbo.svc' },
      render: { namespace: 'mesh-dubbo', exportTo: ['.'] },
    });
    const [plain, versioned] = servicesFrom(new Map([['a.B', ['dubbo://10.0.0.1:20880/a.B', 'dubbo://10.0.0.2:20880/a.B?version=2.1']]]), c);
    const host = (svc: CatalogService) => renderService(svc, { mapping: c.mapping, render: c.render }, view)[0];
    expect(host(plain)).toMatchObject({ namespace: 'mesh-dubbo', spec: { hosts: ['a.b.dubbo.svc'], exportTo: ['.'] } });
    expect(host(versioned)).toMatchObject({ spec: { hosts: ['2.1.a.b.dubbo.svc'] } });
  });
});

describe('names', () => {
  it('keeps plain hosts readable and hashes lossy or long ones', () => {
    expect(objectName('org.apache.dubbo.demo.demoservice')).toBe('org-apache-dubbo-demo-demoservice');
    expect(objectName('a-b.c')).not.toBe(objectName('a.b-c'));
    const long = objectName('com.example.' + 'verylongpackagename.'.repeat(5) + 'userqueryservicefacade');
    expect(isDns1123Label(long)).toBe(true);
    expect(long).toMatch(/userqueryservicefacade-[0-9a-f]{10}$/);
    expect(objectName('x'.repeat(100))).toBe(objectName('x'.repeat(100)));
  });

  it('makes any string a valid label value', () => {
    expect(labelValue('demo-provider')).toBe('demo-provider');
    expect(labelValue('a b/c')).toMatch(/^a-b-c-[0-9a-f]{10}$/);
    expect(labelValue('v'.repeat(80))).toHaveLength(63);
  });

  it('builds DNS-1123 hosts from templates: no colons, lower case', () => {
    expect(hostFromTemplate('{group}.{interface}', { group: 'My_Group', interface: 'com.Foo.Bar' })).toBe('my-group.com.foo.bar');
    expect(hostFromTemplate('{interface}', { interface: 'providers:a.B:1.0:g' })).toBe('providers-a.b-1.0-g');
  });
});
