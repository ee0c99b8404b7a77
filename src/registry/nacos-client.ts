import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { NacosSourceConfig } from '../config/types';

/**
 * Nacos's HTTP open API (v1, which Nacos 2.x serves and 3.x keeps for clients), with auth
 * (username/password token, access key), TLS and fail-over across the servers of serverAddr.
 * Shared by the registry source and the config-center rule source.
 */
/** The digest Nacos keeps of a config's content (MD5 of its UTF-8 bytes), as its list answers it. */
export function configMd5(content: string): string {
  return createHash('md5').update(content, 'utf8').digest('hex');
}

export class NacosClient {
  private token?: { value: string; expiresAtMs: number };
  private readonly agent: http.Agent;
  private readonly base: string[];
  private next = 0;
  /** Nacos 3 has no v1 config listing (410 Gone); it lists through its v3 admin API. */
  private listV3?: boolean;

  constructor(
    private readonly cfg: NacosSourceConfig['nacos'],
    /** Every request sent (for a count of what the source asks of Nacos). */
    private readonly onRequest?: () => void,
  ) {
    const scheme = cfg.tls ? 'https' : 'http';
    this.base = cfg.serverAddr.split(',').map((a) => `${scheme}://${a.trim()}${cfg.contextPath}`);
    this.agent = cfg.tls
      ? new https.Agent({ keepAlive: true, maxSockets: cfg.concurrency, ca: cfg.tls.caFile ? readFileSync(cfg.tls.caFile) : undefined, rejectUnauthorized: !cfg.tls.insecureSkipVerify })
      : new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });
  }

  close(): void {
    this.agent.destroy();
  }

  /** A config item's content; undefined when it does not exist. */
  async getConfig(namespace: string, dataId: string, group: string): Promise<string | undefined> {
    try {
      return (await this.get('/v1/cs/configs', { dataId, group, ...(namespace ? { tenant: namespace } : {}) }, false)) as string;
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Every config item of a group: dataId and a content digest, to read only what changed. */
  async listConfigs(namespace: string, group: string): Promise<{ dataId: string; md5: string }[]> {
    const out: { dataId: string; md5: string }[] = [];
    const pageSize = 200;
    for (let page = 1; ; page++) {
      const q = { pageNo: String(page), pageSize: String(pageSize) };
      let items: { dataId: string; md5?: string; content?: string }[];
      let total: number;
      if (!this.listV3) {
        try {
          const r = (await this.get('/v1/cs/configs', { ...q, search: 'accurate', dataId: '', group, ...(namespace ? { tenant: namespace } : {}) })) as { totalCount: number; pageItems: typeof items };
          items = r.pageItems ?? [];
          total = r.totalCount;
        } catch (err) {
          if (!(err instanceof HttpStatusError && (err.status === 410 || err.status === 404))) throw err;
          this.listV3 = true;
          return this.listConfigs(namespace, group);
        }
      } else {
        const r = (await this.get('/v3/admin/cs/config/list', { ...q, search: 'blur', dataId: '', groupName: group, namespaceId: namespace || 'public' })) as {
          data: { totalCount: number; pageItems: typeof items };
        };
        items = r.data?.pageItems ?? [];
        total = r.data?.totalCount ?? 0;
      }
      // v1 search answers with the content; its digest then stands for the md5.
      out.push(...items.map((i) => ({ dataId: i.dataId, md5: i.md5 ?? configMd5(i.content ?? '') })));
      if (items.length < pageSize || out.length >= total) return out;
    }
  }

  /** GET with the access token if auth is on; the answer parsed as JSON unless json is false. */
  async get(path: string, query: Record<string, string>, json = true): Promise<unknown> {
    const token = await this.accessToken();
    const signed = this.signed(path, query);
    const q = new URLSearchParams({ ...query, ...signed.query, ...(token ? { accessToken: token } : {}) });
    return this.request('GET', `${path}?${q}`, undefined, json, signed.headers);
  }

  /**
   * What a gRPC request carries in its headers for the same credentials: the access token, and
   * the access-key signature fields of the equivalent HTTP request (path /ns/ or /cs/).
   */
  async requestHeaders(path: string, query: Record<string, string>): Promise<Record<string, string>> {
    const token = await this.accessToken();
    const signed = this.signed(path, query);
    return { ...signed.query, ...signed.headers, ...(token ? { accessToken: token } : {}) };
  }

  /** Access-key signature of one request (accessKeySignature), when an access key is configured. */
  private signed(path: string, query: Record<string, string>): { query: Record<string, string>; headers: Record<string, string> } {
    const a = this.cfg.auth;
    const secretKey = a?.accessKey ? (a.secretKey ?? process.env[a.secretKeyEnv ?? ''] ?? '') : '';
    if (!a?.accessKey || !secretKey) return { query: {}, headers: {} };
    return accessKeySignature(path, query, a.accessKey, secretKey, Date.now());
  }

  private async accessToken(): Promise<string | undefined> {
    const auth = this.cfg.auth;
    if (!auth) return undefined;
    if (this.token && this.token.expiresAtMs > Date.now()) return this.token.value;
    const password = auth.password ?? process.env[auth.passwordEnv ?? ''] ?? '';
    let r: { accessToken: string; tokenTtl?: number };
    try {
      r = (await this.request('POST', '/v1/auth/login', new URLSearchParams({ username: auth.username, password }).toString())) as typeof r;
    } catch (err) {
      // The server answered: it refused the user (Nacos says 403, or 500 for an unknown user).
      if (err instanceof HttpStatusError) throw new CredentialsRefused(`login as ${auth.username}: ${err.message}`);
      throw err;
    }
    // Renew well before the token expires.
    this.token = { value: r.accessToken, expiresAtMs: Date.now() + Math.max(30, (r.tokenTtl ?? 18000) / 2) * 1000 };
    return r.accessToken;
  }

  /** One request to the next server of the list that answers; 401/403 are not retried elsewhere. */
  private async request(method: string, path: string, body?: string, json = true, headers: Record<string, string> = {}): Promise<unknown> {
    let lastErr: Error | undefined;
    for (let attempt = 0; attempt < this.base.length; attempt++) {
      const base = this.base[(this.next + attempt) % this.base.length];
      try {
        this.onRequest?.();
        const res = await send(this.agent, method, base + path, body, this.cfg.timeoutMs, headers, json);
        this.next = (this.next + attempt) % this.base.length;
        return res;
      } catch (err) {
        lastErr = err as Error;
        if (lastErr instanceof HttpStatusError && lastErr.status === 404) throw lastErr;
        if (lastErr instanceof HttpStatusError && (lastErr.status === 401 || lastErr.status === 403)) {
          this.token = undefined;
          throw this.cfg.auth ? lastErr : new CredentialsRefused(`${lastErr.message} (Nacos has auth on; configure nacos.auth)`);
        }
      }
    }
    throw lastErr ?? new Error('no Nacos server configured');
  }
}

const hmacSha1 = (text: string, key: string): string => createHmac('sha1', key).update(text, 'utf8').digest('base64');

/**
 * Nacos access-key authentication (Alibaba Cloud RAM, MSE), signed as the Nacos client signs: the
 * secret key never goes on the wire, only an HMAC-SHA1 of the request's resource and the time.
 * - naming (/ns/): parameters ak, data = "{time}@@{group}@@{service}" (or "{time}"), signature;
 * - config (/cs/): headers Spas-AccessKey, Timestamp, Spas-Signature over "{tenant}+{group}+{time}"
 *   (or "{group}+{time}", or "{time}").
 * Open-source Nacos does not check these; a server with the RAM plugin does.
 */
export function accessKeySignature(
  path: string,
  query: Record<string, string>,
  accessKey: string,
  secretKey: string,
  nowMs: number,
): { query: Record<string, string>; headers: Record<string, string> } {
  const time = String(nowMs);
  if (path.includes('/ns/')) {
    const service = query.serviceName ? (query.groupName && !query.serviceName.includes('@@') ? `${query.groupName}@@${query.serviceName}` : query.serviceName) : '';
    const data = service ? `${time}@@${service}` : time;
    return { query: { ak: accessKey, data, signature: hmacSha1(data, secretKey) }, headers: {} };
  }
  const tenant = query.tenant ?? query.namespaceId ?? '';
  const group = query.group ?? query.groupName ?? '';
  const resource = tenant && group ? `${tenant}+${group}` : group || tenant;
  return { query: {}, headers: { 'Spas-AccessKey': accessKey, Timestamp: time, 'Spas-Signature': hmacSha1(resource ? `${resource}+${time}` : time, secretKey) } };
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class CredentialsRefused extends Error {}

export function send(agent: http.Agent, method: string, url: string, body: string | undefined, timeoutMs: number, headers: Record<string, string>, json: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, { method, agent, timeout: timeoutMs, headers: { ...headers, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 400) return reject(new HttpStatusError(res.statusCode ?? 0, `${method} ${new URL(url).pathname}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
        if (!json) return resolve(text);
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new Error(`${method} ${new URL(url).pathname}: not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${new URL(url).pathname}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs fn over items, at most `limit` at a time. */
export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
