import { parseProvidersFile } from '../../src/registry/file';
import { parseRuleDocument } from '../../src/rules/parse';
import { RuleStore } from '../../src/rules/store';
import { parseConfig } from '../../src/config/load';

/** A "billion laughs" document: each level repeats the one before ten times, through aliases. */
function aliasBomb(levels: number, top: (last: string) => string): string {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < levels; i++)
    lines.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  lines.push(top(`*a${levels - 1}`));
  return lines.join('\n') + '\n';
}

describe('YAML from outside is bounded', () => {
  it('refuses a rule document whose aliases expand it, and keeps the last good version in force', () => {
    const bomb = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bomb}\n${aliasBomb(9, (last) => `spec: {hosts: [a.example], http: [{route: [{destination: {host: a.example}}], headers: ${last}}]}`)}`;
    expect(bomb.length).toBeLessThan(5000);
    const parsed = parseRuleDocument({ source: 'zk', document: 'bomb' }, 'bomb', bomb);
    expect(parsed).toEqual({ error: expect.stringMatching(/^refused: the document expands to more than \d+ nodes/) });

    const rejected: string[] = [];
    const store = new RuleStore(['zk'], { rejected: (_o, e) => rejected.push(e), changed: () => {} });
    const good = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bomb}\nspec: {hosts: [a.example], http: [{route: [{destination: {host: a.example}}]}]}\n';
    expect(store.set('zk', 'bomb', good, 1)).toBeUndefined();
    store.set('zk', 'bomb', bomb, 2);
    expect(rejected[0]).toMatch(/^refused: the document expands/);
    expect(store.ruleSet().rules).toHaveLength(1); // the good version stays
  });

  it('refuses a Dubbo rule nested past the depth limit, and a self-referencing alias', () => {
    const deep = `configVersion: v3.0\nscope: service\nkey: a.B\nconfigs: ${'['.repeat(80)}${']'.repeat(80)}\n`;
    expect(parseRuleDocument({ source: 'zk', document: 'a.B.configurators' }, 'a.B.configurators', deep)).toEqual({ error: 'refused: the document nests deeper than 64 levels' });
    // js-yaml resolves an alias inside its own anchor to the object itself: a cycle.
    const cycle = 'configVersion: v3.0\nscope: service\nkey: a.B\nconfigs: &c [{side: provider}, *c]\n';
    expect(parseRuleDocument({ source: 'zk', document: 'a.B.configurators' }, 'a.B.configurators', cycle)).toEqual({ error: 'refused: the document nests deeper than 64 levels' });
  });

  it('refuses a providers file or a config file that expands through aliases', () => {
    const file = aliasBomb(7, (last) => `providers: {a.B: ${last}}`);
    expect(parseProvidersFile(file)).toEqual({ error: expect.stringMatching(/^refused: the document expands/) });
    expect(() => parseConfig(aliasBomb(7, (last) => `sources: ${last}`))).toThrow(/refused: the document expands/);
  });
});
