import { defineConfig } from '@playwright/test';

// The server is started by `cargo leptos end-to-end` (or by hand with scripts/run.sh); this config
// never starts one (no `webServer`). global-setup.ts waits until it answers, because
// cargo-leptos launches the test command right after spawning the server.
const port = process.env.PORT || '3000';
const baseURL = process.env.BASE_URL || `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  globalSetup: require.resolve('./global-setup'),
  // The tests share one server and its demo data, and some of them change it: run them one by one.
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  outputDir: './test-results',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download does not work on this machine.
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
