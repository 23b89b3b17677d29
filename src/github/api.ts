/**
 * The GitHub REST client the Action uses for PR comments and deployments: @actions/github's
 * Octokit (GITHUB_API_URL, the runner's proxy), with bounded retries of what is worth
 * retrying: 5xx and lost connections, 429, and 403 that is a rate limit (retry-after or
 * x-ratelimit-remaining 0). Each retry is logged once; the token never is. A create that
 * must not happen twice (a comment, a deployment) names a `lookup` (see CreateOnce).
 */
import { getOctokit } from '@actions/github';

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface RetryOptions {
  /** Tries in all, the first included (default 4). */
  attempts?: number;
  /** First back-off after a 5xx or reset; doubles each retry (default 1000 ms). */
  baseDelayMs?: number;
  /** A rate limit that asks for a longer wait than this is not waited for (default 60 s). */
  maxWaitMs?: number;
  /** Says a retry is coming (once per retry). */
  log: (message: string) => void;
  sleep?: (ms: number) => Promise<void>;
  /**
   * The run's cancellation. Once it is aborted the runner kills the step within seconds
   * (SIGTERM ~7.5 s after SIGINT, SIGKILL ~2.5 s later): what is still sent (the final
   * deployment status) is tried once, within `cancelledRequestMs`, and a retry back-off under
   * way ends at once.
   */
  cancelled?: AbortSignal;
  /** A request's time limit once the run is cancelled (default 3000 ms). */
  cancelledRequestMs?: number;
}

/**
 * Request options of a create (POST) that must not happen twice. After a 5xx or a lost
 * connection GitHub may have created it before its answer was lost: before each retry,
 * `lookup` looks for it, and what it finds is the answer (nothing is created twice). A rate
 * limit answer was never acted on, so it is retried as is.
 */
export interface CreateOnce {
  lookup: () => Promise<{ status: number; url: string; headers: object; data: unknown } | undefined>;
}

/** After this failure the request may have been carried out: a 5xx, or no answer at all. */
const mayHaveLanded = (err: unknown) => {
  const status = (err as HttpError | undefined)?.status;
  return status === undefined || status >= 500;
};

interface HttpError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

const header = (err: HttpError, name: string) => {
  const value = err.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
};

/**
 * How long to wait before trying again, or undefined when the error is not worth a retry
 * (a 4xx other than a rate limit: the request itself is wrong, or the token may not do it).
 */
export function retryDelay(
  err: unknown,
  attempt: number,
  baseDelayMs: number,
  now = Date.now(),
): number | undefined {
  const e = (err ?? {}) as HttpError;
  const status = e.status;
  const backoff = baseDelayMs * 2 ** (attempt - 1);
  const retryAfter = header(e, 'retry-after');
  if (retryAfter !== undefined && (status === 403 || status === 429 || (status ?? 0) >= 500)) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  if (status === 403 || status === 429) {
    if (header(e, 'x-ratelimit-remaining') === '0') {
      const reset = Number(header(e, 'x-ratelimit-reset'));
      return Number.isFinite(reset) ? Math.max(0, reset * 1000 - now) + 1000 : backoff;
    }
    // A 429 is always a limit; a 403 without rate-limit headers is a permission answer.
    return status === 429 ? backoff : undefined;
  }
  // No status: the connection failed (octokit gives those status 500 too).
  if (status === undefined || status >= 500) return backoff;
  return undefined;
}

const delay = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** `wait`, cut short when `signal` aborts. */
function untilCancelled(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return wait;
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((done) => {
    const stop = () => done();
    signal.addEventListener('abort', stop, { once: true });
    void wait.then(() => {
      signal.removeEventListener('abort', stop);
      done();
    });
  });
}

/** A client for `token` against `baseUrl` (default GITHUB_API_URL, else api.github.com). */
export function githubClient(token: string, options: RetryOptions & { baseUrl?: string }): GitHubClient {
  const { attempts = 4, baseDelayMs = 1000, maxWaitMs = 60_000, log, sleep = delay, cancelled } = options;
  const cancelledRequestMs = options.cancelledRequestMs ?? 3000;
  const gh = getOctokit(token, {
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  gh.hook.wrap('request', async (request, opts) => {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!cancelled?.aborted) return await request(opts);
        return await request({
          ...opts,
          request: { ...opts.request, signal: AbortSignal.timeout(cancelledRequestMs) },
        });
      } catch (err) {
        const wait = retryDelay(err, attempt, baseDelayMs);
        if (wait === undefined || attempt >= attempts || wait > maxWaitMs || cancelled?.aborted) throw err;
        const e = err as HttpError;
        const what = e.status ? `${e.status}` : (e.message ?? 'no answer');
        log(
          `GitHub API ${opts.method} ${String(opts.url)}: ${what}; retry ${attempt} of ${attempts - 1} in ${Math.ceil(wait / 1000)} s`,
        );
        await untilCancelled(sleep(wait), cancelled);
        if (cancelled?.aborted) throw err;
        const lookup = (opts.request as Partial<CreateOnce> | undefined)?.lookup;
        if (lookup && mayHaveLanded(err)) {
          const found = await lookup();
          if (found) {
            log(
              `GitHub API ${opts.method} ${String(opts.url)}: it was carried out before the answer was lost; not sent again`,
            );
            return found as Awaited<ReturnType<typeof request>>;
          }
        }
      }
    }
  });
  return gh;
}

/** A GitHub API error in a few words, for a warning: status and GitHub's message. */
export function describeApiError(err: unknown): string {
  const e = (err ?? {}) as HttpError;
  const message = (e.message ?? String(err)).split('\n')[0]!.slice(0, 300);
  return e.status ? `HTTP ${e.status}: ${message}` : message;
}
