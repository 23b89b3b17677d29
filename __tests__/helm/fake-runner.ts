import type { RunOptions, RunResult, Runner } from '../../src/runner.js';

interface RecordedCall {
  command: string;
  args: string[];
  options?: RunOptions;
}

/** A Runner that records every call and answers from `respond` (default: success, empty output). */
export function fakeRunner(
  respond: (args: string[], env?: Record<string, string>) => Partial<RunResult> = () => ({}),
) {
  const calls: RecordedCall[] = [];
  const run: Runner = async (command, args, options) => {
    calls.push({ command, args, options });
    return { exitCode: 0, stdout: '', stderr: '', ...respond(args, options?.env) };
  };
  return { run, calls };
}
