import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { DEFAULT_YAML_LIMITS, loadYaml, yamlProblem } from '../common/yaml';
import type { FileSourceConfig } from '../config/types';
import { log } from '../common/log';
import { SourceBase } from './base';
import type { RegistrySource, SourceSink, RegistryStatus } from './types';

/**
 * The embedded default registry: a YAML file of provider URLs grouped by interface,
 *
 *   providers:
 *     org.apache.dubbo.demo.DemoService:
 *       - dubbo://10.0.0.1:20880/org.apache.dubbo.demo.DemoService?application=demo&...
 *
 * reloaded when it changes. A file that cannot be read or parsed keeps the previous state.
 */
export class FileSource extends SourceBase<SourceSink> implements RegistrySource {
  private services = 0;
  private entries = 0;
  private lastText?: string;
  private settleTimer?: NodeJS.Timeout;

  constructor(private readonly cfg: FileSourceConfig) {
    super(cfg.name);
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    this.setState('connecting');
    await this.resync('start');
    // Polling, not fs.watch: it survives editors that replace the file and ConfigMap symlink swaps.
    const interval = Math.max(this.cfg.file.pollMs, 50);
    watchFile(this.cfg.file.path, { interval, persistent: false }, () => {
      void this.resync('file changed');
    });
    // The watcher compares with a first stat it takes on its own, a moment later: a change made
    // between our read and that stat would go unseen until the next one. One more read after it.
    this.settleTimer = setTimeout(() => void this.resync('file changed'), 2 * interval);
    this.settleTimer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.settleTimer);
    unwatchFile(this.cfg.file.path);
  }

  async resync(reason: string): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    let text: string;
    try {
      statSync(this.cfg.file.path);
      text = readFileSync(this.cfg.file.path, 'utf8');
    } catch (err) {
      return this.fail(`cannot read ${this.cfg.file.path}: ${(err as Error).message}`);
    }
    if (text === this.lastText && this.state === 'synced') return;
    const parsed = parseProvidersFile(text);
    if ('error' in parsed) return this.fail(`${this.cfg.file.path}: ${parsed.error}`);
    for (const w of parsed.warnings) log.warn('provider file entry skipped', { source: this.name, file: this.cfg.file.path, problem: w });
    this.lastText = text;
    sink.replaceAll(this.name, new Map([...parsed.services].map(([service, entries]) => [service, { kind: 'provider-url', entries }])));
    this.services = parsed.services.size;
    this.entries = [...parsed.services.values()].reduce((n, e) => n + e.length, 0);
    this.synced();
    log.info('provider file loaded', { source: this.name, reason, services: this.services, entries: this.entries });
  }

  private fail(reason: string): void {
    // Keep what we had: a half-written or broken file must never empty the mesh.
    this.setState(this.lastSyncMs === undefined ? 'failed' : 'stale', reason);
    log.error('provider file not loaded; keeping the previous state', { source: this.name, reason });
  }

  status(): RegistryStatus {
    return this.statusOf('file', { services: this.services, entries: this.entries }, { path: this.cfg.file.path });
  }
}

/** A providers file may list a large estate: about 300 characters a provider, 200,000 providers. */
const PROVIDER_FILE_LIMITS = { ...DEFAULT_YAML_LIMITS, maxChars: 64 * 1024 * 1024 };

/** Pure: the file's text to entries per interface. Bad shapes are reported, never thrown. */
export function parseProvidersFile(text: string): { services: Map<string, string[]>; warnings: string[] } | { error: string } {
  let doc: unknown;
  try {
    doc = loadYaml(text, PROVIDER_FILE_LIMITS);
  } catch (err) {
    return { error: yamlProblem(err) };
  }
  if (doc === null || doc === undefined) return { services: new Map(), warnings: [] };
  const providers = (doc as { providers?: unknown }).providers;
  if (typeof doc !== 'object' || Array.isArray(doc) || (providers !== undefined && (providers === null || typeof providers !== 'object' || Array.isArray(providers)))) {
    return { error: 'expected a mapping "providers: {interface: [url, ...]}"' };
  }
  const services = new Map<string, string[]>();
  const warnings: string[] = [];
  for (const [iface, list] of Object.entries((providers ?? {}) as Record<string, unknown>)) {
    if (!Array.isArray(list)) {
      warnings.push(`providers.${iface}: expected a list of provider URLs`);
      continue;
    }
    const entries: string[] = [];
    list.forEach((u, i) => {
      if (typeof u === 'string' && u.trim()) entries.push(u.trim());
      else warnings.push(`providers.${iface}[${i}]: expected a provider URL string`);
    });
    services.set(iface, entries);
  }
  return { services, warnings };
}
