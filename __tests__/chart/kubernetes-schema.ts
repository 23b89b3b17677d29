// Validates rendered objects against the Kubernetes OpenAPI schema.
//
// Why kubernetes-models@4.5.1: its generated validators (ajv, compiled from the Kubernetes OpenAPI spec) come
// from Kubernetes 1.33, despite the 1.27.1 badge in its README: it has the fields 1.33 added (Lifecycle.stopSignal,
// PodStatus.observedGeneration, HPAScalingRules.tolerance) and none of those 1.34 added (PodSpec.hostnameOverride,
// Container.restartPolicyRules). 1.33 meets the "1.33 or newer" bar and needs no spec files copied into the repo.
// Limit: like the upstream OpenAPI spec, these schemas do not forbid unknown fields (the API server's
// strict field validation does that), so a misspelt field is caught by the per-field assertions of the tests,
// not here. Types, required fields, enums and formats are checked.
//
// Istio's VirtualService is a CRD with no schema in that package; it is checked against the subset of
// networking.istio.io/v1 the chart renders, closed with additionalProperties: false.
import { Ajv } from 'ajv';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { K8sObject } from './helm.js';

type ModelClass = new (data: never) => { validate(): void };

const models: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

const closed = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});
const strings = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 };

const virtualServiceSchema = closed(
  {
    apiVersion: { const: 'networking.istio.io/v1' },
    kind: { const: 'VirtualService' },
    metadata: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' } },
    },
    spec: closed(
      {
        hosts: strings,
        gateways: { type: 'array', items: { type: 'string', pattern: '^([a-z0-9-]+/)?[a-z0-9.-]+$' } },
        http: {
          type: 'array',
          minItems: 1,
          items: closed(
            {
              name: { type: 'string' },
              match: {
                type: 'array',
                items: closed({ uri: closed({ prefix: { type: 'string', pattern: '^/' } }, ['prefix']) }),
              },
              route: {
                type: 'array',
                minItems: 1,
                items: closed(
                  {
                    destination: closed(
                      {
                        host: { type: 'string', minLength: 1 },
                        port: closed({ number: { type: 'integer', minimum: 1, maximum: 65535 } }, ['number']),
                      },
                      ['host'],
                    ),
                    weight: { type: 'integer' },
                  },
                  ['destination'],
                ),
              },
              timeout: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$' },
              retries: closed({
                attempts: { type: 'integer', minimum: 0 },
                perTryTimeout: { type: 'string' },
                retryOn: { type: 'string' },
                retryRemoteLocalities: { type: 'boolean' },
              }),
            },
            ['route'],
          ),
        },
      },
      ['hosts', 'http'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);
const validateVirtualService = new Ajv({ allErrors: true }).compile(virtualServiceSchema);

/** Throws, naming the object and the failing fields, when the object does not match its schema. */
export function validateKubernetesObject(object: K8sObject): void {
  const name = `${object.kind} ${object.metadata?.name}`;
  if (object.apiVersion === 'networking.istio.io/v1' && object.kind === 'VirtualService') {
    if (!validateVirtualService(object)) {
      throw new Error(`${name}: ${JSON.stringify(validateVirtualService.errors)}`);
    }
    return;
  }
  const Model = models[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object as never).validate();
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
  }
}
