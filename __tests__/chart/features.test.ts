// Opt-in features of the chart, rendered by helm 3 and helm 4 on top of the user-service production values.
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IConfigMap } from 'kubernetes-models/v1';
import {
  helmBinaries,
  only,
  productionValues,
  serviceValues,
  template,
  type Helm,
  type K8sObject,
} from './helm.js';
import { validateKubernetesObject } from './kubernetes-schema.js';

const files = [productionValues, serviceValues('user-service')];
const digest = `sha256:${'ab12'.repeat(16)}`;
const repository = '123456789012.dkr.ecr.us-east-1.amazonaws.com/user-service';

const deploymentOf = (objects: K8sObject[]) => only<IDeployment>(objects, 'Deployment');
const podOf = (objects: K8sObject[]) => deploymentOf(objects).spec!.template.spec!;

const pullPolicyIgnore = {
  'kube-score/ignore': 'container-image-pull-policy',
  'ecommerce-deploy/kube-score-ignore-reason': expect.stringMatching(
    /^container-image-pull-policy: .*pinned by digest/,
  ),
};

const behavior = {
  scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
  scaleUp: { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
};

// Everything optional switched on in one render: one helm call per major instead of one per feature.
const allFeatures = {
  image: { tag: 'abc1234', digest },
  deploymentAnnotations: {
    'ecommerce-deploy/commit': '0123456789abcdef0123456789abcdef01234567',
    'ecommerce-deploy/run-url': 'https://github.com/org/shop/actions/runs/42',
    'ecommerce-deploy/actor': 'octocat',
  },
  podAnnotations: { 'sidecar.istio.io/inject': 'true' },
  topologySpread: { enabled: true, whenUnsatisfiable: 'DoNotSchedule' },
  autoscaling: { behavior },
  priorityClassName: 'ecommerce-critical',
  terminationGracePeriodSeconds: 45,
  preStop: { type: 'exec', seconds: 15 },
  config: { LOG_LEVEL: 'info', FEATURE_X: true },
  env: [{ name: 'NODE_ENV', value: 'production' }],
  envFrom: [{ secretRef: { name: 'user-service-db' } }],
  podDisruptionBudget: { unhealthyPodEvictionPolicy: 'IfHealthyBudget' },
};

describe.each(helmBinaries())('helm $major: chart features', (helm: Helm) => {
  let full: K8sObject[];
  let istio: K8sObject[];
  let fixed: K8sObject[];
  let isolated: K8sObject[];

  beforeAll(() => {
    full = template(helm, 'user-service', { files, values: [allFeatures] });
    istio = template(helm, 'user-service', {
      files,
      sets: [
        'ingress.enabled=false',
        'istio.virtualService.enabled=true',
        'istio.virtualService.timeout=10s',
      ],
    });
    fixed = template(helm, 'user-service', { files, sets: ['autoscaling.enabled=false'] });
    // An internal service on another port, with its own gateway labels, callers and a scraper rule.
    isolated = template(helm, 'user-service', {
      files,
      values: [
        {
          containerPort: 8080,
          ingress: { enabled: false },
          networkPolicy: {
            ingressGateway: { namespace: 'gateways', podLabels: { app: 'edge' } },
            callers: ['order-service', 'payment-service'],
            extraIngress: [
              {
                from: [
                  { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
                ],
                ports: [{ port: 15090 }],
              },
            ],
          },
        },
      ],
    });
  });

  it('renders only objects that match their schema', () => {
    for (const object of [...full, ...istio, ...fixed, ...isolated])
      expect(() => validateKubernetesObject(object)).not.toThrow();
  });

  it('has a validator that does reject a broken object', () => {
    const broken = structuredClone(deploymentOf(full)) as unknown as K8sObject;
    (broken as unknown as IDeployment).spec!.template.spec!.containers[0]!.ports![0]!.containerPort =
      '3000' as unknown as number;
    expect(() => validateKubernetesObject(broken)).toThrow(/containerPort/);
  });

  it('deploys by digest when one is given, even with a tag', () => {
    expect(podOf(full).containers[0]!.image).toBe(`${repository}@${digest}`);
  });

  it('puts the deploy engine annotations on the Deployment object', () => {
    const deployment = deploymentOf(full);
    expect(deployment.metadata?.annotations).toEqual({
      ...allFeatures.deploymentAnnotations,
      ...pullPolicyIgnore,
    });
    expect(deployment.spec?.template.metadata?.annotations).not.toHaveProperty('ecommerce-deploy/commit');
    expect(deployment.spec?.template.metadata?.annotations).toMatchObject(allFeatures.podAnnotations);
  });

  it('spreads pods over zones with the selector labels filled in', () => {
    const deployment = deploymentOf(full);
    expect(deployment.spec?.template.spec?.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: deployment.spec?.selector.matchLabels },
        matchLabelKeys: ['pod-template-hash'],
      },
    ]);
    expect(deployment.spec?.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'ecommerce-service',
      'app.kubernetes.io/instance': 'user-service',
      app: 'user-service',
    });
  });

  it('passes the HPA behavior through', () => {
    expect(only<IHorizontalPodAutoscaler>(full, 'HorizontalPodAutoscaler').spec?.behavior).toEqual(behavior);
  });

  it('sets the priority class, grace period, exec preStop and extra environment', () => {
    const pod = podOf(full);
    expect(pod.priorityClassName).toBe('ecommerce-critical');
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    const container = pod.containers[0]!;
    expect(container.lifecycle?.preStop).toEqual({ exec: { command: ['sleep', '15'] } });
    expect(container.env).toEqual([{ name: 'NODE_ENV', value: 'production' }]);
    expect(container.envFrom).toEqual([
      { configMapRef: { name: 'user-service' } },
      { secretRef: { name: 'user-service-db' } },
    ]);
  });

  it('renders config into a ConfigMap whose checksum rolls the pods when it changes', () => {
    expect(only<IConfigMap>(full, 'ConfigMap').data).toEqual({ LOG_LEVEL: 'info', FEATURE_X: 'true' });
    const checksum = (objects: K8sObject[]) =>
      deploymentOf(objects).spec?.template.metadata?.annotations?.['checksum/config'];
    const changed = template(helm, 'user-service', {
      files,
      values: [allFeatures, { config: { LOG_LEVEL: 'debug' } }],
    });
    expect(checksum(full)).toMatch(/^[a-f0-9]{64}$/);
    expect(checksum(changed)).toMatch(/^[a-f0-9]{64}$/);
    expect(checksum(changed)).not.toBe(checksum(full));
    expect(checksum(template(helm, 'user-service', { files, values: [allFeatures] }))).toBe(checksum(full));
  });

  it('sets unhealthyPodEvictionPolicy on the PDB', () => {
    expect(full.find((o) => o.kind === 'PodDisruptionBudget')).toMatchObject({
      spec: { unhealthyPodEvictionPolicy: 'IfHealthyBudget' },
    });
  });

  it('renders replicas: 3 and no HPA when autoscaling is off', () => {
    expect(deploymentOf(fixed).spec?.replicas).toBe(3);
    expect(fixed.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  it('routes through an Istio VirtualService on the shared gateway instead of the Ingress', () => {
    expect(istio.some((o) => o.kind === 'Ingress')).toBe(false);
    const virtualService = only<K8sObject>(istio, 'VirtualService');
    expect(virtualService.apiVersion).toBe('networking.istio.io/v1');
    expect(virtualService.spec).toEqual({
      hosts: ['api.ecommerce.example.com'],
      gateways: ['istio-system/public-gateway'],
      http: [
        {
          name: 'user-service',
          match: [{ uri: { prefix: '/api/users' } }],
          route: [
            { destination: { host: 'user-service.production.svc.cluster.local', port: { number: 3000 } } },
          ],
          timeout: '10s',
        },
      ],
    });
  });

  it('tells kube-score to skip the pull-policy check, with the reason, only when the image is pinned by digest', () => {
    expect(deploymentOf(full).metadata?.annotations).toMatchObject(pullPolicyIgnore);
    // A tag can move: then IfNotPresent may run a stale image, and kube-score is right to say so.
    expect(deploymentOf(fixed).metadata?.annotations ?? {}).not.toHaveProperty('kube-score/ignore');
    // Always needs no excuse.
    const always = template(helm, 'user-service', {
      files,
      values: [{ image: { digest, pullPolicy: 'Always' } }],
    });
    expect(deploymentOf(always).metadata?.annotations ?? {}).not.toHaveProperty('kube-score/ignore');
    // Checks already ignored through deploymentAnnotations are kept.
    const more = template(helm, 'user-service', {
      files,
      values: [{ image: { digest }, deploymentAnnotations: { 'kube-score/ignore': 'pod-probes' } }],
    });
    expect(deploymentOf(more).metadata?.annotations?.['kube-score/ignore']).toBe(
      'pod-probes,container-image-pull-policy',
    );
  });

  it('renders no NetworkPolicy unless enabled', () => {
    expect(template(helm, 'demo').some((o) => o.kind === 'NetworkPolicy')).toBe(false);
    const off = template(helm, 'user-service', { files, sets: ['networkPolicy.enabled=false'] });
    expect(off.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
  });

  it('admits the configured callers on the container port, and no gateway for a service without a route', () => {
    const policy = only<INetworkPolicy>(isolated, 'NetworkPolicy');
    expect(policy.spec?.ingress).toEqual([
      {
        from: [
          { podSelector: { matchLabels: { app: 'order-service' } } },
          { podSelector: { matchLabels: { app: 'payment-service' } } },
        ],
        ports: [{ protocol: 'TCP', port: 8080 }],
      },
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        ports: [{ port: 15090 }],
      },
    ]);
    expect(podOf(isolated).containers[0]!.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
    ]);
  });

  it('admits its own gateway labels when routed through the VirtualService', () => {
    const routed = template(helm, 'user-service', {
      files,
      values: [
        { ingress: { enabled: false }, istio: { virtualService: { enabled: true } } },
        {
          // Helm merges maps: the default label goes only when set to null.
          networkPolicy: {
            ingressGateway: { namespace: 'gateways', podLabels: { istio: null, app: 'edge' } },
            callers: [],
          },
        },
      ],
    });
    expect(only<INetworkPolicy>(routed, 'NetworkPolicy').spec?.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateways' } },
            podSelector: { matchLabels: { app: 'edge' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 3000 }],
      },
    ]);
  });

  it('denies all inbound traffic when nothing may call the service', () => {
    const closed = template(helm, 'user-service', {
      files,
      values: [{ ingress: { enabled: false }, networkPolicy: { callers: [] } }],
    });
    const policy = only<INetworkPolicy>(closed, 'NetworkPolicy');
    expect(policy.spec?.policyTypes).toEqual(['Ingress']);
    expect(policy.spec?.ingress).toEqual([]);
    expect(() => validateKubernetesObject(policy as unknown as K8sObject)).not.toThrow();
  });
});
