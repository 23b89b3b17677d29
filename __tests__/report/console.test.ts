import { ConsoleOutput, wantsColor } from '../../src/report/console.js';

function capture(color = false) {
  const chunks: string[] = [];
  let t = 1_000;
  const out = new ConsoleOutput({ write: (s) => chunks.push(s), color, now: () => t });
  return { out, chunks, advance: (ms: number) => (t += ms) };
}

describe('ConsoleOutput', () => {
  it('prefixes every line with the time since the start and marks warnings and errors', () => {
    const { out, chunks, advance } = capture();
    out.info('rendering');
    advance(12_345);
    out.warn('no PDB');
    out.error('user-service failed');
    expect(chunks).toEqual([
      '[   0.0s] rendering\n',
      '[  12.3s] warning: no PDB\n',
      '[  12.3s] error: user-service failed\n',
    ]);
  });

  it('shows groups as header lines and still returns their result', async () => {
    const { out, chunks } = capture();
    await expect(out.group('release user-service', async () => 42)).resolves.toBe(42);
    expect(chunks).toEqual(['[   0.0s] == release user-service\n']);
  });

  it('masks secrets and indents continuation lines', () => {
    const { out, chunks } = capture();
    out.setSecret('p4ssw0rd');
    out.info('login with p4ssw0rd\nsecond line');
    expect(chunks.join('')).toBe('[   0.0s] login with ***\n          second line\n');
  });

  it('colours only when asked', () => {
    const { out, chunks } = capture(true);
    out.error('boom');
    expect(chunks[0]).toContain('\u001b[31merror: boom\u001b[0m');
  });
});

describe('wantsColor', () => {
  it('needs a terminal on stdout and no NO_COLOR', () => {
    expect(wantsColor(true, {})).toBe(true);
    expect(wantsColor(false, {})).toBe(false);
    expect(wantsColor(undefined, {})).toBe(false);
    expect(wantsColor(true, { NO_COLOR: '1' })).toBe(false);
  });
});

describe('the live rollout table in a terminal', () => {
  const p = (service: string, phase: 'progressing' | 'ready' | 'failed', ready: number, reason?: string) => ({
    service,
    phase,
    desired: 3,
    updated: 3,
    ready,
    available: ready,
    reason,
    elapsedMs: 1000 * ready,
  });
  /** What a terminal shows after the writes: ESC[nF ESC[J takes the last n lines away. */
  function screen(writes: string[]): string[] {
    const lines: string[] = [];
    for (const w of writes) {
      let rest = w;
      // The escape sequence is what is being parsed here.
      // eslint-disable-next-line no-control-regex
      const erase = /^\u001b\[(\d+)F\u001b\[J/;
      for (let m = erase.exec(rest); m; m = erase.exec(rest)) {
        lines.splice(lines.length - Number(m[1]));
        rest = rest.slice(m[0].length);
      }
      lines.push(...rest.split('\n').slice(0, -1));
    }
    return lines;
  }

  it('redraws one row per service in place, below the log lines', () => {
    const writes: string[] = [];
    const out = new ConsoleOutput({ write: (t) => writes.push(t), live: true, now: () => 0 });
    out.info('Wave 1/1: user-service, order-service');
    out.progress!(p('user-service', 'progressing', 1));
    out.progress!(p('order-service', 'progressing', 0));
    out.progress!(p('user-service', 'progressing', 2));
    out.info('order-service: something worth a line');
    out.progress!(p('user-service', 'ready', 3));
    out.progress!(p('order-service', 'failed', 0, 'ImagePullBackOff'));
    const shown = screen(writes);
    expect(shown).toHaveLength(4);
    expect(shown[0]).toContain('Wave 1/1');
    expect(shown[1]).toContain('order-service: something worth a line');
    expect(shown[2]).toMatch(/^ {2}user-service +ready +3\/3 ready, 3\/3 updated/);
    expect(shown[3]).toMatch(/^ {2}order-service +failed +0\/3 ready.*ImagePullBackOff/);
  });

  it('is not offered where the output cannot redraw, so the tracker prints plain lines', () => {
    expect(new ConsoleOutput({ write: () => {} }).progress).toBeUndefined();
  });
});
