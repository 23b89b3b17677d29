/**
 * The helm commands the pipeline runs, as argument arrays through the Runner.
 * Helm 3 and 4 differ in a few flags (checked against `helm <cmd> --help` of
 * v3.17.3 and v4.1.4); those differences live here and nowhere else:
 *
 *   what                 helm 3          helm 4
 *   roll back on failure --atomic        --rollback-on-failure
 *   wait for readiness   --wait          --wait=watcher (bare `--wait` means watcher too, but say it)
 *   list every status    list --all      list (all statuses by default; --all is an unknown flag)
 */
import { load } from 'js-yaml';
import { DeployError, inputError, type ErrorKind } from '../errors.js';
import type { Runner, RunResult } from '../runner.js';
import type { EksTokenSource } from '../aws/token.js';
import type { SupportedHelm } from './binary.js';
import { redact } from '../report/redact.js';

export type HelmMajor = 3 | 4;

/** What `helm template` and `helm upgrade` both take. */
export interface RenderParams {
  release: string;
  /** Local chart directory or `oci://…` reference. */
  chart: string;
  namespace: string;
  /** Applied in order: environment values first, then the service's overrides. */
  valuesFiles: string[];
  /** Applied after the values files, in insertion order; always strings (see setArgs). */
  sets: Record<string, string>;
  /** Chart version, for OCI charts. */
  version?: string;
}

export interface UpgradeParams extends RenderParams {
  /** Shown by `helm history`; we put the commit and run URL there. */
  description?: string;
  dryRun?: 'client' | 'server';
  /**
   * The API server validates fields itself (Kubernetes 1.27+): helm's own OpenAPI check is then
   * skipped, with `--disable-openapi-validation` (see serverValidatesFields).
   */
  serverValidatesFields?: boolean;
}

export interface ReleaseInfo {
  status: string;
  revision: number;
  /** `<chart name>-<chart version>`, as helm lists it. */
  chart: string;
  appVersion: string;
  updated: string;
}

export interface HistoryEntry {
  revision: number;
  status: string;
  chart: string;
  appVersion: string;
  updated: string;
  description: string;
}

export interface UpgradeResult {
  revision?: number;
  /** What the API server warned about while helm applied the release (e.g. an unknown field it dropped). */
  warnings: string[];
}

// ---------------------------------------------------------------------------
// Arguments (pure)

/** A value `--set` keeps as the same string: no `,` `=` `{` `\` or spaces, and not an integer or bool/null word. */
const PLAIN_VALUE = /^[A-Za-z0-9_.:/@+-]+$/;
const TYPED_BY_SET = /^([-+]?\d+|true|false|null)$/i;

/**
 * `--set` turns `20240101` into a number and `true` into a bool, and splits
 * values at commas; a tag of `1.10` or a digest must reach the chart as the
 * exact string. So plain words go as `--set` (readable in logs) and every
 * other value as `--set-literal`, which takes the value verbatim (helm >= 3.12).
 * `--set-string` would still split `a,b` and eat backslashes.
 */
export function setArgs(sets: Record<string, string>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(sets)) {
    if (!key || /[=,\s]/.test(key)) {
      throw inputError(`invalid helm value key ${JSON.stringify(key)}`, {
        where: { key },
        hint: 'value keys are dotted paths such as image.tag, without "=", "," or spaces',
      });
    }
    const literal = !PLAIN_VALUE.test(value) || TYPED_BY_SET.test(value);
    args.push(literal ? '--set-literal' : '--set', `${key}=${value}`);
  }
  return args;
}

function renderArgs(p: RenderParams): string[] {
  const args = ['--namespace', p.namespace];
  for (const file of p.valuesFiles) args.push('-f', file);
  args.push(...setArgs(p.sets));
  if (p.version) args.push('--version', p.version);
  return args;
}

