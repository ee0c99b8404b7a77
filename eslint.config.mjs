import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The pipeline's stages, first to last (docs/architecture.md). A stage imports only from stages
// before it, so data flows one way; cli.ts, the entry point, may import any of them.
const STAGES = ['common', 'config', 'registry', 'dubbo', 'model', 'rules', 'istio', 'xds', 'admin', 'daemon'];
// common is the ground floor; config may use it; every later stage may use both.
const allowedBefore = (i) => STAGES.slice(0, i);

const boundaries = STAGES.map((stage, i) => {
  const forbidden = STAGES.filter((s) => s !== stage && !allowedBefore(i).includes(s));
  return {
    files: [`src/${stage}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...forbidden.flatMap((s) => [`../${s}`, `../${s}/**`]), '../cli', '../../*'],
              message: `src/${stage} may import only from the stages before it (${allowedBefore(i).join(', ') || 'none'}): data flows one way (docs/architecture.md).`,
            },
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...boundaries,
  {
    // The test bed is a library the suites and the benches both use: it imports neither.
    files: ['test/testbed/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../unit/*', '../integration/*', '../e2e/*', '../adversarial/*', '../chart/*', '../../bench/*'],
              message: 'test/testbed is a library for the suites and bench/: it imports neither.',
            },
          ],
        },
      ],
    },
  },
);
