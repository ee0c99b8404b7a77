import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderService } from '../../src/istio/render';
import { validateObject } from '../../src/istio/kinds';
import { Catalog, type CatalogService } from '../../src/model/catalog';
import type { RuleSet } from '../../src/rules/model';
import { parseRuleDocument } from '../../src/rules/parse';
import { applyRules, type ServicePort } from '../../src/rules/policy';
import { RuleStore } from '../../src/rules/store';
import { encodeMcpAny } from '../../src/xds/encode';
import { FIXTURES, testConfig, urls } from '../testbed/config';

const cfg = testConfig({
  clusters: [
    { name: 'east', listener: { port: 0 } },
    { name: 'west', listener: { port: 0 } },
  ],
});
const [east, west] = cfg.clusters;
const settings = { mapping: cfg.mapping, tagLabel: 'dubbo.tag', tagHeader: 'dubbo.tag', consumerLabel: 'app' };
const HOST = 'org.apache.dubbo.demo.demoservice';
const TCP: ServicePort[] = [{ number: 20880, protocol: 'TCP', name: 'tcp-dubbo' }];
const GRPC: ServicePort[] = [{ number: 50051, protocol: 'GRPC', name: 'grpc-tri' }];

const fixture = (name: string) => readFileSync(path.join(FIXTURES, 'rules', name), 'utf8');
const origin = (document: string) => ({ source: 'zk', document });

function parse(name: string, content = fixture(name)) {
  const r = parseRuleDocument(origin(`/dubbo/config/dubbo/${name}`), name, content);
  if ('error' in r) throw new Error(r.error);
  return r;
}

function set(...docs: ReturnType<typeof parse>[]): RuleSet {
  return { version: 'test', rules: docs.flatMap((d) => d.rules), unsupported: docs.flatMap((d) => d.unsupported) };
}

/** DemoService with four providers of demo-provider: blue, green, canary and one more blue. */
function demoService(protocol = 'dubbo', port = 20880): CatalogService {
  const cat = new Catalog(
    cfg.mapping,
    cfg.protection,
    ['s'],
    {
      rejected: (_s, e, r) => {
        throw new Error(`${e}: ${r}`);
      },
      warning: () => {},
    },
    1000,
  );
  const url = (ip: string, env: string) =>
    `${protocol}://${ip}:${port}/org.apache.dubbo.demo.DemoService?application=demo-provider&interface=org.apache.dubbo.demo.DemoService&env=${env}&zone=z-${ip.slice(-1)}&timestamp=1700000000000`;
  cat.setService('s', 'demo', urls([url('10.20.0.1', 'blue'), url('10.20.0.2', 'green'), url('10.20.0.3', 'blue'), url('10.20.0.4', 'canary')]));
  cat.commit(1_700_000_000_000);
  return cat.service('org.apache.dubbo.demo.DemoService')!;
}
const ips = (eps: { address: string }[]) => eps.map((e) => e.address);