/** `helm upgrade --install …` for the given helm major. */
export function upgradeArgs(p: UpgradeParams): string[] {
  // No --create-namespace: the run's lease creates a missing namespace first, and helm's own
  // create/patch of it would need cluster-scoped rights a namespace-scoped deploy role lacks.
  const args = ['upgrade', '--install', p.release, p.chart, '--namespace', p.namespace];
  args.push(...renderArgs(p).slice(2));
  if (p.description) args.push('--description', p.description);
  if (p.dryRun) args.push(`--dry-run=${p.dryRun}`);
  if (p.serverValidatesFields) args.push('--disable-openapi-validation');
  return args;
}

/**
 * Kubernetes 1.27+ validates fields on the server (field validation GA). Against such a server
 * helm's client-side "OpenAPI validation" validates nothing: kubectl's validator skips itself
 * when the server supports the fieldValidation parameter, yet helm still downloads and parses
 * the server's OpenAPI document for it, about half of each `helm upgrade`'s CPU (0.35 of 0.8 s,
 * helm 3 and 4 alike, on the stand-in). Unknown fields come back as the server's warnings
 * (helm 3, shown by the run) or errors (helm 4's server-side apply), with or without it.
 */
export function serverValidatesFields(version: string | undefined): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  return !!m && (Number(m[1]) > 1 || Number(m[2]) >= 27);
}

/**
 * The API server's warnings in helm's stderr, as client-go logs them: helm 3
 * `W1202 07:15:02.207250 9303 warnings.go:70] unknown field "x"`, helm 4 (structured klog)
 * `I1202 07:21:22.036962 15000 warnings.go:107] "Warning: unknown field \"x\""`.
 */
export function serverWarnings(stderr: string): string[] {
  return [...stderr.matchAll(/^[IW]\d{4} [\d:.]+\s+\d+ warnings\.go:\d+\] (.+)$/gm)].map((m) => {
    let text = m[1]!.trim();
    if (text.startsWith('"')) {
      try {
        text = JSON.parse(text) as string;
      } catch {
        // not a quoted string after all: keep it as printed
      }
    }
    return text.replace(/^Warning: /, '');
  });
}

/** `helm template …`: no `--kube-version`, so helm's built-in default applies as in `helm install`. */
export function templateArgs(p: RenderParams): string[] {
  return ['template', p.release, p.chart, ...renderArgs(p)];
}

/** `helm rollback …` that waits for the old revision's pods, within the rollback's own timeout. */
export function rollbackArgs(
  p: { release: string; revision: number; namespace: string; timeoutSeconds: number },
  helmMajor: HelmMajor,
): string[] {
  return [
    'rollback',
    p.release,
    String(p.revision),
    '--namespace',
    p.namespace,
    '--timeout',
    `${p.timeoutSeconds}s`,
    // Helm 4's default is hookOnly; `watcher` is the kstatus-based wait that replaced helm 3's --wait.
    helmMajor === 4 ? '--wait=watcher' : '--wait',
  ];
}

export function listArgs(namespace: string, helmMajor: HelmMajor): string[] {
  // Without --all helm 3 hides pending-* releases, which are exactly the ones we must see.
  return ['list', ...(helmMajor === 3 ? ['--all'] : []), '--namespace', namespace, '--output', 'json'];
}

// ---------------------------------------------------------------------------
// Errors

const STDERR_LINES = 20;

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The value key a schema error names: helm 3 prints `- image.tag: Invalid type…`, helm 4 `- at '/image/tag': …`. */
function schemaKey(stderr: string): string | undefined {
  const v4 = /at '\/([^']+)'/.exec(stderr);
  if (v4?.[1]) return v4[1].split('/').join('.');
  const v3 = /^- ([A-Za-z0-9_.[\]-]+): /m.exec(stderr);
  return v3?.[1] && v3[1] !== '(root)' ? v3[1] : undefined;
}

/** helm refused because another install/upgrade/rollback of the release is under way (or was killed mid-way). */
export function isReleaseLocked(err: DeployError): boolean {
  return /another operation \(install\/upgrade\/rollback\) is in progress/.test(err.describe());
}

