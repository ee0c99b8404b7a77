// The daemon logs JSON to the console; tests keep only errors unless LOG_LEVEL says otherwise.
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'error';

// unit tests use in-memory fakes only; integration tests start real servers (ZooKeeper);
// e2e tests add a real istiod; adversarial tests attack the daemon's own process (dist/) with a
// real ZooKeeper; chart tests run helm on the chart and the daemon on its config.
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
module.exports = {
  projects: [
    { displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'], transform, testEnvironment: 'node' },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/testbed/global-setup.ts',
    },
    {
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/testbed/global-setup-e2e.ts',
    },
    {
      displayName: 'adversarial',
      testMatch: ['<rootDir>/test/adversarial/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/testbed/global-setup-adversarial.ts',
    },
    {
      displayName: 'chart',
      testMatch: ['<rootDir>/test/chart/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/testbed/global-setup-chart.ts',
    },
  ],
};