describe('Dubbo governance rules', () => {
  it('parse a service-scope configurator (disable one provider) and apply it', () => {
    const doc = parse('org.apache.dubbo.demo.DemoService::.configurators');
    expect(doc.rules).toEqual([
      expect.objectContaining({ kind: 'configurator', scope: { kind: 'service', interface: 'org.apache.dubbo.demo.DemoService' }, addresses: ['10.20.0.2:20880'], disabled: true }),
    ]);
    const p = applyRules(demoService(), HOST, TCP, set(doc), east, settings);
    expect(ips(p.endpoints)).toEqual(['10.20.0.1', '10.20.0.3', '10.20.0.4']);
    expect(p.applied[0].effect).toBe('disabled 1 endpoint(s)');
    expect(p.virtualService).toBeUndefined();
  });

  it('apply an application-scope weight, and report the consumer-side part instead of dropping it', () => {
    const doc = parse('demo-provider.configurators');
    expect(doc.unsupported).toEqual([expect.objectContaining({ what: 'configs[1]: side: consumer' })]);
    const p = applyRules(demoService(), HOST, TCP, set(doc), east, settings);
    expect(p.endpoints.map((e) => [e.address, e.weight])).toEqual([
      ['10.20.0.1', 200],
      ['10.20.0.2', 100],
      ['10.20.0.3', 100],
      ['10.20.0.4', 100],
    ]);
  });

  it('turn tag routes into labels, subsets and routes; untagged traffic goes to untagged providers', () => {
    const p = applyRules(demoService(), HOST, TCP, set(parse('demo-provider.tag-router')), east, settings);
    expect(p.endpoints.map((e) => [e.address, e.labels['dubbo.tag']])).toEqual([
      ['10.20.0.1', 'untagged'],
      ['10.20.0.2', 'untagged'],
      ['10.20.0.3', 'gray'],
      ['10.20.0.4', 'canary'],
    ]);
    expect(p.destinationRule!.subsets).toEqual([
      { name: 'tag-canary', labels: { 'dubbo.tag': 'canary' } },
      { name: 'tag-gray', labels: { 'dubbo.tag': 'gray' } },
      { name: 'untagged', labels: { 'dubbo.tag': 'untagged' } },
    ]);
    expect(p.virtualService!.tcp).toEqual([
      { match: [{ sourceLabels: { 'dubbo.tag': 'canary' } }], route: [{ destination: { host: HOST, subset: 'tag-canary' } }] },
      { match: [{ sourceLabels: { 'dubbo.tag': 'gray' } }], route: [{ destination: { host: HOST, subset: 'tag-gray' } }] },
      { route: [{ destination: { host: HOST, subset: 'untagged' } }] },
    ]);
    // gRPC consumers send the tag as a header.
    const g = applyRules(demoService('tri', 50051), HOST, GRPC, set(parse('demo-provider.tag-router')), east, settings);
    expect((g.virtualService!.http as { match?: unknown }[])[0].match).toEqual([{ headers: { 'dubbo.tag': { exact: 'canary' } } }]);
  });

  it("apply a rule keyed to one version to that version's service only (each version its own host)", () => {
    const cat = new Catalog(cfg.mapping, cfg.protection, ['s'], { rejected: () => {}, warning: () => {} }, 1000);
    const url = (ip: string, version: string) => `dubbo://${ip}:20880/org.example.GreetingService?application=greeter&interface=org.example.GreetingService&version=${version}&timestamp=1700000000000`;
    cat.setService('s', 'g', urls([url('10.30.0.1', '1.0.0'), url('10.30.0.2', '2.0.0')]));
    cat.commit(1);
    const doc = parse(
      'org.example.GreetingService:2.0.0.configurators',
      'configVersion: v3.0\nscope: service\nkey: org.example.GreetingService:2.0.0\nconfigs:\n- side: provider\n  parameters: {weight: 7}\n',
    );
    const weights = (version: string) => applyRules(cat.service(`org.example.GreetingService:${version}`)!, HOST, TCP, set(doc), east, settings);
    expect(weights('2.0.0').endpoints.map((e) => e.weight)).toEqual([7]);
    const v1 = weights('1.0.0');
    expect(v1.endpoints.map((e) => e.weight)).toEqual([100]);
    expect(v1.applied).toEqual([]);
  });

  it('evaluate a condition route v3.1 (Dubbo 3.3): weighted destinations among those that keep a provider', () => {
    // The form of Dubbo 3.3's documentation (conditions as objects with from/to and weights), on
    // this service's parameters; priority and trafficDisable are fields Dubbo 3.3's router does not read.
    const v31 = (to: string, force = false) =>
      [
        'configVersion: v3.1',
        'scope: service',
        'key: org.apache.dubbo.demo.DemoService',
        `force: ${force}`,
        'conditions:',
        '  - priority: 10',
        '    from: {match: application=bops}',
        '    trafficDisable: false',
        `    to: ${to}`,
        '',
      ].join('\n');
    const doc = parse('org.apache.dubbo.demo.DemoService.condition-router', v31('[{match: env=blue, weight: 80}, {match: env=green, weight: 20}]'));
    expect(doc.unsupported.map((u) => u.what)).toEqual(['conditions[0].priority', 'conditions[0].trafficDisable']);
    const p = applyRules(demoService(), HOST, TCP, set(doc), east, settings);
    const tcp = p.virtualService!.tcp as { match?: unknown; route: { destination: { subset?: string }; weight?: number }[] }[];
    expect(tcp[0].match).toEqual([{ sourceLabels: { app: 'bops' } }]);
    const subsets = p.destinationRule!.subsets as { name: string; labels: Record<string, string> }[];
    const members = (subset?: string) =>
      p.endpoints
        .filter((e) => Object.entries(subsets.find((x) => x.name === subset)!.labels).every(([k, v]) => e.labels[k] === v))
        .map((e) => e.address.slice(-1))
        .join(',');
    expect(tcp[0].route.map((r) => [members(r.destination.subset), r.weight]).sort()).toEqual([
      ['1,3', 80],
      ['2', 20],
    ]);
    expect(tcp[1]).toEqual({ route: [{ destination: { host: HOST } }] });
    // A destination that keeps no provider is not chosen: its weight goes to the others.
    const one = applyRules(demoService(), HOST, TCP, set(parse('x.condition-router', v31('[{match: env=blue, weight: 80}, {match: env=nosuch, weight: 20}]'))), east, settings);
    expect((one.virtualService!.tcp as { route: { weight?: number }[] }[])[0].route).toEqual([{ destination: { host: HOST, subset: expect.stringMatching(/^route-/) } }]);
    // None keeps a provider: the list as it was, unless forced; to: [] leaves none.
    expect(applyRules(demoService(), HOST, TCP, set(parse('x.condition-router', v31('[{match: env=nosuch}]'))), east, settings).virtualService).toBeUndefined();
    expect(applyRules(demoService(), HOST, TCP, set(parse('x.condition-router', v31('[]'))), east, settings).virtualService).toBeDefined();
  });

  it('refuse a v3.1 condition without from or to, as Dubbo does', () => {
    const r = parseRuleDocument(origin('x'), 'x.condition-router', 'configVersion: v3.1\nscope: service\nkey: a.B\nconditions:\n  - from: {match: application=x}\n');
    expect(r).toEqual({ error: expect.stringContaining('conditions[0] needs from and to') });
  });

  it('express condition routes Istio can express, and report each it cannot', () => {
    const doc = parse('org.apache.dubbo.demo.DemoService::.condition-router');
    expect(doc.rules).toHaveLength(3);
    const p = applyRules(demoService(), HOST, TCP, set(doc), east, settings);
    const tcp = p.virtualService!.tcp as { match?: unknown; route: { destination: { subset?: string } }[] }[];
    expect(tcp).toHaveLength(2);
    expect(tcp[0].match).toEqual([{ sourceLabels: { app: 'order-web' } }]);
    const subset = tcp[0].route[0].destination.subset!;
    const label = Object.keys((p.destinationRule!.subsets as { name: string; labels: Record<string, string> }[]).find((s) => s.name === subset)!.labels)[0];
    expect(p.endpoints.filter((e) => e.labels[label] === 'true').map((e) => e.address)).toEqual(['10.20.0.1', '10.20.0.3']);
    expect(p.notes).toEqual(
      expect.arrayContaining([
        expect.stringContaining('"method" needs a request protocol; a TCP (dubbo://) port carries no method; not applied on the TCP (dubbo://) port'),
        expect.stringContaining('the consumer\'s "host" is not visible to the mesh'),
      ]),
    );
    // On gRPC the method condition becomes a path match.
    const g = applyRules(demoService('tri', 50051), HOST, GRPC, set(doc), east, settings);
    expect((g.virtualService!.http as { match?: unknown[] }[]).map((r) => r.match)).toContainEqual([{ uri: { prefix: '/org.apache.dubbo.demo.DemoService/sayHello' } }]);
  });
});

