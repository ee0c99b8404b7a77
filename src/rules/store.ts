import { contentHash } from '../common/hash';
import { EMPTY_RULES, type Rule, type RuleOrigin, type RuleSet, type Unsupported } from './model';
import { parseRuleDocument } from './parse';

export interface RuleDocumentStatus {
  source: string;
  document: string;
  state: 'ok' | 'rejected';
  /** Why the current content was refused; the last good version (if any) stays in force. */
  error?: string;
  inForce: boolean;
  rules: number;
  unsupported: Unsupported[];
}

export interface RuleStoreObserver {
  rejected(origin: RuleOrigin, error: string, lastGoodInForce: boolean): void;
  changed(): void;
}

interface DocumentState {
  origin: RuleOrigin;
  content: string;
  good?: { content: string; rules: Rule[]; unsupported: Unsupported[] };
  error?: string;
  firstSeenMs: number;
}

/**
 * The rule documents of every config-center source, each parsed once per content. A document
 * whose new content is invalid is reported and its last good version stays in force; a document
 * that is deleted takes its rules with it. Time comes in as an argument.
 */
export class RuleStore {
  private readonly docs = new Map<string, DocumentState>();
  private readonly sourceOrder: string[];
  private cached?: RuleSet;

  constructor(
    sources: readonly string[],
    private readonly observer: RuleStoreObserver,
  ) {
    this.sourceOrder = [...sources];
  }

  /** Returns why the content was refused, if it was. */
  set(source: string, document: string, content: string | undefined, nowMs: number): string | undefined {
    const key = `${source}\u0000${document}`;
    const prev = this.docs.get(key);
    if (content === undefined) {
      if (!prev) return undefined;
      this.docs.delete(key);
      this.invalidate();
      return undefined;
    }
    if (prev?.content === content) return prev.error;
    const origin = { source, document };
    const name = document.split('/').pop()!;
    const parsed = parseRuleDocument(origin, name, content);
    const state: DocumentState = { origin, content, good: prev?.good, firstSeenMs: prev?.firstSeenMs ?? nowMs };
    if ('error' in parsed) {
      state.error = parsed.error;
      this.docs.set(key, state);
      this.observer.rejected(origin, parsed.error, !!state.good);
      return parsed.error;
    }
    state.good = { content, rules: parsed.rules, unsupported: parsed.unsupported };
    this.docs.set(key, state);
    this.invalidate();
    return undefined;
  }

  /** A source's complete set of documents after a (re)list: documents not in it are gone. */
  replaceAll(source: string, documents: ReadonlyMap<string, string>, nowMs: number): void {
    for (const state of [...this.docs.values()]) if (state.origin.source === source && !documents.has(state.origin.document)) this.set(source, state.origin.document, undefined, nowMs);
    for (const [document, content] of documents) this.set(source, document, content, nowMs);
  }

  ruleSet(): RuleSet {
    if (this.cached) return this.cached;
    const states = [...this.docs.values()]
      .filter((d) => d.good)
      .sort((a, b) => this.order(a.origin.source) - this.order(b.origin.source) || (a.origin.document < b.origin.document ? -1 : a.origin.document > b.origin.document ? 1 : 0));
    if (states.length === 0) return (this.cached = EMPTY_RULES);
    const rules = states.flatMap((d) => d.good!.rules.map((r) => (r.kind === 'passthrough' ? { ...r, createdAtMs: d.firstSeenMs } : r)));
    const unsupported = states.flatMap((d) => d.good!.unsupported);
    const version = contentHash(states.map((d) => `${d.origin.source}\n${d.origin.document}\n${d.good!.content}`).join('\n\u0000'));
    return (this.cached = { version, rules, unsupported });
  }

  status(): RuleDocumentStatus[] {
    return [...this.docs.values()]
      .map((d) => ({
        source: d.origin.source,
        document: d.origin.document,
        state: d.error ? ('rejected' as const) : ('ok' as const),
        ...(d.error ? { error: d.error } : {}),
        inForce: !!d.good,
        rules: d.good?.rules.length ?? 0,
        unsupported: d.good?.unsupported ?? [],
      }))
      .sort((a, b) => (a.source + a.document < b.source + b.document ? -1 : 1));
  }

  private order(source: string): number {
    const i = this.sourceOrder.indexOf(source);
    return i < 0 ? this.sourceOrder.length : i;
  }

  private invalidate(): void {
    this.cached = undefined;
    this.observer.changed();
  }
}
