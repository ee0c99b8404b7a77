import { BufferPool, type FramedMessage } from './framed';
import type { ClusterSnapshot, TypeSnapshot } from './snapshot';

/**
 * The state-of-the-world responses every stream of a view shares, and the memory they reuse:
 * the reuse rules live here and in framed.ts, nowhere else. A version's response is laid out
 * once per type URL (istiod may ask in v1 or v1alpha3) and written as it is to every stream. Its
 * nonce, `t{id}.{n}`, is unique on a stream as long as a stream is sent each TypeSnapshot once:
 * a resend builds its own with a nonce of its own (TypeSnapshot.response, outside the pool).
 */
export class SharedResponses {
  /** Memory of large responses, handed from a version to the next. */
  private readonly pool = new BufferPool();
  private readonly byType = new WeakMap<TypeSnapshot, Map<string, { nonce: string; message: FramedMessage }>>();
  private readonly retired = new WeakSet<TypeSnapshot>();

  shared(type: TypeSnapshot, typeUrl: string): { nonce: string; message: FramedMessage } {
    let byUrl = this.byType.get(type);
    if (!byUrl) this.byType.set(type, (byUrl = new Map()));
    let r = byUrl.get(typeUrl);
    if (!r) {
      const nonce = `t${type.id}.${byUrl.size}`;
      byUrl.set(typeUrl, (r = { nonce, message: type.response(typeUrl, nonce, this.retired.has(type) ? undefined : this.pool) }));
    }
    return r;
  }

  /**
   * A view moved from `prev` to `next`: every stream of it now answers from `next`, so no write
   * of a replaced type's shared responses will start again. Their pooled memory goes back once
   * the writes in flight are done, and they are forgotten, so that nothing could ever hand out
   * bytes whose memory was reused: a later ask builds a fresh response outside the pool.
   */
  replaced(prev: ClusterSnapshot | undefined, next: ClusterSnapshot): void {
    if (!prev || prev === next) return;
    for (const [kind, t] of prev.types) {
      if (next.types.get(kind) === t) continue;
      this.retired.add(t);
      for (const r of this.byType.get(t)?.values() ?? []) r.message.retire();
      this.byType.delete(t);
    }
  }
}