const NETWORK = /no such host|connection refused|i\/o timeout|network is unreachable|TLS handshake timeout/i;

/** The OCI registry a command pulls from or logs into, if any. */
function registryOf(args: string[]): string | undefined {
  const oci = args.find((a) => a.startsWith('oci://'));
  if (oci) return oci.slice('oci://'.length).split('/')[0];
  return args[0] === 'registry' && args[1] === 'login' ? args[2] : undefined;
}

/** What to do, for the command that failed: a registry problem is not a kubeconfig problem. */
function hintFor(stderr: string, args: string[], c: HelmErrorContext, runnable: boolean): string {
  const registry = registryOf(args);
  if (
    registry &&
    stderr.includes(registry) &&
    (NETWORK.test(stderr) || /unauthorized|denied/i.test(stderr))
  ) {
    return `check that the chart registry ${registry} is reachable from here (DNS, network, proxy) and that this identity may pull from it`;
  }
  if (
    /cluster unreachable|Unauthorized|credentials/i.test(stderr) ||
    (c.kubeconfig && NETWORK.test(stderr))
  ) {
    return `check that the kubeconfig points at the right cluster and that its credentials are valid`;
  }
  if (NETWORK.test(stderr))
    return 'check the network and DNS of this machine: helm could not reach a host it needed';
  if (/another operation \(install\/upgrade\/rollback\) is in progress/.test(stderr) && c.release) {
    return `another deploy of ${c.release} may still be running; if not, see \`helm history ${c.release} -n ${c.namespace}\` and roll back to the last deployed revision`;
  }
  if (/schema|execution error|VALUES VALIDATION/i.test(stderr)) {
    return 'fix the value named above in the environment values, the service overrides or the deploy file';
  }
  return runnable
    ? 'run the command above with --debug for more detail'
    : "helm's message above says what failed; the command shows what ran, but its temporary files are gone";
}

/**
 * Helm's reason, on one line: the `Error:` line, with the lines after it when it
 * only announces them (`…chart(s):`, `execution error at (…):` then a blank line).
 * A template's own `fail` message is the reason; where it failed goes to the details.
 */
function helmReason(lines: string[]): { reason: string; at?: string } {
  const i = lines.findLastIndex((l) => l.startsWith('Error:'));
  const errorLine = ((i >= 0 ? lines[i] : lines.at(-1)) ?? '').replace(/^Error:\s*/, '').trim();
  const execution = /^execution error at \(([^)]*)\):\s*(.*)$/.exec(errorLine);
  const head = execution ? execution[2]!.trim() : errorLine;
  const announces = i >= 0 && (head === '' || head.endsWith(':'));
  const more = announces
    ? lines
        .slice(i + 1, i + 5)
        .map((l) => l.trim())
        .filter((l) => l !== 'VALUES VALIDATION:' && !/^Use --debug flag/.test(l))
        .slice(0, 3)
    : [];
  return { reason: [head, ...more].filter(Boolean).join(' '), at: execution?.[1] };
}

interface HelmErrorContext {
  release?: string;
  namespace?: string;
  secrets?: string[];
  /** The kubeconfig the command ran with, and whether it is this run's own (temporary) one. */
  kubeconfig?: string;
  privateKubeconfig?: boolean;
  /** The run's private work dir: a command naming files in it cannot be re-run once the run ends. */
  workDir?: string;
}

