/**
 * Run only inside test/netguard/run.sh (the netguard suite does): shows the guard catching the
 * case it was made for. A real Nacos starts in the guard's namespace; an instance registered the
 * way the suites register (NacosWriter: persistent, health checker NONE) is never dialled, and a
 * plain persistent instance is, by Nacos's own TCP health check within seconds. Both addresses
 * are documentation addresses (192.0.2.0/24) and the namespace has no route to them, so every
 * attempt is blocked before a packet exists. Prints what it saw as JSON.
 */
import { readFileSync } from 'node:fs';
import { NacosServer, NacosWriter, dubboMetadata } from '../testbed/nacos-server';
import { sleep, waitFor } from '../testbed/net';

function blockedAttempts(): number {
  const [names, values] = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Ip:'))
    .map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf('OutNoRoutes')]);
}

async function main(): Promise<void> {
  const nacos = await new NacosServer().start();
  try {
    const start = blockedAttempts();
    await new NacosWriter(nacos.base).register({ service: 'providers:com.example.Undialled::', ip: '192.0.2.10', port: 20880, metadata: dubboMetadata('com.example.Undialled') });
    // Nacos checks persistent instances every 2 to 7 seconds: three rounds at least.
    await sleep(20000);
    const afterWriter = blockedAttempts() - start;
    const body = new URLSearchParams({
      serviceName: 'providers:com.example.Dialled::',
      ip: '192.0.2.11',
      port: '20880',
      ephemeral: 'false',
      metadata: JSON.stringify(dubboMetadata('com.example.Dialled')),
    });
    const res = await fetch(`${nacos.base}/v1/ns/instance`, { method: 'POST', body });
    if (!res.ok) throw new Error(`register: ${res.status}`);
    const beforePlain = blockedAttempts();
    await waitFor('a health check of the plain persistent instance', () => blockedAttempts() > beforePlain, 30000, 250).catch(() => undefined);
    console.log(JSON.stringify({ afterWriter, afterPlain: blockedAttempts() - beforePlain }));
  } finally {
    await nacos.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
