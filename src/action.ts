/**
 * The Action's front door: action inputs -> DeployRequest, then the Report ->
 * step outputs, job summary, JSON report and the step's result. Everything in
 * between is the shared pipeline (src/pipeline/).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { context } from '@actions/github';
import { awsClients } from './aws/clients.js';
import { runPipeline } from './pipeline/index.js';
import { changesPending, exitCodeOf } from './report/recorder.js';
import { commentPlanOnPullRequest, deploymentFor, deploymentPayload, gitHubRun } from './github/run.js';
import type { GitHubDeployment } from './github/deployments.js';
import { DeployError, inputError, preflightError } from './errors.js';
import { DEFAULT_HELM_VERSION, installHelm } from './helm/binary.js';
import type { DeployRequest, Report } from './model.js';
import { execRunner } from './runner.js';
import { writeJsonReport } from './report/json.js';
import type { Output } from './report/output.js';
import { summaryMarkdown } from './report/summary.js';
import { buildRequest } from './request.js';
import { cancelOnSignals } from './signals.js';
import { traceFromWorkflow, type WorkflowContext } from './trace.js';

/** Output over @actions/core: log lines, annotations, masking and collapsible groups. */
class ActionOutput implements Output {
  /** Kept so the summary and the JSON report can be checked against them. */
  readonly secrets: string[] = [];
  private groupOpen = false;

  info(message: string): void {
    core.info(message);
  }
  warn(message: string): void {
    core.warning(message);
  }
  error(message: string): void {
    core.error(message);
  }
  setSecret(value: string): void {
    if (!value) return;
    core.setSecret(value);
    this.secrets.push(value);
  }
  // The log cannot nest groups, and releases run in parallel: a group opened while
  // another is open becomes a plain line inside it instead of closing the other early.
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    if (this.groupOpen) {
      core.info(title);
      return fn();
    }
    this.groupOpen = true;
    core.startGroup(title);
    try {
      return await fn();
    } finally {
      core.endGroup();
      this.groupOpen = false;
    }
  }
}

/**
 * A boolean input; empty means the default. The runner fills in action.yml's
 * defaults, but a step run by hand (or a test) may not.
 */
function booleanInput(name: string, fallback: boolean): boolean {
  if (!core.getInput(name)) return fallback;
  try {
    return core.getBooleanInput(name);
  } catch {
    throw inputError(`${name} must be true or false, got "${core.getInput(name)}"`, {
      hint: `set ${name} to true or false, or leave it out for the default (${fallback})`,
    });
  }
}

function workflowContext(): WorkflowContext {
  let repository: string | undefined;
  try {
    const { owner, repo } = context.repo;
    repository = `${owner}/${repo}`;
  } catch {
    // Outside a workflow run there is no GITHUB_REPOSITORY, so no run URL either.
  }
  return {
    sha: context.sha,
    serverUrl: context.serverUrl,
    runId: context.runId,
    actor: context.actor,
    repository,
  };
}

type HelmSource = 'path' | 'pinned';

/** path: helm from HELM_BIN or PATH, else the pinned one; pinned: always the pinned, checksum-verified one. */
function helmSourceInput(): HelmSource {
  const text = core.getInput('helm-source').trim().toLowerCase() || 'path';
  if (text === 'path' || text === 'pinned') return text;
  throw inputError(`helm-source must be path or pinned, got "${core.getInput('helm-source').trim()}"`, {
    hint: 'path uses helm from HELM_BIN or PATH (installing the pinned helm-version when there is none); pinned always installs helm-version and verifies its checksum',
  });
}

/** `mode` (deploy | verify), and dry-run, which makes a plan. */
function modeInput(): DeployRequest['mode'] {
  const mode = (core.getInput('mode') || 'deploy').trim().toLowerCase();
  if (mode !== 'deploy' && mode !== 'verify') {
    throw inputError(`mode must be deploy or verify, got "${core.getInput('mode')}"`, {
      hint: 'deploy releases the services; verify checks the live services (read-only); for a plan set dry-run: true',
    });
  }
  const dryRun = booleanInput('dry-run', false);
  if (dryRun && mode === 'verify') {
    throw inputError('dry-run applies to mode deploy only', {
      hint: 'verify changes nothing already: leave dry-run false',
    });
  }
  return dryRun ? 'plan' : mode;
}

