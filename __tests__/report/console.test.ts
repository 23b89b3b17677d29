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
