/**
 * A synthetic but realistic Dubbo estate, reproducible from a seed: applications serving
 * several interfaces each, with groups and versions, blue/green and zone labels, and 2 to 50
 * providers per interface, laid out as Dubbo writes them into ZooKeeper.
 */
import { prng } from '../test/testbed/random';

export interface Estate {
  /** znode paths to create, parents first */
  paths: string[];
  providers: number;
  interfaces: string[];
}

export const SIZES = { S: 1_000, M: 20_000, L: 200_000 } as const;
export type Size = keyof typeof SIZES;

export function providerUrl(ip: string, port: number, iface: string, app: string, extra: Record<string, string>): string {
  const params = { anyhost: 'true', application: app, dubbo: '2.0.2', interface: iface, methods: 'get,put,list', pid: '4242', side: 'provider', timestamp: '1700000000000', ...extra };
  const q = Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `dubbo://${ip}:${port}/${iface}?${q}`;
}

export function generateEstate(target: number, seed = 42): Estate {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const paths: string[] = ['/dubbo'];
  const interfaces: string[] = [];
  let providers = 0;
  for (let a = 0; providers < target; a++) {
    const app = `app-${a}`;
    const ifaceCount = 1 + Math.floor(rnd() * 5);
    for (let i = 0; i < ifaceCount && providers < target; i++) {
      const iface = `com.example.${app.replace('-', '')}.Service${i}`;
      const perIface = Math.min(target - providers, 2 + Math.floor(rnd() * 49));
      const group = rnd() < 0.2 ? pick(['canary', 'payments', 'internal']) : '';
      const version = rnd() < 0.5 ? pick(['1.0.0', '1.1.0', '2.0.0']) : '';
      interfaces.push(iface);
      paths.push(`/dubbo/${iface}`, `/dubbo/${iface}/providers`);
      for (let p = 0; p < perIface; p++) {
        const n = providers + p;
        const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
        const extra: Record<string, string> = { env: rnd() < 0.5 ? 'blue' : 'green', zone: pick(['zone-a', 'zone-b', 'zone-c']), region: 'region-1' };
        if (group) extra.group = group;
        if (version) extra.version = version;
        paths.push(`/dubbo/${iface}/providers/${encodeURIComponent(providerUrl(ip, 20880, iface, app, extra))}`);
      }
      providers += perIface;
    }
  }
  return { paths, providers, interfaces };
}