describe('condition routes as Dubbo chains them', () => {
  /** A condition-router document for DemoService (service scope) or an application (application scope). */
  const rule = (conditions: string[], extra = '', key = 'org.apache.dubbo.demo.DemoService', scope = 'service') =>
    parse(`${key}.condition-router`, `configVersion: v3.0\nscope: ${scope}\nkey: ${key}\n${extra}conditions:\n${conditions.map((c) => `  - ${JSON.stringify(c)}`).join('\n')}\n`);
  type Route = { match?: { sourceLabels?: Record<string, string>; uri?: unknown; headers?: unknown }[]; route: { destination: { subset?: string } }[] };
  /** Which providers each route of the first port kind leads to, by source labels. */
  function outcome(p: ReturnType<typeof applyRules>, which: 'tcp' | 'http' = 'tcp') {
    const subsets = (p.destinationRule?.subsets ?? []) as { name: string; labels: Record<string, string> }[];
    const members = (subset?: string) => {
      if (!subset) return 'default';
      const labels = subsets.find((s) => s.name === subset)!.labels;
      return (
        p.endpoints
          .filter((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v))
          .map((e) => e.address.slice(-1))
          .join(',') || 'none'
      );
    };
    return ((p.virtualService?.[which] ?? []) as Route[]).map((r) => [r.match?.[0] ?? 'all', members(r.route[0].destination.subset)]);
  }

  it("chains a document's conditions: a match-all filter first no longer shadows an application's route", () => {
    // Dubbo applies each condition to the providers the previous one left (ListenableStateRouter).
    const doc = rule(['=> host != 10.20.0.4', 'application = bops => env = blue']);
    const p = applyRules(demoService(), HOST, TCP, set(doc), east, settings);
    expect(outcome(p)).toEqual([
      [{ sourceLabels: { app: 'bops' } }, '1,3'],
      ['all', '1,2,3'],
    ]);
    expect(p.notes).toEqual([]);
  });

  it('keeps the providers when a condition leaves none, unless forced; an empty then side blocks', () => {
    const loose = applyRules(demoService(), HOST, TCP, set(rule(['application = a => env = nosuch'])), east, settings);
    expect(loose.virtualService).toBeUndefined();
    const forced = applyRules(demoService(), HOST, TCP, set(rule(['application = a => env = nosuch'], 'force: true\n')), east, settings);
    expect(outcome(forced)).toEqual([
      [{ sourceLabels: { app: 'a' } }, 'none'],
      ['all', 'default'],
    ]);
    // The blocklist form from Dubbo's docs: "host = 10.20.153.10 =>" (here by application).
    const block = applyRules(demoService(), HOST, TCP, set(rule(['application = evil =>'])), east, settings);
    expect(outcome(block)).toEqual([
      [{ sourceLabels: { app: 'evil' } }, 'none'],
      ['all', 'default'],
    ]);
  });

  it('evaluates ranges, globs and negations as Dubbo does, and makes a $ reference inert', () => {
    const p = applyRules(demoService(), HOST, TCP, set(rule(['application = a => port = 20000~20880 & env != canary & host = 10.20.*'])), east, settings);
    expect(outcome(p)).toEqual([
      [{ sourceLabels: { app: 'a' } }, '1,2,3'],
      ['all', 'default'],
    ]);
    const ref = applyRules(demoService(), HOST, TCP, set(rule(['=> host = $host'])), east, settings);
    expect(ref.virtualService).toBeUndefined();
    expect(ref.notes).toEqual([expect.stringContaining('a $ reference to the consumer')]);
    // An application glob cannot be told apart by workload labels: inert, never applied to all.
    const glob = applyRules(demoService(), HOST, TCP, set(rule(['application = order* => env = blue'])), east, settings);
    expect(glob.virtualService).toBeUndefined();
    expect(glob.notes).toEqual([expect.stringContaining('cannot be told apart by workload labels')]);
  });

  it('applies a rule keyed by a consumer application to the calls that application makes, and one keyed by the provider application to its other consumers', () => {
    // Dubbo Admin's first form: scope application, key = the consumer's application.
    const consumer = rule(['=> env = green'], '', 'demo-consumer', 'application');
    const p = applyRules(demoService(), HOST, TCP, set(consumer), east, settings);
    expect(outcome(p)).toEqual([
      [{ sourceLabels: { app: 'demo-consumer' } }, '2'],
      ['all', 'default'],
    ]);
    expect(p.applied).toEqual([expect.objectContaining({ kind: 'condition', effect: expect.stringContaining("as the consumer application's rule") })]);
    // Keyed by the provider's application: every consumer but the application itself.
    const provider = rule(['=> env = blue'], '', 'demo-provider', 'application');
    // (demo-provider calling its own service reads the same document as its consumer rule.)
    expect(outcome(applyRules(demoService(), HOST, TCP, set(provider), east, settings))).toEqual([['all', '1,3']]);
    const both = applyRules(demoService(), HOST, TCP, set(provider, consumer), east, settings);
    // Both: the provider application's rule (Dubbo's order 145) runs before the consumer's (150),
    // which then finds no green provider among 1 and 3 and, not forced, keeps them.
    expect(outcome(both)).toEqual([['all', '1,3']]);
  });

  it('leaves out consumer applications whose rules change nothing for this service (an estate of them stays within bounds)', () => {
    // 300 consumer applications with rules about other services' providers, and one about these.
    const others = Array.from({ length: 300 }, (_, i) => rule([`=> host = 10.99.${i >> 8}.${i & 255}`], '', `app-${i}`, 'application'));
    const p = applyRules(demoService(), HOST, TCP, set(...others, rule(['=> env = green'], '', 'demo-consumer', 'application')), east, settings);
    expect(outcome(p)).toEqual([
      [{ sourceLabels: { app: 'demo-consumer' } }, '2'],
      ['all', 'default'],
    ]);
    expect(p.notes).toEqual([]);
  });

  it('makes the rules inert, and says so, when they would name more kinds of consumer than the bound', () => {
    const many = Array.from({ length: 70 }, (_, i) => rule(['=> env = blue'], '', `consumer-${i}`, 'application'));
    const p = applyRules(demoService(), HOST, TCP, set(...many), east, settings);
    expect(p.virtualService).toBeUndefined();
    expect(p.notes).toHaveLength(70);
    expect(p.notes[0]).toContain('71 kinds of consumer to tell apart (at most 64)');
  });

  it('splits gRPC calls by method, exact before prefix, and chains them with application routes', () => {
    const doc = rule(['method = sayHello* => env = blue', 'method = sayHelloAsync => host = 10.20.0.3', 'application = bops => env != canary']);
    const g = applyRules(demoService('tri', 50051), HOST, GRPC, set(doc), east, settings);
    const uri = (m: string) => `/org.apache.dubbo.demo.DemoService/${m}`;
    expect(outcome(g, 'http')).toEqual([
      [{ uri: { exact: uri('sayHelloAsync') } }, '3'],
      [{ uri: { prefix: uri('sayHello') } }, '1,3'],
      [{ sourceLabels: { app: 'bops' } }, '1,2,3'],
      ['all', 'default'],
    ]);
  });

  it("runs conditions after the tag router: a tagged call is narrowed among its tag's providers", () => {
    const doc = rule(['application = order-web => env = blue']);
    const p = applyRules(demoService(), HOST, TCP, set(doc, parse('demo-provider.tag-router')), east, settings);
    // gray is 10.20.0.3 (blue), canary 10.20.0.4; untagged 10.20.0.1 (blue) and .2 (green).
    expect(outcome(p)).toEqual([
      [{ sourceLabels: { 'dubbo.tag': 'canary' } }, '4'],
      [{ sourceLabels: { 'dubbo.tag': 'gray' } }, '3'],
      [{ sourceLabels: { app: 'order-web' } }, '1'],
      ['all', '1,2'], // the untagged subset
    ]);
  });
});

