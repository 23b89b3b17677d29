import { mkdtempSync, readFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../src/model.js';
import { writeJsonReport } from '../../src/report/json.js';

const report = (message = 'rolled out'): Report => ({
  result: 'success',
  mode: 'deploy',
  cluster: 'prod-eks',
  namespace: 'shop',
  environment: 'production',
  imageTag: 'abc123',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1000,
  services: [
    { service: 'user-service', status: 'deployed', image: 'r/user-service:abc123', revision: 2, message },
  ],
  warnings: [],
});

describe('writeJsonReport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'json-report-'));

  it('writes the report as JSON, creating the directory, readable by others', () => {
    const path = writeJsonReport(join(dir, 'nested', 'report.json'), report(), ['s3cr3t']);
    expect(path).toBe(join(dir, 'nested', 'report.json'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(report());
    expect(statSync(path).mode & 0o777 & ~0o022).toBe(0o644 & ~0o022);
  });

  it('refuses to write a report that contains a masked value', () => {
    const path = join(dir, 'leak.json');
    expect(() => writeJsonReport(path, report('token s3cr3t-value in output'), ['s3cr3t-value'])).toThrow(
      /refusing to write the JSON report .* masked secret/,
    );
    expect(existsSync(path)).toBe(false);
  });

  it('also catches a secret that JSON stores escaped', () => {
    const secret = 'line1\nline"2';
    expect(() => writeJsonReport(join(dir, 'esc.json'), report(`x ${secret} y`), [secret])).toThrow(
      /masked secret/,
    );
  });
});
