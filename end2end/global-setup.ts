import type { FullConfig } from '@playwright/test';

// `cargo leptos end-to-end` starts the server and the test command at the same moment, so wait
// here until the server answers (it migrates and seeds a fresh database first).
export default async function globalSetup(config: FullConfig): Promise<void> {
  const baseURL = String(config.projects[0]?.use?.baseURL ?? 'http://127.0.0.1:3000');
  const waitSeconds = Number(process.env.E2E_SERVER_WAIT_SECONDS || '180');
  const deadline = Date.now() + waitSeconds * 1000;
  const url = new URL('/login', baseURL).toString();
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
      if (res.status < 500) {
        return;
      }
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String((err as Error)?.cause ?? err);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`server at ${baseURL} did not answer within ${waitSeconds} s (${last})`);
}