/** Turns a failed helm run into an error naming the release, the command (secrets omitted) and helm's reason first. */
function helmError(
  kind: ErrorKind,
  what: string,
  args: string[],
  res: RunResult,
  ctx: HelmErrorContext = {},
): DeployError {
  const secrets = ctx.secrets ?? [];
  const said = redact(res.stderr.trim() || res.stdout.trim(), secrets);
  const lines = said.split('\n').filter((l) => l.trim());
  const tail = lines.slice(-STDERR_LINES);
  const { reason, at } = helmReason(lines);
  const command = [...args, ...(ctx.kubeconfig ? ['--kubeconfig', ctx.kubeconfig] : [])];
  const runnable =
    !ctx.privateKubeconfig && !(ctx.workDir && command.some((a) => a.startsWith(ctx.workDir!)));
  const shown = redact(['helm', ...command].map(quote).join(' '), secrets);
  return new DeployError(kind, `${what} failed: ${reason || `exit code ${res.exitCode}`}`, {
    where: { service: ctx.release, key: kind === 'input' ? schemaKey(said) : undefined },
    details: [
      runnable
        ? `command: ${shown}`
        : `command (not to be run as is: it used this run's temporary files, removed at the end): ${shown}`,
      ...(at ? [`template: ${at}`] : []),
      ...tail,
    ],
    hint: hintFor(said, args, ctx, runnable),
  });
}

// ---------------------------------------------------------------------------
// The client

const UNAUTHORIZED = /\bUnauthorized\b|You must be logged in to the server/;

export interface HelmOptions {
  run: Runner;
  helm: SupportedHelm;
  /** Path of the kubeconfig every command talks to (KUBECONFIG). */
  kubeconfig?: string;
  /** More environment, e.g. HELM_CACHE_HOME in tests. */
  env?: Record<string, string>;
  /** The run's cancellation, passed on to every helm process. */
  signal?: AbortSignal;
  /**
   * EKS tokens minted in this process, handed to each helm command as HELM_KUBETOKEN,
   * so helm does not start the kubeconfig's exec plugin (a Node process) per command.
   * When it has no token that lasts the command's longest wait, the exec plugin does the work.
   */
  token?: EksTokenSource;
  /** The kubeconfig is this run's own, temporary one (EKS), so a failed command is not shown as re-runnable. */
  privateKubeconfig?: boolean;
  /** The run's private work dir (run values files, registry login). */
  workDir?: string;
}

/**
 * Go's garbage collector for helm's short-lived processes: GOGC=400 unless the environment
 * sets GOGC. Measured on the stand-in (helm 3.17, one service, 6 runs each): `helm upgrade`
 * 0.43 → 0.36 CPU s and `helm template` 0.078 → 0.058, for 55 → 73 MB peak memory each
 * (helm 4.1: 0.345 → 0.325). Every helm process of a run starts at once, on the CPU the
 * rollouts need next.
 */
export function helmGcDefault(env: NodeJS.ProcessEnv): Record<string, string> {
  return env.GOGC === undefined ? { GOGC: '400' } : {};
}

/** Helm's default --timeout (hooks, uninstall) plus a margin: how long a token must last when a call names no timeout. */
const DEFAULT_CALL_SECONDS = 5 * 60 + 60;

interface Call {
  kind: ErrorKind;
  what: string;
  release?: string;
  namespace?: string;
  input?: string;
  secrets?: string[];
  /** The call's --timeout: its token must outlive it. */
  timeoutSeconds?: number;
}

export class Helm {
  readonly major: HelmMajor;
  private readonly env: Record<string, string>;

