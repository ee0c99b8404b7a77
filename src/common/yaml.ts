import yaml from 'js-yaml';

/**
 * YAML from outside (config center documents, provider files, the config file), parsed with
 * bounds. js-yaml resolves an alias to the same object, so a few kilobytes of nested aliases load
 * at once and only blow up later, when something walks or serializes the tree (measured: a 4.5 KB
 * document took the daemon to 2.8 GB). So after loading, the tree is walked as it would be
 * expanded, within a budget of nodes that an honest document cannot exceed (about one per
 * character of its text), and to a bounded depth (which also stops a self-referencing alias).
 */
export interface YamlLimits {
  /** Longest text accepted, in characters. */
  maxChars: number;
  /** Deepest nesting accepted. */
  maxDepth: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = { maxChars: 4 * 1024 * 1024, maxDepth: 64 };

export class YamlLimitError extends Error {}

/**
 * The one line that refuses YAML from outside: a limit it went past, or js-yaml's syntax error
 * (its first line, which names the place; the whole message adds a snippet of the text).
 */
export function yamlProblem(err: unknown, wholeMessage = false): string {
  if (err instanceof YamlLimitError) return `refused: ${err.message}`;
  const message = (err as Error).message;
  return `not valid YAML: ${wholeMessage ? message : message.split('\n')[0]}`;
}

/** One document, or a YamlLimitError / js-yaml's YAMLException. */
export function loadYaml(text: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): unknown {
  checkText(text, limits);
  const doc = yaml.load(text);
  checkTree(doc, text.length, limits);
  return doc;
}

/** Every document of a multi-document stream (separated by ---), bounded together. */
export function loadAllYaml(text: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): unknown[] {
  checkText(text, limits);
  const docs = yaml.loadAll(text);
  checkTree(docs, text.length, limits);
  return docs;
}

function checkText(text: string, limits: YamlLimits): void {
  if (text.length > limits.maxChars) throw new YamlLimitError(`the document has ${text.length} characters, more than ${limits.maxChars}`);
}

function checkTree(root: unknown, chars: number, limits: YamlLimits): void {
  let budget = 1000 + chars;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (--budget < 0) throw new YamlLimitError(`the document expands to more than ${1000 + chars} nodes (YAML aliases repeating large parts?)`);
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limits.maxDepth) throw new YamlLimitError(`the document nests deeper than ${limits.maxDepth} levels`);
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
}
