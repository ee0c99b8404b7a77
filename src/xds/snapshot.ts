import { SetDigest } from '../common/hash';
import { ISTIO_KINDS, type IstioKind, type IstioObject } from '../istio/types';
import { encodeMcpAny, ownedField } from './encode';
import { frame, type BufferPool, type FramedMessage } from './framed';
import { DiscoveryResponse } from './proto';

/** One resource of a snapshot with its bytes, encoded once and shared by every push and client. */
export interface SnapshotResource {
  /** "namespace/name", as istiod wants it. */
  name: string;
  version: string;
  object: IstioObject;
  /** Any(istio.mcp.v1alpha1.Resource): a view into sotwField, not a copy. */
  any: Buffer;
  /** `any` as field 2 of a DiscoveryResponse: SotW bodies are these, concatenated. */
  sotwField: Buffer;
}

/**
 * Encoded resources shared by every cluster view: views whose objects are identical (same kind,
 * name, content version and create time) share one encoding and one Buffer. Reference-counted,
 * so an object no view holds any more is dropped.
 */
export class ResourceCache {
  private readonly entries = new Map<string, { resource: SnapshotResource; refs: number }>();

  /** The resource for an object, encoding it only if no view holds it yet. Throws if it cannot be encoded. */
  acquire(obj: IstioObject): { resource: SnapshotResource; encoded: boolean } {
    const key = cacheKey(obj);
    const hit = this.entries.get(key);
    if (hit) {
      hit.refs++;
      return { resource: hit.resource, encoded: false };
    }
    const { field, bytes } = ownedField(2, encodeMcpAny(obj));
    const resource = { name: `${obj.namespace}/${obj.name}`, version: obj.version, object: obj, any: bytes, sotwField: field };
    this.entries.set(key, { resource, refs: 1 });
    return { resource, encoded: true };
  }

