// Bad values stop `helm template` with a message naming the offending key, on helm 3 and helm 4.
// Helm 3 names a key `a.b`, helm 4 `/a/b`; the chart's own checks (_validate.tpl) use `a.b` on both.
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { helmBinaries, only, productionValues, serviceValues, template, templateError } from './helm.js';

const files = [productionValues, serviceValues('user-service')];
const keyPattern = (key: string) => new RegExp(`${key.replace(/\./g, '\\.')}|/${key.replace(/\./g, '/')}`);

describe.each(helmBinaries())('helm $major rejects bad values', (helm) => {
  const fails = (values: Record<string, unknown>) =>
    templateError(helm, 'user-service', { files, values: [values] });

  it('an unknown top-level key', () => {
    const message = fails({ replicaCont: 3 });
    expect(message).toMatch(/replicaCont/);
    expect(message).toMatch(/not allowed/i);
  });

  it('an unknown nested key', () => {
    const message = fails({ autoscaling: { minReplica: 3 } });
    expect(message).toMatch(/autoscaling/);
    expect(message).toMatch(/'?minReplica'? (is )?not allowed/i);
  });

  it('a string where an integer belongs', () => {
    const message = fails({ autoscaling: { minReplicas: 'three' } });
    expect(message).toMatch(keyPattern('autoscaling.minReplicas'));
    expect(message).toMatch(/integer/);
  });

  it('a PDB that leaves no pod evictable under the HPA minimum', () => {
    expect(fails({ podDisruptionBudget: { minAvailable: 3 }, autoscaling: { minReplicas: 3 } })).toContain(
      'podDisruptionBudget.minAvailable (3) must be lower than autoscaling.minReplicas (3), otherwise no pod can ever be evicted and node drains block',
    );
  });

  it('a PDB that leaves no pod evictable without an HPA', () => {
    expect(
      fails({ podDisruptionBudget: { minAvailable: 3 }, autoscaling: { enabled: false }, replicaCount: 3 }),
    ).toContain('podDisruptionBudget.minAvailable (3) must be lower than replicaCount (3)');
  });

  it('a PDB with maxUnavailable 0, or with both fields', () => {
    expect(fails({ podDisruptionBudget: { minAvailable: null, maxUnavailable: 0 } })).toContain(
      'podDisruptionBudget.maxUnavailable (0) lets no pod ever be evicted',
    );
    expect(fails({ podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } })).toMatch(/not both/);
  });

  it('a role ARN that is not an IAM role', () => {
    const message = fails({
      serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:user/bob' } },
    });
    expect(message).toContain('serviceAccount.annotations.eks.amazonaws.com/role-arn');
    expect(message).toContain('arn:aws:iam::123456789012:user/bob');
  });

  it('an image digest that is not sha256:<64 hex>', () => {
    const message = fails({ image: { digest: 'sha256:abc' } });
    expect(message).toMatch(keyPattern('image.digest'));
  });

  it('a numeric image tag (YAML would mangle 1.10 or 0123)', () => {
    expect(fails({ image: { tag: 1.1 } })).toMatch(keyPattern('image.tag'));
  });

  it('the Ingress and the Istio VirtualService both enabled', () => {
    expect(fails({ istio: { virtualService: { enabled: true } } })).toContain(
      'ingress.enabled and istio.virtualService.enabled are both true',
    );
  });

  it('a NetworkPolicy caller that is not a service name, twice the same caller, or an unknown key', () => {
    expect(fails({ networkPolicy: { callers: ['API_Gateway'] } })).toMatch(
      keyPattern('networkPolicy.callers'),
    );
    expect(fails({ networkPolicy: { callers: ['api-gateway', 'api-gateway'] } })).toMatch(
      keyPattern('networkPolicy.callers'),
    );
    expect(fails({ networkPolicy: { caller: ['api-gateway'] } })).toMatch(/'?caller'? (is )?not allowed/i);
  });

  it('empty Istio gateway pod labels, which would admit every pod of that namespace', () => {
    expect(fails({ networkPolicy: { ingressGateway: { podLabels: null } } })).toMatch(
      /networkPolicy[./]ingressGateway.*podLabels/,
    );
    expect(fails({ networkPolicy: { ingressGateway: { podLabels: { istio: null } } } })).toMatch(
      keyPattern('networkPolicy.ingressGateway.podLabels'),
    );
  });

  it('accepts percentages, which depend on the live pod count, without comparing them', () => {
    const objects = template(helm, 'user-service', {
      files,
      values: [{ podDisruptionBudget: { minAvailable: '50%' } }],
    });
    expect(only<IPodDisruptionBudget>(objects, 'PodDisruptionBudget').spec?.minAvailable).toBe('50%');
    expect(fails({ podDisruptionBudget: { minAvailable: '100%' } })).toContain(
      'podDisruptionBudget.minAvailable (100%)',
    );
  });

  it('accepts an IAM role ARN in another partition', () => {
    const arn = 'arn:aws-us-gov:iam::123456789012:role/path/user-service-role';
    const objects = template(helm, 'user-service', {
      files,
      values: [{ serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': arn } } }],
    });
    expect(
      only<{ metadata: { annotations: Record<string, string> } }>(objects, 'ServiceAccount').metadata
        .annotations,
    ).toEqual({ 'eks.amazonaws.com/role-arn': arn });
  });
});
