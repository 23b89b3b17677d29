// The fault scenarios (__tests__/faults/) against their own local EKS stand-in
// (.cache/lc-faults): one at a time, since they inject faults into the one cluster.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/__tests__/faults/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // Stand-ins, benches and tool copies live in .cache (an etcd data dir has .snap files jest would call obsolete snapshots).
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
  globalSetup: '<rootDir>/__tests__/faults/global-setup.mjs',
  globalTeardown: '<rootDir>/__tests__/faults/global-teardown.mjs',
  maxWorkers: 1,
  testTimeout: 300_000,
};