function requestFromInputs(helmSource: HelmSource): DeployRequest {
  const get = (name: string) => core.getInput(name);
  return buildRequest({
    mode: modeInput(),
    config: get('config'),
    // Empty means the default, "all" (as action.yml says).
    services: get('services') || undefined,
    imageTag: get('image-tag'),
    environment: get('environment'),
    namespace: get('namespace'),
    clusterName: get('cluster-name'),
    region: get('aws-region'),
    kubeconfig: get('kubeconfig'),
    timeout: get('timeout'),
    concurrency: get('concurrency'),
    rollback: get('rollback'),
    rollbackTimeout: get('rollback-timeout'),
    lockWait: get('wait-for-lock'),
    keepFailedInstall: booleanInput('keep-failed-install', false),
    strict: booleanInput('strict', false),
    helmVersion: get('helm-version') || DEFAULT_HELM_VERSION,
    helmBinary: helmSource === 'pinned' ? undefined : process.env.HELM_BIN,
    skipImageCheck: booleanInput('skip-image-check', false),
    reportPath: get('report-path'),
    force: booleanInput('force', false),
    planOut: get('plan-out'),
    planFile: get('plan-file'),
    planMaxAge: get('plan-max-age'),
    workspace: process.env.GITHUB_WORKSPACE,
    allowFilesFrom: [get('allow-files-from')],
    trace: traceFromWorkflow(workflowContext()),
    names: {
      imageTag: 'image-tag',
      timeout: 'timeout',
      concurrency: 'concurrency',
      rollback: 'rollback',
      rollbackTimeout: 'rollback-timeout',
      lockWait: 'wait-for-lock',
      cluster: 'cluster-name',
      region: 'aws-region',
      kubeconfig: 'kubeconfig',
      skipImageCheck: 'skip-image-check',
      services: 'services',
      namespace: 'namespace',
      reportPath: 'report-path',
      helmVersion: 'helm-version',
      allowFilesFrom: 'allow-files-from',
      force: 'force',
      planOut: 'plan-out',
      planFile: 'plan-file',
      planMaxAge: 'plan-max-age',
      environment: 'environment',
    },
  });
}

/** The `services` output: one entry per service, for later steps (e.g. smoke tests against a digest). */
// Missing values are null rather than absent, so `fromJSON(...).x.digest` never needs a guard.
function servicesOutput(
  report: Report,
): Record<string, { revision: number | null; digest: string | null; status: string; image: string }> {
  return Object.fromEntries(
    report.services.map((r) => [
      r.service,
      { revision: r.revision ?? null, digest: r.digest ?? null, status: r.status, image: r.image },
    ]),
  );
}

/** The JSON report's path, or '' when none was asked for or it could not be written (a warning, not a failure). */
function writeReport(report: Report, request: DeployRequest, out: ActionOutput): string {
  if (!request.reportPath) return '';
  try {
    return writeJsonReport(request.reportPath, report, out.secrets);
  } catch (err) {
    out.warn(`the JSON report was not written: ${err instanceof Error ? err.message : String(err)}`);
    return '';
  }
}

async function publish(report: Report, request: DeployRequest, out: ActionOutput): Promise<void> {
  const reportFile = writeReport(report, request, out);
  core.setOutput('result', report.result);
  core.setOutput('services', JSON.stringify(servicesOutput(report)));
  core.setOutput('report-path', reportFile);
  if (report.mode !== 'verify' && !report.error)
    core.setOutput('changes-pending', String(changesPending(report)));
  if (report.planId) core.setOutput('plan-id', report.planId);
  // Without GITHUB_STEP_SUMMARY (a run outside Actions) there is nowhere to write it.
  if (process.env.GITHUB_STEP_SUMMARY) {
    await core.summary.addRaw(summaryMarkdown(report, out.secrets), true).write();
  }
}

