import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeployError } from '../../src/errors.js';
import { loadDeployConfig, keyPath, bundledChart } from '../../src/config/load.js';
import { makePlan, waves } from '../../src/config/plan.js';
import { deployFileSchema } from '../../src/config/schema.js';
import { Ajv } from 'ajv';
import type { DeployRequest } from '../../src/model.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');

const request = (over: Partial<DeployRequest> = {}): DeployRequest => ({
  mode: 'plan',
  configPath: 'deploy.yaml',
  services: [],
  imageTag: 'abc123',
  environment: 'production',
  timeoutSeconds: 300,
  concurrency: 3,
  skipImageCheck: true,
  rollback: 'failed',
  rollbackTimeoutSeconds: 60,
  keepFailedInstall: false,
  strict: false,
  trace: {},
  ...over,
});

/** A throwaway deploy file with one values file per environment and service. */
function deployFile(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'deployfile-'));
  mkdirSync(join(dir, 'values'));
  for (const f of ['prod.yaml', 'a.yaml', 'b.yaml']) writeFileSync(join(dir, 'values', f), '{}\n');
  mkdirSync(join(dir, 'chart'));
  writeFileSync(join(dir, 'chart', 'Chart.yaml'), 'apiVersion: v2\nname: x\nversion: 0.1.0\n');
  writeFileSync(join(dir, 'deploy.yaml'), body);
  return join(dir, 'deploy.yaml');
}

const valid = `
chart: chart
namespace: shop
environments:
  production:
    valuesFiles: [values/prod.yaml]
services:
  a:
    valuesFiles: [values/a.yaml]
  b:
    repository: team/b
    values: { replicaCount: 4 }
    dependsOn: [a]
`;

function failure(fn: () => unknown): DeployError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DeployError) return e;
    throw e;
  }
  throw new Error('expected a DeployError');
}

