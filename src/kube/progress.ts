/**
 * Rollout progress a person can follow: one line per service, printed only when
 * something they would notice changed (phase, counts, reason), never every tick.
 */
import { formatSeconds } from '../report/duration.js';
import type { Phase, ReasonCode } from './rollout-rules.js';

export interface Progress {
  service: string;
  phase: Phase;
  desired: number;
  updated: number;
  ready: number;
  available: number;
  reason?: ReasonCode | string;
  elapsedMs: number;
}

/** `order-service   progressing  2/3 ready, 3/3 updated   12.4s` */
export function formatProgress(p: Progress, nameWidth = 16): string {
  const name = p.service.padEnd(nameWidth);
  const phase = p.phase.padEnd(12);
  const counts = `${p.ready}/${p.desired} ready, ${p.updated}/${p.desired} updated`;
  const reason = p.reason ? `  ${p.reason}` : '';
  return `${name}${phase}${counts}${reason}   ${formatSeconds(p.elapsedMs)}`;
}

function changeKey(p: Progress): string {
  return [p.phase, p.desired, p.updated, p.ready, p.available, p.reason ?? ''].join('|');
}

/**
 * Turns a stream of Progress events into lines, dropping those that only differ in
 * elapsed time from the service's previous line.
 */
export class ProgressLines {
  private readonly last = new Map<string, string>();
  private width: number;

  constructor(services: readonly string[] = []) {
    this.width = Math.max(16, ...services.map((s) => s.length + 2));
  }

  /** The line to print for this event, or undefined when nothing changed. */
  next(p: Progress): string | undefined {
    const key = changeKey(p);
    if (this.last.get(p.service) === key) return undefined;
    this.last.set(p.service, key);
    this.width = Math.max(this.width, p.service.length + 2);
    return formatProgress(p, this.width);
  }
}
