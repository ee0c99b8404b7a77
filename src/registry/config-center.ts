import type { SourceState, SourceStatus } from './types';

/**
 * Config-center sources: Dubbo's rule documents, and the adapter's own, read from the same
 * ZooKeeper or Nacos a registry may use. Like registry sources they only move text: a document
 * is (its name: a znode path, or namespace/group/dataId; its content). The rules stage reads it.
 */
export interface RuleSink {
  set(source: string, document: string, content: string | undefined): void;
  replaceAll(source: string, documents: ReadonlyMap<string, string>): void;
  health(source: string, state: SourceState, reason?: string): void;
}

export interface RuleSourceStatus extends SourceStatus {
  documents: number;
}

export interface RuleSource {
  readonly name: string;
  start(sink: RuleSink): void;
  stop(): Promise<void>;
  status(): RuleSourceStatus;
}

/** Dubbo's rule suffixes in the config center, by kind. */
export const DUBBO_RULE_SUFFIXES = ['.configurators', '.tag-router', '.condition-router'] as const;
/** Rule kinds the mesh cannot run: read so that they are reported and counted, never skipped without a word. */
export const REPORTED_RULE_SUFFIXES = ['.script-router', '.MESHAPPRULE'] as const;
/** A Dubbo 2.6 rule's znode name under /{root}/{interface}/configurators or /routers (URL-encoded). */
export const LEGACY_URL = /^(override|route)(:\/\/|%3A%2F%2F)/i;

/** A document of the Dubbo group that is a rule (other keys there are Dubbo's own settings). */
export const isDubboRule = (name: string): boolean => [...DUBBO_RULE_SUFFIXES, ...REPORTED_RULE_SUFFIXES].some((s) => name.endsWith(s));
