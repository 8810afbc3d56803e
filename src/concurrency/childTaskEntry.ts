import type { ChildAnswer, ChildRequest } from './childTask.js';

// The child side of runInChildProcess: take the one request, import the module, call the
// function, answer, and exit. If the parent goes away first, so does the child.
process.once('disconnect', () => process.exit(1));
process.once('message', (request: ChildRequest) => {
  void answer(request).then(send);
});

function send(message: ChildAnswer): void {
  try {
    process.send?.(message, (err: Error | null) => process.exit(err ? 1 : 0));
  } catch (err) {
    // A result that cannot be copied (a function, say) is answered as an error instead.
    if (message.ok) send({ ok: false, message: `the answer could not be sent: ${describe(err)}` });
    else process.exit(1);
  }
}

/** The error's message; an AggregateError (every address of `localhost` refused) has none of its own. */
function describe(err: unknown): string {
  if (err instanceof AggregateError && !err.message)
    return err.errors.map((inner: unknown) => describe(inner)).join('; ');
  return err instanceof Error ? err.message : String(err);
}

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
      message: describe(err),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
}
