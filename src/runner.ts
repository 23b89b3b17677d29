import { spawn } from 'node:child_process';

/** The one boundary through which the product starts processes (helm). Tests replace it. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Written to the process's standard input (e.g. `helm registry login --password-stdin`). */
  input?: string;
  cwd?: string;
  /**
   * The run's cancellation: the process gets SIGTERM (helm then records its release as
   * failed rather than leaving it pending), and SIGKILL if it is still there `KILL_AFTER_MS` later.
   */
  signal?: AbortSignal;
}

export type Runner = (command: string, args: string[], options?: RunOptions) => Promise<RunResult>;

/** How long a process may take to stop after SIGTERM; GitHub kills the job ~10 s after its first signal. */
const KILL_AFTER_MS = 4_000;

/**
 * Runs a process with an argument array (never a shell string), capturing its output.
 * Spawned here rather than through @actions/exec, which gives no handle to the child:
 * a cancelled run must be able to pass its signal on and wait for the child to end.
 */
export const execRunner: Runner = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    };
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      options.signal?.removeEventListener('abort', stop);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', stop);
      resolve({
        exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    // A process that does not read its stdin (EPIPE) is not an error of ours.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
const signalNumber = (s: NodeJS.Signals) => SIGNALS[s] ?? 0;
