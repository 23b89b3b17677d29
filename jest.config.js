// ESM + TypeScript through ts-jest; run with --experimental-vm-modules (see package.json).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/e2e/', '<rootDir>/__tests__/faults/'],
  // Stand-ins, benches and tool copies live in .cache (an etcd data dir has .snap files jest would call obsolete snapshots).
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
  testTimeout: 60_000,
  setupFiles: ['<rootDir>/__tests__/setup-env.mjs'],
};
