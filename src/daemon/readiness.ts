import type { Readiness } from '../admin/server';
import type { GuardStatus, PendingDocument } from '../model/catalog';
import type { SourceState } from '../registry/types';
import type { RuleDocumentStatus } from '../rules/store';

/** How a registry or rule source stands: its state now, and whether it was ever read in full. */
export interface SourceStanding {
  name: string;
  state: SourceState;
  reason?: string;
  syncedOnce: boolean;
}

export interface ReadinessInput {
  xdsListening: boolean;
  /** A first snapshot has been handed to the xDS server. */
  published: boolean;
  registries: SourceStanding[];
  ruleSources: SourceStanding[];
  ruleDocuments: RuleDocumentStatus[];
  guards: GuardStatus[];
  /** Dubbo 3 metadata being fetched from providers, and how long instances may wait before it is worth saying. */
  pendingMetadata: PendingDocument[];
  pendingDegradedMs: number;
  nowMs: number;
}

/**
 * Ready once the listeners are up and every registry and rule source has been read once and
 * published; degraded (still ready) while serving a stale source's last good state, a rejected
 * rule document's last good version, holding back a mass removal, or when Dubbo 3 instances have
 * waited too long for metadata asked of their providers. Pure: the daemon gathers the
 * input, /readyz prints the result.
 */
export function readiness(input: ReadinessInput): Readiness {
  const reasons: string[] = [];
  let ready = input.xdsListening;
  if (!ready) reasons.push('xds listeners are not up');
  for (const h of input.registries) {
    if (!h.syncedOnce) {
      ready = false;
      reasons.push(`source ${h.name} has not synced yet (${h.state}${h.reason ? `: ${h.reason}` : ''}); istiod is not answered for our types until it has`);
    } else if (h.state !== 'synced') {
      reasons.push(`source ${h.name} is ${h.state}: ${h.reason ?? 'no reason given'}; its last known endpoints stay published`);
    }
  }
  for (const h of input.ruleSources) {
    if (!h.syncedOnce) {
      ready = false;
      reasons.push(`rule source ${h.name} has not synced yet (${h.state}${h.reason ? `: ${h.reason}` : ''})`);
    } else if (h.state !== 'synced') reasons.push(`rule source ${h.name} is ${h.state}: ${h.reason ?? 'no reason given'}; its last known rules stay in force`);
  }
  for (const d of input.ruleDocuments) {
    if (d.state === 'rejected') reasons.push(`rule ${d.source}:${d.document} is invalid (${d.error}); ${d.inForce ? 'its last good version stays in force' : 'nothing of it is in force'}`);
  }
  if (ready && !input.published) {
    ready = false;
    reasons.push('every source has synced; the first snapshot is being built');
  }
  for (const g of input.guards) {
    reasons.push(
      `source ${g.source}: ${g.heldRemovals} of ${g.publishedEndpoints} endpoints would be removed at once; held ${g.releaseAtMs ? `until ${new Date(g.releaseAtMs).toISOString()}` : 'until confirmed'} (POST /admin/confirm-removals?source=${g.source})`,
    );
  }
  const late = input.pendingMetadata.filter((p) => input.nowMs - p.sinceMs >= input.pendingDegradedMs);
  for (const p of late.slice(0, 5)) {
    reasons.push(`source ${p.source}: ${p.entries} instance(s) wait for ${p.document} for ${Math.round((input.nowMs - p.sinceMs) / 1000)} s (${p.reason}); they are not served until it is known`);
  }
  if (late.length > 5) reasons.push(`and ${late.length - 5} more revisions whose metadata is still being asked of providers (/debug/sources)`);
  return { ready, status: !ready ? 'not-ready' : reasons.length ? 'degraded' : 'ok', reasons };
}
