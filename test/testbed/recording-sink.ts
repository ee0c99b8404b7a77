import type { RuleSink } from '../../src/registry/config-center';
import type { ServiceEntries, SourceSink, SourceState } from '../../src/registry/types';

/**
 * What a registry or config-center source hands on, recorded: every call in order, and the
 * state it adds up to (services with their entries, documents, health). Tests of a source read
 * this rather than the source's insides.
 */
export class RecordingSink implements SourceSink, RuleSink {
  readonly calls: string[] = [];
  readonly services = new Map<string, ServiceEntries>();
  readonly documents = new Map<string, string>();
  readonly pending = new Map<string, string>();
  state: SourceState | undefined;
  reason: string | undefined;
  readonly states: SourceState[] = [];

  setService(_source: string, service: string, entries: ServiceEntries): void {
    this.calls.push(`setService ${service}`);
    this.services.set(service, entries);
  }

  removeService(_source: string, service: string): void {
    this.calls.push(`removeService ${service}`);
    this.services.delete(service);
  }

  /** Registry sources hand on services; config-center sources documents. */
  replaceAll(_source: string, all: ReadonlyMap<string, ServiceEntries> | ReadonlyMap<string, string>): void {
    this.calls.push(`replaceAll ${all.size}`);
    const [first] = all.values();
    if (typeof first === 'string' || first === undefined) {
      this.documents.clear();
      for (const [k, v] of all as ReadonlyMap<string, string>) this.documents.set(k, v);
    }
    if (typeof first !== 'string') {
      this.services.clear();
      for (const [k, v] of all as ReadonlyMap<string, ServiceEntries>) this.services.set(k, v);
    }
  }

  /** A config-center document (RuleSink.set). */
  set(_source: string, document: string, content: string | undefined): void {
    this.calls.push(`set ${document}`);
    if (content === undefined) this.documents.delete(document);
    else this.documents.set(document, content);
  }

  setDocument(_source: string, name: string, content: string | undefined): void {
    this.set(_source, name, content);
  }

  pendingDocument(_source: string, name: string, reason: string | undefined): void {
    if (reason === undefined) this.pending.delete(name);
    else this.pending.set(name, reason);
  }

  health(_source: string, state: SourceState, reason?: string): void {
    this.state = state;
    this.reason = reason;
    this.states.push(state);
  }

  /** How many times the sink was told `state`. */
  count(state: SourceState): number {
    return this.states.filter((s) => s === state).length;
  }
}
