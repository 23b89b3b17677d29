// Runs the real helm binaries against charts/ecommerce-service and parses what they render.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { SERVICES } from '../../scripts/stand-in.mjs';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const chartDir = path.join(repoRoot, 'charts', 'ecommerce-service');
export const productionValues = path.join(chartDir, 'values', 'production.yaml');
export const serviceValues = (service: string): string =>
  path.join(chartDir, 'values', 'services', `${service}.yaml`);

export const services = SERVICES;
export type ServiceName = (typeof services)[number];

export interface Helm {
  major: number;
  path: string;
}

/** A rendered Kubernetes object; tests narrow it with the kubernetes-models interfaces. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

function helmMajor(helmPath: string): number {
  const version = execFileSync(helmPath, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' });
  const major = /^v(\d+)\./.exec(version.trim())?.[1];
  if (!major) throw new Error(`cannot read the version of ${helmPath}: ${version}`);
  return Number(major);
}

/** HELM_BIN when set, otherwise the helm 3 and helm 4 that `node scripts/install-tools.mjs` extracted. */
export function helmBinaries(): Helm[] {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv) {
    const helmPath = path.resolve(fromEnv);
    return [{ major: helmMajor(helmPath), path: helmPath }];
  }
  const found = [3, 4]
    .map((major) => ({ major, path: path.join(repoRoot, '.cache', 'tools', `helm${major}`, 'helm') }))
    .filter((helm) => existsSync(helm.path));
  if (found.length === 0) {
    throw new Error('no helm binary: set HELM_BIN or run `node scripts/install-tools.mjs`');
  }
  return found;
}

export interface RenderInput {
  /** values files, applied in order */
  files?: string[];
  /** inline values, written to temporary files applied after `files` */
  values?: Record<string, unknown>[];
  /** `--set` expressions, applied last */
  sets?: string[];
}

let tempDir: string | undefined;
function valuesArgs({ files = [], values = [], sets = [] }: RenderInput): string[] {
  tempDir ??= mkdtempSync(path.join(tmpdir(), 'chart-values-'));
  const inline = values.map((value, i) => {
    const file = path.join(tempDir!, `values-${process.pid}-${Date.now()}-${i}.json`);
    writeFileSync(file, JSON.stringify(value)); // JSON is YAML
    return file;
  });
  return [...[...files, ...inline].flatMap((file) => ['-f', file]), ...sets.flatMap((set) => ['--set', set])];
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runHelm(helm: Helm, args: string[]): HelmResult {
  const result = spawnSync(helm.path, args, { encoding: 'utf8', cwd: repoRoot });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `helm template` that must succeed; returns the rendered objects. */
export function template(helm: Helm, release: string, input: RenderInput = {}): K8sObject[] {
  const result = runHelm(helm, [
    'template',
    release,
    chartDir,
    '--namespace',
    'production',
    ...valuesArgs(input),
  ]);
  if (result.status !== 0) {
    throw new Error(`helm ${helm.major} template ${release} failed:\n${result.stderr}`);
  }
  return loadAll(result.stdout).filter((doc): doc is K8sObject => doc !== null && typeof doc === 'object');
}

/** `helm template` that must fail; returns its error output. */
export function templateError(helm: Helm, release: string, input: RenderInput): string {
  const result = runHelm(helm, ['template', release, chartDir, ...valuesArgs(input)]);
  if (result.status === 0)
    throw new Error(`helm ${helm.major} template ${release} succeeded, expected a failure`);
  return result.stderr;
}

export function lint(helm: Helm, input: RenderInput, strict = false): HelmResult {
  return runHelm(helm, ['lint', chartDir, ...(strict ? ['--strict'] : []), ...valuesArgs(input)]);
}

/** The one object of a kind in a render. */
export function only<T>(objects: K8sObject[], kind: string): T {
  const matches = objects.filter((object) => object.kind === kind);
  if (matches.length !== 1) throw new Error(`expected one ${kind}, found ${matches.length}`);
  return matches[0] as T;
}