  release(resource: SnapshotResource): void {
    const key = cacheKey(resource.object);
    const e = this.entries.get(key);
    if (e && --e.refs <= 0) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

function cacheKey(o: IstioObject): string {
  return `${o.kind}\0${o.namespace}/${o.name}\0${o.version}\0${o.createdAtMs}`;
}

let typeSnapshots = 0;

/** The full set of one kind for one cluster view. Immutable. */
export class TypeSnapshot {
  /** Unique in this process and increasing: a stream only ever moves on to newer ones. */
  readonly id = ++typeSnapshots;

  constructor(
    readonly kind: IstioKind,
    readonly version: string,
    readonly resources: ReadonlyMap<string, SnapshotResource>,
  ) {}

  /**
   * The state-of-the-world DiscoveryResponse of this version (shared by streams through
   * responses.ts). The resources (field 2) first, then version, type URL and nonce: protobuf
   * readers take fields in any order, and so the large part is laid down without knowing the nonce.
   */
  response(typeUrl: string, nonce: string, pool?: BufferPool): FramedMessage {
    const parts: Uint8Array[] = [];
    for (const r of this.resources.values()) parts.push(r.sotwField);
    parts.push(DiscoveryResponse.encode({ versionInfo: this.version, typeUrl, nonce }).finish());
    return frame(parts, pool);
  }
}

export interface ClusterSnapshot {
  cluster: string;
  serial: number;
  types: ReadonlyMap<IstioKind, TypeSnapshot>;
}

export interface BuilderObserver {
  encoded?(count: number): void;
  /** The object could not be encoded; the previous version of it (if any) stays. */
  unencodable?(kind: IstioKind, name: string, error: Error): void;
  conflict?(kind: IstioKind, name: string, owners: string[]): void;
}

/**
 * Builds successive immutable snapshots of one cluster view from per-service object lists.
 * A resource whose version and create time did not change keeps its encoded bytes, and only the
 * kinds that changed get a new TypeSnapshot. If two services claim one object name, the smallest
 * service id wins, deterministically, and the conflict is reported.
 */
export class SnapshotBuilder {
  private serial = 0;
  /** Each service's objects by claim key, so finding the owner's object is a look-up, not a scan. */
  private readonly byService = new Map<string, Map<string, IstioObject>>();
  private readonly claims = new Map<string, Set<string>>();
  private readonly current = new Map<IstioKind, Map<string, SnapshotResource>>();
  private readonly digests = new Map<IstioKind, SetDigest>();
  /** Names of `current`, kept sorted as they come and go, so a snapshot never sorts the whole type. */
  private readonly order = new Map<IstioKind, string[]>();
  private snapshot: ClusterSnapshot;

  constructor(
    readonly cluster: string,
    private readonly observer: BuilderObserver = {},
    private readonly cache: ResourceCache = new ResourceCache(),
  ) {
    for (const k of ISTIO_KINDS) {
      this.current.set(k, new Map());
      this.digests.set(k, new SetDigest());
      this.order.set(k, []);
    }
    this.snapshot = this.build(new Set(ISTIO_KINDS));
  }

  latest(): ClusterSnapshot {
    return this.snapshot;
  }

  /** Replace the objects of many services at once ([] removes them) and cut one new snapshot. */
  update(changes: ReadonlyMap<string, IstioObject[]>): ClusterSnapshot {
    const touched = new Set<string>();
    for (const [serviceId, objects] of changes) {
      for (const key of this.byService.get(serviceId)?.keys() ?? []) {
        this.claims.get(key)?.delete(serviceId);
        touched.add(key);
      }
      const own = new Map<string, IstioObject>();
      for (const o of objects) {
        const key = `${o.kind}\0${o.namespace}/${o.name}`;
        if (!own.has(key)) own.set(key, o); // the first of duplicates wins, as before
        let c = this.claims.get(key);
        if (!c) this.claims.set(key, (c = new Set()));
        c.add(serviceId);
        touched.add(key);
      }
      if (own.size === 0) this.byService.delete(serviceId);
      else this.byService.set(serviceId, own);
    }
    const changedKinds = new Set<IstioKind>();
    let encoded = 0;
    for (const key of touched) {
      const [kind, name] = key.split('\0') as [IstioKind, string];
      const owners = [...(this.claims.get(key) ?? [])].sort();
      const map = this.current.get(kind)!;
      const digest = this.digests.get(kind)!;
      const old = map.get(name);
      if (owners.length === 0) {
        this.claims.delete(key);
        if (old) {
          map.delete(name);
          removeSorted(this.order.get(kind)!, name);
          digest.toggle(name, old.version);
          this.cache.release(old);
          changedKinds.add(kind);
        }
        continue;
      }
      if (owners.length > 1) this.observer.conflict?.(kind, name, owners);
      const obj = this.byService.get(owners[0])!.get(key)!;
      if (old && old.version === obj.version && old.object.createdAtMs === obj.createdAtMs) continue;
      let acquired: ReturnType<ResourceCache['acquire']>;
      try {
        acquired = this.cache.acquire(obj);
      } catch (err) {
        this.observer.unencodable?.(kind, name, err as Error);
        continue;
      }
      if (acquired.encoded) encoded++;
      if (old) {
        digest.toggle(name, old.version);
        this.cache.release(old);
      }
      digest.toggle(name, obj.version);
      if (!old) insertSorted(this.order.get(kind)!, name);
      map.set(name, acquired.resource);
      changedKinds.add(kind);
    }
    if (encoded) this.observer.encoded?.(encoded);
    if (changedKinds.size > 0) this.snapshot = this.build(changedKinds);
    return this.snapshot;
  }

  private build(changed: Set<IstioKind>): ClusterSnapshot {
    const types = new Map(this.snapshot?.types ?? []);
    for (const kind of changed) {
      // In name order, so that the same set is the same bytes in every replica.
      const map = this.current.get(kind)!;
      const sorted = new Map<string, SnapshotResource>();
      for (const name of this.order.get(kind)!) sorted.set(name, map.get(name)!);
      types.set(kind, new TypeSnapshot(kind, this.digests.get(kind)!.value(), sorted));
    }
    return { cluster: this.cluster, serial: ++this.serial, types };
  }
}

/** Index of the first element not below `name` (binary search). */
function lowerBound(sorted: string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: string[], name: string): void {
  sorted.splice(lowerBound(sorted, name), 0, name);
}

function removeSorted(sorted: string[], name: string): void {
  const i = lowerBound(sorted, name);
  if (sorted[i] === name) sorted.splice(i, 1);
}
