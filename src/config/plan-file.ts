/**
 * The plan file: what `plan --out` pinned for review, and the checks `deploy --plan` makes
 * before it changes anything. Its id is a hash of everything in it (when it was written
 * too, so its age cannot be edited either): an edited plan file is refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { inputError } from '../errors.js';
import type { PlanFile } from '../model.js';

const FORMAT = 'ecommerce-deploy/plan@1';

/** JSON with object keys sorted at every level: the same content always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function planId(plan: Omit<PlanFile, 'id'> & { id?: string }): string {
  const { id: _id, ...pinned } = plan;
  return `sha256:${createHash('sha256').update(canonical(pinned)).digest('hex')}`;
}

export function sealPlan(plan: Omit<PlanFile, 'id' | 'format'>): PlanFile {
  const full = { format: FORMAT, ...plan } as const;
  return { ...full, id: planId(full) };
}

export function writePlanFile(path: string, plan: PlanFile): void {
  writeFileSync(path, JSON.stringify(plan, null, 2) + '\n', { mode: 0o644 });
}

const hours = (s: number) => (s % 3600 === 0 ? `${s / 3600}h` : `${Math.round(s / 60)}m`);

/**
 * Reads a plan file for `deploy --plan`: refused (exit 2) when it is not a plan file, when it
 * was edited since it was written (its id no longer matches), or when it is older than `maxAgeSeconds`.
 */
export function readPlanFile(name: string, path: string, maxAgeSeconds: number, now = Date.now()): PlanFile {
  let plan: PlanFile;
  try {
    plan = JSON.parse(readFileSync(path, 'utf8')) as PlanFile;
  } catch (err) {
    throw inputError(`${name} ${path} cannot be read as a plan file: ${(err as Error).message}`, {
      where: { file: path },
      hint: 'give the file `ecommerce-deploy plan --out FILE` wrote',
    });
  }
  if (!plan || plan.format !== FORMAT || typeof plan.services !== 'object' || !plan.services) {
    throw inputError(`${name} ${path} is not an ecommerce-deploy plan file (format ${FORMAT})`, {
      where: { file: path, key: 'format' },
      hint: 'give the file `ecommerce-deploy plan --out FILE` wrote',
    });
  }
  const id = planId(plan);
  if (id !== plan.id) {
    throw inputError(`${name} ${path} was changed after it was written: its id does not match its content`, {
      where: { file: path, key: 'id' },
      details: [`id in the file: ${String(plan.id)}`, `id of its content: ${id}`],
      hint: 'a plan is applied exactly as reviewed: make a new plan with `plan --out` and review that',
    });
  }
  const created = Date.parse(plan.createdAt);
  const age = Math.round((now - created) / 1000);
  if (!Number.isFinite(created) || age > maxAgeSeconds) {
    throw inputError(
      `${name} ${path} is too old: written ${plan.createdAt}, more than ${hours(maxAgeSeconds)} ago`,
      {
        where: { file: path, key: 'createdAt' },
        hint: 'the cluster may have moved on since it was reviewed: make and review a new plan, or raise the limit (--plan-max-age / plan-max-age)',
      },
    );
  }
  return plan;
}
