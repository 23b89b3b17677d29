/**
 * What every fault scenario shares: a deploy started as a user starts it (bundled CLI,
 * the stand-in's AWS settings, a fresh TMPDIR of its own so leftovers can be seen), its
 * stderr as timed lines to wait on, the end-state check ARCHITECTURE.md asks for (every
 * release `deployed` at the expected revision, nothing left in temp, no secret in any
 * output, and a following deploy exits 0), and the record each scenario leaves for
 * RELIABILITY.md (written by global-teardown.mjs from a complete run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { Report } from '../../src/model.js';
import {
  helmReleases,
  pushImages,
  readStandInEnv,
  repoRoot,
  restrictedNamespace,
  SERVICES,
  type StandInEnv,
} from '../../scripts/stand-in.mjs';
import { writeDeployFile } from '../e2e/run.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stand-in of this run (global-setup.mjs): its environment and run dir. */
export function standIn(): { env: StandInEnv; runDir: string } {
  const runDir = process.env.E2E_RUN_DIR;
  const env = runDir ? readStandInEnv(runDir) : undefined;
  if (!runDir || !env) throw new Error('the stand-in is not running: run these with `npm run test:faults`');
  return { env, runDir };
}

/** A namespace of its own for a scenario (Pod Security "restricted", as production). */
export function scenarioNamespace(env: StandInEnv, name: string): string {
  restrictedNamespace(env, name);
  return name;
}

let tagCounter = 0;
/** Pushes a fresh image tag for these services to the stand-in's ECR. */
export async function freshTag(env: StandInEnv, services: readonly string[], prefix: string) {
  const tag = `${prefix}-${Date.now().toString(36)}-${++tagCounter}`;
  await pushImages(env, [...services], tag);
  return tag;
}

/**
 * A deploy file whose pods take `readyDelay` to become Ready (the stand-in's per-pod
 * annotation), so a rollout lasts long enough to inject a fault into it.
 */
export function slowDeployFile(dir: string, readyDelay: string): string {
  const overrides = Object.fromEntries(
    SERVICES.map((s) => [s, { values: { podAnnotations: { 'local-cluster/ready-delay': readyDelay } } }]),
  );
  return writeDeployFile(dir, `deploy-${readyDelay}.yaml`, overrides);
}

interface Line {
  at: number;
  text: string;
}

export interface DeployResult {
  label: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: Line[];
  startedAt: number;
  exitedAt: number;
  /** The TMPDIR this run was given (fresh and empty at its start, unless `DeployOpts.tmp` named one). */
  tmp: string;
  reportPath: string;
  report?: Report;
  /** exit code, stdout and stderr: what a failing assertion shows. */
  output: string;
}

export interface RunningDeploy {
  child: ChildProcess;
  startedAt: number;
  lines: Line[];
  /** Resolves with the first stderr line (already seen or to come) that matches. */
  waitForLine(match: RegExp | ((text: string) => boolean), timeoutMs: number): Promise<Line>;
  done: Promise<DeployResult>;
}

export interface DeployOpts {
  namespace: string;
  tag: string;
  services: readonly string[];
  label: string;
  config?: string;
  extraArgs?: string[];
  extraEnv?: Record<string, string>;
  /** Its own process group (pid = pgid), so a scenario can kill the whole group. */
  detached?: boolean;
  /** Killed (SIGKILL) after this long; the scenario then fails on the exit code. */
  timeoutMs?: number;
  /** Run with this TMPDIR (e.g. a killed run's, to see its leftovers swept) instead of a fresh one. */
  tmp?: string;
}

