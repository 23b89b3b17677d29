/**
 * Kubernetes reads that survive a throttled or restarting API server: 429 (after its
 * Retry-After), 5xx and dropped connections are retried with capped exponential
 * backoff and jitter; anything else (403, 404, 422 …) is an answer and returns at once.
 */
import { ApiException } from '@kubernetes/client-node';
import { apiErrorMessage, httpStatusOf, withTimeout } from './client.js';

export interface RetryOptions {
  /** Hears each retry once, with its cause. */
  log?: (message: string) => void;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Each attempt's own limit: a paused API server accepts the connection and never answers. */
  attemptTimeoutMs?: number;
  signal?: AbortSignal;
  /** A 401 once: the token was refused (expired by the server's clock); get a fresh one and try again. */
  onUnauthorized?: () => void;
  /** For tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
}

const READ_ATTEMPTS = 6;
const BASE_MS = 250;
const CAP_MS = 8_000;
const ATTEMPT_TIMEOUT_MS = 15_000;
const CONNECTION_ERRORS =
  /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|socket hang up|network socket disconnected|other side closed|fetch failed|took longer than/i;

/** Worth another try: the server was busy, failing over, or unreachable for a moment. */
function isTransient(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status !== undefined) return status === 429 || (status >= 500 && status !== 501);
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | undefined;
  return CONNECTION_ERRORS.test(
    `${String(e?.code ?? '')} ${String(e?.cause?.code ?? '')} ${String(e?.message ?? err)}`,
  );
}

/** The server's Retry-After in ms (seconds form), capped, when it sent one. */
function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const headers = (err.headers ?? {}) as Record<string, string | undefined>;
  const value = headers['retry-after'] ?? headers['Retry-After'];
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, CAP_MS * 4) : undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(
  what: string,
  read: () => Promise<T>,
  opts: RetryOptions = {},
): Promise<T> {
  const attempts = opts.attempts ?? READ_ATTEMPTS;
  const sleep = opts.sleep ?? defaultSleep;
  let refreshed = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(read(), opts.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS, what);
    } catch (err) {
      if (httpStatusOf(err) === 401 && opts.onUnauthorized && !refreshed) {
        refreshed = true;
        opts.onUnauthorized();
        opts.log?.(`${what}: ${apiErrorMessage(err)}; retrying with a fresh token`);
        continue;
      }
      if (attempt >= attempts || !isTransient(err) || opts.signal?.aborted) throw err;
      const backoff = Math.min(CAP_MS, BASE_MS * 2 ** (attempt - 1));
      const wait = retryAfterMs(err) ?? Math.round(backoff / 2 + Math.random() * (backoff / 2));
      opts.log?.(`${what}: ${apiErrorMessage(err)}; retry ${attempt} of ${attempts - 1} in ${wait} ms`);
      await sleep(wait);
    }
  }
}
