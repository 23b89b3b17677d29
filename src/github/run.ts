/**
 * What the Action does on GitHub besides the job summary, given a token (input
 * github-token): the plan as a pull request comment (plan mode, pull_request events) and
 * the deploy as a GitHub deployment (deploy mode). Nothing here can fail the run.
 */
import { context } from '@actions/github';
import { loadDeployConfig } from '../config/load.js';
import type { DeployRequest, EnvironmentDeployment, Report } from '../model.js';
import type { Output } from '../report/output.js';
import { githubClient, type GitHubClient } from './api.js';
import { planComment, upsertPlanComment } from './comment.js';
import { GitHubDeployment, type DeploymentPayload } from './deployments.js';

export interface GitHubRun {
  gh: GitHubClient;
  owner: string;
  repo: string;
  runUrl?: string;
}

/** The client and repository, or undefined (with a note) outside a workflow run. */
export function gitHubRun(
  token: string,
  runUrl: string | undefined,
  out: Output,
  cancelled?: AbortSignal,
): GitHubRun | undefined {
  if (!token) return undefined;
  let repo: { owner: string; repo: string };
  try {
    repo = context.repo;
  } catch {
    out.info(
      'github-token is set but GITHUB_REPOSITORY is not: no pull request comment or GitHub deployment',
    );
    return undefined;
  }
  // context.apiUrl is GITHUB_API_URL (GitHub Enterprise Server, or a test's server), else api.github.com.
  const gh = githubClient(token, { baseUrl: context.apiUrl, log: (m) => out.info(m), cancelled });
  return { gh, ...repo, runUrl };
}

/** The pull request this run is for (pull_request / pull_request_target events), if any. */
function pullRequestNumber(): number | undefined {
  if (context.eventName !== 'pull_request' && context.eventName !== 'pull_request_target') return undefined;
  const n = (context.payload as { pull_request?: { number?: unknown } }).pull_request?.number;
  return typeof n === 'number' ? n : undefined;
}

/** Plan mode on a pull request: the plan as the environment's comment, created or updated in place. */
export async function commentPlanOnPullRequest(
  run: GitHubRun,
  report: Report,
  out: Output,
  secrets: readonly string[],
): Promise<void> {
  const number = pullRequestNumber();
  if (number === undefined) return;
  const body = planComment(report, { runUrl: run.runUrl, secrets });
  await upsertPlanComment(
    run.gh,
    { owner: run.owner, repo: run.repo, number },
    report.environment,
    body,
    out,
  );
}

/** The environment's GitHub deployment settings from the deploy file; none when it cannot be read (the run says why). */
function environmentSettings(request: DeployRequest): EnvironmentDeployment {
  try {
    return (
      loadDeployConfig(request.configPath, request.fileRoots).environmentDeployments?.[request.environment] ??
      {}
    );
  } catch {
    return {};
  }
}

/** Deploy mode: the run's deployment, created when the releases start (or at the end, to record an error). */
export function deploymentFor(run: GitHubRun, request: DeployRequest, out: Output): GitHubDeployment {
  const settings = environmentSettings(request);
  return new GitHubDeployment(
    run.gh,
    {
      owner: run.owner,
      repo: run.repo,
      ref: context.sha,
      environment: request.environment,
      environmentUrl: settings.url,
      productionEnvironment: settings.production,
      transientEnvironment: settings.transient,
      logUrl: run.runUrl,
    },
    out,
  );
}

/** The deployment's payload: the services with the images and digests deployed, and the plan's id. */
export function deploymentPayload(
  request: DeployRequest,
  namespace: string,
  services: { service: string; image: string; digest?: string }[],
  planId?: string,
): DeploymentPayload {
  return {
    tool: 'ecommerce-deploy',
    imageTag: request.imageTag,
    namespace,
    ...(planId ? { planId } : {}),
    services: services.map((s) => ({ service: s.service, image: s.image, digest: s.digest ?? null })),
  };
}
