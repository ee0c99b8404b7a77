/**
 * What the benches measure with: statistics, and xDS clients that time responses as they arrive.
 */
import { countEndpoints, findEndpoint, IstiodLikeClient } from '../test/testbed/xds-client';

/** The default endpoint mode, inline: each ServiceEntry carries its endpoints. */
export const SE = 'networking.istio.io/v1/ServiceEntry';

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}
export const stat = (xs: number[]): Stat => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)], min: s[0], max: s[s.length - 1], n: s.length };
};
export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** A client that keeps each response's bytes and ACKs it; the bench decodes only what it checks. */
export const rawClient = (port: number): IstiodLikeClient => {
  const c = new IstiodLikeClient(`127.0.0.1:${port}`);
  c.decode = false;
  return c.connect();
};

const counted = new WeakMap<Buffer, number>();
/** Endpoints in a ServiceEntry response, decoded once per response. */
export const endpointsIn = (b: Buffer | undefined): number => {
  if (!b) return 0;
  let n = counted.get(b);
  if (n === undefined) counted.set(b, (n = countEndpoints(b)));
  return n;
};

/**
 * The arrival time of the first ServiceEntry response, on any of the clients, that `match`
 * accepts, and the client that got it. Call it before making the change, so none slips past;
 * the time is taken when the response arrives, before anything decodes it.
 */
export function firstArrival(clients: IstiodLikeClient[], match: (body: Buffer) => boolean, timeoutMs = 120_000): Promise<{ at: number; client: IstiodLikeClient }> {
  return new Promise((resolve, reject) => {
    const listeners = clients.map((client) => {
      const f = (r: { typeUrl: string; body: Buffer; at: number }): void => {
        if (r.typeUrl !== SE || !match(r.body)) return;
        done();
        resolve({ at: r.at, client });
      };
      client.arrivals.add(f);
      return f;
    });
    const done = (): void => {
      clearTimeout(timer);
      clients.forEach((c, i) => c.arrivals.delete(listeners[i]));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no matching response within ${timeoutMs} ms`));
    }, timeoutMs);
  });
}
export const holds =
  (ip: string, weight?: number) =>
  (b: Buffer): boolean => {
    const e = findEndpoint(b, ip);
    return !!e && (weight === undefined || e.weight === weight);
  };
export const lacks =
  (ip: string) =>
  (b: Buffer): boolean =>
    !findEndpoint(b, ip);
