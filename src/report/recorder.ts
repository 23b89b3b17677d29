/**
 * What a run has found so far, service by service; becomes the Report. Only the
 * recorder writes its state: stages tell it what happened through its methods.
 */
import type { DeployError } from '../errors.js';
import type { DeployRequest, Plan, Report, ServiceResult } from '../model.js';
import type { Output } from './output.js';

export class RunRecorder {
  private plan?: Plan;
  private cluster?: string;
  private readonly started = new Date();
  private readonly warnings: string[] = [];
  /** Collected while services verify in parallel, then reported once per distinct message. */
  private readonly pendingWarnings: { service: string; message: string }[] = [];
  private readonly byService = new Map<string, ServiceResult>();

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

  record(result: ServiceResult): void {
    this.byService.set(result.service, result);
  }

  update(service: string, change: Partial<ServiceResult>): void {
    const prev = this.byService.get(service) ?? { service, status: 'planned', image: '' };
    this.byService.set(service, { ...prev, ...change });
  }

  results(): ServiceResult[] {
    return [...this.byService.values()];
  }

  failed(): boolean {
    return this.results().some((r) => r.status === 'failed');
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
    };
  }

  fail(err: DeployError): Report {
    this.out.error(err.describe());
    return {
      ...this.finish('failure'),
      error: { kind: err.kind, message: err.describe(), exitCode: err.exitCode },
    };
  }
}

/** 0 success or plan, 1 the deploy failed, 2 bad input or failed preflight (nothing changed). */
export function exitCodeOf(report: Report): 0 | 1 | 2 {
  if (report.error) return report.error.exitCode === 2 ? 2 : 1;
  return report.result === 'failure' ? 1 : 0;
}