describe('keys, addresses and applications compared as Dubbo compares them (never wider)', () => {
  const configurator = (key: string, item: string) => parse(`${key}.configurators`, `configVersion: v2.7\nscope: service\nkey: ${key}\nconfigs:\n- ${item}\n`);
  function greeter() {
    const cat = new Catalog(cfg.mapping, cfg.protection, ['s'], { rejected: () => {}, warning: () => {} }, 1000);
    cat.setService('s', 'g', urls(['dubbo://10.30.0.1:20880/org.example.GreetingService?application=greeter&interface=org.example.GreetingService&version=1.0.0']));
    cat.commit(1);
    return cat.service('org.example.GreetingService:1.0.0')!;
  }

  it('a key without a version governs only providers without one, as a consumer reads {interface}:{version}:{group}', () => {
    const unversioned = configurator('org.example.GreetingService', 'side: provider\n  parameters: {weight: 7}');
    expect(applyRules(greeter(), HOST, TCP, set(unversioned), east, settings).endpoints.map((e) => e.weight)).toEqual([100]);
    const versioned = configurator('org.example.GreetingService:1.0.0', 'side: provider\n  parameters: {weight: 7}');
    expect(applyRules(greeter(), HOST, TCP, set(versioned), east, settings).endpoints.map((e) => e.weight)).toEqual([7]);
  });

  it('configurator addresses and applications are exact (Dubbo has no patterns there), and an entry without side changes nothing', () => {
    const weights = (item: string) => applyRules(demoService(), HOST, TCP, set(configurator('org.apache.dubbo.demo.DemoService', item)), east, settings).endpoints.map((e) => e.weight);
    expect(weights('side: provider\n  addresses: ["10.20.*"]\n  parameters: {weight: 7}')).toEqual([100, 100, 100, 100]);
    expect(weights('side: provider\n  addresses: ["0.0.0.0:20880"]\n  parameters: {weight: 7}')).toEqual([7, 7, 7, 7]);
    expect(weights('side: provider\n  applications: ["demo-*"]\n  parameters: {weight: 7}')).toEqual([100, 100, 100, 100]);
    expect(weights('side: provider\n  applications: [demo-provider]\n  parameters: {weight: 7}')).toEqual([7, 7, 7, 7]);
    const noSide = configurator('org.apache.dubbo.demo.DemoService', 'addresses: [10.20.0.1]\n  parameters: {disabled: true}');
    expect(noSide.rules).toEqual([]);
    expect(noSide.unsupported).toEqual([expect.objectContaining({ what: 'configs[0]: side: (none)' })]);
  });

  it('tag addresses are Dubbo IP expressions: ranges, * octets, CIDRs, an optional port', () => {
    const tagged = (addresses: string) =>
      applyRules(demoService(), HOST, TCP, set(parse('demo-provider.tag-router', `configVersion: v3.0\nkey: demo-provider\ntags:\n- name: gray\n  addresses: ${addresses}\n`)), east, settings)
        .endpoints.filter((e) => e.labels['dubbo.tag'] === 'gray')
        .map((e) => e.address.slice(-1));
    expect(tagged('["10.20.0.1-2"]')).toEqual(['1', '2']);
    expect(tagged('["10.20.0.*:20880"]')).toEqual(['1', '2', '3', '4']);
    expect(tagged('["10.20.0.*:20881"]')).toEqual([]);
    expect(tagged('["10.20.0.2/31"]')).toEqual(['2', '3']);
    expect(tagged('["10.20.0.4"]')).toEqual(['4']);
  });
});

