/**
 * What a run's watch of HorizontalPodAutoscalers saw: for each HPA, when the HPA
 * controller's word on it was "computing replicas from metrics" (ScalingActive=True)
 * at the spec it has now.
 *
 * Why: once a rollout is done every pod is new, and an HPA sync that comes before
 * metrics-server has measured them sets ScalingActive=False ("did not receive metrics
 * for targeted pods") until a later sync. A check that reads the HPA right then would
 * wait for that later sync (15–35 s); one that read it a moment earlier sees it active.
 * With what the watch saw, the check can tell "active at this spec, after this release
 * was applied, now waiting for its new pods' first samples" from an HPA that never worked.
 *
 * The HPA controller does not set status.observedGeneration, so "evaluated at this
 * spec" is taken from the writes seen: the state listed when the watch started
 * (the controller's word at that spec), or a status write after the spec last changed
 * (the controller writes status with the object's resourceVersion, so a write that
 * lands after a spec change was computed from that spec).
 */
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { condition } from './objects.js';

interface Seen {
  uid?: string;
  generation?: number;
  /** JSON of the status last seen, to tell a status write from a spec or metadata write. */
  status: string;
  /** The generation a status write (or the first list) was seen at. */
  evaluatedGeneration?: number;
  /** The last state that was active at its evaluated spec, and until when the cache said so (unset: still). */
  active?: { hpa: V2HorizontalPodAutoscaler; until?: number };
}

export class HpaSightings {
  private readonly seen = new Map<string, Seen>();
  private listing = true;
  private downSince?: number;

  constructor(private readonly now: () => number = Date.now) {}

  /** The first list is over: what comes next are changes. */
  listed(): void {
    this.listing = false;
  }

  /** An HPA as the watch delivered it (listed, added, changed). */
  changed(hpa: V2HorizontalPodAutoscaler): void {
    const name = hpa.metadata?.name;
    if (!name) return;
    const uid = hpa.metadata?.uid;
    const generation = hpa.metadata?.generation;
    const status = JSON.stringify(hpa.status ?? {});
    const prev = this.seen.get(name);
    const same = prev && prev.uid === uid ? prev : undefined;
    const s: Seen = { uid, generation, status, evaluatedGeneration: same?.evaluatedGeneration };
    if (this.listing) s.evaluatedGeneration = generation;
    else if (same && same.generation === generation && same.status !== status) {
      s.evaluatedGeneration = generation;
    }
    if (s.evaluatedGeneration === generation && isActive(hpa)) s.active = { hpa };
    else if (same?.active) s.active = { ...same.active, until: same.active.until ?? this.now() };
    this.seen.set(name, s);
  }

  /** The watch is interrupted: its cache says nothing about the time after `at`. */
  down(at = this.now()): void {
    this.downSince ??= at;
    for (const s of this.seen.values()) {
      if (s.active && s.active.until === undefined) s.active.until = at;
    }
  }

  /** The watch is back (after a re-list, which delivers what changed meanwhile). */
  up(): void {
    this.downSince = undefined;
  }

  /**
   * The HPA as last seen active at its evaluated spec, if the watch's cache said so at
   * some moment at or after `since` (ms); undefined otherwise.
   */
  activeSince(name: string, since: number): V2HorizontalPodAutoscaler | undefined {
    const active = this.seen.get(name)?.active;
    if (!active) return undefined;
    const until = active.until ?? this.downSince ?? this.now();
    return until >= since ? active.hpa : undefined;
  }
}

function isActive(hpa: V2HorizontalPodAutoscaler): boolean {
  return condition(hpa.status?.conditions, 'ScalingActive')?.status === 'True';
}