  constructor(private readonly opts: HelmOptions) {
    this.major = opts.helm.major;
    this.env = {
      ...helmGcDefault(process.env),
      ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}),
      ...opts.env,
    };
  }

  private async call(args: string[], c: Call): Promise<RunResult> {
    const res = await this.run(args, c);
    if (res.exitCode !== 0) throw this.error(c, args, res);
    return res;
  }

  private error(c: Call, args: string[], res: RunResult): DeployError {
    const { kubeconfig, privateKubeconfig, workDir } = this.opts;
    return helmError(c.kind, c.what, args, res, { ...c, kubeconfig, privateKubeconfig, workDir });
  }

  /**
   * A token the API server refuses (401: too old by its clock, or revoked) was never
   * acted on: mint a fresh one and run the command once more.
   */
  private async run(args: string[], c: Call): Promise<RunResult> {
    const res = await this.runOnce(args, c);
    if (res.exitCode === 0 || !this.opts.token || !UNAUTHORIZED.test(res.stderr)) return res;
    this.opts.token.refused();
    return this.runOnce(args, c);
  }

  private async runOnce(args: string[], c: Call): Promise<RunResult> {
    // A failure to mint (credentials) is the token's own error, not helm's.
    const token = await this.opts.token?.(
      c.timeoutSeconds === undefined ? DEFAULT_CALL_SECONDS : c.timeoutSeconds + 60,
    );
    const env = token ? { ...this.env, HELM_KUBETOKEN: token } : this.env;
    try {
      return await this.opts.run(this.opts.helm.path, args, {
        env,
        input: c.input,
        signal: this.opts.signal,
      });
    } catch (err) {
      // The Runner only throws when the process could not start at all.
      throw this.error(c, args, { exitCode: -1, stdout: '', stderr: String(err) });
    }
  }

  /** `helm upgrade --install`; returns the new revision as helm reports it. */
  async upgrade(p: UpgradeParams): Promise<UpgradeResult> {
    const args = [...upgradeArgs(p), '--output', 'json'];
    const res = await this.call(args, {
      kind: 'deploy',
      what: `helm upgrade of ${p.release}`,
      release: p.release,
      namespace: p.namespace,
    });
    return { ...parseUpgradeOutput(res.stdout), warnings: serverWarnings(res.stderr) };
  }

  /** Rendered manifests as YAML; a render or schema failure is the user's input to fix (exit 2). */
  async template(p: RenderParams): Promise<string> {
    const res = await this.call(templateArgs(p), {
      kind: 'input',
      what: `rendering ${p.release}`,
      release: p.release,
      namespace: p.namespace,
    });
    return res.stdout;
  }

  /** Every release in the namespace, in any status (including pending-*), by name. */
  async releases(namespace: string): Promise<Map<string, ReleaseInfo>> {
    const args = listArgs(namespace, this.major);
    const res = await this.call(args, {
      kind: 'preflight',
      what: `listing helm releases in ${namespace}`,
      namespace,
    });
    const rows = parseJson<Record<string, unknown>[]>(res.stdout, `helm list in ${namespace}`) ?? [];
    return new Map(
      rows.map((r) => [
        String(r.name),
        {
          status: String(r.status ?? ''),
          revision: Number(r.revision),
          chart: String(r.chart ?? ''),
          appVersion: String(r.app_version ?? ''),
          updated: String(r.updated ?? ''),
        },
      ]),
    );
  }

  /** The release's revisions, oldest first; empty when the release does not exist. */
  async history(release: string, namespace: string): Promise<HistoryEntry[]> {
    const args = ['history', release, '--namespace', namespace, '--output', 'json'];
    const c: Call = { kind: 'preflight', what: `helm history of ${release}`, release, namespace };
    const res = await this.run(args, c);
    if (res.exitCode !== 0 && /release: not found/.test(res.stderr)) return [];
    if (res.exitCode !== 0) throw this.error(c, args, res);
    const rows = parseJson<Record<string, unknown>[]>(res.stdout, `helm history of ${release}`) ?? [];
    return rows.map((r) => ({
      revision: Number(r.revision),
      status: String(r.status ?? ''),
      chart: String(r.chart ?? ''),
      appVersion: String(r.app_version ?? ''),
      updated: String(r.updated ?? ''),
      description: String(r.description ?? ''),
    }));
  }

  /** The manifest helm stored for one revision of the release (`helm get manifest`). */
  async getManifest(release: string, namespace: string, revision: number): Promise<string> {
    const args = ['get', 'manifest', release, '--namespace', namespace, '--revision', String(revision)];
    const what = `helm get manifest of ${release} revision ${revision}`;
    const res = await this.call(args, { kind: 'preflight', what, release, namespace });
    return res.stdout;
  }

  /** The values the user gave one revision of the release (`helm get values`); {} when none. */
  async getValues(release: string, namespace: string, revision: number): Promise<Record<string, unknown>> {
    const args = ['get', 'values', release, '--namespace', namespace, '--revision', String(revision)];
    args.push('--output', 'json');
    const what = `helm get values of ${release} revision ${revision}`;
    const res = await this.call(args, { kind: 'preflight', what, release, namespace });
    return parseJson<Record<string, unknown> | null>(res.stdout, what) ?? {};
  }

  async rollback(release: string, revision: number, namespace: string, timeoutSeconds: number) {
    const args = rollbackArgs({ release, revision, namespace, timeoutSeconds }, this.major);
    await this.call(args, {
      kind: 'deploy',
      what: `helm rollback of ${release} to revision ${revision}`,
      release,
      namespace,
      timeoutSeconds,
    });
  }

  async uninstall(release: string, namespace: string) {
    const args = ['uninstall', release, '--namespace', namespace];
    await this.call(args, { kind: 'deploy', what: `helm uninstall of ${release}`, release, namespace });
  }

  /** Logs helm into an OCI registry; the password goes through stdin, never argv, and is scrubbed from errors. */
  async registryLogin(host: string, username: string, password: string) {
    const args = ['registry', 'login', host, '--username', username, '--password-stdin'];
    await this.call(args, {
      kind: 'preflight',
      what: `helm registry login to ${host}`,
      input: password,
      secrets: [password],
    });
  }

  /** The version in the chart's Chart.yaml (`helm show chart`), for the report. */
  async chartVersion(chartRef: string, version?: string): Promise<string> {
    const args = ['show', 'chart', chartRef, ...(version ? ['--version', version] : [])];
    const res = await this.call(args, { kind: 'input', what: `reading chart ${chartRef}` });
    const chart = load(res.stdout) as { version?: unknown } | null;
    if (!chart || typeof chart !== 'object' || chart.version === undefined) {
      throw inputError(`chart ${chartRef} has no version in its Chart.yaml`, {
        hint: 'set `version:` in Chart.yaml',
      });
    }
    return String(chart.version);
  }
}

