/** The process boundary: argument arrays, captured output, stdin, and a cancel that reaches the child. */
import { execRunner } from '../src/runner.js';

const node = process.execPath;

it('captures stdout, stderr and the exit code, and writes stdin', async () => {
  const res = await execRunner(
    node,
    ['-e', 'process.stdin.pipe(process.stdout); console.error("err"); process.exitCode = 3'],
    {
      input: 'hello',
    },
  );
  expect(res).toEqual({ exitCode: 3, stdout: 'hello', stderr: 'err\n' });
});

it('passes a cancel on as SIGTERM and waits for the child to finish', async () => {
  const controller = new AbortController();
  const script =
    'process.on("SIGTERM", () => { console.log("stopping cleanly"); setTimeout(() => process.exit(0), 200); });' +
    'console.log("ready"); setInterval(() => {}, 1000);';
  const running = execRunner(node, ['-e', script], { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 300));
  controller.abort('SIGINT');
  const res = await running;
  expect(res.stdout).toBe('ready\nstopping cleanly\n');
  expect(res.exitCode).toBe(0);
});

it('kills a child that ignores SIGTERM a few seconds later', async () => {
  const controller = new AbortController();
  const script = 'process.on("SIGTERM", () => console.log("ignored")); setInterval(() => {}, 1000);';
  const running = execRunner(node, ['-e', script], { signal: controller.signal });
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  controller.abort('SIGTERM');
  const res = await running;
  expect(res.exitCode).toBe(137);
  expect(res.stdout).toBe('ignored\n');
  expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
}, 15_000);
