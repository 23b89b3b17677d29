import { ProgressLines, formatProgress, type Progress } from '../../src/kube/progress.js';

const p = (over: Partial<Progress>): Progress => ({
  service: 'order-service',
  phase: 'progressing',
  desired: 3,
  updated: 3,
  ready: 2,
  available: 2,
  elapsedMs: 12_400,
  ...over,
});

describe('progress lines', () => {
  it('formats one line per service: phase, ready/updated/desired, reason, elapsed', () => {
    expect(formatProgress(p({}))).toBe('order-service   progressing 2/3 ready, 3/3 updated   12.4s');
    expect(formatProgress(p({ phase: 'failed', reason: 'ImagePullBackOff' }))).toBe(
      'order-service   failed      2/3 ready, 3/3 updated  ImagePullBackOff   12.4s',
    );
  });

  it('prints a line only when something other than the elapsed time changed', () => {
    const lines = new ProgressLines(['order-service', 'payment-service']);
    expect(lines.next(p({}))).toContain('2/3 ready');
    expect(lines.next(p({ elapsedMs: 13_000 }))).toBeUndefined();
    expect(lines.next(p({ service: 'payment-service' }))).toMatch(/^payment-service +progressing/);
    expect(lines.next(p({ ready: 3, available: 3, phase: 'ready' }))).toMatch(/ready +3\/3 ready/);
  });
});
