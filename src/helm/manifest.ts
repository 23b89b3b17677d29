import * as yaml from 'js-yaml';

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

interface ResourceMetric {
  type?: string;
  resource?: { name?: string; target?: { averageUtilization?: number } };
}

export function readExpectations(manifest: string): RenderedExpectations {
  const objects = yaml.loadAll(manifest).filter((o): o is K8sObject => !!o && typeof o === 'object');
  const of = (kind: string) => objects.find((o) => o.kind === kind);
  const result: RenderedExpectations = {};
  const deployment = of('Deployment');
  if (deployment) {
    result.deployment = deployment.metadata?.name;
    result.replicas = deployment.spec?.replicas as number | undefined;
    result.progressDeadlineSeconds = (deployment.spec?.progressDeadlineSeconds as number | undefined) ?? 600;
  }
  const hpa = of('HorizontalPodAutoscaler');
  if (hpa?.spec) {
    const metrics = (hpa.spec.metrics as ResourceMetric[] | undefined) ?? [];
    const target = (name: string) =>
      metrics.find((m) => m.type === 'Resource' && m.resource?.name === name)?.resource?.target
        ?.averageUtilization;
    result.autoscaling = {
      min: (hpa.spec.minReplicas as number | undefined) ?? 1,
      max: hpa.spec.maxReplicas as number,
      cpu: target('cpu'),
      memory: target('memory'),
    };
  }
  const pdb = of('PodDisruptionBudget');
  if (pdb?.spec && pdb.spec.minAvailable !== undefined)
    result.pdbMinAvailable = pdb.spec.minAvailable as number | string;
  return result;
}
