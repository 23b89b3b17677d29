// The fault suite's own stand-in (.cache/lc-faults), so an e2e run's cluster is left
// alone; started fresh by the e2e global setup. Scenario records (.cache/faults-records)
// from an earlier run are cleared: RELIABILITY.md is written only from this run's.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/stand-in.mjs';
import e2eSetup from '../e2e/global-setup.mjs';

export default async function globalSetup() {
  process.env.E2E_RUN_DIR ??= join(repoRoot, '.cache', 'lc-faults');
  process.env.FAULTS_RECORDS = join(repoRoot, '.cache', 'faults-records');
  rmSync(process.env.FAULTS_RECORDS, { recursive: true, force: true });
  process.env.FAULTS_STARTED_AT = String(Date.now());
  await e2eSetup();
}
