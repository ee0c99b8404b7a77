import { configSchema } from './schema';

/**
 * The configuration reference (docs/configuration.md), generated from the JSON Schema so the
 * document can never drift from what the validator accepts. A unit test fails when it is stale;
 * regenerate with `npm run docs:config`.
 */
interface Node {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node | boolean;
  required?: string[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

export function configReference(): string {
  const rows: string[] = [];
  walk(configSchema as unknown as Node, '', false, rows);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'The config file is YAML. `dubbo-istio-adapter validate --config FILE` checks it and names the path and reason of each problem.',
    'A key left out takes its default. `config/adapter.yaml` is a full annotated example.',
    '',
    '| Key | Type | Default | Meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

function walk(node: Node, path: string, required: boolean, rows: string[]): void {
  if (path) rows.push(`| \`${path}\`${required ? ' (required)' : ''} | ${typeOf(node)} | ${defaultOf(node)} | ${(node.description ?? '').replace(/\|/g, '\\|')} |`);
  // Keys of an object, of each item of a list, and of each value of a map.
  const nested: [Node | boolean | undefined, string][] = [
    [node, path ? `${path}.` : ''],
    [node.items, `${path}[].`],
    [node.additionalProperties, `${path}.<name>.`],
  ];
  for (const [parent, prefix] of nested) {
    if (typeof parent !== 'object') continue;
    for (const [key, child] of Object.entries(parent.properties ?? {})) walk(child, prefix + key, parent.required?.includes(key) ?? false, rows);
  }
}

function typeOf(n: Node): string {
  if (n.enum) return n.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (n.const !== undefined) return `\`${String(n.const)}\``;
  let t = n.type ?? 'any';
  if (t === 'array' && n.items) t = `list of ${n.items.type ?? 'object'}`;
  if (t === 'object' && typeof n.additionalProperties === 'object' && !n.properties) t = `map of ${n.additionalProperties.type ?? 'object'}`;
  if (n.minimum !== undefined || n.maximum !== undefined) t += ` (${n.minimum ?? ''}..${n.maximum ?? ''})`;
  return t;
}

function defaultOf(n: Node): string {
  if (n.default === undefined) return '';
  if (typeof n.default === 'object' && n.default !== null && Object.keys(n.default).length === 0 && !Array.isArray(n.default)) return '';
  return `\`${JSON.stringify(n.default).replace(/\|/g, '\\|')}\``;
}

if (require.main === module) process.stdout.write(configReference());
