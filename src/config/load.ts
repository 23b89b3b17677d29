import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import * as yaml from 'js-yaml';
import { inputError } from '../errors.js';
import type { ChartRef, DeployConfig, EnvironmentDeployment, ServiceSpec } from '../model.js';
import validate from './deploy-file-validate.js';

interface RawService {
  repository?: string;
  valuesFiles?: string[];
  values?: Record<string, unknown>;
  dependsOn?: string[];
}

interface RawDeployFile {
  chart?: string;
  chartVersion?: string;
  namespace?: string;
  registry?: string;
  environments?: Record<
    string,
    { valuesFiles?: string[]; namespace?: string; url?: string; production?: boolean; transient?: boolean }
  >;
  services: Record<string, RawService | null>;
}

/**
 * The chart bundled with this tool, used when the deploy file names none. Found by
 * walking up from this module, which sits at src/config/ in the repo and in dist/
 * once bundled.
 */
export function bundledChart(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const chart = resolve(dir, 'charts', 'ecommerce-service');
    if (existsSync(resolve(chart, 'Chart.yaml'))) return chart;
    if (dirname(dir) === dir) return resolve(from, 'charts', 'ecommerce-service');
  }
}

/** `/services/user-service/dependsOn/0` -> `services.user-service.dependsOn[0]` */
export function keyPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function describeSchemaError(e: ErrorObject): { key: string; text: string } {
  const key = keyPath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      return {
        key: key ? `${key}.${extra}` : extra,
        text: `unknown key "${extra}"${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`,
      };
    }
    case 'propertyNames':
      return { key, text: e.message ?? 'invalid name' };
    case 'pattern': {
      const name = key.split('.').pop();
      if (/^environments\.[^.]+\.url$/.test(key)) {
        return { key, text: 'must be an http:// or https:// URL (e.g. https://shop.example.com)' };
      }
      if (
        e.instancePath.startsWith('/services') &&
        e.propertyName === undefined &&
        key.split('.').length === 2
      ) {
        return { key, text: `"${name}" is not a valid service name` };
      }
      return { key, text: `must match ${(e.params as { pattern: string }).pattern}` };
    }
    case 'required':
      return {
        key: [key, (e.params as { missingProperty: string }).missingProperty].filter(Boolean).join('.'),
        text: 'is required',
      };
    default:
      return { key: key || '(top level)', text: e.message ?? e.keyword };
  }
}

function parseYaml(file: string, text: string): unknown {
  try {
    return yaml.load(text, { filename: file });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const line = err.mark ? err.mark.line + 1 : undefined;
      throw inputError(`deploy file is not valid YAML: ${err.reason}`, {
        where: { file, line },
        hint: 'fix the YAML syntax at that line (indentation, a missing colon or quote)',
      });
    }
    throw err;
  }
}

function schemaCheck(file: string, doc: unknown): RawDeployFile {
  // Compiled ahead of time from src/config/schema.ts (scripts/gen-validator.mjs).
  if (validate(doc)) return doc as RawDeployFile;
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if');
  // Service names that are not DNS-1123 labels surface as propertyNames + pattern; keep the clearest.
  const described = errors.map(describeSchemaError).filter((d, i, all) => {
    return !(d.text.startsWith('property name') && all.some((o, j) => j !== i && o.key === d.key));
  });
  const first = described[0] ?? { key: '(top level)', text: 'invalid' };
  const badName = errors.find((e) => e.keyword === 'propertyNames');
  if (badName) {
    const name = (badName.params as { propertyName: string }).propertyName;
    const section = keyPath(badName.instancePath);
    throw inputError(`"${name}" is not a valid ${section === 'services' ? 'service' : 'environment'} name`, {
      where: { file, key: `${section}.${name}` },
      hint: 'names must be DNS-1123 labels: lower-case letters, digits and "-", starting and ending with a letter or digit (service names at most 53 characters, as helm release names)',
    });
  }
  throw inputError(`deploy file is invalid: ${first.key} ${first.text}`, {
    where: { file, key: first.key },
    details: described.slice(1).map((d) => `${d.key} ${d.text}`),
    hint: 'see "The deploy file" in the README for every key',
  });
}

