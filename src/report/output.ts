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

/** An Output that remembers what was said; used by tests and by the JSON report. */
export class MemoryOutput implements Output {
  readonly lines: { level: 'info' | 'warn' | 'error'; message: string }[] = [];
  readonly secrets: string[] = [];
  info(message: string) {
    this.lines.push({ level: 'info', message });
  }
  warn(message: string) {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string) {
    this.lines.push({ level: 'error', message });
  }
  setSecret(value: string) {
    this.secrets.push(value);
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.info(title);
    return fn();
  }
  text(): string {
    return this.lines.map((l) => l.message).join('\n');
  }
}
