/**
 * What a run has found so far, service by service; becomes the Report. Only the
 * recorder writes its state: stages tell it what happened through its methods.
 */
import type { DeployError } from '../errors.js';
import type { ChecklistRow, DeployRequest, Plan, Report, ServiceResult } from '../model.js';
import type { Output } from './output.js';

export class RunRecorder {
  private plan?: Plan;
  private cluster?: string;
  private readonly started = new Date();
  private readonly warnings: string[] = [];
  /** Collected while services verify in parallel, then reported once per distinct message. */
  private readonly pendingWarnings: { service: string; message: string }[] = [];
  private readonly byService = new Map<string, ServiceResult>();
  private readonly recoveries: { service: string; action: string }[] = [];
  private rows?: ChecklistRow[];
  private planId?: string;

  constructor(
    private readonly request: DeployRequest,
    private readonly out: Output,
  ) {
    this.cluster = request.cluster?.name;
  }

  planned(plan: Plan): Plan {
    this.plan = plan;
    return plan;
  }

  connected(clusterName: string): void {
    this.cluster = clusterName;
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.out.warn(message);
  }

  /** One warning per distinct message, naming every service it applies to, rather than six alike lines. */
  warnGrouped(items: { service: string; message: string }[]): void {
    const groups = new Map<string, string[]>();
    for (const { service, message } of items) {
      const key = message.replaceAll(service, '<service>');
      groups.set(key, [...(groups.get(key) ?? []), service]);
    }
    for (const [message, services] of groups) this.warn(`${services.join(', ')}: ${message}`);
  }

  /** A warning about one service, reported (grouped with alike ones) by `flushWarnings`. */
  deferWarning(service: string, message: string): void {
    this.pendingWarnings.push({ service, message });
  }

  flushWarnings(): void {
    this.warnGrouped(this.pendingWarnings.splice(0));
  }

  /** A release a dead run left pending, recovered before this run deployed: said now and kept in the report. */
  recovered(service: string, action: string): void {
    this.recoveries.push({ service, action });
    this.out.warn(`recovered ${action}`);
  }

  /** The plan file this run wrote (`plan --out`) or applies (`deploy --plan`). */
  pinned(planId: string): void {
    this.planId = planId;
  }

  /** The id of the plan file this run applies, if any. */
  get pinnedPlan(): string | undefined {
    return this.planId;
  }

  /** `verify`: the whole checklist, in the report as it is. */
  checklist(rows: ChecklistRow[]): void {
    this.rows = rows;
  }

  record(result: ServiceResult): void {
    this.byService.set(result.service, result);
  }

  update(service: string, change: Partial<ServiceResult>): void {
    const prev = this.byService.get(service) ?? { service, status: 'planned', image: '' };
    this.byService.set(service, { ...prev, ...change });
  }

  get(service: string): ServiceResult | undefined {
    return this.byService.get(service);
  }

  results(): ServiceResult[] {
    return [...this.byService.values()];
  }

  failed(): boolean {
    return this.failedServices().length > 0;
  }

  failedServices(): string[] {
    return this.results()
      .filter((r) => r.status === 'failed')
      .map((r) => r.service);
  }

  finish(result: Report['result']): Report {
    const order = this.plan?.services.map((s) => s.name) ?? [];
    return {
      result,
      mode: this.request.mode,
      cluster: this.cluster,
      namespace: this.plan?.namespace ?? this.request.namespace ?? '',
      environment: this.request.environment,
      imageTag: this.request.imageTag,
      startedAt: this.started.toISOString(),
      durationMs: Date.now() - this.started.getTime(),
      services: order.filter((n) => this.byService.has(n)).map((n) => this.byService.get(n)!),
      warnings: this.warnings,
      ...(this.recoveries.length ? { recovered: this.recoveries } : {}),
      ...(this.rows ? { checks: this.rows } : {}),
      ...(this.planId ? { planId: this.planId } : {}),
    };
  }

  /**
   * The run was cancelled: services it never started say so, ones released but not yet
   * seen ready say where they were left; deployed and rolled-back ones keep their state.
   */
  cancel(by: 'SIGINT' | 'SIGTERM'): Report {
    this.out.warn(`cancelled by ${by}: nothing new is started; the report says where each service was left`);
    for (const service of this.plan?.services.map((s) => s.name) ?? []) {
      const r = this.byService.get(service);
      if (!r || r.status === 'planned' || r.status === 'skipped') {
        this.update(service, {
          status: 'skipped',
          reason: 'Cancelled',
          message: 'not started: the run was cancelled',
        });
      } else if (r.status === 'failed' && r.reason === 'Cancelled') {
        this.update(service, {
          status: 'cancelled',
          message:
            r.revision === undefined
              ? 'helm upgrade was interrupted; the release may show this revision as failed'
              : `revision ${r.revision} released; its rollout was still in progress (not rolled back)`,
        });
      }
    }
    return { ...this.finish('cancelled'), cancelledBy: by };
  }

  fail(err: DeployError): Report {
    this.out.error(err.describe());
    return {
      ...this.finish('failure'),
      error: { kind: err.kind, message: err.describe(), exitCode: err.exitCode },
    };
  }
}

/**
 * 0 success or plan, 1 the deploy failed, 2 bad input or failed preflight (nothing changed), 128+n for signal n;
 * with `detailed`, a plan with changes pending ends with 3 instead of 0.
 */
export function exitCodeOf(report: Report, detailed = false): number {
  if (report.result === 'cancelled') return report.cancelledBy === 'SIGINT' ? 130 : 143;
  if (report.error) return report.error.exitCode === 2 ? 2 : 1;
  if (report.result === 'failure') return 1;
  return detailed && report.mode === 'plan' && changesPending(report) ? CHANGES_PENDING : 0;
}

/** `plan --detailed-exitcode`: changes are pending (a code apart from 1 failure and 2 input/preflight/lock). */
export const CHANGES_PENDING = 3;

/** Some service's target differs from its live release; a service not compared with one (no cluster) counts as pending. */
export function changesPending(report: Report): boolean {
  return report.services.some((r) => r.change?.kind !== 'unchanged');
}