/** Where files named by the deploy file may live (see DeployRequest.fileRoots). */
export interface FileRoots {
  workspace?: string;
  allowed: string[];
}

/** The git work tree holding `dir` (a `.git` directory, or file in a worktree/submodule), else `dir` itself. */
function gitTopLevel(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(resolve(d, '.git'))) return d;
    if (dirname(d) === d) return dir;
  }
}

const inside = (path: string, root: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/**
 * Stops a values file or chart that resolves (symlinks followed) outside the
 * repository the deploy file belongs to, unless the user allowed its directory:
 * a deploy file from a pull request must not make helm read /etc/passwd or ~/.kube.
 */
class Boundary {
  readonly roots: string[];
  constructor(
    private readonly file: string,
    roots: FileRoots,
  ) {
    const repo = roots.workspace ? resolve(roots.workspace) : gitTopLevel(dirname(file));
    this.roots = [existsSync(repo) ? realpathSync(repo) : repo, ...roots.allowed];
  }

  check(given: string, abs: string, where: { key: string; service?: string }): string {
    const real = realpathSync(abs);
    if (this.roots.some((r) => inside(real, r))) return abs;
    throw inputError(`${where.key} ${given} is outside the deploy file's repository (${this.roots[0]})`, {
      where: { file: this.file, ...where },
      details: real !== abs ? [`${abs} resolves to ${real}`] : [],
      hint: `keep values files and the chart inside ${this.roots[0]}, or allow that directory with --allow-files-from (CLI) / allow-files-from (Action)`,
    });
  }
}

function resolveFiles(
  file: string,
  boundary: Boundary,
  key: string,
  files: string[] | undefined,
  service?: string,
): string[] {
  const base = dirname(file);
  return (files ?? []).map((f, i) => {
    const abs = isAbsolute(f) ? f : resolve(base, f);
    if (!existsSync(abs) || !statSync(abs).isFile()) {
      throw inputError(`values file not found: ${f}`, {
        where: { file, key: `${key}[${i}]`, service },
        hint: `create ${abs}, or fix the path (paths are relative to the deploy file)`,
      });
    }
    return boundary.check(f, abs, { key: `${key}[${i}]`, service });
  });
}

const OCI_DIGEST = /@sha256:[a-f0-9]{64}$/;

/** An `oci://host/path` reference helm can pull, pinned by chartVersion or a digest. */
function ociChart(file: string, raw: RawDeployFile, ref: string): ChartRef {
  let url: URL | undefined;
  try {
    url = new URL(ref.replace(/^oci:/, 'https:'));
  } catch {
    url = undefined;
  }
  if (!url?.host || url.pathname.length < 2 || url.search || url.hash || url.username) {
    throw inputError(`chart ${JSON.stringify(ref)} is not a valid oci:// reference`, {
      where: { file, key: 'chart' },
      hint: 'write it as oci://<registry host>/<path>/<chart name>, e.g. oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/charts/ecommerce-service',
    });
  }
  if (!raw.chartVersion && !OCI_DIGEST.test(ref)) {
    throw inputError(`chart ${ref} needs chartVersion`, {
      where: { file, key: 'chartVersion' },
      hint: 'set chartVersion to the chart version to deploy (or pin the chart by digest, oci://…@sha256:…), so a deploy never takes whatever version was pushed last',
    });
  }
  return { kind: 'oci', ref, version: raw.chartVersion };
}

function chartRef(file: string, raw: RawDeployFile, boundary: Boundary): ChartRef {
  if (!raw.chart) return { kind: 'local', path: bundledChart() };
  if (raw.chart.startsWith('oci://')) return ociChart(file, raw, raw.chart);
  const path = resolve(dirname(file), raw.chart);
  if (!existsSync(resolve(path, 'Chart.yaml'))) {
    throw inputError(`chart not found: ${raw.chart} has no Chart.yaml`, {
      where: { file, key: 'chart' },
      hint: 'point chart at a chart directory (relative to the deploy file) or an oci:// reference',
    });
  }
  return { kind: 'local', path: boundary.check(raw.chart, path, { key: 'chart' }) };
}

function readDeployFile(path: string, file: string): string {
  if (!existsSync(file)) {
    throw inputError(`deploy file not found: ${path}`, {
      where: { file },
      hint: 'pass --config (CLI) or the config input (Action) with the path of your deploy file',
    });
  }
  if (statSync(file).isDirectory()) {
    throw inputError(`deploy file ${path} is a directory`, {
      where: { file },
      hint: `pass the deploy file itself, e.g. ${resolve(file, 'deploy.yaml')}`,
    });
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw inputError(`deploy file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      where: { file },
      hint: 'make the file readable by this user',
    });
  }
}

/** What GitHub deployments of an environment say about it; the URL must parse. */
function environmentDeployment(
  file: string,
  env: string,
  e: { url?: string; production?: boolean; transient?: boolean },
): EnvironmentDeployment {
  if (e.url !== undefined) {
    let host: string;
    try {
      host = new URL(e.url).host;
    } catch {
      host = '';
    }
    if (!host) {
      throw inputError(`environments.${env}.url ${JSON.stringify(e.url)} is not a URL`, {
        where: { file, key: `environments.${env}.url` },
        hint: 'write the address people open for this environment, e.g. https://shop.example.com',
      });
    }
  }
  if (e.production && e.transient) {
    throw inputError(`environment ${env} cannot be both production and transient`, {
      where: { file, key: `environments.${env}.transient` },
      hint: 'a production environment stays; set transient only for short-lived ones (e.g. previews)',
    });
  }
  return { url: e.url, production: e.production, transient: e.transient };
}

/**
 * Reads and validates the deploy file; every path in the result is absolute, exists
 * and lies inside the deploy file's repository (or a directory `roots` allows).
 */
export function loadDeployConfig(path: string, roots: FileRoots = { allowed: [] }): DeployConfig {
  const file = resolve(path);
  const raw = schemaCheck(file, parseYaml(file, readDeployFile(path, file)));
  const boundary = new Boundary(file, roots);
  const names = Object.keys(raw.services);
  const services: ServiceSpec[] = names.map((name) => {
    const s = raw.services[name] ?? {};
    (s.dependsOn ?? []).forEach((dep, i) => {
      if (!names.includes(dep)) {
        throw inputError(`service ${name} depends on unknown service "${dep}"`, {
          where: { file, key: `services.${name}.dependsOn[${i}]`, service: name },
          hint: `dependsOn names other services of this file: ${names.join(', ')}`,
        });
      }
    });
    return {
      name,
      repository: s.repository ?? name,
      valuesFiles: resolveFiles(file, boundary, `services.${name}.valuesFiles`, s.valuesFiles, name),
      values: s.values ?? {},
      dependsOn: s.dependsOn ?? [],
    };
  });
  const environments: Record<string, string[]> = {};
  const namespaces: Record<string, string | undefined> = {};
  const deployments: Record<string, EnvironmentDeployment> = {};
  for (const [env, e] of Object.entries(raw.environments ?? {})) {
    environments[env] = resolveFiles(file, boundary, `environments.${env}.valuesFiles`, e.valuesFiles);
    namespaces[env] = e.namespace;
    deployments[env] = environmentDeployment(file, env, e);
  }
  return {
    file,
    chart: chartRef(file, raw, boundary),
    namespace: raw.namespace ?? 'default',
    environmentNamespaces: namespaces,
    environmentDeployments: deployments,
    registry: raw.registry,
    environments,
    services,
  };
}
