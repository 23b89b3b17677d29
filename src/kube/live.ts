/** What `verify` reads of one service, read-only: Deployment, pods, Service, its EndpointSlices, probe-failure events. */
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1Service,
} from '@kubernetes/client-node';
import type { LiveService } from './checklist-rules.js';
import { httpStatusOf, tokenRefused } from './client.js';
import { withRetry } from './retry.js';

export async function readLiveService(
  kc: KubeConfig,
  namespace: string,
  service: string,
  log?: (message: string) => void,
): Promise<LiveService> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const read = <T>(what: string, fn: () => Promise<T>) =>
    withRetry(`${service}: reading ${what}`, fn, { log, onUnauthorized: () => tokenRefused(kc) });
  const orMissing = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read(what, fn);
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw err;
    }
  };
  const [deployment, pods, svc, slices, events] = await Promise.all([
    orMissing<V1Deployment>(`Deployment ${service}`, () =>
      apps.readNamespacedDeployment({ name: service, namespace }),
    ),
    read(`the pods of ${service}`, () =>
      core.listNamespacedPod({ namespace, labelSelector: `app=${service}` }),
    ),
    orMissing<V1Service>(`Service ${service}`, () =>
      core.readNamespacedService({ name: service, namespace }),
    ),
    read(`the EndpointSlices of ${service}`, () =>
      discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: `kubernetes.io/service-name=${service}`,
      }),
    ),
    read('Unhealthy events', () =>
      core.listNamespacedEvent({ namespace, fieldSelector: 'reason=Unhealthy' }),
    ),
  ]);
  return {
    deployment,
    pods: pods.items,
    service: svc,
    endpointSlices: slices.items,
    unhealthyEvents: events.items,
  };
}
