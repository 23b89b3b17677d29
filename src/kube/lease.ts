/**
 * One deploy per namespace at a time: a coordination.k8s.io Lease held and renewed for
 * the whole run (the way werf/nelm lock releases in the cluster). A second run finds a
 * live lease and stops, naming the holder; a lease nobody renewed for its duration
 * belongs to a run that died and is taken over.
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';
import { inputError, preflightError } from '../errors.js';
import { apiErrorMessage, httpStatusOf, tokenRefused } from './client.js';
import { withRetry } from './retry.js';

const LEASE_NAME = 'ecommerce-deploy';
/** A dead run's lease is free this long after its last renewal. */
const LEASE_SECONDS = 30;
const RENEW_MS = (LEASE_SECONDS * 1000) / 3;
const WAIT_POLL_MS = 2_000;

export interface LockOptions {
  namespace: string;
  /** Who holds it, for the run that finds it taken: a GitHub run URL, or user@host for the CLI. */
  holder: string;
  /** Wait up to this long for a live lease to be released instead of stopping at once. */
  waitSeconds?: number;
  log: (message: string) => void;
  signal?: AbortSignal;
  now?: () => number;
}

export interface RunLock {
  /** The run took over a lease whose holder had stopped renewing it (a killed run): its holder. */
  tookOverFrom?: string;
  release(): Promise<void>;
}

interface Held {
  holder: string;
  since?: Date;
  renewed?: Date;
  expired: boolean;
}

function heldBy(lease: V1Lease, now: number): Held {
  const spec = lease.spec ?? {};
  const renewed = spec.renewTime ?? spec.acquireTime;
  const duration = (spec.leaseDurationSeconds ?? LEASE_SECONDS) * 1000;
  return {
    holder: spec.holderIdentity ?? '',
    since: spec.acquireTime,
    renewed,
    expired: !spec.holderIdentity || !renewed || new Date(renewed).getTime() + duration < now,
  };
}

function leaseBody(opts: LockOptions, transitions: number, resourceVersion?: string): V1Lease {
  const now = new V1MicroTime((opts.now ?? Date.now)());
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE_NAME, namespace: opts.namespace, resourceVersion },
    spec: {
      holderIdentity: opts.holder,
      leaseDurationSeconds: LEASE_SECONDS,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: transitions,
    },
  };
}

