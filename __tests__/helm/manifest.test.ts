import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { readExpectations } from '../../src/helm/manifest.js';

const helm = process.env.HELM_BIN ?? resolve('.cache/tools/helm4/helm');
const render = (...args: string[]) =>
  execFileSync(helm, ['template', 'order-service', 'charts/ecommerce-service', ...args], {
    encoding: 'utf8',
  });

describe('expectations read from a rendered service', () => {
  it('takes the HPA and PDB numbers of the production values', () => {
    const manifest = render(
      '-f',
      'charts/ecommerce-service/values/production.yaml',
      '-f',
      'charts/ecommerce-service/values/services/order-service.yaml',
    );
    expect(readExpectations(manifest)).toEqual({
      deployment: 'order-service',
      replicas: undefined,
      progressDeadlineSeconds: expect.any(Number),
      autoscaling: { min: 3, max: 20, cpu: 70, memory: 80 },
      pdbMinAvailable: 2,
      serviceAccount: {
        name: 'order-service',
        roleArn: 'arn:aws:iam::123456789012:role/order-service-role',
      },
      service: { type: 'ClusterIP', ports: [3000] },
      image: expect.stringMatching(/order-service/),
      probes: {
        startupProbe: expect.objectContaining({ httpGet: { path: '/health/live', port: 'http' } }),
        livenessProbe: expect.objectContaining({
          httpGet: { path: '/health/live', port: 'http' },
          periodSeconds: 15,
        }),
        readinessProbe: expect.objectContaining({ httpGet: { path: '/health/ready', port: 'http' } }),
      },
    });
  });

  it('reads replicas when autoscaling is off', () => {
    const manifest = render(
      '--set',
      'autoscaling.enabled=false',
      '--set',
      'replicaCount=4',
      '--set',
      'podDisruptionBudget.enabled=false',
    );
    const e = readExpectations(manifest);
    expect(e.replicas).toBe(4);
    expect(e.autoscaling).toBeUndefined();
    expect(e.pdbMinAvailable).toBeUndefined();
  });
});