function failedServices(report: Report): string {
  if (report.result === 'cancelled') return `${report.mode} cancelled by ${report.cancelledBy}`;
  if (report.mode === 'verify') {
    const failed = (report.checks ?? []).filter((c) => c.status === 'failed');
    return `verify failed: ${failed.map((c) => `${c.service} ${c.check}`).join(', ')}`;
  }
  const failed = report.services.filter((r) => r.status === 'failed' || r.status === 'rolled-back');
  return `deploy failed: ${failed.map((r) => `${r.service} (${r.reason ?? r.status})`).join(', ') || 'see the log above'}`;
}

function fail(message: string, exitCode: number, published = false): void {
  if (!published) core.setOutput('result', 'failure');
  core.setFailed(message);
  // setFailed sets 1; a preflight or input failure (nothing changed) ends with 2.
  process.exitCode = exitCode;
}

/** Ends the run's GitHub deployment from the Report (the services' images and digests as deployed). */
async function finishDeployment(deployment: GitHubDeployment, request: DeployRequest, report: Report) {
  const services = report.services.map((r) => ({ service: r.service, image: r.image, digest: r.digest }));
  await deployment.finish(report, deploymentPayload(request, report.namespace, services, report.planId));
}

export async function run(): Promise<void> {
  const cancellation = cancelOnSignals((name, first) =>
    core.warning(
      first ? `${name}: cancelling this deploy; the summary and outputs are still written` : `${name} again`,
    ),
  );
  let deployment: GitHubDeployment | undefined;
  try {
    const out = new ActionOutput();
    // Masked before anything can print it.
    const token = core.getInput('github-token');
    out.setSecret(token);
    const helmSource = helmSourceInput();
    const request = requestFromInputs(helmSource);
    const github = gitHubRun(token, request.trace.runUrl, out, cancellation.signal);
    if (github && request.mode === 'deploy') deployment = deploymentFor(github, request, out);
    // The kubeconfig's exec plugin runs dist/cli.js beside this bundle to mint EKS tokens.
    const cli = join(dirname(fileURLToPath(import.meta.url)), 'cli.js');
    if (request.mode !== 'plan' && request.cluster && !existsSync(cli)) {
      throw preflightError(`${cli} is missing, so kubectl and helm could not get an EKS token`, {
        hint: 'the action is incomplete: rebuild dist/ with `npm run bundle` and commit it',
      });
    }
    const report = await runPipeline(request, {
      out,
      run: execRunner,
      awsClients: (region) => awsClients(region, (retry) => out.info(retry)),
      signal: cancellation.signal,
      tokenCommand: { command: process.execPath, args: [cli, 'token'] },
      tempDir: process.env.RUNNER_TEMP || tmpdir(),
      // pinned: no helm from PATH, so preflight installs (or re-verifies) the pinned one.
      pathEnv: helmSource === 'pinned' ? undefined : process.env.PATH,
      installHelm,
      onReleaseStart: deployment
        ? // Not awaited: GitHub's API never holds the releases back; the final status waits for it.
          async (start) =>
            void deployment!.start(deploymentPayload(request, start.namespace, start.services, start.planId))
        : undefined,
    });
    await publish(report, request, out);
    if (github && request.mode === 'plan') await commentPlanOnPullRequest(github, report, out, out.secrets);
    if (deployment) await finishDeployment(deployment, request, report);
    const exitCode = exitCodeOf(report);
    // The pipeline has already shown report.error as an error annotation; setFailed would repeat it.
    if (report.error) process.exitCode = exitCode;
    else if (exitCode !== 0) fail(failedServices(report), exitCode, true);
  } catch (err) {
    await deployment?.abort(`stopped: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof DeployError) fail(err.describe(), err.exitCode);
    else
      fail(
        `ecommerce-deploy stopped unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        1,
      );
  } finally {
    cancellation.dispose();
    // A cancelled run has published its outputs; a lingering connection must not keep the step alive.
    if (cancellation.signal.aborted) setTimeout(() => process.exit(), 200).unref();
  }
}
