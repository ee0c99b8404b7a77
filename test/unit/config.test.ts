import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load';

const problems = (text: string): string[] => {
  try {
    parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('config', () => {
  it('loads the annotated example and resolves paths against its folder', () => {
    const file = path.resolve(__dirname, '../../config/adapter.yaml');
    const c = loadConfigFile(file);
    expect(c.sources[0]).toMatchObject({ type: 'file', file: { path: path.resolve(__dirname, '../../config/providers.yaml') } });
    expect(c.clusters).toEqual([{ name: 'default', listener: { address: '127.0.0.1', port: 15051 } }]);
    expect(readFileSync(file, 'utf8')).toContain('sources:');
  });

  it('fills every default', () => {
    const c = parseConfig('sources: [{name: zk, type: zookeeper, zookeeper: {connect: "a:2181,b:2181/chroot"}}]');
    expect(c.sources[0]).toEqual({
      name: 'zk',
      type: 'zookeeper',
      zookeeper: { connect: 'a:2181,b:2181/chroot', root: 'dubbo', sessionTimeoutMs: 30000, resyncIntervalMs: 300000, applications: { enabled: true, root: 'services' } },
    });
    expect(c.render.endpointMode).toBe('inline');
    expect(c.mapping.meshed.sidecarPort).toBe(20882);
    expect(c.xds.debounce).toEqual({ quietMs: 100, maxDelayMs: 1000 });
    expect(c.protection.massRemoval).toEqual({ threshold: 0.5, minEndpoints: 10, holdMs: 300000, windowMs: 300000 });
  });

  it('names the path, the value and the fix', () => {
    expect(problems('sources: [{name: zk, type: zookeeper, zookeeper: {connect: 5}}]')).toEqual(['sources/0/zookeeper/connect: must be string (got 5)']);
    // A secret's value is never echoed, even when it is the wrong type.
    expect(problems('sources: [{name: n, type: nacos, nacos: {serverAddr: "a:8848", auth: {username: u, password: 123456}}}]')).toEqual([
      'sources/0/nacos/auth/password: must be string (value not shown: a secret)',
    ]);
    expect(problems('sources: [{name: f, type: file, file: {path: x}}]\nrender: {endpointMode: fancy}')).toEqual(['render/endpointMode: must be one of workloadentry, inline (got "fancy")']);
    expect(problems('sources: [{name: f, type: file, file: {path: x}}]\nrendr: {}')).toEqual(['(root): unknown key "rendr" (check its spelling)']);
    expect(problems('sources: [{name: f, type: file, fil: {path: x}}]').sort()).toEqual(['sources/0: missing "file"', 'sources/0: unknown key "fil" (check its spelling)']);
  });

  it('refuses labels from volatile parameters, duplicate names and port clashes', () => {
    const p = problems(`
sources: [{name: a, type: file, file: {path: x}}, {name: a, type: file, file: {path: y}}]
mapping: {labels: [{param: pid, label: pid}]}
clusters: [{name: c1, listener: {port: 15080}}]
`);
    expect(p).toEqual(
      expect.arrayContaining([
        'sources/*/name and rules/sources/*/name: "a" is used twice; each must be unique',
        expect.stringContaining('mapping/labels/0/param: "pid" changes on every provider restart'),
        'clusters/0/listener/port: 15080 is also the admin port; pick another',
      ]),
    );
  });

  it('refuses two session timeouts for one ZooKeeper, which is read on one session', () => {
    const p = problems(`
sources: [{name: zk, type: zookeeper, zookeeper: {connect: "a:2181", sessionTimeoutMs: 4000}}]
rules: {sources: [{name: zk-rules, type: zookeeper, zookeeper: {connect: "a:2181"}}, {name: other, type: zookeeper, zookeeper: {connect: "b:2181"}}]}
`);
    expect(p).toEqual(['rules/sources/0/zookeeper/sessionTimeoutMs: 30000 differs from 4000 in sources/0; both name the same ZooKeeper, which the daemon reads on one session with one timeout']);
    // Other credentials, another session: no need to agree.
    expect(
      problems(`
sources: [{name: zk, type: zookeeper, zookeeper: {connect: "a:2181", sessionTimeoutMs: 4000}}]
rules: {sources: [{name: zk-rules, type: zookeeper, zookeeper: {connect: "a:2181", auth: {scheme: digest, credentials: "u:p"}}}]}
`),
    ).toEqual([]);
  });

  it('checks cluster filters and overrides', () => {
    const p = problems(`
sources: [{name: a, type: file, file: {path: x}}]
clusters:
  - name: east
    listener: {port: 15051}
    filter:
      endpoints: {matchExpressions: [{key: env, operator: In}, {key: zone, operator: Exists, values: [a]}]}
`);
    expect(p).toEqual(['clusters/0/filter/endpoints/matchExpressions/0: In needs a non-empty "values" list', 'clusters/0/filter/endpoints/matchExpressions/1: Exists takes no "values"; remove them']);
    const o = problems(`
sources: [{name: a, type: file, file: {path: x}}]
clusters: [{name: east, listener: {port: 15051}, overrides: {locality: "a/b/c/d", labels: {"bad key!": x}}}]
`);
    expect(o).toEqual([expect.stringContaining('clusters/0/overrides/locality: must match pattern'), expect.stringContaining('clusters/0/overrides/labels: key "bad key!" is not a valid label key')]);
  });

  it('rejects YAML that is not a mapping, and unreadable files', () => {
    expect(problems('- a\n- b')[0]).toContain('must be a mapping');
    expect(problems('a: [')[0]).toContain('not valid YAML');
    expect(() => loadConfigFile('/nonexistent.yaml')).toThrow(/cannot read/);
  });
});
