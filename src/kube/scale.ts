/**
 * A first install under an HPA: the chart leaves `replicas` to the HPA, so the Deployment
 * is created at 1 replica and sits there until the HPA controller's next sync (up to 15 s)
 * raises it to the HPA's minimum. This raises it at once, the way the HPA would.
 *
 * Safe under helm's three-way merge (and helm 4's server-side apply): `replicas` is in no
 * release manifest, so no later upgrade resets or drops it. Only ever raises, only a
 * Deployment below the minimum, and only the version it read (a merge patch carrying the
 * resourceVersion): if anything moved it in between, the write is refused (409), and it is
 * read again: a count the HPA raised meanwhile stands.
 */
import { AppsV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { apiErrorMessage, httpStatusOf, tokenRefused } from './client.js';
import { withRetry } from './retry.js';

export async function raiseToMinimum(
  kc: KubeConfig,
  req: { namespace: string; deployment: string; min: number },
  log?: (message: string) => void,
): Promise<string> {
  const apps = kc.makeApiClient(AppsV1Api);
  const { namespace, deployment: name, min } = req;
  let lastError: unknown;
  // A fresh Deployment's status is written by its controller right after it is created, which
  // moves its resourceVersion: a refused write is read again, and retried while still below.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const live = await withRetry(
        `reading Deployment ${name}`,
        () => apps.readNamespacedDeployment({ name, namespace }),
        { log, onUnauthorized: () => tokenRefused(kc) },
      );
      const replicas = live.spec?.replicas ?? 1;
      if (replicas >= min) return `already at ${replicas} replicas`;
      await apps.patchNamespacedDeployment(
        {
          name,
          namespace,
          body: { metadata: { resourceVersion: live.metadata?.resourceVersion }, spec: { replicas: min } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return `scaled from ${replicas} to the HPA's minimum of ${min} replicas at once (not at the HPA's next sync)`;
    } catch (err) {
      lastError = err;
      if (httpStatusOf(err) !== 409) break;
    }
  }
  // Never a failure: the HPA raises it at its next sync anyway.
  return `left at its replicas for the HPA to raise (${apiErrorMessage(lastError)})`;
}