describe('Dubbo 2.6 rule URLs (issue 17, item 7)', () => {
  /** A znode name under /dubbo/{interface}/configurators or /routers: the URL, encoded once more. */
  const legacy = (url: string) => {
    const name = encodeURIComponent(url);
    const r = parseRuleDocument(origin(`/dubbo/org.apache.dubbo.demo.DemoService/configurators/${name}`), name, url);
    if ('error' in r) throw new Error(r.error);
    return r;
  };

  it('maps an override:// URL as its configurator: one provider by ip:port, or every provider', () => {
    // As dubbo-admin 0.x (Dubbo 2.6) writes them: disable one provider, weight all of an application.
    const one = legacy('override://10.20.0.2:20880/org.apache.dubbo.demo.DemoService?category=configurators&disabled=true&dynamic=false&enabled=true');
    expect(ips(applyRules(demoService(), HOST, TCP, set(one), east, settings).endpoints)).toEqual(['10.20.0.1', '10.20.0.3', '10.20.0.4']);
    const all = legacy('override://0.0.0.0/org.apache.dubbo.demo.DemoService?application=demo-provider&category=configurators&dynamic=false&enabled=true&weight=50');
    expect(applyRules(demoService(), HOST, TCP, set(all), east, settings).endpoints.map((e) => e.weight)).toEqual([50, 50, 50, 50]);
    const other = legacy('override://0.0.0.0/org.apache.dubbo.demo.DemoService?application=someone-else&category=configurators&dynamic=false&weight=50');
    expect(applyRules(demoService(), HOST, TCP, set(other), east, settings).endpoints.map((e) => e.weight)).toEqual([100, 100, 100, 100]);
    // For one consumer (an address without a port): Dubbo applies it on that consumer only.
    expect(legacy('override://10.20.153.10/org.apache.dubbo.demo.DemoService?category=configurators&dynamic=false&disabled=true')).toEqual({
      rules: [],
      unsupported: [expect.objectContaining({ what: 'override://10.20.153.10' })],
    });
    expect(legacy('override://0.0.0.0/org.apache.dubbo.demo.DemoService?category=configurators&enabled=false&disabled=true').rules).toEqual([]);
  });

  it('maps a route:// URL as its condition rule, and reports a script router', () => {
    const rule = encodeURIComponent('application = bops => host = 10.20.0.1,10.20.0.3');
    const route = legacy(`route://0.0.0.0/org.apache.dubbo.demo.DemoService?category=routers&dynamic=false&enabled=true&force=false&name=bops&priority=0&router=condition&rule=${rule}&runtime=false`);
    const p = applyRules(demoService(), HOST, TCP, set(route), east, settings);
    expect((p.virtualService!.tcp as { match?: unknown }[]).map((r) => r.match)).toEqual([[{ sourceLabels: { app: 'bops' } }], undefined]);
    const script = legacy(
      `route://0.0.0.0/org.apache.dubbo.demo.DemoService?category=routers&router=script&type=javascript&rule=${encodeURIComponent('function route(invokers) { return invokers; }')}`,
    );
    expect(script).toEqual({ rules: [], unsupported: [expect.objectContaining({ what: 'route://, router=script', why: expect.stringContaining('inert') })] });
  });
});

