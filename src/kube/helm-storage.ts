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
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { ReleaseInfo } from '../helm/helm.js';
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

/** The parts of helm's release record this tool reads. */
interface ReleaseRecord {
  manifest?: unknown;
  config?: unknown;
  info?: { status?: unknown; last_deployed?: unknown };
  chart?: { metadata?: { name?: unknown; version?: unknown; appVersion?: unknown } };
}

function decodeRecord(data: string): ReleaseRecord {
  const helmEncoded = Buffer.from(data, 'base64').toString('latin1');
  let bytes = Buffer.from(helmEncoded, 'base64');
  // Helm reads uncompressed records too (what helm 2-era migrations wrote).
  if (GZIP.every((b, i) => bytes[i] === b)) bytes = gunzipSync(bytes);
  const record = JSON.parse(bytes.toString('utf8')) as ReleaseRecord;
  if (typeof record !== 'object' || record === null) throw new Error('not a helm release record');
  return record;
}

function storedOf(record: ReleaseRecord): StoredRelease {
  const values = record.config;
  return {
    manifest: typeof record.manifest === 'string' ? record.manifest : '',
    values: values && typeof values === 'object' ? (values as Record<string, unknown>) : {},
  };
}

/** The `release` key of a helm release Secret's data, as the API returns it (base64), into its record. */
export function decodeStoredRelease(data: string): StoredRelease {
  return storedOf(decodeRecord(data));
}

/** A release as `helm list --all` shows it, with its latest revision's manifest and values. */
export interface ListedRelease {
  info: ReleaseInfo;
  stored: StoredRelease;
}

/**
 * What `helm list --all` answers, from the release Secrets of the namespace (label `owner=helm`):
 * each release's latest revision (the highest `version` label), whatever its status, decoded.
 * Undefined for a record this reader does not know: the caller asks helm.
 */
export function latestReleases(items: V1Secret[]): Map<string, ListedRelease> | undefined {
  const latest = new Map<string, { version: number; data?: string }>();
  for (const secret of items) {
    if (secret.type !== 'helm.sh/release.v1') continue;
    const labels = secret.metadata?.labels ?? {};
    const version = Number(labels.version);
    if (!labels.name || !Number.isInteger(version)) return undefined;
    const had = latest.get(labels.name);
    if (!had || version > had.version) latest.set(labels.name, { version, data: secret.data?.release });
  }
  const listed = new Map<string, ListedRelease>();
  for (const [name, { version, data }] of latest) {
    let record: ReleaseRecord;
    try {
      if (!data) return undefined;
      record = decodeRecord(data);
    } catch {
      return undefined;
    }
    const meta = record.chart?.metadata ?? {};
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    listed.set(name, {
      info: {
        status: text(record.info?.status),
        revision: version,
        chart: `${text(meta.name)}-${text(meta.version)}`,
        appVersion: text(meta.appVersion),
        updated: text(record.info?.last_deployed),
      },
      stored: storedOf(record),
    });
  }
  return listed;
}

/**
 * A release's revisions but the ones a later revision superseded: helm marks a revision
 * superseded only when it writes a newer one (upgrade, rollback) and prunes only old ones, so
 * the latest is always among these; and it is most of the history (each record holds the
 * whole chart, ~50 KB here), which this LIST need not carry.
 */
const LATEST_SELECTOR = 'owner=helm,status!=superseded';

export type ReleaseLister = (namespace: string) => Promise<Map<string, ListedRelease> | undefined>;

/**
 * Lists the namespace's releases through `kc` in one request, instead of a `helm list`
 * process (a Go binary start, a kube client, discovery): helm's own secret driver makes the
 * same LIST and decodes the same records. Undefined (ask helm) with another driver, when the
 * Secrets may not be listed (403), or for a record this reader does not know.
 */
export function releaseLister(
  kc: KubeConfig,
  log?: (message: string) => void,
  env: Record<string, string | undefined> = process.env,
): ReleaseLister {
  const core = kc.makeApiClient(CoreV1Api);
  const useSecrets = secretDriver(env);
  return async (namespace) => {
    if (!useSecrets) return undefined;
    try {
      const list = await withRetry(
        `listing helm releases in ${namespace} (Secrets labelled owner=helm)`,
        () => core.listNamespacedSecret({ namespace, labelSelector: LATEST_SELECTOR }),
        { log, onUnauthorized: () => tokenRefused(kc) },
      );
      return latestReleases(list.items);
    } catch (err) {
      if (httpStatusOf(err) === 403) return undefined;
      throw err;
    }
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