export async function acquireLock(kc: KubeConfig, opts: LockOptions): Promise<RunLock> {
  const api = kc.makeApiClient(CoordinationV1Api);
  const { namespace } = opts;
  const now = opts.now ?? Date.now;
  const retried = <T>(what: string, call: () => Promise<T>) =>
    withRetry(`lease ${namespace}/${LEASE_NAME}: ${what}`, call, {
      log: opts.log,
      signal: opts.signal,
      onUnauthorized: () => tokenRefused(kc),
    });
  const waitUntil = now() + (opts.waitSeconds ?? 0) * 1000;
  let tookOverFrom: string | undefined;
  for (;;) {
    let current: V1Lease | undefined;
    try {
      current = await retried('create', () =>
        api.createNamespacedLease({ namespace, body: leaseBody(opts, 0) }),
      );
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 404) {
        await createNamespace(kc, namespace, opts.log);
        continue;
      }
      if (status !== 409) throw lockError(namespace, err);
    }
    if (current) return holding(api, opts, current, () => tokenRefused(kc), tookOverFrom);
    const existing = await retried('read', () => api.readNamespacedLease({ name: LEASE_NAME, namespace }));
    const held = heldBy(existing, now());
    // Our own create, whose answer was lost (a reset after the server applied it).
    if (held.holder === opts.holder)
      return holding(api, opts, existing, () => tokenRefused(kc), tookOverFrom);
    if (held.expired) {
      try {
        const taken = await api.replaceNamespacedLease({
          name: LEASE_NAME,
          namespace,
          body: leaseBody(
            opts,
            (existing.spec?.leaseTransitions ?? 0) + 1,
            existing.metadata?.resourceVersion,
          ),
        });
        if (held.holder) {
          tookOverFrom = held.holder;
          opts.log(
            `took over the deploy lease of ${namespace} from ${held.holder}, which stopped renewing it`,
          );
        }
        return holding(api, opts, taken, () => tokenRefused(kc), tookOverFrom);
      } catch (err) {
        // 409: another run took it between our read and write; look again.
        if (httpStatusOf(err) !== 409) throw lockError(namespace, err);
        continue;
      }
    }
    if (now() >= waitUntil || opts.signal?.aborted)
      throw takenError(namespace, held, opts.waitSeconds, now());
    opts.log(`waiting for ${held.holder} to finish deploying to ${namespace}`);
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

/** Renews until released; a renewal that finds the lease in other hands says so loudly. */
function holding(
  api: CoordinationV1Api,
  opts: LockOptions,
  lease: V1Lease,
  refresh: () => void,
  tookOverFrom?: string,
): RunLock {
  const { namespace } = opts;
  let current = lease;
  let lost = false;
  /**
   * A write whose answer was lost (a reset after the server applied it) leaves us an old
   * resourceVersion, so the next write fails its precondition (409): read the lease again,
   * and it is still ours when it still names this run.
   */
  const reread = async (): Promise<V1Lease | undefined> => {
    try {
      const fresh = await withRetry(
        `lease ${namespace}/${LEASE_NAME}: read`,
        () => api.readNamespacedLease({ name: LEASE_NAME, namespace }),
        { log: opts.log, attempts: 3, onUnauthorized: refresh },
      );
      return fresh.spec?.holderIdentity === opts.holder ? fresh : undefined;
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw err;
    }
  };
  const renewOnce = () =>
    withRetry(
      `lease ${namespace}/${LEASE_NAME}: renew`,
      () =>
        api.replaceNamespacedLease({
          name: LEASE_NAME,
          namespace,
          body: {
            ...current,
            spec: { ...current.spec, renewTime: new V1MicroTime((opts.now ?? Date.now)()) },
          },
        }),
      { log: opts.log, attempts: 3, onUnauthorized: refresh },
    );
  const renew = async () => {
    try {
      try {
        current = await renewOnce();
      } catch (err) {
        if (httpStatusOf(err) !== 409) throw err;
        const fresh = await reread();
        if (!fresh) throw err;
        current = fresh;
        current = await renewOnce();
      }
    } catch (err) {
      if (httpStatusOf(err) === 409 && !lost) {
        lost = true;
        opts.log(
          `WARNING: the deploy lease of ${namespace} was taken by another run; this run no longer holds it`,
        );
      } else if (!lost) {
        opts.log(`could not renew the deploy lease of ${namespace}: ${apiErrorMessage(err)}`);
      }
    }
  };
  // A renewal in flight when the run ends changes the resourceVersion: the release waits
  // for it, or its delete's precondition would be stale (409) and the lease left held.
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => (renewing = renew()), RENEW_MS);
  timer.unref();
  return {
    tookOverFrom,
    release: async () => {
      clearInterval(timer);
      await renewing;
      if (lost) return;
      const remove = (resourceVersion: string | undefined) =>
        withRetry(
          `lease ${namespace}/${LEASE_NAME}: release`,
          () =>
            api.deleteNamespacedLease({
              name: LEASE_NAME,
              namespace,
              body: { preconditions: { resourceVersion } },
            }),
          { log: opts.log, attempts: 3, attemptTimeoutMs: 3_000, onUnauthorized: refresh },
        );
      try {
        try {
          await remove(current.metadata?.resourceVersion);
        } catch (err) {
          const status = httpStatusOf(err);
          // 404: a delete whose answer was lost already removed it.
          if (status === 404) return;
          if (status !== 409) throw err;
          const fresh = await reread();
          if (fresh) await remove(fresh.metadata?.resourceVersion);
        }
      } catch (err) {
        // It expires by itself LEASE_SECONDS after the last renewal.
        opts.log(
          `could not release the deploy lease of ${namespace} (${apiErrorMessage(err)}); it expires in ${LEASE_SECONDS}s`,
        );
      }
    },
  };
}

async function createNamespace(kc: KubeConfig, namespace: string, log: (m: string) => void) {
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    log(`created namespace ${namespace}`);
  } catch (err) {
    if (httpStatusOf(err) === 409) return;
    throw preflightError(
      `namespace ${namespace} does not exist, and creating it failed: ${apiErrorMessage(err)}`,
      {
        hint: `create the namespace first (kubectl create namespace ${namespace}), or let the deploy identity create namespaces`,
        cause: err,
      },
    );
  }
}

function lockError(namespace: string, err: unknown) {
  const status = httpStatusOf(err);
  return preflightError(`cannot take the deploy lease in ${namespace}: ${apiErrorMessage(err)}`, {
    hint:
      status === 401 || status === 403
        ? `the deploy identity needs get, create, update and delete on leases (coordination.k8s.io) in ${namespace}: see rbac/role.yaml`
        : 'check that the cluster is reachable, then deploy again',
    cause: err,
  });
}

function takenError(namespace: string, held: Held, waited: number | undefined, now: number) {
  const since = held.since ? ` since ${new Date(held.since).toISOString()}` : '';
  const renewed = held.renewed
    ? `, renewed ${Math.round((now - new Date(held.renewed).getTime()) / 1000)}s ago`
    : '';
  return inputError(`another deploy to ${namespace} is running: ${held.holder}${since}${renewed}`, {
    hint:
      (waited ? `it did not finish within ${waited}s; ` : '') +
      `wait for it to finish, or pass --wait-for-lock <seconds> (Action: wait-for-lock) to queue behind it. ` +
      `A run that was killed frees the lease ${LEASE_SECONDS}s after its last renewal.`,
  });
}
