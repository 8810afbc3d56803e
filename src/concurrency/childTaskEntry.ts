import type { ChildAnswer, ChildRequest } from './childTask.js';

// The child side of runInChildProcess: take the one request, import the module, call the
// function, answer, and exit. If the parent goes away first, so does the child.
process.once('disconnect', () => process.exit(1));
process.once('message', (request: ChildRequest) => {
  void answer(request).then((message) => process.send?.(message, () => process.exit(0)));
});

async function answer({ module, exportName, input }: ChildRequest): Promise<ChildAnswer> {
  try {
    const exports = (await import(module)) as Record<string, unknown>;
    const task = exports[exportName];
    if (typeof task !== 'function') throw new Error(`${module} exports no function ${exportName}`);
    return { ok: true, result: await task(input) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return {
      ok: false,
      message: err instanceof Error ? err.message : String(err),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
}
