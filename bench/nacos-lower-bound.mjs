// The lower bound of a Nacos cold sync: a bare client that lists every service of the public
// namespace's DEFAULT_GROUP and reads each one's instances, over the same transport and with the
// same concurrency as the daemon, and nothing else (no normalizing, rendering or serving).
// Prints the number of instances read.
//
//   node bench/nacos-lower-bound.mjs grpc|http host:port concurrency
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const [transport, server, concurrencyText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);

const { mapLimit } = require(path.join(ROOT, 'dist/registry/nacos-client.js'));

async function viaHttp() {
  const base = `http://${server}/nacos`;
  const get = async (p, q) => (await fetch(`${base}${p}?${new URLSearchParams(q)}`)).json();
  const services = [];
  for (let page = 1; ; page++) {
    const r = await get('/v1/ns/service/list', { pageNo: page, pageSize: 1000, namespaceId: '', groupName: 'DEFAULT_GROUP' });
    services.push(...r.doms);
    if (r.doms.length < 1000) break;
  }
  let n = 0;
  await mapLimit(services, concurrency, async (s) => {
    const r = await get('/v1/ns/instance/list', { serviceName: s, groupName: 'DEFAULT_GROUP', namespaceId: '', healthyOnly: 'false' });
    n += r.hosts.length;
  });
  return n;
}

async function viaGrpc() {
  const { NacosGrpcConnection } = require(path.join(ROOT, 'dist/registry/nacos-grpc.js'));
  let connected;
  const ready = new Promise((r) => (connected = r));
  const conn = new NacosGrpcConnection({
    name: 'lower-bound',
    servers: [server],
    portOffset: 1000,
    module: 'naming',
    namespace: '',
    timeoutMs: 10000,
    maxMessageBytes: 64 << 20,
    headers: async () => ({}),
    onPush: (t) => t.replace(/Request$/, 'Response'),
    onConnected: () => connected(),
    onDisconnected: () => undefined,
  });
  conn.start();
  await ready;
  const services = [];
  for (let page = 1; ; page++) {
    const r = await conn.request('ServiceListRequest', { namespace: 'public', groupName: 'DEFAULT_GROUP', serviceName: '', pageNo: page, pageSize: 1000, module: 'naming' });
    services.push(...r.serviceNames);
    if (r.serviceNames.length < 1000) break;
  }
  let n = 0;
  await mapLimit(services, concurrency, async (g) => {
    const r = await conn.request('SubscribeServiceRequest', {
      namespace: 'public',
      groupName: 'DEFAULT_GROUP',
      serviceName: g.includes('@@') ? g.slice(g.indexOf('@@') + 2) : g,
      subscribe: true,
      clusters: '',
      module: 'naming',
    });
    n += r.serviceInfo.hosts.length; // (after the await: n += await ... would read n before it)
  });
  conn.close();
  return n;
}

const n = transport === 'grpc' ? await viaGrpc() : await viaHttp();
process.stdout.write(`${n}\n`);
process.exit(0);
