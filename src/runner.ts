import { getExecOutput } from '@actions/exec';

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
}

export type Runner = (command: string, args: string[], options?: RunOptions) => Promise<RunResult>;

/** Runs through @actions/exec with argument arrays: never a shell string. Output is captured, not echoed. */
export const execRunner: Runner = async (command, args, options = {}) => {
  const res = await getExecOutput(command, args, {
    silent: true,
    ignoreReturnCode: true,
    cwd: options.cwd,
    env: options.env ? { ...(process.env as Record<string, string>), ...options.env } : undefined,
    input: options.input === undefined ? undefined : Buffer.from(options.input),
  });
  return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
};
