// The parser benchmark: provider entries per second through the shipped code (dist/, as
// `make build` compiles it) on one core, per stage, over a fixed corpus of real Dubbo URLs.
//
//   node bench/parser.mjs [--seconds=2] [--runs=9] [--json]
//
// The corpus is the real provider URLs of test/fixtures (Dubbo 2.5, 2.7 and the Dubbo 3.1.4
// quick start) and of config/providers.yaml, each given 20,000 / N distinct provider addresses,
// in the URL-encoded form of a ZooKeeper znode name, as a registry hands them over. Each stage
// is warmed up first (V8 optimizes, the shared label and locality records fill up as they do in
// a running daemon), then sampled for --seconds per run; the median of --runs runs is reported
// with its spread (max - min) / median.
//   parse:     parseProviderUrl (decode, split, parameters)
//   normalize: normalizeProviderUrl on already parsed URLs (service key, endpoint, labels)
//   total:     normalizeProviderEntry, both together: the figure the target is set for.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { parseProviderUrl } = require(path.join(ROOT, 'dist/dubbo/url.js'));
const { normalizeProviderEntry, normalizeProviderUrl } = require(path.join(ROOT, 'dist/dubbo/normalize.js'));
const { parseConfig } = require(path.join(ROOT, 'dist/config/load.js'));
const yaml = require('js-yaml');

const arg = (name, def) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const seconds = arg('seconds', 2);
// Nine: a burst of other work on a shared machine spoils two or three samples, not the median.
const runs = arg('runs', 9);
const CORPUS_SIZE = 20_000;

/** The real URLs, decoded once, each the template of CORPUS_SIZE / N providers at addresses of their own. */
function corpus() {
  const templates = readFileSync(path.join(ROOT, 'test/fixtures/zk-provider-urls.txt'), 'utf8').split('\n').filter(Boolean).map(decodeURIComponent);
  const dubbo3 = yaml.load(readFileSync(path.join(ROOT, 'test/fixtures/dubbo3-zookeeper.yaml'), 'utf8'));
  for (const p of Object.keys(dubbo3.greetings.interfaceLevel)) templates.push(decodeURIComponent(p.split('/').pop()));
  for (const urls of Object.values(yaml.load(readFileSync(path.join(ROOT, 'config/providers.yaml'), 'utf8')).providers)) {
    for (const u of urls) templates.push(u.includes('%3A') ? decodeURIComponent(u) : u);
  }
  const entries = [];
  for (let n = 0; n < CORPUS_SIZE; n++) {
    const t = templates[n % templates.length];
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    entries.push(encodeURIComponent(t.replace(/^(\w+):\/\/[^/:]+:/, `$1://${ip}:`)));
  }
  return { entries, templates: templates.length };
}

/** Entries per second of one stage: warmed up, then sampled for `seconds` per run. */
function measure(inputs, fn) {
  const pass = () => {
    for (let i = 0; i < inputs.length; i++) fn(inputs[i]);
  };
  const warmUntil = performance.now() + 1000;
  while (performance.now() < warmUntil) pass();
  const rates = [];
  for (let r = 0; r < runs; r++) {
    let done = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < seconds * 1000) {
      pass();
      done += inputs.length;
      t = performance.now();
    }
    rates.push(done / ((t - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  return { median, min: rates[0], max: rates.at(-1), spread: (rates.at(-1) - rates[0]) / median, runs: rates.length, seconds };
}

const mapping = parseConfig('sources: [{name: f, type: file, file: {path: x}}]').mapping;
const { entries, templates } = corpus();
for (const e of entries) if (!normalizeProviderEntry(e, mapping).ok) throw new Error(`corpus entry is refused: ${e}`);

// The figure the target is for comes first, before the per-stage inputs exist: 20,000 parsed
// URLs kept alive for the normalize stage would make its collections slower.
const total = measure(entries, (e) => normalizeProviderEntry(e, mapping));
const parse = measure(entries, (e) => parseProviderUrl(e));
const parsed = entries.map((e) => parseProviderUrl(e).url);
const result = {
  corpus: { entries: entries.length, templates, meanLength: Math.round(entries.reduce((n, e) => n + e.length, 0) / entries.length) },
  parse,
  normalize: measure(parsed, (u) => normalizeProviderUrl(u, mapping)),
  total,
  node: process.version,
};
if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(result) + '\n');
else {
  const f = (s) => `${Math.round(s.median).toLocaleString('en')}/s (spread ${(s.spread * 100).toFixed(1)}%)`;
  process.stdout.write(`corpus: ${result.corpus.entries} entries from ${templates} real URLs, ${result.corpus.meanLength} characters on average\n`);
  process.stdout.write(`parse ${f(result.parse)}, normalize ${f(result.normalize)}, parse + normalize ${f(result.total)}\n`);
}
