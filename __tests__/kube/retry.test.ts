import { ApiException } from '@kubernetes/client-node';
import { withRetry } from '../../src/kube/retry.js';

const apiError = (code: number, headers: Record<string, string> = {}) =>
  new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ message: `status ${code}` }), headers);

function failing(errors: unknown[]) {
  let calls = 0;
  return {
    read: async () => {
      calls += 1;
      const err = errors.shift();
      if (err) throw err;
      return 'ok';
    },
    calls: () => calls,
  };
}

const waits: number[] = [];
const sleep = async (ms: number) => void waits.push(ms);
beforeEach(() => (waits.length = 0));

it('retries 429 after its Retry-After, 5xx and a reset connection, logging each retry once', async () => {
  const f = failing([
    apiError(429, { 'retry-after': '2' }),
    apiError(503),
    Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
  ]);
  const log: string[] = [];
  await expect(withRetry('reading Deployment x', f.read, { sleep, log: (m) => log.push(m) })).resolves.toBe(
    'ok',
  );
  expect(f.calls()).toBe(4);
  expect(waits[0]).toBe(2000);
  expect(log).toEqual([
    'reading Deployment x: 429: status 429; retry 1 of 5 in 2000 ms',
    expect.stringMatching(/^reading Deployment x: 503: status 503; retry 2 of 5 in \d+ ms$/),
    expect.stringMatching(/^reading Deployment x: socket hang up; retry 3 of 5 in \d+ ms$/),
  ]);
});

it('answers at once on what is an answer (403, 404), and gives up after the attempt count', async () => {
  const forbidden = failing([apiError(403)]);
  await expect(withRetry('x', forbidden.read, { sleep })).rejects.toMatchObject({ code: 403 });
  expect(forbidden.calls()).toBe(1);
  const down = failing(Array.from({ length: 10 }, () => apiError(500)));
  await expect(withRetry('x', down.read, { sleep, attempts: 3 })).rejects.toMatchObject({ code: 500 });
  expect(down.calls()).toBe(3);
});

it('after a 401 asks for a fresh token once, then retries; a second 401 is the answer', async () => {
  let refreshed = 0;
  const once = failing([apiError(401)]);
  await expect(withRetry('x', once.read, { sleep, onUnauthorized: () => void refreshed++ })).resolves.toBe(
    'ok',
  );
  expect([refreshed, once.calls()]).toEqual([1, 2]);
  const twice = failing([apiError(401), apiError(401)]);
  await expect(
    withRetry('x', twice.read, { sleep, onUnauthorized: () => void refreshed++ }),
  ).rejects.toMatchObject({ code: 401 });
  expect([refreshed, twice.calls()]).toEqual([2, 2]);
});
