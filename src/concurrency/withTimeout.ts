/** The promise's outcome, or a rejection once `ms` have passed (the work itself is not cancelled). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Whether the promise settles (either way) within `ms`; the work itself is not cancelled. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the promise settles while `holds()` stays true, or within `graceMs` of it turning
 * false (checked every `pollMs`); the work itself is not cancelled.
 */
export async function settlesWhile(
  promise: Promise<unknown>,
  holds: () => boolean,
  graceMs: number,
  pollMs = 250,
): Promise<boolean> {
  let failingSince: number | undefined;
  for (;;) {
    if (await settlesWithin(promise, pollMs)) return true;
    if (holds()) failingSince = undefined;
    else {
      failingSince ??= performance.now();
      if (performance.now() - failingSince >= graceMs) return false;
    }
  }
}