describe('fail-safe matchers (issue 17, item 5)', () => {
  const configurator = (match: string) =>
    parse(
      'org.apache.dubbo.demo.DemoService.configurators',
      `configVersion: v3.0\nscope: service\nkey: org.apache.dubbo.demo.DemoService\nconfigs:\n- side: provider\n  match: ${match}\n  parameters: {disabled: true}\n`,
    );

  it('evaluates an address CIDR (cird) instead of dropping it and disabling every provider', () => {
    // The example of the Dubbo 3 configurator docs, on addresses outside the range: nothing is disabled.
    const none = applyRules(demoService(), HOST, TCP, set(configurator('{address: {cird: 10.20.153.0/24}}')), east, settings);
    expect(ips(none.endpoints)).toEqual(['10.20.0.1', '10.20.0.2', '10.20.0.3', '10.20.0.4']);
    const two = applyRules(demoService(), HOST, TCP, set(configurator('{address: {cird: 10.20.0.2/31}}')), east, settings);
    expect(ips(two.endpoints)).toEqual(['10.20.0.1', '10.20.0.4']);
  });

  it('makes an entry with a regex inert, and reads a StringMatch wildcard as Dubbo does (only * is a wildcard)', () => {
    const regex = configurator('{app: {oneof: [{regex: "demo-.*"}]}}');
    expect(regex.rules).toEqual([]);
    expect(regex.unsupported).toEqual([expect.objectContaining({ what: 'configs[0]: match.app: a regex', why: expect.stringContaining('inert') })]);
    const literal = applyRules(demoService(), HOST, TCP, set(configurator('{app: {oneof: [{wildcard: "demo-*"}]}}')), east, settings);
    expect(literal.endpoints).toHaveLength(4);
    const any = applyRules(demoService(), HOST, TCP, set(configurator('{app: {oneof: [{wildcard: "*"}]}}')), east, settings);
    expect(any.endpoints).toHaveLength(0);
  });

  it('reports a script router as inert instead of skipping it without a word', () => {
    // The form of Dubbo's docs ("script routing"): JavaScript run inside each consumer.
    const doc = parse(
      'org.apache.dubbo.demo.DemoService.script-router',
      'configVersion: v3.0\nkey: org.apache.dubbo.demo.DemoService\ntype: javascript\nenabled: true\nscript: |\n  (function route(invokers, invocation, context) { return invokers; } (invokers, invocation, context));\n',
    );
    expect(doc).toEqual({ rules: [], unsupported: [expect.objectContaining({ what: 'script router', why: expect.stringContaining('inert') })] });
    // Dubbo 3's mesh rules ({application}.MESHAPPRULE), Dubbo's own VirtualService form.
    const mesh = parse('demo-provider.MESHAPPRULE', 'apiVersion: service.dubbo.apache.org/v1alpha1\nkind: VirtualService\nmetadata: {name: demo-route}\nspec:\n  hosts: [demo]\n');
    expect(mesh).toEqual({ rules: [], unsupported: [expect.objectContaining({ what: 'Dubbo mesh rule (MESHAPPRULE)' })] });
  });

  it('refuses a malformed rule with its path instead of throwing (the parser never throws)', () => {
    const doc = 'configVersion: v3.0\nscope: service\nkey: org.apache.dubbo.demo.DemoService\nconfigs:\n- match: {param: [null]}\n  parameters: {disabled: true}\n';
    expect(parseRuleDocument(origin('x'), 'org.apache.dubbo.demo.DemoService.configurators', doc)).toEqual({ error: 'configs[0].match.param[0] has no key' });
    expect(parseRuleDocument(origin('x'), 'org.apache.dubbo.demo.DemoService.configurators', 'configs: [5]')).toEqual({ error: 'configs[0] must be a mapping' });
    expect(parseRuleDocument(origin('x'), 'a.tag-router', 'tags: [{name: x, match: 5}]')).toEqual({ error: 'tags[0].match must be a list' });
  });
});

