import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { collectDiagnostics, formatDiagnostics, warningEvents } from '../../src/kube/diagnostics.js';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`), 'utf8')) as T;

describe('diagnostics', () => {
  const events = fixture<CoreV1Event[]>('events-unschedulable');

  it('keeps Warning events about the involved objects, deduplicated by reason and message with counts', () => {
    const pods = fixture<V1Pod[]>('pods-unschedulable').map((p) => ({
      kind: 'Pod',
      name: p.metadata!.name!,
    }));
    const merged = warningEvents(events, pods);
    expect(merged).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'FailedScheduling', count: 3 }),
    ]);
    expect(warningEvents(events, [{ kind: 'Pod', name: 'other' }])).toEqual([]);
    expect(warningEvents(events, pods, Date.parse('2026-11-26T16:00:00Z'))).toEqual([]);
  });

  it('reads the current and previous log of a crashed container, and says why when it cannot', async () => {
    const pod = fixture<V1Pod[]>('pods-crashloop').find((p) => p.metadata!.name!.includes('5c68c886cf'))!;
    const read = async ({ previous }: { previous?: boolean }) => (previous ? 'panic: boom\n' : 'starting\n');
    const core = { readNamespacedPodLog: read } as unknown as CoreV1Api;
    const base = {
      core,
      namespace: 'rec',
      reason: 'CrashLoopBackOff',
      message: 'crashed',
      pod,
      container: 'app',
    };
    const d = await collectDiagnostics({ ...base, events: fixture('events-crashloop'), involved: [] });
    expect(d.lastTermination).toEqual({ reason: 'Error', exitCode: 1 });
    expect(d.logs).toEqual({ current: 'starting\n', previous: 'panic: boom\n' });
    expect(d.events).toEqual([expect.objectContaining({ reason: 'BackOff', count: 2 })]);
    const text = formatDiagnostics(d);
    expect(text).toContain('last termination: Error, exit code 1');
    expect(text).toContain('    panic: boom');

    const failing = { readNamespacedPodLog: async () => Promise.reject(new Error('no kubelet')) };
    const none = await collectDiagnostics({
      ...base,
      core: failing as unknown as CoreV1Api,
      events: [],
      involved: [],
    });
    expect(none.logs).toEqual({ unavailable: 'no kubelet' });
    expect(formatDiagnostics(none)).toContain('logs unavailable: no kubelet');
  });
});
