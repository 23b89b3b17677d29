// End-to-end tests against the local EKS stand-in (local-cluster/): one stand-in for
// the whole run, tests one at a time since they share the cluster.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/__tests__/e2e/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // Stand-ins, benches and tool copies live in .cache (an etcd data dir has .snap files jest would call obsolete snapshots).
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
  globalSetup: '<rootDir>/__tests__/e2e/global-setup.mjs',
  globalTeardown: '<rootDir>/__tests__/e2e/global-teardown.mjs',
  maxWorkers: 1,
  testTimeout: 600_000,
};
