// The production numbers of the platform write-up (phase 06), rendered by the real helm 3 and helm 4
// for each of the six services, and every rendered object checked against the Kubernetes schema.
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IIngress, INetworkPolicy, INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IService, IServiceAccount } from 'kubernetes-models/v1';
import {
  helmBinaries,
  lint,
  only,
  productionValues,
  serviceValues,
  services,
  template,
  type K8sObject,
  type ServiceName,
} from './helm.js';
import { validateKubernetesObject } from './kubernetes-schema.js';

const ingressPaths: Record<ServiceName, string> = {
  'api-gateway': '/',
  'user-service': '/api/users',
  'product-service': '/api/products',
  'order-service': '/api/orders',
  'payment-service': '/api/payments',
  'notification-service': '/api/notifications',
};

// Who calls whom: api-gateway routes to the five others (deploy.yaml deploys it after them); nothing calls
// api-gateway but the Istio ingress gateway, which also reaches every service through its own Ingress path.
const callers: Record<ServiceName, ServiceName[]> = {
  'api-gateway': [],
  'user-service': ['api-gateway'],
  'product-service': ['api-gateway'],
  'order-service': ['api-gateway'],
  'payment-service': ['api-gateway'],
  'notification-service': ['api-gateway'],
};
const istioGateway = {
  namespace: 'istio-system',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
};

/** Kubernetes quantities in bytes, for the binary suffixes the values use. */
const bytes = (quantity: string | number): number => {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(quantity));
  if (!m) throw new Error(`unexpected quantity ${quantity}`);
  return Number(m[1]) * 1024 ** ['', 'Ki', 'Mi', 'Gi'].indexOf(m[2] ?? '');
};

/** Does a NetworkPolicy peer select a pod with these labels in this namespace? (matchLabels only, as rendered) */
const peerSelects = (
  peer: INetworkPolicyPeer,
  pod: { namespace: string; labels: Record<string, string> },
  policyNamespace: string,
) => {
  const matches = (
    selector: { matchLabels?: Record<string, string> } | undefined,
    labels: Record<string, string>,
  ) => Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const namespaceOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, { 'kubernetes.io/metadata.name': pod.namespace })
    : pod.namespace === policyNamespace;
  return namespaceOk && matches(peer.podSelector, pod.labels);
};

