#!/usr/bin/env node
import { Command, Option } from 'commander';
import yaml from 'js-yaml';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { log, setLogLevel } from './common/log';
import { ConfigError, loadConfigFile } from './config/load';
import type { Config } from './config/types';
import { Daemon } from './daemon';
import { INLINE_RULES, setInlineRules } from './daemon/pipeline';
import { parseRuleDocument } from './rules/parse';
import { RuleStore } from './rules/store';
import { normalizeProviderEntry } from './dubbo/normalize';
import { toManifest } from './istio/manifest';
import { parseProvidersFile } from './registry/file';

const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as { version: string };

function load(file: string, level?: string): Config {
  try {
    const c = loadConfigFile(file);
    if (level) c.logLevel = level as Config['logLevel'];
    setLogLevel(c.logLevel, !!level);
    return c;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    throw err;
  }
}

const program = new Command()
  .name('dubbo-istio-adapter')
  .description('Brings Apache Dubbo services from ZooKeeper or files into an Istio mesh over MCP-over-xDS.')
  .version(pkg.version, '-v, --version');

/** Where `--rules DIR` documents come from, in logs and /debug/rules. */
const OFFLINE_RULES = 'rules-dir';

/**
 * Config-center documents from a directory, each file named as its config key (ZooKeeper's node
 * name, Nacos's dataId): `demo-consumer.condition-router`, `org.example.GreetingService:2.0.0.configurators`,
 * or any name for TrafficPolicy and Istio documents. Hidden files and directories are skipped.
 */
function readRuleDirectory(dir: string): Map<string, string> {
  const docs = new Map<string, string>();
  try {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.') || !statSync(path.join(dir, name)).isFile()) continue;
      docs.set(name, readFileSync(path.join(dir, name), 'utf8'));
    }
  } catch (err) {
    process.stderr.write(`--rules ${dir}: cannot read: ${(err as Error).message}\n`);
    process.exit(2);
  }
  return docs;
}

const rulesOpt = new Option(
  '--rules <dir>',
  'config-center rule documents offline, one file per config key (for example demo-consumer.condition-router); they stand for the rule sources of the config',
);

const configOpt = new Option('-c, --config <file>', 'config file (YAML)').default('config/adapter.yaml');
const levelOpt = new Option('--log-level <level>', 'override the config log level').choices(['error', 'warn', 'info', 'debug']);

program
  .command('run')
  .description('run the daemon: watch the sources, serve MCP over xDS and admin HTTP')
  .addOption(configOpt)
  .addOption(levelOpt)
  .action(async (o: { config: string; logLevel?: string }) => {
    const daemon = new Daemon(load(o.config, o.logLevel));
    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down: ending xds streams, closing sessions', { signal });
      await daemon.stop();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('uncaughtException', (err) => log.error('uncaught exception; carrying on', { error: err.stack }));
    process.on('unhandledRejection', (err) => log.error('unhandled rejection; carrying on', { error: (err as Error)?.stack ?? String(err) }));
    try {
      await daemon.start();
    } catch (err) {
      log.error('cannot start', { error: (err as Error).message });
      process.exit(1);
    }
  });

program
  .command('render')
  .description('print the Istio objects for the current registry state once, as YAML (for GitOps and reviews)')
  .addOption(configOpt)
  .addOption(levelOpt)
  .addOption(rulesOpt)
  .option('--cluster <name>', 'cluster view to render (default: the first)')
  .option('--timeout <ms>', 'how long to wait for every source to sync', '30000')
  .action(async (o: { config: string; logLevel?: string; cluster?: string; timeout: string; rules?: string }) => {
    const config = load(o.config, o.logLevel ?? 'warn');
    // Reviewing rules before they are published: the directory stands for the config center.
    const offline = o.rules ? readRuleDirectory(o.rules) : undefined;
    if (offline) config.rules.sources = [];
    const view = o.cluster ? config.clusters.find((c) => c.name === o.cluster) : config.clusters[0];
    if (!view) {
      process.stderr.write(`no cluster named "${o.cluster}" in ${o.config}\n`);
      process.exit(2);
    }
    const daemon = new Daemon(config);
    if (offline) daemon.rules.replaceAll(OFFLINE_RULES, offline, Date.now());
    await daemon.startSources();
    const deadline = Date.now() + Number(o.timeout);
    while (!daemon.sourcesSynced()) {
      if (Date.now() > deadline) {
        process.stderr.write('timed out waiting for the sources to sync; see the log above\n');
        process.exit(1);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // The pipeline run serves: the same commit, render, validation and conflict settling.
    daemon.flushNow();
    const docs = daemon.pipeline.objects(view!.name).map((obj) => yaml.dump(toManifest(obj), { noRefs: true, lineWidth: 200 }));
    process.stdout.write(docs.join('---\n'));
    // What the rules could not do goes to stderr, so the review sees it next to the objects.
    for (const d of daemon.rules.status()) {
      if (d.error) process.stderr.write(`rule ${d.document}: refused: ${d.error}\n`);
      for (const u of d.unsupported) process.stderr.write(`rule ${d.document}: ${u.what}: ${u.why}\n`);
    }
    for (const r of daemon.effectiveRules(view!.name)) for (const n of r.notes) process.stderr.write(`${r.service}: ${n}\n`);
    await daemon.stopSources();
    process.exit(0);
  });

program
  .command('validate')
  .description('check a config file, the provider files of its file sources, and (--rules) rule documents')
  .addOption(configOpt)
  .addOption(rulesOpt)
  .action((o: { config: string; rules?: string }) => {
    const config = load(o.config, 'error');
    let bad = 0;
    for (const [name, content] of o.rules ? readRuleDirectory(o.rules) : []) {
      const parsed = parseRuleDocument({ source: OFFLINE_RULES, document: name }, name, content);
      if ('error' in parsed) {
        process.stderr.write(`${path.join(o.rules!, name)}: ${parsed.error}\n`);
        bad++;
      } else for (const u of parsed.unsupported) process.stderr.write(`${path.join(o.rules!, name)}: note: ${u.what}: ${u.why}\n`);
    }
    const problem = setInlineRules(new RuleStore([INLINE_RULES], { rejected: () => {}, changed: () => {} }), config.rules.documents, Date.now());
    if (problem) {
      process.stderr.write(`${problem}\n`);
      bad++;
    }
    for (const s of config.sources) {
      if (s.type !== 'file') continue;
      let text: string;
      try {
        text = readFileSync(s.file.path, 'utf8');
      } catch (err) {
        process.stderr.write(`${s.file.path}: cannot read: ${(err as Error).message}\n`);
        bad++;
        continue;
      }
      const parsed = parseProvidersFile(text);
      if ('error' in parsed) {
        process.stderr.write(`${s.file.path}: ${parsed.error}\n`);
        bad++;
        continue;
      }
      for (const w of parsed.warnings) {
        process.stderr.write(`${s.file.path}: ${w}\n`);
        bad++;
      }
      for (const [iface, entries] of parsed.services) {
        entries.forEach((e, i) => {
          const r = normalizeProviderEntry(e, config.mapping);
          if (!r.ok && !r.skipped) {
            process.stderr.write(`${s.file.path}: providers.${iface}[${i}]: ${r.reason}\n`);
            bad++;
          }
        });
      }
    }
    if (bad) {
      process.stderr.write(`${bad} problem(s) found\n`);
      process.exit(1);
    }
    process.stdout.write(`${o.config}: valid\n`);
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