describe('the deploy file schema', () => {
  it('is valid JSON Schema (the run compiles it without checking: it is checked here, once)', () => {
    const ajv = new Ajv({ strict: true });
    expect(ajv.validateSchema(deployFileSchema)).toBe(true);
    expect(ajv.errors ?? null).toBeNull();
    // Not vacuous: a schema with a mistyped keyword type is refused.
    expect(ajv.validateSchema({ type: 'object', properties: { a: { type: 'strng' } } })).toBe(false);
  });

  it('is what the committed validator was compiled from (src/config/deploy-file-validate.js)', () => {
    const check = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'gen-validator.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});

describe('the deploy file', () => {
  it('loads the shipped deploy file for the six services', () => {
    const config = loadDeployConfig('deploy.yaml');
    expect(config.services.map((s) => s.name).sort()).toEqual([
      'api-gateway',
      'notification-service',
      'order-service',
      'payment-service',
      'product-service',
      'user-service',
    ]);
    expect(config.chart).toEqual({ kind: 'local', path: resolve('charts/ecommerce-service') });
    expect(config.environments.production).toEqual([
      resolve('charts/ecommerce-service/values/production.yaml'),
    ]);
  });

  it('resolves paths relative to the file and applies defaults', () => {
    const file = deployFile(valid);
    const config = loadDeployConfig(file);
    const [a, b] = config.services;
    expect(a).toMatchObject({ name: 'a', repository: 'a', dependsOn: [], values: {} });
    expect(a!.valuesFiles[0]).toBe(join(file, '..', 'values', 'a.yaml'));
    expect(b).toMatchObject({ repository: 'team/b', values: { replicaCount: 4 }, dependsOn: ['a'] });
    expect(config.namespace).toBe('shop');
  });

  it('uses the bundled chart when none is named', () => {
    expect(bundledChart()).toBe(resolve('charts/ecommerce-service'));
  });

  it('names file and line when the YAML is broken', () => {
    const file = deployFile('services:\n  a:\n    valuesFiles: [values/a.yaml\n  b: {}\n');
    const e = failure(() => loadDeployConfig(file));
    expect(e.exitCode).toBe(2);
    expect(e.where.file).toBe(file);
    expect(e.where.line).toBe(4);
    expect(e.describe()).toContain(`${file}:4`);
  });

  it('rejects an unknown key and names its path and the keys it expected', () => {
    const file = deployFile(valid.replace('dependsOn: [a]', 'dependOn: [a]'));
    const e = failure(() => loadDeployConfig(file));
    expect(e.where.key).toBe('services.b.dependOn');
    expect(e.message).toContain('unknown key "dependOn"');
    expect(e.message).toContain('dependsOn');
  });

  it('rejects a wrong type with its path', () => {
    const file = deployFile(valid.replace('dependsOn: [a]', 'dependsOn: a'));
    const e = failure(() => loadDeployConfig(file));
    expect(e.where.key).toBe('services.b.dependsOn');
    expect(e.message).toContain('must be array');
  });

  it('rejects a service name that is not a DNS-1123 label', () => {
    const file = deployFile(
      valid.replace('  a:\n', '  Payment_Service:\n').replace('[a]', '[Payment_Service]'),
    );
    const e = failure(() => loadDeployConfig(file));
    expect(e.message).toBe('"Payment_Service" is not a valid service name');
    expect(e.where.key).toBe('services.Payment_Service');
    expect(e.hint).toContain('DNS-1123');
  });

  it('reads the GitHub deployment settings of each environment', () => {
    const file = deployFile(
      valid.replace(
        'valuesFiles: [values/prod.yaml]',
        'valuesFiles: [values/prod.yaml]\n    url: https://shop.example.com\n    production: true\n  preview:\n    transient: true',
      ),
    );
    const config = loadDeployConfig(file);
    expect(config.environmentDeployments).toEqual({
      production: { url: 'https://shop.example.com', production: true, transient: undefined },
      preview: { url: undefined, production: undefined, transient: true },
    });
  });

  it.each([
    ['url: shop.example.com', 'environments.production.url', /must be an http:\/\/ or https:\/\/ URL/],
    ['url: "http://[bad"', 'environments.production.url', /is not a URL/],
    ['production: "yes"', 'environments.production.production', /must be boolean/],
    [
      'production: true\n    transient: true',
      'environments.production.transient',
      /both production and transient/,
    ],
  ])('rejects the environment setting %s, naming its key', (line, key, text) => {
    const file = deployFile(
      valid.replace('valuesFiles: [values/prod.yaml]', `valuesFiles: [values/prod.yaml]\n    ${line}`),
    );
    const err = failure(() => loadDeployConfig(file));
    expect(err.exitCode).toBe(2);
    expect(err.where?.key).toBe(key);
    expect(err.message).toMatch(text);
  });

  it('names the service, key and path of a missing values file', () => {
    const file = deployFile(valid.replace('values/a.yaml', 'values/missing.yaml'));
    const e = failure(() => loadDeployConfig(file));
    expect(e.message).toBe('values file not found: values/missing.yaml');
    expect(e.where).toMatchObject({ file, service: 'a', key: 'services.a.valuesFiles[0]' });
  });

  it('rejects dependsOn naming an unknown service', () => {
    const file = deployFile(valid.replace('[a]', '[c]'));
    const e = failure(() => loadDeployConfig(file));
    expect(e.where.key).toBe('services.b.dependsOn[0]');
  });

  it('says when the file itself is missing', () => {
    const e = failure(() => loadDeployConfig('/nonexistent/deploy.yaml'));
    expect(e.message).toContain('deploy file not found');
  });

  it('turns JSON pointers into readable key paths', () => {
    expect(keyPath('/services/user-service/valuesFiles/0')).toBe('services.user-service.valuesFiles[0]');
    expect(keyPath('')).toBe('');
  });
});

describe('the plan', () => {
  const config = () => loadDeployConfig(deployFile(valid));

  it('orders services in waves by dependsOn', () => {
    const plan = makePlan(request(), config());
    expect(plan.waves).toEqual([['a'], ['b']]);
    expect(plan.services.map((s) => [s.name, s.tag])).toEqual([
      ['a', 'abc123'],
      ['b', 'abc123'],
    ]);
    expect(plan.namespace).toBe('shop');
  });

  it('puts the api-gateway of the shipped file in a wave after the services it routes to', () => {
    const plan = makePlan(request(), loadDeployConfig('deploy.yaml'));
    expect(plan.waves).toHaveLength(2);
    expect(plan.waves[1]).toEqual(['api-gateway']);
  });

  it('ignores dependencies outside the selection', () => {
    const plan = makePlan(request({ services: ['b'] }), config());
    expect(plan.waves).toEqual([['b']]);
  });

  it('rejects unknown services and lists the known ones', () => {
    const e = failure(() => makePlan(request({ services: ['a', 'basket'] }), config()));
    expect(e.message).toBe('unknown service: basket');
    expect(e.hint).toContain('a, b');
    expect(e.exitCode).toBe(2);
  });

  it('rejects selected names that are not DNS-1123 labels', () => {
    const e = failure(() => makePlan(request({ services: ['User Service'] }), config()));
    expect(e.message).toContain('not a valid service name');
  });

  it('rejects an unknown environment', () => {
    const e = failure(() => makePlan(request({ environment: 'staging' }), config()));
    expect(e.message).toContain('unknown environment "staging"');
    expect(e.hint).toContain('production');
  });

  it('lets the request override the namespace', () => {
    expect(makePlan(request({ namespace: 'other' }), config()).namespace).toBe('other');
  });

  it('detects dependency cycles', () => {
    const svc = (name: string, dependsOn: string[]) => ({
      name,
      repository: name,
      valuesFiles: [],
      values: {},
      dependsOn,
    });
    expect(() => waves([svc('a', ['b']), svc('b', ['a']), svc('c', [])])).toThrow('cycle between: a, b');
  });
});

describe('the shipped deploy.yaml', () => {
  it('names the same six services as the stand-in, tests and benchmarks use (local-cluster/services.json)', () => {
    const shipped = loadDeployConfig(resolve('deploy.yaml'));
    const standIn = (
      JSON.parse(readFileSync('local-cluster/services.json', 'utf8')) as { services: string[] }
    ).services;
    expect(shipped.services.map((s) => s.name).sort()).toEqual([...standIn].sort());
  });
});
