/**
 * The rule parsers never throw (issue 17, item 8): Dubbo's published rule documents, mutated
 * 100,000 times in shape and in text, each either parsed or refused with a reason that a check
 * wrote (never the catch-all for an unforeseen shape), and every parsed rule applied to a
 * service without an exception.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { Catalog } from '../../src/model/catalog';
import { parseRuleDocument, UNFORESEEN } from '../../src/rules/parse';
import { applyRules } from '../../src/rules/policy';
import { FIXTURES, testConfig, urls } from '../testbed/config';
import { prng } from '../testbed/random';

jest.setTimeout(300_000);

const CASES = 100_000;
const cfg = testConfig({ clusters: [{ name: 'east', listener: { port: 0 } }] });
const settings = { mapping: cfg.mapping, tagLabel: 'dubbo.tag', tagHeader: 'dubbo.tag', consumerLabel: 'app' };

/** Seeds: the fixtures (Dubbo docs' examples) and the other forms Dubbo's docs and Dubbo Admin write. */
const SEEDS: [string, string][] = [
  ...['demo-provider.configurators', 'demo-provider.tag-router', 'org.apache.dubbo.demo.DemoService::.condition-router', 'org.apache.dubbo.demo.DemoService::.configurators'].map(
    (n): [string, string] => [n, readFileSync(path.join(FIXTURES, 'rules', n), 'utf8')],
  ),
  // Dubbo 3 configurator with a v3.0 match (Dubbo docs, "configuration rule").
  [
    'org.apache.dubbo.demo.DemoService.configurators',
    'configVersion: v3.0\nscope: service\nkey: org.apache.dubbo.demo.DemoService\nenabled: true\nconfigs:\n- side: provider\n  match:\n    address: {cird: 10.20.153.0/24}\n    app: {oneof: [{exact: demo-provider}, {prefix: demo-}]}\n    service: {oneof: [{wildcard: "*"}]}\n    param: [{key: orderVersion, value: {exact: v2}}]\n  parameters: {weight: 200}\n',
  ],
  // Tag route with a param match (Dubbo 3 docs, "tag routing").
  [
    'demo-provider.tag-router',
    'configVersion: v3.0\nforce: false\nenabled: true\nkey: demo-provider\ntags:\n- name: gray\n  match: [{key: env, value: {exact: gray}}]\n- name: canary\n  addresses: ["10.20.0.4:20880"]\n',
  ],
  // Application-scope condition route (Dubbo Admin's first form).
  [
    'demo-consumer.condition-router',
    'configVersion: v3.0\nscope: application\nkey: demo-consumer\nforce: false\npriority: 1\nconditions:\n- "=> env = blue"\n- "method = sayHello* & application != bops => host = 10.20.0.1,10.20.0.3"\n- "host = 10.20.153.10 =>"\n- "=> port = 20880~20881 & host = $host"\n',
  ],
  // Condition route v3.1 (Dubbo 3.3 docs).
  [
    'org.apache.dubbo.demo.DemoService.condition-router',
    'configVersion: v3.1\nscope: service\nkey: org.apache.dubbo.demo.DemoService\nforce: false\nconditions:\n- priority: 10\n  from: {match: method=sayHello}\n  trafficDisable: false\n  to:\n  - {match: region=hangzhou, weight: 80}\n  - {match: region=beijing, weight: 20}\n',
  ],
  // Dubbo 2.6 rule URLs (content: the decoded znode name under /dubbo/{interface}/configurators or /routers).
  ['override%3A%2F%2F0.0.0.0', 'override://0.0.0.0/org.apache.dubbo.demo.DemoService?application=demo-provider&category=configurators&dynamic=false&enabled=true&weight=50&~env=blue'],
  [
    'route%3A%2F%2F0.0.0.0',
    'route://0.0.0.0/org.apache.dubbo.demo.DemoService?category=routers&dynamic=false&enabled=true&force=true&priority=1&router=condition&rule=application%20%3D%20bops%20%3D%3E%20host%20%3D%2010.20.0.1',
  ],
  // The adapter's own kinds.
  [
    'orders',
    'apiVersion: dubbo-istio-adapter.io/v1\nkind: TrafficPolicy\nmetadata: {name: orders}\nspec:\n  services: [org.apache.dubbo.demo.DemoService]\n  split: {label: env, weights: {blue: 100}, clusters: {east: {blue: 90, green: 10}}}\n  zoneAffinity: {enabled: true}\n  connectionPool: {tcp: {maxConnections: 10}}\n  timeout: 3s\n',
  ],
  [
    'custom',
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: demo, annotations: {dubbo-istio-adapter.io/clusters: east}}\nspec:\n  hosts: [org.apache.dubbo.demo.demoservice]\n  tcp:\n  - route:\n    - destination: {host: org.apache.dubbo.demo.demoservice}\n',
  ],
];

