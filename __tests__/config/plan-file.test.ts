/** Plan files: an edited one, an old one and one that is not a plan are refused with exit code 2. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPlanFile, sealPlan, writePlanFile } from '../../src/config/plan-file.js';
import { DeployError } from '../../src/errors.js';
import type { PlanFile } from '../../src/model.js';

const dir = mkdtempSync(join(tmpdir(), 'plan-file-'));
const NOW = Date.parse('2026-12-01T12:00:00Z');

function plan(createdAt = '2026-12-01T10:00:00Z'): PlanFile {
  return sealPlan({
    createdAt,
    namespace: 'production',
    environment: 'production',
    imageTag: 'abc123',
    chart: { ref: '/charts/ecommerce-service', name: 'ecommerce-service', version: '0.3.0' },
    services: {
      'order-service': {
        image: { uri: 'reg/order-service', tag: 'abc123', digest: 'sha256:aaa' },
        chartVersion: '0.3.0',
        manifestHash: 'sha256:m',
        valuesHash: 'sha256:v',
        liveRevision: 4,
        change: 'changed',
      },
    },
  });
}

function written(p: PlanFile, name = 'plan.json'): string {
  const path = join(dir, name);
  writePlanFile(path, p);
  return path;
}

function refusal(fn: () => unknown): DeployError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeployError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

it('reads back what it wrote, with an id that is a sha256 of the content', () => {
  const p = plan();
  expect(p.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(readPlanFile('--plan', written(p), 86400, NOW)).toEqual(p);
});

it('refuses a plan file edited after it was written (its id no longer matches)', () => {
  const path = written(plan(), 'edited.json');
  const edited = JSON.parse(readFileSync(path, 'utf8')) as PlanFile;
  edited.services['order-service']!.image.digest = 'sha256:bbb';
  writeFileSync(path, JSON.stringify(edited));
  const err = refusal(() => readPlanFile('--plan', path, 86400, NOW));
  expect(err.exitCode).toBe(2);
  expect(err.message).toMatch(/changed after it was written/);
  // Moving createdAt to dodge the age limit is an edit too.
  const aged = { ...plan('2026-11-01T00:00:00Z'), createdAt: '2026-12-01T11:00:00Z' };
  expect(refusal(() => readPlanFile('--plan', written(aged, 'aged.json'), 86400, NOW)).message).toMatch(
    /changed after/,
  );
});

it('refuses a plan older than the limit, and takes one just within it', () => {
  const path = written(plan('2026-11-30T11:00:00Z'), 'old.json');
  const err = refusal(() => readPlanFile('--plan', path, 86400, NOW));
  expect(err.exitCode).toBe(2);
  expect(err.message).toMatch(/too old: written 2026-11-30T11:00:00Z, more than 24h ago/);
  expect(readPlanFile('--plan', path, 26 * 3600, NOW).imageTag).toBe('abc123');
});

it('refuses a file that is not a plan file, naming it', () => {
  const path = join(dir, 'report.json');
  writeFileSync(path, JSON.stringify({ result: 'success' }));
  expect(refusal(() => readPlanFile('plan-file', path, 86400, NOW)).message).toMatch(
    /^plan-file .*report\.json is not an ecommerce-deploy plan file/,
  );
  expect(refusal(() => readPlanFile('plan-file', join(dir, 'missing.json'), 86400, NOW)).exitCode).toBe(2);
});
