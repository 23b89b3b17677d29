/**
 * The post-rollout checks re-read an object until its controller has caught up: soon at
 * first (100 ms, doubling), then every 500 ms, until the wait is over.
 */
import { jest } from '@jest/globals';
import { readUntil } from '../../src/kube/verify.js';

describe('readUntil', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  /** Reads answer `false` until `settledAt` (fake ms); returns the times of the reads. */
  async function reads(settledAt: number, waitMs: number) {
    const at: number[] = [];
    const done = readUntil(
      async () => {
        at.push(Date.now());
        return Date.now() >= settledAt;
      },
      (v) => v,
      waitMs,
    );
    let result: boolean | undefined;
    void done.then((v) => (result = v));
    for (let t = 0; t < waitMs + 1000 && result === undefined; t += 10)
      await jest.advanceTimersByTimeAsync(10);
    return { at, result };
  }

  it('re-reads after 100, 200 and 400 ms, then every 500 ms', async () => {
    const { at, result } = await reads(2000, 10_000);
    expect(result).toBe(true);
    expect(at).toEqual([0, 100, 300, 700, 1200, 1700, 2200]);
  });

  it('sees a controller that caught up 100 ms after the first read at its second read', async () => {
    expect((await reads(100, 10_000)).at).toEqual([0, 100]);
  });

  it('returns the last read when the wait is over', async () => {
    const { at, result } = await reads(Infinity, 1000);
    expect(result).toBe(false);
    expect(at.at(-1)).toBeGreaterThanOrEqual(1000);
    expect(at.at(-1)).toBeLessThan(1600);
  });
});
