import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerPresence } from '../../src/service/workerPresence.js';
import type { WorkerHeartbeatStore } from '../../src/store/workerHeartbeats.js';

/** A heartbeat store whose looks are counted and answered when the test says. */
function heartbeats() {
  const looks: Array<(agoMs: number | undefined) => void> = [];
  const store = {
    lastSeenAgoMs: () => new Promise<number | undefined>((resolve) => looks.push(resolve)),
  } as unknown as WorkerHeartbeatStore;
  return { store, looks };
}

describe('WorkerPresence', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-12-07T12:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('answers from its last look, looking again in the background past half its life', async () => {
    const { store, looks } = heartbeats();
    const presence = new WorkerPresence(store, { localWorker: false });
    const first = presence.status();
    looks[0]!(1000);
    expect(await first).toEqual({ up: true });

    vi.advanceTimersByTime(500);
    expect(await presence.status()).toEqual({ up: true });
    expect(looks).toHaveLength(1);

    // Past half: the caller is answered at once, from the last look, and one new look starts.
    vi.advanceTimersByTime(700);
    expect(await presence.status()).toEqual({ up: true });
    expect(await presence.status()).toEqual({ up: true });
    expect(looks).toHaveLength(2);
    looks[1]!(60_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(await presence.status()).toEqual({ up: false, lastSeenAgoMs: 60_000 });
  });

  it('waits for a new look once its last one is too old to answer', async () => {
    const { store, looks } = heartbeats();
    const presence = new WorkerPresence(store, { localWorker: false });
    const first = presence.status();
    looks[0]!(1000);
    await first;

    vi.advanceTimersByTime(2100);
    let answered: unknown;
    const next = presence.status().then((status) => {
      answered = status;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(answered).toBeUndefined();
    looks[1]!(undefined);
    await next;
    expect(answered).toEqual({ up: false, lastSeenAgoMs: undefined });
  });

  it('keeps its last look when a background look fails, and looks again at the next call', async () => {
    const { store } = heartbeats();
    let fail = false;
    let looks = 0;
    store.lastSeenAgoMs = async () => {
      looks += 1;
      if (fail) throw new Error('state database down');
      return 1000;
    };
    const presence = new WorkerPresence(store, { localWorker: false });
    expect(await presence.status()).toEqual({ up: true });
    fail = true;
    vi.advanceTimersByTime(1500);
    expect(await presence.status()).toEqual({ up: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(looks).toBe(2);
    expect(await presence.status()).toEqual({ up: true });
    expect(looks).toBe(3);
  });
});
