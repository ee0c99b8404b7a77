import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** The rule IDs ESLint reports for this code, linted as if it were the given file of src/. */
async function lint(file: string, code: string): Promise<string[]> {
  // The CLI, as make lint runs it (its config is an ES module, which jest's VM cannot load).
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/eslint'), ['--format', 'json', '--stdin', '--stdin-filename', file], { cwd: ROOT, input: code, encoding: 'utf8', timeout: 60000 });
  const [result] = JSON.parse(r.stdout) as { messages: { ruleId: string; message: string }[] }[];
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('stage boundaries (make lint)', () => {
  it('fails an import of a later stage', async () => {
    const messages = await lint('src/istio/example.ts', "import { XdsServer } from '../xds/server';\nexport const x = XdsServer;\n");
    expect(messages).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/istio may import only from the stages before it \(common, config, registry, dubbo, model, rules\)/)]);
  });

  it('fails an import from the ground floor upwards', async () => {
    const messages = await lint('src/common/example.ts', "import type { Config } from '../config/types';\nexport type C = Config;\n");
    expect(messages).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/common may import only from the stages before it \(none\)/)]);
  });

  it('lets a stage import an earlier one', async () => {
    expect(await lint('src/xds/example.ts', "import type { IstioObject } from '../istio/types';\nexport type O = IstioObject;\n")).toEqual([]);
  });
});
