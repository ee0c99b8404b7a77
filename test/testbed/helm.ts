import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';

const ROOT = path.resolve(__dirname, '../..');
export const HELM = path.join(ROOT, '.cache/helm/bin/helm');
export const CHART = path.join(ROOT, 'deploy/helm/dubbo-istio-adapter');

/** Builds helm once into .cache/helm (see test/servers/helm/provision.sh). */
export function provisionHelm(): void {
  const r = spawnSync(path.join(ROOT, 'test/servers/helm/provision.sh'), { stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(HELM)) throw new Error('could not build helm; see the output of test/servers/helm/provision.sh');
}

export function helm(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(HELM, args, {
    encoding: 'utf8',
    input,
    env: { ...process.env, HELM_CACHE_HOME: path.join(ROOT, '.cache/helm/home'), HELM_CONFIG_HOME: path.join(ROOT, '.cache/helm/home'), HELM_DATA_HOME: path.join(ROOT, '.cache/helm/home') },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** helm template with values files (paths or inline objects); throws with helm's message on failure. */
export function template(values: (string | Record<string, unknown>)[] = [], extra: string[] = []): Manifest[] {
  const r = helm(['template', 'rel', CHART, '--namespace', 'istio-system', ...valueArgs(values), ...extra]);
  if (r.code !== 0) throw new Error(r.stderr.trim());
  return (yaml.loadAll(r.stdout) as (Manifest | null)[]).filter((d): d is Manifest => !!d);
}

export function valueArgs(values: (string | Record<string, unknown>)[]): string[] {
  return values.flatMap((v) => {
    if (typeof v === 'string') return ['-f', v];
    const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'dia-values-')), 'values.yaml');
    writeFileSync(f, yaml.dump(v));
    return ['-f', f];
  });
}

/**
 * NOTES.txt as `helm install` would print it. helm template never renders NOTES, and install
 * needs a cluster, so a copy of the chart renders the same text through tpl in a ConfigMap.
 */
export function notes(values: (string | Record<string, unknown>)[] = []): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dia-notes-')), 'chart');
  cpSync(CHART, dir, { recursive: true });
  cpSync(path.join(dir, 'templates/NOTES.txt'), path.join(dir, 'notes.tpl'));
  writeFileSync(path.join(dir, 'templates/zz-notes.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n{{ tpl (.Files.Get "notes.tpl") . | indent 4 }}\n');
  const r = helm(['template', 'rel', dir, '--namespace', 'istio-system', '--show-only', 'templates/zz-notes.yaml', ...valueArgs(values)]);
  if (r.code !== 0) throw new Error(r.stderr.trim());
  return (yaml.load(r.stdout) as Manifest).data!.notes;
}