describe.each(helmBinaries())('helm $major: production values', (helm) => {
  const rendered = new Map<ServiceName, K8sObject[]>();

  beforeAll(() => {
    for (const service of services) {
      rendered.set(service, template(helm, service, { files: [productionValues, serviceValues(service)] }));
    }
  });

  it('lints production.yaml cleanly', () => {
    const result = lint(helm, { files: [productionValues] });
    expect(result.status).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it.each(services)('lints %s strictly', (service) => {
    const result = lint(helm, { files: [productionValues, serviceValues(service)] }, true);
    expect(result.status).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('renders the default values.yaml on its own', () => {
    const objects = template(helm, 'demo');
    expect(objects.map((o) => o.kind).sort()).toEqual(['Deployment', 'Service', 'ServiceAccount']);
    const deployment = only<IDeployment>(objects, 'Deployment');
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe('ecommerce-service:1.0.0');
    objects.forEach(validateKubernetesObject);
  });

  describe.each(services)('%s', (service) => {
    const objects = () => rendered.get(service)!;

    it('renders one Deployment, Service, HPA, PDB, Ingress, NetworkPolicy and ServiceAccount', () => {
      expect(
        objects()
          .map((o) => `${o.kind}/${o.metadata.name}`)
          .sort(),
      ).toEqual(
        [
          'Deployment',
          'HorizontalPodAutoscaler',
          'Ingress',
          'NetworkPolicy',
          'PodDisruptionBudget',
          'Service',
          'ServiceAccount',
        ]
          .map((kind) => `${kind}/${service}`)
          .sort(),
      );
    });

    it('renders objects that match the Kubernetes 1.33 schema', () => {
      for (const object of objects()) expect(() => validateKubernetesObject(object)).not.toThrow();
    });

    it('runs the service image with the production Deployment settings', () => {
      const deployment = only<IDeployment>(objects(), 'Deployment');
      const spec = deployment.spec!;
      expect(spec).not.toHaveProperty('replicas'); // the HPA owns the count
      expect(spec.strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      });
      // Under the deploy's default 300 s timeout: a stall surfaces as ProgressDeadlineExceeded.
      expect(spec.progressDeadlineSeconds).toBe(240);
      expect(spec.selector.matchLabels).toMatchObject({ app: service });
      expect(spec.template.metadata?.labels).toMatchObject({
        app: service,
        'app.kubernetes.io/name': 'ecommerce-service',
        'app.kubernetes.io/instance': service,
        'app.kubernetes.io/managed-by': 'Helm',
        'helm.sh/chart': 'ecommerce-service-0.1.0',
      });
      const pod = spec.template.spec!;
      expect(pod.serviceAccountName).toBe(service);
      const container = pod.containers[0]!;
      expect(pod.containers).toHaveLength(1);
      expect(container.image).toBe(`123456789012.dkr.ecr.us-east-1.amazonaws.com/${service}:1.0.0`);
      expect(container.imagePullPolicy).toBe('IfNotPresent');
      expect(container.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
      expect(container.resources).toEqual({
        requests: { cpu: '250m', memory: '256Mi', 'ephemeral-storage': '128Mi' },
        limits: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '256Mi' },
      });
    });

    it('bounds ephemeral storage: every container has a request and a limit, and /tmp fits under the limit', () => {
      const pod = only<IDeployment>(objects(), 'Deployment').spec!.template.spec!;
      const containers = [...pod.containers, ...(pod.initContainers ?? [])];
      for (const container of containers) {
        expect(container.resources?.requests?.['ephemeral-storage']).toBeDefined();
        expect(container.resources?.limits?.['ephemeral-storage']).toBeDefined();
      }
      const limit = bytes(pod.containers[0]!.resources!.limits!['ephemeral-storage']!);
      const tmp = pod.volumes?.find((v) => v.name === 'tmp')?.emptyDir;
      expect(tmp?.sizeLimit).toBe('64Mi');
      // The limit also has to hold the container logs the kubelet keeps (EKS: 5 x 10Mi).
      expect(bytes(tmp!.sizeLimit!) + 50 * 1024 ** 2).toBeLessThanOrEqual(limit);
    });

    it('admits traffic on port 3000 only from the Istio ingress gateway and its callers', () => {
      const policy = only<INetworkPolicy>(objects(), 'NetworkPolicy');
      const deployment = only<IDeployment>(objects(), 'Deployment');
      expect(policy.spec?.podSelector).toEqual(deployment.spec?.selector);
      expect(policy.spec?.policyTypes).toEqual(['Ingress']);
      expect(policy.spec?.ingress).toEqual([
        {
          from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } },
              podSelector: { matchLabels: { istio: 'ingressgateway' } },
            },
            ...(callers[service] ?? []).map((caller) => ({ podSelector: { matchLabels: { app: caller } } })),
          ],
          ports: [{ protocol: 'TCP', port: 3000 }],
        },
      ]);
    });

    it("lets exactly its callers' pods and the Istio gateway through, as the other renders label them", () => {
      const policy = only<INetworkPolicy>(objects(), 'NetworkPolicy');
      const admits = (pod: { namespace: string; labels: Record<string, string> }) =>
        policy.spec!.ingress!.some((rule) => rule.from!.some((peer) => peerSelects(peer, pod, 'production')));
      for (const other of services) {
        const labels = only<IDeployment>(rendered.get(other)!, 'Deployment').spec!.template.metadata!.labels!;
        expect([other, admits({ namespace: 'production', labels })]).toEqual([
          other,
          (callers[service] ?? []).includes(other),
        ]);
        // The same pod from another namespace is somebody else's release.
        expect(admits({ namespace: 'staging', labels })).toBe(false);
      }
      expect(admits(istioGateway)).toBe(true);
      expect(admits({ ...istioGateway, namespace: 'production' })).toBe(false);
      expect(admits({ namespace: 'istio-system', labels: { app: 'istiod' } })).toBe(false);
    });

    it('probes liveness, readiness and startup on the named port', () => {
      const container = only<IDeployment>(objects(), 'Deployment').spec!.template.spec!.containers[0]!;
      const probe = (
        path: string,
        initialDelaySeconds: number,
        periodSeconds: number,
        failureThreshold: number,
      ) => ({
        httpGet: { path, port: 'http' },
        initialDelaySeconds,
        periodSeconds,
        failureThreshold,
      });
      expect(container.livenessProbe).toMatchObject(probe('/health/live', 10, 15, 3));
      expect(container.readinessProbe).toMatchObject(probe('/health/ready', 5, 10, 3));
      expect(container.startupProbe).toMatchObject(probe('/health/live', 0, 5, 30));
    });

    it('prefers one pod per zone, from the service name', () => {
      const affinity = only<IDeployment>(objects(), 'Deployment').spec!.template.spec!.affinity;
      expect(affinity).toEqual({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [service] }] },
                topologyKey: 'topology.kubernetes.io/zone',
              },
            },
          ],
        },
      });
    });

    it('meets Pod Security "restricted"', () => {
      const pod = only<IDeployment>(objects(), 'Deployment').spec!.template.spec!;
      const container = pod.containers[0]!;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(pod.volumes?.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
      // restricted allows no hostPath, hostNetwork, privileged or added capabilities
      expect(pod.volumes?.every((v) => Object.keys(v).every((k) => ['name', 'emptyDir'].includes(k)))).toBe(
        true,
      );
      expect(pod.hostNetwork).toBeUndefined();
      expect(container.securityContext?.capabilities?.add).toBeUndefined();
    });

    it('pauses before SIGTERM so endpoints drain', () => {
      const pod = only<IDeployment>(objects(), 'Deployment').spec!.template.spec!;
      expect(pod.containers[0]!.lifecycle?.preStop).toEqual({ sleep: { seconds: 5 } });
      expect(pod.terminationGracePeriodSeconds).toBe(30);
    });

    it('autoscales 3-20 pods on CPU 70% and memory 80%', () => {
      const hpa = only<IHorizontalPodAutoscaler>(objects(), 'HorizontalPodAutoscaler');
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec).toMatchObject({
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service },
        minReplicas: 3,
        maxReplicas: 20,
      });
      expect(hpa.spec?.metrics).toEqual([
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
        {
          type: 'Resource',
          resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ]);
    });

    it('keeps 2 pods available during disruptions', () => {
      const pdb = only<IPodDisruptionBudget>(objects(), 'PodDisruptionBudget');
      expect(pdb.spec?.minAvailable).toBe(2);
      expect(pdb.spec).not.toHaveProperty('maxUnavailable');
      expect(pdb.spec?.selector?.matchLabels).toMatchObject({ app: service });
    });

    it('exposes port 3000 on a ClusterIP Service', () => {
      const svc = only<IService>(objects(), 'Service');
      expect(svc.spec?.type).toBe('ClusterIP');
      expect(svc.spec?.ports).toEqual([
        { name: 'http', port: 3000, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
      ]);
      expect(svc.spec?.selector).toMatchObject({ app: service });
    });

    it('routes its path on api.ecommerce.example.com through the istio Ingress class', () => {
      const ingress = only<IIngress>(objects(), 'Ingress');
      expect(ingress.spec?.ingressClassName).toBe('istio');
      expect(ingress.spec?.rules).toEqual([
        {
          host: 'api.ecommerce.example.com',
          http: {
            paths: [
              {
                path: ingressPaths[service],
                pathType: 'Prefix',
                backend: { service: { name: service, port: { number: 3000 } } },
              },
            ],
          },
        },
      ]);
    });

    it('gives the pods its own IAM role through IRSA', () => {
      const sa = only<IServiceAccount>(objects(), 'ServiceAccount');
      expect(sa.metadata?.name).toBe(service);
      expect(sa.metadata?.annotations).toEqual({
        'eks.amazonaws.com/role-arn': `arn:aws:iam::123456789012:role/${service}-role`,
      });
    });
  });
});