describe('adapter TrafficPolicy', () => {
  const policy = `
apiVersion: dubbo-istio-adapter.io/v1
kind: TrafficPolicy
metadata: {name: demo-bluegreen}
spec:
  services: [org.apache.dubbo.demo.DemoService]
  split:
    label: env
    weights: {blue: 100}
    clusters:
      east: {blue: 90, green: 10}
      west: {blue: 50, green: 50}
  zoneAffinity: {enabled: true}
  connectionPool: {tcp: {maxConnections: 100, connectTimeout: 3s}}
`;
  const doc = () => {
    const r = parseRuleDocument(origin('/dubbo/config/dubbo-istio-adapter/demo'), 'demo', policy);
    if ('error' in r) throw new Error(r.error);
    return r;
  };

  it('splits by weight on the env label, differently per cluster view, with zone affinity', () => {
    const weights = (view: typeof east) => (applyRules(demoService(), HOST, TCP, set(doc()), view, settings).virtualService!.tcp as { route: unknown[] }[])[0].route;
    expect(weights(east)).toEqual([
      { destination: { host: HOST, subset: 'env-blue' }, weight: 90 },
      { destination: { host: HOST, subset: 'env-green' }, weight: 10 },
    ]);
    expect(weights(west)).toEqual([
      { destination: { host: HOST, subset: 'env-blue' }, weight: 50 },
      { destination: { host: HOST, subset: 'env-green' }, weight: 50 },
    ]);
    const dr = applyRules(demoService(), HOST, TCP, set(doc()), east, settings).destinationRule!;
    expect(dr.trafficPolicy).toEqual({
      loadBalancer: { localityLbSetting: { enabled: true } },
      connectionPool: { tcp: { maxConnections: 100, connectTimeout: '3s' } },
      outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' },
    });
  });

  it('isolate providers tagged in Dubbo (dubbo.tag) with no rule document at all', () => {
    // ProviderConfig.setTag / ServiceConfig.setTag / -Ddubbo.tag write dubbo.tag into the URL.
    const cat = new Catalog(cfg.mapping, cfg.protection, ['s'], { rejected: () => {}, warning: () => {} }, 1000);
    const url = (ip: string, extra = '') => `dubbo://${ip}:20880/org.apache.dubbo.demo.DemoService?application=demo-provider&interface=org.apache.dubbo.demo.DemoService${extra}`;
    cat.setService('s', 'demo', urls([url('10.20.0.1'), url('10.20.0.2', '&dubbo.tag=gray')]));
    cat.commit(1);
    const none: RuleSet = { version: 'none', rules: [], unsupported: [] };
    const objs = renderService(
      cat.service('org.apache.dubbo.demo.DemoService')!,
      { mapping: cfg.mapping, render: cfg.render, rules: { set: none, tagLabel: 'dubbo.tag', tagHeader: 'dubbo.tag', consumerLabel: 'app' } },
      east,
    );
    const dr = objs.find((o) => o.kind === 'DestinationRule')!;
    const vs = objs.find((o) => o.kind === 'VirtualService')!;
    expect(dr.spec.subsets).toEqual([
      { name: 'tag-gray', labels: { 'dubbo.tag': 'gray' } },
      { name: 'untagged', labels: { 'dubbo.tag': 'untagged' } },
    ]);
    expect(vs.spec.tcp).toEqual([
      { match: [{ sourceLabels: { 'dubbo.tag': 'gray' } }], route: [{ destination: { host: HOST, subset: 'tag-gray' } }] },
      { route: [{ destination: { host: HOST, subset: 'untagged' } }] },
    ]);
    // Only tagged providers left: a request without a tag still never reaches them.
    cat.setService('s', 'demo', urls([url('10.20.0.2', '&dubbo.tag=gray')]));
    cat.commit(2);
    const p = applyRules(cat.service('org.apache.dubbo.demo.DemoService')!, HOST, TCP, none, east, settings);
    expect((p.virtualService!.tcp as unknown[]).at(-1)).toEqual({ route: [{ destination: { host: HOST, subset: 'untagged' } }] });
    expect(p.notes).toContain('no untagged provider: requests without a tag find no provider, as in Dubbo');
  });

  it('renders valid, encodable DestinationRule and VirtualService objects next to the ServiceEntry', () => {
    const objs = renderService(demoService(), { mapping: cfg.mapping, render: cfg.render, rules: { set: set(doc()), tagLabel: 'dubbo.tag', tagHeader: 'dubbo.tag', consumerLabel: 'app' } }, east);
    expect(objs.map((o) => o.kind).sort()).toEqual(['DestinationRule', 'ServiceEntry', 'VirtualService', 'WorkloadEntry', 'WorkloadEntry', 'WorkloadEntry', 'WorkloadEntry']);
    for (const o of objs) {
      expect(validateObject(o)).toEqual([]);
      expect(() => encodeMcpAny(o)).not.toThrow();
    }
  });

  it('refuses a broken document with the reason', () => {
    const bad = (text: string) => parseRuleDocument(origin('x'), 'x', text);
    expect(bad(policy.replace('west: {blue: 50, green: 50}', 'west: {blue: 50, green: 40}'))).toEqual({ error: expect.stringContaining('weights add up to 90, not 100') });
    expect(bad(policy.replace('maxConnections', 'maxConnexions'))).toEqual({ error: expect.stringContaining('spec.connectionPool.tcp.maxConnexions: unknown field') });
    expect(bad(policy.replace('3s', 'soon'))).toEqual({ error: expect.stringContaining('is not a duration') });
    expect(bad('configs: [')).toEqual({ error: expect.stringContaining('not valid YAML') });
    expect(parseRuleDocument(origin('x'), 'a.configurators', 'scope: service\nkey: "not a key!"\nconfigs: []')).toEqual({ error: expect.stringContaining('is not a Dubbo service key') });
  });
});