function parseJson<T>(text: string, what: string): T | undefined {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  try {
    return JSON.parse(trimmed) as T;
  } catch (err) {
    throw new DeployError('preflight', `could not read the output of ${what} as JSON`, {
      details: [trimmed.slice(0, 200)],
      cause: err,
    });
  }
}

/** helm prints the release as JSON with `--output json`; the fields we report are read defensively. */
function parseUpgradeOutput(stdout: string): { revision?: number } {
  try {
    const rel = JSON.parse(stdout) as { version?: unknown };
    return { revision: typeof rel.version === 'number' ? rel.version : undefined };
  } catch {
    // The upgrade itself succeeded; the report just lacks the revision.
    return {};
  }
}

// ---------------------------------------------------------------------------
// Stuck releases

const PENDING = new Set(['pending-install', 'pending-upgrade', 'pending-rollback']);

export const isPending = (status: string): boolean => PENDING.has(status);

/** The newest revision before `before` that was live at some point (deployed now, or superseded since). */
function lastDeployedRevision(history: HistoryEntry[], before: number): number | undefined {
  const live = history.filter(
    (h) => h.revision < before && (h.status === 'deployed' || h.status === 'superseded'),
  );
  return live.length ? Math.max(...live.map((h) => h.revision)) : undefined;
}

export type Recovery = { action: 'rollback'; to: number } | { action: 'uninstall' };

/**
 * How to unlock a release a dead run left pending-* (as Flux's helm-controller does):
 * back to its last deployed revision, or, for a first install that never finished, away.
 * Undefined when it is not pending, or when nothing was ever deployed to go back to.
 */
export function recoveryOf(release: ReleaseInfo, history: HistoryEntry[]): Recovery | undefined {
  if (!isPending(release.status)) return undefined;
  const back = lastDeployedRevision(history, release.revision);
  if (back !== undefined) return { action: 'rollback', to: back };
  return release.status === 'pending-install' ? { action: 'uninstall' } : undefined;
}
