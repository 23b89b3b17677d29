/**
 * SIGINT / SIGTERM (what GitHub sends when a job is cancelled or times out: SIGINT, then
 * SIGTERM ~7.5 s later, then SIGKILL ~2.5 s after that) abort the run instead of killing
 * it: the pipeline starts nothing new, passes the signal to helm, and still writes its
 * report, outputs and summary and removes its temp files.
 */
export interface Cancellation {
  /** Aborted on the first signal; its `reason` is the signal's name. */
  signal: AbortSignal;
  dispose(): void;
}

export function cancelOnSignals(onSignal: (name: NodeJS.Signals, first: boolean) => void): Cancellation {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals) => {
    const first = !controller.signal.aborted;
    if (first) controller.abort(name);
    onSignal(name, first);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
