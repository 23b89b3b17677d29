import type { Progress } from '../kube/progress.js';

/**
 * How the pipeline talks to a person. The Action maps this onto @actions/core
 * (groups, masking, annotations); the CLI onto the terminal. The pipeline itself
 * never prints directly.
 */
export interface Output {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Mark a value as secret the moment it exists; it is never printed afterwards. */
  setSecret(value: string): void;
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Rollout progress, for outputs that can show it as a live table (a terminal).
   * Without it the tracker prints a plain line per change (CI logs).
   */
  progress?: (p: Progress) => void;
}