describe('Istio objects passed through', () => {
  const vs = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: demo-custom
  annotations: {dubbo-istio-adapter.io/clusters: west}
spec:
  hosts: [${HOST}]
  tcp:
  - route:
    - destination: {host: ${HOST}}
`;
  it('reach the clusters they name, and replace the generated object for their host', () => {
    const pt = parseRuleDocument(origin('/dubbo/config/dubbo-istio-adapter/custom'), 'custom', vs);
    if ('error' in pt) throw new Error(pt.error);
    const tags = parse('demo-provider.tag-router');
    expect(applyRules(demoService(), HOST, TCP, set(pt, tags), east, settings).virtualService).toBeDefined();
    const w = applyRules(demoService(), HOST, TCP, set(pt, tags), west, settings);
    expect(w.virtualService).toBeUndefined();
    expect(w.destinationRule).toBeDefined();
    expect(w.notes).toContain(`a VirtualService passed through for ${HOST} replaces the generated one`);
  });

  it('are refused when they carry a field the adapter cannot send', () => {
    expect(parseRuleDocument(origin('x'), 'x', vs.replace('tcp:', 'tlsRoutes:'))).toEqual({ error: expect.stringContaining('spec.tlsRoutes: unknown field of VirtualService') });
  });
});

describe('RuleStore', () => {
  it('keeps the last good version of a document that breaks, and drops a deleted one', () => {
    const rejected: string[] = [];
    let changes = 0;
    const store = new RuleStore(['zk'], { rejected: (o, e, kept) => rejected.push(`${o.document}: ${e} (${kept ? 'last good kept' : 'nothing in force'})`), changed: () => changes++ });
    const doc = '/dubbo/config/dubbo/demo-provider.configurators';
    store.set('zk', doc, fixture('demo-provider.configurators'), 1);
    const good = store.ruleSet();
    expect(good.rules).toHaveLength(1);
    store.set('zk', doc, 'configs: [', 2);
    expect(rejected).toEqual([expect.stringContaining('not valid YAML')]);
    expect(rejected[0]).toContain('last good kept');
    expect(store.ruleSet()).toBe(good);
    expect(store.status()[0]).toMatchObject({ state: 'rejected', inForce: true });
    store.replaceAll('zk', new Map(), 3);
    expect(store.ruleSet().rules).toEqual([]);
    expect(changes).toBe(2);
  });
});
