import protobuf from 'protobufjs';
import { kindOfTypeUrl } from '../istio/kinds';
import { clientText, Connection, describe, StreamLimitError, type ConnectionInfo, type Subscription } from './connection';
import { lengthDelimitedField } from './encode';
import { frame, type FramedMessage } from './framed';
import { DeltaDiscoveryResponse, type DeltaDiscoveryRequestMsg } from './proto';

interface DeltaSub extends Subscription {
  wildcard: boolean;
  names: Set<string>;
  /** What the client has: name -> version. */
  known: Map<string, string>;
  answered: boolean;
}

/** Incremental ADS: only what changed, plus the names of what was removed. */
export class DeltaConnection extends Connection<DeltaDiscoveryRequestMsg, DeltaSub> {
  onRequest(req: DeltaDiscoveryRequestMsg): void {
    if (req.node?.id) this.nodeId = clientText(req.node.id);
    const typeUrl = req.typeUrl ?? '';
    let sub = this.subs.get(typeUrl);
    const subscribe = req.resourceNamesSubscribe ?? [];
    const unsubscribe = req.resourceNamesUnsubscribe ?? [];
    if (!sub) {
      this.admit(typeUrl);
      sub = {
        typeUrl,
        kind: kindOfTypeUrl(typeUrl),
        wildcard: subscribe.length === 0 || subscribe.includes('*'),
        names: new Set(),
        known: new Map(Object.entries(req.initialResourceVersions ?? {})),
        pending: true,
        answered: false,
        nacks: 0,
      };
      this.subs.set(typeUrl, sub);
    }
    if (req.responseNonce && req.responseNonce === sub.inFlightNonce) this.onAck(sub, '', req.errorDetail);
    for (const n of subscribe) {
      if (n === '*') sub.wildcard = true;
      else sub.names.add(n);
      sub.known.delete(n); // a subscribed name must be sent even if the client may have it
      sub.pending = true;
    }
    for (const n of unsubscribe) {
      if (n === '*') sub.wildcard = false;
      else sub.names.delete(n);
      sub.known.delete(n);
    }
    if (sub.names.size > this.limits.maxDeltaNames) throw new StreamLimitError(`more than ${this.limits.maxDeltaNames} resource names on one Delta subscription`);
    this.flush();
  }

  protected acked(): void {}

  protected respond(sub: DeltaSub): { nonce: string; message: FramedMessage } | undefined {
    const type = sub.kind ? this.snapshot?.types.get(sub.kind) : undefined;
    const wanted = (name: string): boolean => sub.wildcard || sub.names.has(name);
    const fields: Buffer[] = [];
    for (const r of type?.resources.values() ?? []) {
      if (!wanted(r.name) || sub.known.get(r.name) === r.version) continue;
      const w = protobuf.Writer.create();
      w.uint32((1 << 3) | 2).string(r.version);
      w.uint32((3 << 3) | 2).string(r.name);
      fields.push(lengthDelimitedField(2, Buffer.concat([w.finish(), lengthDelimitedField(2, r.any)])));
      sub.known.set(r.name, r.version);
    }
    const removed: string[] = [];
    for (const name of sub.known.keys()) {
      if (!type?.resources.has(name)) removed.push(name);
    }
    for (const n of removed) sub.known.delete(n);
    if (fields.length === 0 && removed.length === 0 && sub.answered) return undefined;
    sub.answered = true;
    const nonce = this.nextNonce();
    const header = DeltaDiscoveryResponse.encode({ systemVersionInfo: type?.version ?? 'empty', typeUrl: sub.typeUrl, nonce, removedResources: removed }).finish();
    return { nonce, message: frame([header, ...fields]) };
  }

  info(): ConnectionInfo {
    return describe(
      this,
      [...this.subs.values()].map((s) => [
        s.typeUrl,
        { sentVersion: undefined, inFlight: !!s.inFlightNonce, pending: s.pending, nacks: s.nacks, lastNack: s.lastNack, resources: s.known.size, wildcard: s.wildcard },
      ]),
    );
  }
}
