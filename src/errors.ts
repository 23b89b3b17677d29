/**
 * Errors are values a user can act on: what failed, where (service, file, key)
 * and what to do about it. The exit code tells the front doors how to end:
 * 2 = bad input or failed preflight (nothing in the cluster changed),
 * 1 = the deploy itself failed.
 */
export type ErrorKind = 'input' | 'preflight' | 'deploy';

export interface ErrorWhere {
  service?: string;
  file?: string;
  /** Path inside the file, e.g. `services.user-service.dependsOn[0]`. */
  key?: string;
  line?: number;
}

export class DeployError extends Error {
  readonly kind: ErrorKind;
  readonly where: ErrorWhere;
  readonly hint?: string;
  /** Further lines, e.g. every missing image when several are missing. */
  readonly details: string[];

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { where?: ErrorWhere; hint?: string; details?: string[]; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'DeployError';
    this.kind = kind;
    this.where = opts.where ?? {};
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }

  get exitCode(): 1 | 2 {
    return this.kind === 'deploy' ? 1 : 2;
  }

  /** Multi-line text for people: message, location, details, what to do. */
  describe(): string {
    const { service, file, key, line } = this.where;
    const at = [
      service && `service ${service}`,
      file && `${file}${line ? `:${line}` : ''}`,
      key && `key ${key}`,
    ].filter(Boolean);
    const lines = [this.message];
    if (at.length) lines.push(`  at: ${at.join(', ')}`);
    for (const d of this.details) lines.push(`  - ${d}`);
    if (this.hint) lines.push(`  what to do: ${this.hint}`);
    return lines.join('\n');
  }
}

export const inputError = (message: string, opts?: ConstructorParameters<typeof DeployError>[2]) =>
  new DeployError('input', message, opts);
export const preflightError = (message: string, opts?: ConstructorParameters<typeof DeployError>[2]) =>
  new DeployError('preflight', message, opts);
