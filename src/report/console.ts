/**
 * The CLI's Output: plain lines on stderr, each prefixed with the time since the
 * run started, so stdout stays free for the plan/summary (and for `token`,
 * whose stdout kubectl parses). Secrets are replaced with *** before printing.
 */
import { formatProgress, type Progress } from '../kube/progress.js';
import type { Output } from './output.js';
import { seconds } from './duration.js';
import { redact } from './redact.js';

export interface ConsoleOptions {
  /** Where log lines go; stderr by default. */
  write?: (text: string) => void;
  color?: boolean;
  now?: () => number;
  /** A terminal that can redraw: rollouts show as a live table below the log lines. */
  live?: boolean;
}

// ANSI: to the start of the line n lines up, and clear from there to the end of the screen.
const up = (n: number) => `\u001b[${n}F\u001b[J`;

/** Colour only for a person at a terminal who has not opted out (https://no-color.org). */
export function wantsColor(stdoutIsTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stdoutIsTTY) && !env.NO_COLOR;
}

const paint = (code: number) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;
const COLORS = { dim: paint(2), bold: paint(1), yellow: paint(33), red: paint(31) };
const PLAIN = {
  dim: (s: string) => s,
  bold: (s: string) => s,
  yellow: (s: string) => s,
  red: (s: string) => s,
};

export class ConsoleOutput implements Output {
  readonly secrets: string[] = [];
  private readonly write: (text: string) => void;
  private readonly now: () => number;
  private readonly start: number;
  private readonly c: typeof COLORS;
  /** The live table: latest progress per service, and how many lines of it are on screen. */
  private readonly rows = new Map<string, Progress>();
  private drawn = 0;
  readonly progress?: (p: Progress) => void;

  constructor(opts: ConsoleOptions = {}) {
    this.write = opts.write ?? ((t) => process.stderr.write(t));
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.c = opts.color ? COLORS : PLAIN;
    if (opts.live) {
      this.progress = (p) => {
        this.rows.set(p.service, p);
        this.redraw();
      };
    }
  }

  private table(): string[] {
    const width = Math.max(16, ...[...this.rows.keys()].map((s) => s.length + 2));
    const style = (p: Progress) =>
      p.phase === 'failed' ? this.c.red : p.phase === 'ready' ? (s: string) => s : this.c.dim;
    return [...this.rows.values()].map((p) => `  ${style(p)(formatProgress(p, width))}`);
  }

  /** Replaces the table on screen (it always sits below the last log line). */
  private redraw(): void {
    const rows = this.table();
    this.write((this.drawn ? up(this.drawn) : '') + rows.map((r) => `${r}\n`).join(''));
    this.drawn = rows.length;
  }

  private line(text: string, style: (s: string) => string = (s) => s): void {
    const elapsed = seconds(this.now() - this.start).padStart(6);
    const body = redact(text, this.secrets).replace(/\n/g, `\n${' '.repeat(10)}`);
    // A log line goes above the live table: take the table away, print, put it back.
    if (this.drawn) this.write(up(this.drawn));
    this.write(`${this.c.dim(`[${elapsed}s]`)} ${style(body)}\n`);
    if (this.drawn) {
      this.drawn = 0;
      this.redraw();
    }
  }

  info(message: string): void {
    this.line(message);
  }
  warn(message: string): void {
    this.line(`warning: ${message}`, this.c.yellow);
  }
  error(message: string): void {
    this.line(`error: ${message}`, this.c.red);
  }
  setSecret(value: string): void {
    if (value) this.secrets.push(value);
  }
  // Groups may run in parallel (one per release), so a group is a header line, not an indented block.
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.line(`== ${title}`, this.c.bold);
    return fn();
  }
}
