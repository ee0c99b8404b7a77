import { kindOfTypeUrl } from '../istio/kinds';
import { log } from '../common/log';
import { clientText, Connection, describe, type ConnectionInfo, type Subscription } from './connection';
import { frame, type FramedMessage } from './framed';
import { DiscoveryResponse, type DiscoveryRequestMsg } from './proto';
import type { TypeSnapshot } from './snapshot';

interface SotwSub extends Subscription {
  sentVersion?: string;
  /** The newest TypeSnapshot sent for this type URL: only a newer one may go out with its shared nonce. */
  sentTypeId?: number;
  ackedVersion?: string;
}

/** State-of-the-world ADS, as istiod speaks it: every response is the full set of its type. */
export class SotwConnection extends Connection<DiscoveryRequestMsg, SotwSub> {
  onRequest(req: DiscoveryRequestMsg): void {
    if (req.node?.id) this.nodeId = clientText(req.node.id);
    const typeUrl = req.typeUrl ?? '';
    let sub = this.subs.get(typeUrl);
    if (!sub) {
      this.admit(typeUrl);
      // A first request carries a junk nonce (istiod sends the time): it always gets an answer.
      sub = { typeUrl, kind: kindOfTypeUrl(typeUrl), pending: true, nacks: 0 };
      this.subs.set(typeUrl, sub);
      log.debug('xds subscription', { cluster: this.cluster, connection: this.id, type: typeUrl, served: !!sub.kind });
    } else if (req.responseNonce && req.responseNonce === sub.inFlightNonce) {
      this.onAck(sub, req.versionInfo ?? '', req.errorDetail);
    } else if (!req.responseNonce) {
      sub.pending = true; // a plain re-request: answer with the current state
    } // else: a stale nonce, which the xDS protocol says to ignore
    this.flush();
  }

  protected acked(sub: SotwSub, version: string): void {
    sub.ackedVersion = clientText(version);
    if (sub.kind) this.observer.ackedVersion(this.cluster, this.id, sub.kind, version === sub.sentVersion ? version : 'other');
  }

  protected respond(sub: SotwSub): { nonce: string; message: FramedMessage } {
    const type: TypeSnapshot | undefined = sub.kind ? this.snapshot?.types.get(sub.kind) : undefined;
    sub.sentVersion = type?.version ?? 'empty';
    if (!type || type.resources.size === 0) {
      const nonce = this.nextNonce();
      return { nonce, message: frame([DiscoveryResponse.encode({ versionInfo: sub.sentVersion, typeUrl: sub.typeUrl, nonce }).finish()]) };
    }
    // Every stream gets the same bytes for a version; only a resend (a re-request, a reconnect
    // of this stream's client is a new stream) builds its own, to keep nonces unique per stream.
    if (sub.sentTypeId === undefined || type.id > sub.sentTypeId) {
      sub.sentTypeId = type.id;
      return this.responses!.shared(type, sub.typeUrl);
    }
    this.chargeResend();
    const nonce = this.nextNonce();
    return { nonce, message: type.response(sub.typeUrl, nonce) };
  }

  info(): ConnectionInfo {
    return describe(
      this,
      [...this.subs.values()].map((s) => [
        s.typeUrl,
        { sentVersion: s.sentVersion, ackedVersion: s.ackedVersion, inFlight: !!s.inFlightNonce, pending: s.pending, nacks: s.nacks, lastNack: s.lastNack },
      ]),
    );
  }
}