/** Starts `ecommerce-deploy deploy` (dist/cli.js) the way a user runs it, with a fresh TMPDIR. */
export function startDeploy(env: StandInEnv, opts: DeployOpts): RunningDeploy {
  const tmp = opts.tmp ?? mkdtempSync(join(tmpdir(), `faults-${opts.label}-`));
  const reportDir = mkdtempSync(join(tmpdir(), `faults-report-${opts.label}-`));
  const reportPath = join(reportDir, 'report.json');
  const { KUBECONFIG: _admin, ...aws } = env;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('INPUT_') && k !== 'KUBECONFIG') childEnv[k] = v;
  Object.assign(childEnv, aws, { TMPDIR: tmp, CI: 'true' }, opts.extraEnv);
  const args = [
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
    '--services',
    opts.services.join(','),
    '--concurrency',
    '6',
    '--report',
    reportPath,
    // A deploy file written to a temp dir names this repository's chart and values files.
    ...(opts.config && relative(repoRoot, resolve(opts.config)).startsWith('..')
      ? ['--allow-files-from', repoRoot]
      : []),
    ...(opts.extraArgs ?? []),
  ];
  const startedAt = Date.now();
  const child = spawn(process.execPath, args, { env: childEnv, detached: opts.detached ?? false });
  const lines: Line[] = [];
  const waiters: { test: (t: string) => boolean; resolve: (l: Line) => void; exited: () => void }[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  let closed = false;
  const push = (line: Line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.test(line.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => {
    const at = Date.now();
    stderr += d;
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) push({ at, text });
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const done = new Promise<DeployResult>((resolveDone) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      closed = true;
      if (partial) push({ at: Date.now(), text: partial });
      // Nothing more will come: a wait for a line fails now, not at its timeout.
      for (const w of waiters.splice(0)) w.exited();
      // Each run's whole output next to the records, to read after a run.
      if (process.env.FAULTS_RECORDS) {
        mkdirSync(join(process.env.FAULTS_RECORDS, 'logs'), { recursive: true });
        writeFileSync(
          join(process.env.FAULTS_RECORDS, 'logs', `${opts.label}.log`),
          `exit ${code ?? signal}\n${stdout}\n${stderr}`,
        );
      }
      let report: Report | undefined;
      try {
        report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
      } catch {
        // no report: the assertions on it say so, with the output
      }
      resolveDone({
        label: opts.label,
        code,
        signal,
        stdout,
        stderr,
        lines,
        startedAt,
        exitedAt: Date.now(),
        tmp,
        reportPath,
        report,
        output: `exit ${code ?? signal}\n${stdout}\n${stderr}`,
      });
    });
  });
  return {
    child,
    startedAt,
    lines,
    waitForLine(match, timeoutMs) {
      const test = typeof match === 'function' ? match : (t: string) => match.test(t);
      const seen = lines.find((l) => test(l.text));
      if (seen) return Promise.resolve(seen);
      if (closed) return Promise.reject(new Error(`the deploy exited before a line matching ${match}`));
      return new Promise((res, rej) => {
        const timer = setTimeout(
          () => rej(new Error(`no line matching ${match} in ${timeoutMs} ms:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          test,
          resolve: (l) => {
            clearTimeout(timer);
            res(l);
          },
          exited: () => {
            clearTimeout(timer);
            rej(new Error(`the deploy exited before a line matching ${match}:\n${stdout}\n${stderr}`));
          },
        });
      });
    },
    done,
  };
}

export const deploy = (env: StandInEnv, opts: DeployOpts) => startDeploy(env, opts).done;

/** A progress line of the rollout tracker for this service (CI mode: a line per change). */
const progressLine = (service: string) =>
  new RegExp(`^\\[\\s*[\\d.]+s\\] ${service}\\s+(progressing|waiting|ready)\\b`);

/** Resolves once each of these services has shown a rollout progress line (its helm upgrade returned). */
export async function waitForRollouts(run: RunningDeploy, services: readonly string[], timeoutMs: number) {
  const seen = await Promise.all(services.map((s) => run.waitForLine(progressLine(s), timeoutMs)));
  return Math.max(...seen.map((l) => l.at));
}

/** Lines with the tool's own retry messages (Kubernetes reads and AWS SDK calls). */
export function retryLines(run: DeployResult): string[] {
  return run.lines.map((l) => l.text).filter((t) => /retry \d+ of \d+/.test(t));
}

/** How often the run's watches were interrupted and resumed (the tracker's log lines). */
export function watchBreaks(run: DeployResult): string {
  const count = (re: RegExp) => run.lines.filter((l) => re.test(l.text)).length;
  return `${count(/watch of \w+ interrupted/)} watch interruption(s), ${count(/watch of \w+ resumed/)} resumed`;
}

/** The secrets a run could have printed: the ECR password and token moto hands out, the AWS secret keys. */
export interface Secrets {
  values: string[];
}

export async function knownSecrets(env: StandInEnv, extra: string[] = []): Promise<Secrets> {
  const ecr = new ECRClient({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  const auth = await ecr.send(new GetAuthorizationTokenCommand({}));
  const token = auth.authorizationData![0]!.authorizationToken!;
  const password = Buffer.from(token, 'base64').toString('utf8').split(':').slice(1).join(':');
  expect(password.length).toBeGreaterThan(8); // a scan for an empty string would find nothing
  return { values: [token, password, env.AWS_SECRET_ACCESS_KEY, ...extra] };
}

/** Every file under dir (recursively), for the temp check and the secret scan. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? [path + '/', ...filesUnder(path)] : [path];
  });
}

/** Where a secret (or any EKS token: `k8s-aws-v1.`) shows up in a run's output, report or leftovers. */
function secretsIn(run: DeployResult, secrets: Secrets): string[] {
  const places: [string, string][] = [
    ['stdout', run.stdout],
    ['stderr', run.stderr],
  ];
  if (existsSync(run.reportPath)) places.push(['report', readFileSync(run.reportPath, 'utf8')]);
  for (const f of filesUnder(run.tmp)) if (!f.endsWith('/')) places.push([f, readFileSync(f, 'latin1')]);
  const found: string[] = [];
  for (const [where, text] of places) {
    if (text.includes('k8s-aws-v1.')) found.push(`${run.label} ${where}: an EKS token (k8s-aws-v1.)`);
    for (const s of secrets.values)
      if (text.includes(s)) found.push(`${run.label} ${where}: a secret (${s.slice(0, 4)}…)`);
  }
  return found;
}

/** The latest revision of each release in the namespace, with its status. */
export function latestReleases(env: StandInEnv, namespace: string) {
  const latest: Record<string, { revision: number; status: string; description: string }> = {};
  for (const r of helmReleases(env, namespace) as {
    name: string;
    revision: number;
    status: string;
    description: string;
  }[]) {
    if (!latest[r.name] || r.revision > latest[r.name]!.revision) latest[r.name] = r;
  }
  return latest;
}

function releaseProblems(env: StandInEnv, namespace: string, expected: Record<string, number>): string[] {
  const latest = latestReleases(env, namespace);
  const problems: string[] = [];
  for (const [name, revision] of Object.entries(expected)) {
    const r = latest[name];
    if (!r) problems.push(`${name}: no release`);
    else if (r.status !== 'deployed' || r.revision !== revision)
      problems.push(`${name}: ${r.status} at revision ${r.revision}, expected deployed at ${revision}`);
  }
  for (const name of Object.keys(latest))
    if (!(name in expected)) problems.push(`${name}: unexpected release (${latest[name]!.status})`);
  return problems;
}

export interface EndState {
  /** Empty when every part of the check held. */
  problems: string[];
  summary: string;
  next: DeployResult;
}

/**
 * The end state after a scenario: every release of the namespace `deployed` at the
 * expected revision, each run's TMPDIR empty (a `killed` run's too: nothing of its own cleans up
 * after SIGKILL, so the next run in that TMPDIR must have swept it), no secret in any output, report or leftover,
 * then a following deploy of a fresh tag exits 0 and leaves every release one revision on.
 */
export async function checkEndState(
  env: StandInEnv,
  opts: {
    namespace: string;
    expected: Record<string, number>;
    runs: DeployResult[];
    killed?: DeployResult[];
    secrets: Secrets;
    extraEnv?: Record<string, string>;
    label: string;
  },
): Promise<EndState> {
  const problems = releaseProblems(env, opts.namespace, opts.expected);
  for (const run of opts.runs) {
    const left = filesUnder(run.tmp);
    if (left.length) problems.push(`${run.label}: left in TMPDIR: ${left.join(', ')}`);
  }
  for (const run of opts.killed ?? []) {
    const left = filesUnder(run.tmp);
    if (left.length) problems.push(`${run.label} (killed): left in TMPDIR, not swept: ${left.join(', ')}`);
  }
  for (const run of [...opts.runs, ...(opts.killed ?? [])]) problems.push(...secretsIn(run, opts.secrets));

  const services = Object.keys(opts.expected);
  const tag = await freshTag(env, services, `${opts.label}-next`);
  const next = await deploy(env, {
    namespace: opts.namespace,
    tag,
    services,
    label: `${opts.label}-next`,
    extraEnv: opts.extraEnv,
    timeoutMs: 240_000,
  });
  if (next.code !== 0)
    problems.push(`the following deploy exited ${next.code ?? next.signal}:\n${next.output}`);
  else {
    const after = Object.fromEntries(Object.entries(opts.expected).map(([s, r]) => [s, r + 1]));
    problems.push(
      ...releaseProblems(env, opts.namespace, after).map((p) => `after the following deploy: ${p}`),
    );
  }
  const nextLeft = filesUnder(next.tmp);
  if (nextLeft.length) problems.push(`the following deploy left in TMPDIR: ${nextLeft.join(', ')}`);
  problems.push(...secretsIn(next, opts.secrets));

  const revisions = Object.entries(opts.expected)
    .map(([s, r]) => `${s} r${r}`)
    .join(', ');
  const summary = problems.length
    ? `FAILED: ${problems.join('; ')}`
    : `ok: ${revisions} deployed; TMPDIR empty (${opts.runs.length + 1} run(s)` +
      (opts.killed?.length ? `, and the SIGKILLed run's, swept by the next run there)` : ')') +
      `; no ECR password/token, AWS secret key or EKS token in outputs, reports` +
      (opts.killed?.length ? ' or leftovers' : '') +
      `; following deploy exit 0 in ${seconds(next.exitedAt - next.startedAt)}`;
  return { problems, summary, next };
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What a scenario leaves for RELIABILITY.md. */
export interface ScenarioRecord {
  id: string;
  title: string;
  injected: string;
  behaviour: string;
  figures: string;
  endState: string;
  passed: boolean;
}

/** Writes the scenario's record where global-teardown.mjs collects them. */
export function record(r: ScenarioRecord) {
  const dir = process.env.FAULTS_RECORDS!;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.id}.json`), JSON.stringify(r, null, 2));
}
