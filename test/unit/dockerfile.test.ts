import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

/** COPY sources from the build context (not from another stage), per instruction. */
function contextCopies(): string[] {
  return dockerfile
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
    .flatMap((l) =>
      l
        .replace(/^COPY\s+/, '')
        .trim()
        .split(/\s+/)
        .slice(0, -1),
    );
}

describe('Dockerfile', () => {
  it('copies only files that exist in the repository', () => {
    const sources = contextCopies();
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'proto', 'config/adapter.yaml']));
    for (const s of sources) expect({ s, exists: existsSync(path.join(ROOT, s)) }).toEqual({ s, exists: true });
  });

  it('runs what the build produces: dist/cli.js, loading the protos from ../../proto', () => {
    // `make test` builds dist/ before the suites run.
    expect(existsSync(path.join(ROOT, 'dist/cli.js'))).toBe(true);
    expect(existsSync(path.join(ROOT, 'dist/common/proto.js'))).toBe(true);
    expect(readFileSync(path.join(ROOT, 'dist/common/proto.js'), 'utf8')).toContain("'../../proto'");
    expect(dockerfile).toContain('COPY --from=build /src/dist ./dist');
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/app\/dist\/cli.js"\]/);
  });

  it('runs as a non-root user with production dependencies only', () => {
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
  });

  it('keeps the build context small and free of local state', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.cache']));
  });
});
