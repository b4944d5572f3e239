import { createHmac } from 'node:crypto';
import { expect, type APIRequestContext, type Page } from '@playwright/test';

export const DEMO_PASSWORD = 'Demo-pass-123';

/** Wait until every island on the page has hydrated, so that clicks and typing are handled by
 * the app rather than racing it. Each island counts itself in `<body data-islands-hydrated>` once
 * it has hydrated; a lazy island's chunk is still compiling when the network has gone quiet, so
 * network idle alone is not enough (a click on "Change" was lost that way in CI). */
export async function settle(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle', { timeout: 15_000 }).catch(() => undefined);
  await page.waitForFunction(
    () =>
      Number(document.body?.dataset.islandsHydrated ?? 0) >= document.querySelectorAll('leptos-island').length,
    undefined,
    { timeout: 20_000 },
  );
}

/** Sign in through the form at /login (navigates there first when the page is elsewhere). */
export async function signIn(page: Page, account: string, password: string = DEMO_PASSWORD): Promise<void> {
  if (!/\/login(?:[?#]|$)/.test(page.url())) {
    await page.goto('/login');
  }
  await settle(page);
  await page.getByLabel('Account', { exact: true }).fill(account);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Click the header's "Sign out" button. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
}

export interface OutboxItem {
  channel: 'sms' | 'email';
  to: string;
  body: string;
  code: string | null;
  created_at: string;
}

/** All development-outbox messages to `to` (E.164 number or email), newest first. */
export async function outbox(request: APIRequestContext, to: string): Promise<OutboxItem[]> {
  const res = await request.get(`/dev/outbox.json?to=${encodeURIComponent(to)}`);
  expect(res.ok(), `GET /dev/outbox.json?to=${to} answered ${res.status()}`).toBeTruthy();
  return (await res.json()) as OutboxItem[];
}

/**
 * The code of the newest outbox message to `to` that carries a code (notices carry none), polling
 * for up to `timeoutMs` (default 5 s) because delivery to the outbox is asynchronous.
 * With `since`, only messages created at or after that instant count (so a code from an earlier
 * step is never returned by mistake).
 */
export async function latestCode(
  request: APIRequestContext,
  to: string,
  opts: { since?: Date; timeoutMs?: number } = {},
): Promise<string> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  // created_at has whole-second precision at worst; allow for that.
  const since = opts.since ? opts.since.getTime() - 1_000 : -Infinity;
  for (;;) {
    const items = await outbox(request, to);
    const hit = items.find((m) => m.code !== null && Date.parse(m.created_at) >= since);
    if (hit?.code) {
      return hit.code;
    }
    if (Date.now() > deadline) {
      throw new Error(`no verification code for ${to} in /dev/outbox.json after ${opts.timeoutMs ?? 5_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// ---- TOTP (RFC 6238: HMAC-SHA1, 30 s step, 6 digits), for authenticator codes in tests ----

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Decodes RFC 4648 base32 (case-insensitive; spaces, dashes and padding ignored). */
export function base32Decode(input: string): Buffer {
  const clean = input.replace(/[\s=-]/g, '').toUpperCase();
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const index = BASE32_ALPHABET.indexOf(ch);
    if (index < 0) {
      throw new Error(`not a base32 character: ${JSON.stringify(ch)}`);
    }
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return Buffer.from(bytes);
}

export const TOTP_STEP_MS = 30_000;

/** The RFC 6238 time step of an instant (milliseconds since the epoch). */
export function totpStep(atMs: number = Date.now()): number {
  return Math.floor(atMs / TOTP_STEP_MS);
}

/** The 6-digit TOTP code of `secretBase32` for time step `step` (default: now). */
export function totpCode(secretBase32: string, step: number = totpStep()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const binary =
    ((digest[offset] & 0x7f) << 24) |
    ((digest[offset + 1] & 0xff) << 16) |
    ((digest[offset + 2] & 0xff) << 8) |
    (digest[offset + 3] & 0xff);
  return String(binary % 1_000_000).padStart(6, '0');
}

/** The last step handed out per secret by `freshTotpCode` in this worker. */
const lastTotpStep = new Map<string, number>();

/**
 * A TOTP code of a step not handed out before in this worker: the server refuses a step it has
 * already accepted, so a second code within the same 30 s waits for the next step.
 */
export async function freshTotpCode(secretBase32: string): Promise<string> {
  const last = lastTotpStep.get(secretBase32);
  if (last !== undefined && totpStep() <= last) {
    const wait = (last + 1) * TOTP_STEP_MS - Date.now() + 500;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const step = totpStep();
  lastTotpStep.set(secretBase32, step);
  return totpCode(secretBase32, step);
}

/** Development-outbox messages to `to` created at or after `since` (newest first). */
export async function outboxSince(request: APIRequestContext, to: string, since: Date): Promise<OutboxItem[]> {
  const from = since.getTime() - 1_000;
  return (await outbox(request, to)).filter((m) => Date.parse(m.created_at) >= from);
}
