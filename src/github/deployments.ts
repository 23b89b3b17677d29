/**
 * A deploy as a GitHub deployment of its environment: created (ref = the commit,
 * auto_merge false, no required contexts, a payload with the services and digests) when
 * the releases start, `in_progress`, then `success`, `failure` (a service failed) or
 * `error` (the run could not run: an input or preflight error, or a cancel). Every API
 * failure is a warning: a deploy that succeeded never fails because GitHub did not answer.
 */
import { randomUUID } from 'node:crypto';
import type { Report } from '../model.js';
import type { Output } from '../report/output.js';
import { describeApiError, type CreateOnce, type GitHubClient } from './api.js';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error';

export interface DeploymentTarget {
  owner: string;
  repo: string;
  /** The commit deployed (GITHUB_SHA). */
  ref: string;
  environment: string;
  /** From the deploy file's environment: `url`, `production`, `transient`. */
  environmentUrl?: string;
  productionEnvironment?: boolean;
  transientEnvironment?: boolean;
  /** The workflow run's page. */
  logUrl?: string;
}

export interface DeploymentPayload {
  tool: 'ecommerce-deploy';
  imageTag: string;
  namespace: string;
  planId?: string;
  services: { service: string; image: string; digest: string | null }[];
}

/** The state a finished run leaves its deployment in. */
export function finalState(report: Report): Exclude<DeploymentState, 'in_progress'> {
  if (report.result === 'success') return 'success';
  if (report.result === 'cancelled') return 'error';
  if (report.error && report.error.kind !== 'deploy') return 'error';
  return 'failure';
}

function describe(report: Report): string {
  const n = report.services.length;
  if (report.result === 'success') return `deployed ${n} service${n === 1 ? '' : 's'} at ${report.imageTag}`;
  if (report.result === 'cancelled') return `cancelled (${report.cancelledBy ?? 'signal'})`;
  if (report.error) return `${report.error.kind} error: ${report.error.message}`;
  const failed = report.services.filter((r) => r.status === 'failed' || r.status === 'rolled-back');
  return `failed: ${failed.map((r) => r.service).join(', ')}`;
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** GitHub keeps at most 140 characters of a status description. */
const short = (s: string) => (s.length > 140 ? `${s.slice(0, 139)}…` : s);

export class GitHubDeployment {
  private id: number | undefined;
  /** Set once creating failed: no status can follow. */
  private gaveUp = false;
  readonly states: DeploymentState[] = [];

  constructor(
    private readonly gh: GitHubClient,
    private readonly target: DeploymentTarget,
    private readonly out: Output,
  ) {}

  /** The deployment's id, once created. */
  get deploymentId(): number | undefined {
    return this.id;
  }

  /**
   * In the payload (`request`), so a create whose answer was lost (a 5xx, a dropped connection)
   * is found among the commit's deployments instead of being made a second time.
   */
  private readonly requestId = randomUUID();

  /** This run's deployment, if GitHub created it: found by its request id among the commit's deployments. */
  private async find(): Promise<{ id: number } | undefined> {
    const t = this.target;
    const { data } = await this.gh.rest.repos.listDeployments({
      owner: t.owner,
      repo: t.repo,
      sha: t.ref,
      environment: t.environment,
      per_page: 100,
    });
    return data.find((d) => {
      const p = (typeof d.payload === 'string' ? safeJson(d.payload) : d.payload) as { request?: unknown };
      return p?.request === this.requestId;
    });
  }

  private async create(payload: DeploymentPayload, description: string): Promise<boolean> {
    if (this.id !== undefined) return true;
    if (this.gaveUp) return false;
    const t = this.target;
    const createOnce: CreateOnce = {
      lookup: async () => {
        const found = await this.find();
        return found && { status: 201, url: '', headers: {}, data: found };
      },
    };
    try {
      const res = await this.gh.rest.repos.createDeployment({
        owner: t.owner,
        repo: t.repo,
        ref: t.ref,
        environment: t.environment,
        auto_merge: false,
        required_contexts: [],
        payload: { ...payload, request: this.requestId } as unknown as Record<string, unknown>,
        description: short(description),
        ...(t.productionEnvironment !== undefined ? { production_environment: t.productionEnvironment } : {}),
        ...(t.transientEnvironment !== undefined ? { transient_environment: t.transientEnvironment } : {}),
        request: createOnce,
      });
      if (res.status !== 201 || !('id' in res.data)) {
        throw new Error(`GitHub did not create it (HTTP ${res.status})`);
      }
      this.id = res.data.id;
      this.out.info(`GitHub deployment ${this.id} of ${t.environment} for ${t.ref.slice(0, 12)}`);
      return true;
    } catch (err) {
      this.gaveUp = true;
      const status = (err as { status?: number }).status;
      const why =
        status === 403 || status === 404
          ? ': give the job `permissions: deployments: write`, or leave github-token empty for no deployment'
          : '';
      this.out.warn(
        `no GitHub deployment was recorded for ${t.environment} (${describeApiError(err)})${why}`,
      );
      return false;
    }
  }

  private async status(state: DeploymentState, description: string): Promise<void> {
    const t = this.target;
    try {
      await this.gh.rest.repos.createDeploymentStatus({
        owner: t.owner,
        repo: t.repo,
        deployment_id: this.id!,
        state,
        description: short(description),
        ...(t.logUrl ? { log_url: t.logUrl } : {}),
        ...(t.environmentUrl ? { environment_url: t.environmentUrl } : {}),
        environment: t.environment,
      });
      this.states.push(state);
    } catch (err) {
      this.out.warn(
        `the GitHub deployment ${this.id} of ${t.environment} was not marked ${state} (${describeApiError(err)})`,
      );
    }
  }

  /** Set by `start`: what the final state must wait for. */
  private starting: Promise<void> = Promise.resolve();

  /**
   * The releases start: create the deployment and mark it in_progress. The Action does not
   * wait for it (a slow or retrying GitHub API never holds the releases back); `finish` and
   * `abort` do.
   */
  start(payload: DeploymentPayload): Promise<void> {
    return (this.starting = (async () => {
      if (
        await this.create(payload, `deploying ${payload.services.length} services at ${payload.imageTag}`)
      ) {
        await this.status('in_progress', `deploying ${payload.imageTag}`);
      }
    })());
  }

  /** The run stopped unexpectedly: an error, on the deployment if it exists. */
  async abort(description: string): Promise<void> {
    await this.starting;
    if (this.id !== undefined) await this.status('error', description);
  }

  /**
   * The run is over: its final state. A run that stopped before the releases started
   * (input, preflight, cancel) creates its deployment here, to record the error.
   */
  async finish(report: Report, fallback: DeploymentPayload): Promise<void> {
    await this.starting;
    const state = finalState(report);
    if (await this.create({ ...fallback, planId: report.planId ?? fallback.planId }, describe(report))) {
      await this.status(state, describe(report));
    }
  }
}
