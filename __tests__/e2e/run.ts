/**
 * Running the bundled front doors the way a user does, for the e2e tests: with the
 * stand-in's AWS settings only (the kubeconfig comes from EKS DescribeCluster, never
 * from the stand-in's admin KUBECONFIG), and a deploy file to point at bad images.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as yaml from 'js-yaml';
import type { Report } from '../../src/model.js';
import { repoRoot, type StandInEnv } from '../../scripts/stand-in.mjs';

export interface NodeRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Date.now() when the process exited. */
  exitedAt: number;
  /** Each stderr line with the Date.now() it arrived at. */
  stderrLines: { at: number; text: string }[];
}

/**
 * Runs a node entry point with the stand-in's AWS settings (never its admin kubeconfig),
 * under `node` (default: this process's Node).
 */
export function runNode(
  env: StandInEnv,
  args: string[],
  extraEnv: Record<string, string> = {},
  node = process.execPath,
) {
  const { KUBECONFIG: _admin, ...aws } = env;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('INPUT_')) childEnv[k] = v;
  delete childEnv.KUBECONFIG;
  Object.assign(childEnv, aws, extraEnv);
  return new Promise<NodeRun>((done) => {
    const child = spawn(node, args, { env: childEnv });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const stderrLines: NodeRun['stderrLines'] = [];
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      const at = Date.now();
      stderr += d;
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const text of lines) stderrLines.push({ at, text });
    });
    child.on('close', (code) => {
      if (partial) stderrLines.push({ at: Date.now(), text: partial });
      done({ code: code ?? -1, stdout, stderr, exitedAt: Date.now(), stderrLines });
    });
  });
}

/** The GITHUB_OUTPUT file the Action wrote: `name<<delimiter` blocks. */
export function parseOutputs(file: string): Record<string, string> {
  const text = readFileSync(file, 'utf8');
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

export interface DeployOptions {
  namespace: string;
  tag: string;
  /** The deploy file; default: the repository's deploy.yaml. */
  config?: string;
  /** Where the JSON report goes. */
  report: string;
  extraArgs?: string[];
  /** More environment for the process (e.g. HOME, HTTPS_PROXY). */
  extraEnv?: Record<string, string>;
}

/** `ecommerce-deploy deploy` from dist/cli.js against the stand-in's EKS cluster; returns the run and its JSON report. */
export async function deployCli(env: StandInEnv, opts: DeployOptions) {
  // A deploy file written to a temp dir names this repository's chart and values files,
  // which lie outside its own directory: allow them, as a user would have to.
  const outside = opts.config && relative(repoRoot, resolve(opts.config)).startsWith('..');
  const run = await runNode(
    env,
    [
      resolve(repoRoot, 'dist/cli.js'),
      'deploy',
      '--config',
      opts.config ?? resolve(repoRoot, 'deploy.yaml'),
      '--cluster',
      env.EKS_CLUSTER_NAME,
      '--region',
      env.AWS_REGION,
      '--namespace',
      opts.namespace,
      '--tag',
      opts.tag,
      '--report',
      opts.report,
      ...(outside ? ['--allow-files-from', repoRoot] : []),
      ...(opts.extraArgs ?? []),
    ],
    opts.extraEnv,
  );
  let report: Report | undefined;
  try {
    report = JSON.parse(readFileSync(opts.report, 'utf8')) as Report;
  } catch {
    // no report: the assertions on it say so, with the output below
  }
  return { ...run, report, output: `exit ${run.code}\n${run.stdout}\n${run.stderr}` };
}

export interface ServiceOverride {
  /** ECR repository instead of the service's own. */
  repository?: string;
  /** Inline values, applied last. */
  values?: Record<string, unknown>;
}

interface DeployFile {
  chart: string;
  environments: Record<string, { valuesFiles?: string[] }>;
  services: Record<string, { valuesFiles?: string[]; repository?: string; values?: object }>;
}

/** A copy of deploy.yaml in `dir`, with absolute paths and the given per-service overrides. */
export function writeDeployFile(
  dir: string,
  name: string,
  overrides: Record<string, ServiceOverride>,
): string {
  const base = yaml.load(readFileSync(join(repoRoot, 'deploy.yaml'), 'utf8')) as DeployFile;
  const abs = (files?: string[]) => files?.map((f) => resolve(repoRoot, f));
  const file: DeployFile = {
    ...base,
    chart: resolve(repoRoot, base.chart),
    environments: Object.fromEntries(
      Object.entries(base.environments).map(([env, e]) => [env, { ...e, valuesFiles: abs(e.valuesFiles) }]),
    ),
    services: Object.fromEntries(
      Object.entries(base.services).map(([svc, s]) => [
        svc,
        { ...s, valuesFiles: abs(s.valuesFiles), ...overrides[svc] },
      ]),
    ),
  };
  for (const svc of Object.keys(overrides)) {
    if (!base.services[svc]) throw new Error(`deploy.yaml has no service ${svc}`);
  }
  const path = join(dir, name);
  writeFileSync(path, yaml.dump(file));
  return path;
}
