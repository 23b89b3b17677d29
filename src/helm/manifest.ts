import * as yaml from 'js-yaml';
import { DEFAULT_PROGRESS_DEADLINE_SECONDS, utilizationTarget } from '../kube/objects.js';

/**
 * What a service's rendered manifest promises, read from `helm template` output:
 * the pipeline verifies the live objects against these numbers after the rollout,
 * so the check follows the chart and values instead of repeating them.
 */
export interface RenderedExpectations {
  deployment?: string;
  /** Unset while an HPA owns the replica count. */
  replicas?: number;
  progressDeadlineSeconds?: number;
  autoscaling?: { min: number; max: number; cpu?: number; memory?: number };
  pdbMinAvailable?: number | string;
  /** The ServiceAccount the chart creates, with the IAM role it is annotated with (IRSA). */
  serviceAccount?: { name: string; roleArn?: string };
  service?: { type: string; ports: number[] };
  /** The first container's probes, as rendered (compared with the live Deployment's by `verify`). */
  probes?: Partial<Record<ProbeKind, object>>;
  /** The first container's image, as rendered (repository@digest when deployed by digest). */
  image?: string;
}

export type ProbeKind = 'startupProbe' | 'livenessProbe' | 'readinessProbe';
export const PROBE_KINDS: ProbeKind[] = ['startupProbe', 'livenessProbe', 'readinessProbe'];
export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';

/** One object of a rendered manifest, as parsed. */
export interface ManifestObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The objects of a manifest, in order (empty documents left out): a render is parsed once, here. */
export function manifestObjects(manifest: string): ManifestObject[] {
  return yaml.loadAll(manifest).filter((o): o is ManifestObject => !!o && typeof o === 'object');
}

export function readExpectations(manifest: string | ManifestObject[]): RenderedExpectations {
  const objects = typeof manifest === 'string' ? manifestObjects(manifest) : manifest;
  const of = (kind: string) => objects.find((o) => o.kind === kind);
  const result: RenderedExpectations = {};
  const deployment = of('Deployment');
  if (deployment) {
    result.deployment = deployment.metadata?.name;
    result.replicas = deployment.spec?.replicas as number | undefined;
    result.progressDeadlineSeconds =
      (deployment.spec?.progressDeadlineSeconds as number | undefined) ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  }
  const containers = (deployment?.spec?.template as { spec?: { containers?: Record<string, object>[] } })
    ?.spec?.containers;
  const container = containers?.[0];
  if (container) {
    result.image = container.image as unknown as string;
    result.probes = Object.fromEntries(PROBE_KINDS.filter((k) => container[k]).map((k) => [k, container[k]]));
  }
  const sa = of('ServiceAccount');
  if (sa?.metadata?.name) {
    result.serviceAccount = {
      name: sa.metadata.name,
      roleArn: sa.metadata.annotations?.[ROLE_ARN_ANNOTATION],
    };
  }
  const service = of('Service');
  if (service?.spec) {
    const ports = (service.spec.ports as { port: number }[] | undefined) ?? [];
    result.service = {
      type: (service.spec.type as string | undefined) ?? 'ClusterIP',
      ports: ports.map((p) => p.port),
    };
  }
  const hpa = of('HorizontalPodAutoscaler');
  if (hpa?.spec) {
    const spec = hpa.spec as Parameters<typeof utilizationTarget>[0];
    result.autoscaling = {
      min: (hpa.spec.minReplicas as number | undefined) ?? 1,
      max: hpa.spec.maxReplicas as number,
      cpu: utilizationTarget(spec, 'cpu'),
      memory: utilizationTarget(spec, 'memory'),
    };
  }
  const pdb = of('PodDisruptionBudget');
  if (pdb?.spec && pdb.spec.minAvailable !== undefined)
    result.pdbMinAvailable = pdb.spec.minAvailable as number | string;
  return result;
}
