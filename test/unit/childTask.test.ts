import { describe, expect, it } from 'vitest';
import { runInChildProcess } from '../../src/concurrency/childTask.js';

const tasks = new URL('../fixtures/childTasks.ts', import.meta.url);

describe('runInChildProcess', () => {
  it('runs an exported function in a child process and copies its result back', async () => {
    await expect(runInChildProcess({ module: tasks, exportName: 'double' }, { n: 21 })).resolves.toEqual({
      doubled: 42,
    });
  });

  it("brings an error back with its message and code (a migration's SQLSTATE, say)", async () => {
    const failure = runInChildProcess({ module: tasks, exportName: 'failWithCode' }, undefined);
    await expect(failure).rejects.toThrow('relation already exists');
    await expect(failure).rejects.toMatchObject({ code: '42P07' });
  });

  it('fails, rather than waiting for ever, when the child dies without answering', async () => {
    await expect(runInChildProcess({ module: tasks, exportName: 'crash' }, undefined)).rejects.toThrow(
      'the crash process ended (3) without an answer',
    );
  });

  it('kills a child that does not answer in time, and says so', async () => {
    await expect(
      runInChildProcess({ module: tasks, exportName: 'hang' }, undefined, { timeoutMs: 1500 }),
    ).rejects.toThrow('the hang process did not answer within 1500 ms');
  });

  it('answers with an error when the result cannot be copied back, and names every refused address', async () => {
    await expect(runInChildProcess({ module: tasks, exportName: 'unsendable' }, undefined)).rejects.toThrow(
      /^the answer could not be sent: /,
    );
    await expect(
      runInChildProcess({ module: tasks, exportName: 'refusedEverywhere' }, undefined),
    ).rejects.toThrow('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });

  it('says so when the module has no such function', async () => {
    await expect(runInChildProcess({ module: tasks, exportName: 'notAFunction' }, undefined)).rejects.toThrow(
      /exports no function notAFunction/,
    );
    await expect(runInChildProcess({ module: tasks, exportName: 'missing' }, undefined)).rejects.toThrow(
      /exports no function missing/,
    );
  });
});
