/**
 * JSON schema of the deploy file. Strict: unknown keys are errors, so a typo
 * (`dependOn:`) fails loudly instead of being ignored.
 */
import { DNS1123_LABEL_PATTERN as dns1123Label } from './names.js';

const valuesFiles = {
  type: 'array',
  items: { type: 'string', minLength: 1 },
  description: 'Helm values files, relative to the deploy file, applied in order.',
};

export const deployFileSchema = {
  $id: 'https://ecommerce-deploy/deploy-file.json',
  type: 'object',
  additionalProperties: false,
  required: ['services'],
  properties: {
    chart: {
      type: 'string',
      minLength: 1,
      description: 'Local chart directory (relative to this file) or oci:// reference.',
    },
    chartVersion: { type: 'string', minLength: 1, description: 'Chart version, for OCI charts.' },
    namespace: { type: 'string', pattern: dns1123Label, maxLength: 63 },
    registry: {
      type: 'string',
      pattern: '^[a-z0-9.-]+(:[0-9]+)?$',
      description: 'ECR registry host; discovered from ECR when omitted.',
    },
    environments: {
      type: 'object',
      propertyNames: { pattern: dns1123Label },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          valuesFiles,
          namespace: { type: 'string', pattern: dns1123Label, maxLength: 63 },
          url: {
            type: 'string',
            pattern: '^https?://[^\\s]+$',
            description: "The environment's address (GitHub deployments' environment_url).",
          },
          production: {
            type: 'boolean',
            description: 'GitHub deployments: production_environment (GitHub: true for "production").',
          },
          transient: {
            type: 'boolean',
            description: 'GitHub deployments: transient_environment (goes away, e.g. a preview).',
          },
        },
      },
    },
    services: {
      type: 'object',
      minProperties: 1,
      // helm release names are at most 53 characters and DNS-1123 labels.
      propertyNames: { pattern: dns1123Label, maxLength: 53 },
      additionalProperties: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: {
          repository: { type: 'string', pattern: '^[a-z0-9]+([._/-][a-z0-9]+)*$', maxLength: 256 },
          valuesFiles,
          values: { type: 'object' },
          dependsOn: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        },
      },
    },
  },
} as const;