const rnd = prng(17);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

const ODD_VALUES: unknown[] = [
  null,
  5,
  -1,
  0.5,
  true,
  false,
  '',
  ' ',
  'x',
  '*',
  '$host',
  '~',
  '1~',
  '=>',
  '=',
  '!=',
  'a=b',
  [],
  [null],
  [5],
  {},
  { exact: null },
  { regex: '(a+)+$' },
  { cird: '::1/128' },
  { oneof: 5 },
  { key: null },
  'x'.repeat(5000),
];

/** Every (parent, key) in a parsed document. */
function slots(node: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(node)) {
    node.forEach((v, i) => {
      out.push([node, i]);
      slots(v, out);
    });
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      out.push([node as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

function mutateShape(doc: unknown): string {
  const copy = JSON.parse(JSON.stringify(doc)) as unknown;
  const all = slots(copy);
  for (let n = 1 + Math.floor(rnd() * 3); n > 0 && all.length; n--) {
    const [parent, key] = pick(all);
    const op = rnd();
    const value = (parent as Record<string | number, unknown>)[key];
    if (op < 0.5) (parent as Record<string | number, unknown>)[key] = pick(ODD_VALUES);
    else if (op < 0.65 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
    else if (op < 0.8) (parent as Record<string | number, unknown>)[key] = [value, value];
    else if (op < 0.9) (parent as Record<string | number, unknown>)[key] = { [String(key)]: value };
    else (parent as Record<string | number, unknown>)[key] = typeof value === 'string' ? value.split('').reverse().join('') : String(value);
  }
  return yaml.dump(copy, { lineWidth: -1 });
}

function mutateText(text: string): string {
  const chars = [...text];
  for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
    const i = Math.floor(rnd() * (chars.length + 1));
    const op = rnd();
    if (op < 0.4) chars.splice(i, 1);
    else if (op < 0.8) chars.splice(i, 0, pick([':', '-', ' ', '\n', '[', ']', '{', '}', '"', "'", '&', '*', '!', '|', '>', '#', '=', ',', '~', '$', '\t', '\u0000']));
    else chars.splice(i, 0, ...chars.slice(Math.floor(rnd() * chars.length), Math.floor(rnd() * chars.length)));
  }
  return chars.join('');
}

function demoService() {
  const cat = new Catalog(cfg.mapping, cfg.protection, ['s'], { rejected: () => {}, warning: () => {} }, 1000);
  const url = (ip: string, env: string, protocol: string) =>
    `${protocol}://${ip}:20880/org.apache.dubbo.demo.DemoService?application=demo-provider&interface=org.apache.dubbo.demo.DemoService&env=${env}&timestamp=1700000000000`;
  cat.setService('s', 'demo', urls([url('10.20.0.1', 'blue', 'dubbo'), url('10.20.0.2', 'green', 'dubbo'), url('10.20.0.3', 'gray', 'tri'), url('[2001:db8::4]', 'blue', 'dubbo')]));
  cat.commit(1);
  return cat.service('org.apache.dubbo.demo.DemoService')!;
}

it(`parses ${CASES} mutated rule documents without an exception or an unforeseen refusal`, () => {
  const svc = demoService();
  const ports = [
    { number: 20880, protocol: 'TCP', name: 'tcp-dubbo' },
    { number: 20880, protocol: 'GRPC', name: 'grpc-tri' },
  ];
  const parsedSeeds = SEEDS.map(([name, text]) => [name, yaml.load(text)] as const);
  const isUrl = (doc: unknown) => typeof doc === 'string';
  const unforeseen: string[] = [];
  const outcomes = { parsed: 0, refused: 0, applied: 0 };
  for (let i = 0; i < CASES; i++) {
    const [name, doc] = pick(parsedSeeds);
    // A URL seed is text: only text mutations apply to it.
    const text = isUrl(doc) ? mutateText(doc as string) : rnd() < 0.6 ? mutateShape(doc) : mutateText(yaml.dump(doc, { lineWidth: -1 }));
    const r = parseRuleDocument({ source: 'fuzz', document: name }, name, text);
    if ('error' in r) {
      outcomes.refused++;
      if (r.error.startsWith(UNFORESEEN) && unforeseen.length < 5) unforeseen.push(`${r.error}\n---\n${text}`);
      continue;
    }
    outcomes.parsed++;
    if (i % 4 === 0) {
      applyRules(svc, 'org.apache.dubbo.demo.demoservice', ports, { version: 'f', rules: r.rules, unsupported: r.unsupported }, cfg.clusters[0], settings);
      outcomes.applied++;
    }
  }
  expect(unforeseen).toEqual([]);
  // Both outcomes are well represented: the mutations are neither all fatal nor all harmless.
  expect(outcomes.parsed).toBeGreaterThan(CASES / 10);
  expect(outcomes.refused).toBeGreaterThan(CASES / 10);
});
