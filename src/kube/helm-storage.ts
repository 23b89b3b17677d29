/**
 * One revision of a helm release read straight from helm's storage through the run's own
 * Kubernetes client: what `helm get manifest` and `helm get values` print, without two helm
 * processes per service (each one a Go binary start, a kube client, discovery and a /version
 * call). Read-only, and the same Secret helm itself reads, so the same RBAC covers it.
 *
 * Helm's default driver ("secret", both helm 3 and 4) keeps revision N of release R in the
 * Secret `sh.helm.release.v1.R.vN`, key `release`: base64 of gzipped JSON (the API adds its
 * own base64 on top). Any other driver (HELM_DRIVER=configmap, sql, memory) answers
 * undefined, and the caller asks helm.
 */
import { gunzipSync } from 'node:zlib';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { httpStatusOf, tokenRefused } from './client.js';
import { withRetry } from './retry.js';

export interface StoredRelease {
  /** `helm get manifest`: the rendered objects of that revision (hooks excluded). */
  manifest: string;
  /** `helm get values`: the values the user gave that revision; {} when none. */
  values: Record<string, unknown>;
}

export type StoredReleaseReader = (
  namespace: string,
  release: string,
  revision: number,
) => Promise<StoredRelease | undefined>;

/** Helm's secret driver is the one in use: HELM_DRIVER unset, empty, "secret" or "secrets". */
export function secretDriver(env: Record<string, string | undefined> = process.env): boolean {
  return ['', 'secret', 'secrets'].includes((env.HELM_DRIVER ?? '').toLowerCase());
}

const GZIP = [0x1f, 0x8b, 0x08];

/** The `release` key of a helm release Secret's data, as the API returns it (base64), into its record. */
export function decodeStoredRelease(data: string): StoredRelease {
  const helmEncoded = Buffer.from(data, 'base64').toString('latin1');
  let bytes = Buffer.from(helmEncoded, 'base64');
  // Helm reads uncompressed records too (what helm 2-era migrations wrote).
  if (GZIP.every((b, i) => bytes[i] === b)) bytes = gunzipSync(bytes);
  const record = JSON.parse(bytes.toString('utf8')) as { manifest?: unknown; config?: unknown };
  if (typeof record !== 'object' || record === null) throw new Error('not a helm release record');
  const values = record.config;
  return {
    manifest: typeof record.manifest === 'string' ? record.manifest : '',
    values: values && typeof values === 'object' ? (values as Record<string, unknown>) : {},
  };
}

/**
 * Reads revisions through `kc`; undefined (ask helm instead) when helm keeps its releases
 * elsewhere, or the Secret is missing or not a record this reader knows.
 */
export function storedReleaseReader(
  kc: KubeConfig,
  log?: (message: string) => void,
  env: Record<string, string | undefined> = process.env,
): StoredReleaseReader {
  const core = kc.makeApiClient(CoreV1Api);
  const useSecrets = secretDriver(env);
  return async (namespace, release, revision) => {
    if (!useSecrets) return undefined;
    const name = `sh.helm.release.v1.${release}.v${revision}`;
    let data: string | undefined;
    try {
      const secret = await withRetry(
        `${release}: reading its revision ${revision} (Secret ${name})`,
        () => core.readNamespacedSecret({ name, namespace }),
        { log, onUnauthorized: () => tokenRefused(kc) },
      );
      if (secret.type !== 'helm.sh/release.v1') return undefined;
      data = secret.data?.release;
    } catch (err) {
      // Not there, or not ours to read: helm says why in its own words.
      if ([403, 404].includes(httpStatusOf(err) ?? 0)) return undefined;
      throw err;
    }
    if (!data) return undefined;
    try {
      return decodeStoredRelease(data);
    } catch {
      return undefined;
    }
  };
}
