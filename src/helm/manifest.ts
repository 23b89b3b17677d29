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
}

interface K8sObject {
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, unknown>;
}

export function readExpectations(manifest: string): RenderedExpectations {
  const objects = yaml.loadAll(manifest).filter((o): o is K8sObject => !!o && typeof o === 'object');
  const of = (kind: string) => objects.find((o) => o.kind === kind);
  const result: RenderedExpectations = {};
  const deployment = of('Deployment');
  if (deployment) {
    result.deployment = deployment.metadata?.name;
    result.replicas = deployment.spec?.replicas as number | undefined;
    result.progressDeadlineSeconds =
      (deployment.spec?.progressDeadlineSeconds as number | undefined) ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
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
