import type { Output } from '../src/report/output.js';

/** An Output that remembers what was said; for tests. */
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
