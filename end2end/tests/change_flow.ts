import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { freshTotpCode, latestCode, settle, signIn } from './helpers';

// The owner's change flow as a person drives it (SPEC 4): sign in, open the change dialog, the
// identity step by each method, the new number and its code. Shared by the spec files that change
// a number (account_center, undo_link).

const OVERVIEW = /\/overview(?:[?#]|$)/;
const MODIFIED = 'Modified successfully';

export const apiCall = (name: string) => (r: { url(): string }) => new URL(r.url()).pathname === `/api/${name}`;

export async function signInAs(page: Page, account: string, password?: string): Promise<void> {
  await signIn(page, account, password);
  await expect(page).toHaveURL(OVERVIEW);
  await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();
}

export function changeDialog(page: Page) {
  return page.getByRole('dialog', { name: 'Change your mobile phone number' });
}

export function alertWith(page: Page, text: string) {
  return page.getByRole('alert').filter({ hasText: text });
}

/** Security Settings → Modify (the row "Mobile Phone Number"); answers the change dialog. */
export async function openChangeFromSecurity(page: Page) {
  await page.goto('/security');
  await settle(page);
  const row = page.locator('.setting-row').filter({ hasText: 'Mobile Phone Number' });
  await row.getByRole('button', { name: 'Modify', exact: true }).click();
  const dialog = changeDialog(page);
  await expect(dialog).toBeVisible();
  return dialog;
}

export async function clickNextAndWait(page: Page): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse(apiCall('verify_identity')),
    page.getByRole('button', { name: 'Next', exact: true }).click(),
  ]);
  return response.status();
}

/** Identity step: "Get verification code" for the chosen method, then the code from the outbox. */
export async function requestIdentityCode(page: Page, request: APIRequestContext, target: string): Promise<string> {
  const since = new Date();
  const get = page.getByRole('button', { name: 'Get verification code', exact: true });
  const [response] = await Promise.all([page.waitForResponse(apiCall('send_identity_code')), get.click()]);
  expect(response.ok(), `send_identity_code answered ${response.status()}: ${await response.text()}`).toBeTruthy();
  return latestCode(request, target, { since });
}

/** Identity step by an SMS to the original number or by an email to the logon email. */
export async function verifyIdentityByCode(
  page: Page,
  request: APIRequestContext,
  method: 'Original mobile phone number' | 'Logon email',
  target: string,
): Promise<void> {
  await page.getByRole('radio', { name: method, exact: true }).check();
  const code = await requestIdentityCode(page, request, target);
  await page.getByLabel('Verification code', { exact: true }).fill(code);
  await clickNextAndWait(page);
  await expect(page.getByLabel('New mobile phone number', { exact: true })).toBeVisible();
}

/** Identity step by a code from the authenticator (computed here from the demo secret). */
export async function verifyIdentityByTotp(page: Page, secret: string): Promise<void> {
  await page.getByRole('radio', { name: 'TOTP', exact: true }).check();
  // No code is sent for TOTP: the send button goes away.
  await expect(page.getByRole('button', { name: 'Get verification code', exact: true })).toHaveCount(0);
  for (let attempt = 1; attempt <= 2; attempt++) {
    await page.getByLabel('Verification code', { exact: true }).fill(await freshTotpCode(secret));
    if ((await clickNextAndWait(page)) < 400) {
      break;
    }
    // Only a step already accepted by the server (used by an earlier worker of this run, which
    // this one cannot know of) is refused here: once more, with the next step.
  }
  await expect(page.getByLabel('New mobile phone number', { exact: true })).toBeVisible();
}

/** Types the new number and waits for the check made while typing; answers that check's status. */
export async function typeNewNumber(page: Page, number: string): Promise<number> {
  const field = page.getByLabel('New mobile phone number', { exact: true });
  const [response] = await Promise.all([page.waitForResponse(apiCall('check_new_phone')), field.fill(number)]);
  return response.status();
}

/** New-number step: type it, get its code (watching the countdown), enter it and click OK. */
export async function enterNewNumberAndConfirm(
  page: Page,
  request: APIRequestContext,
  number: { national: string; e164: string; masked: string },
  prefix: string,
): Promise<void> {
  const dialog = changeDialog(page);
  // The country/region of registration is fixed and its prefix shown.
  await expect(dialog.getByText(prefix, { exact: true })).toBeVisible();
  expect(await typeNewNumber(page, number.national)).toBeLessThan(400);
  await expect(dialog.getByText(`Will be bound as ${number.masked}`)).toBeVisible();

  const since = new Date();
  const get = page.getByRole('button', { name: 'Get Verification Code', exact: true });
  const [response] = await Promise.all([page.waitForResponse(apiCall('send_new_phone_code')), get.click()]);
  expect(response.ok(), `send_new_phone_code answered ${response.status()}: ${await response.text()}`).toBeTruthy();
  // The button turns into the 60 s resend countdown ("Resend (59s)" …) and is disabled while it runs.
  const resend = page.getByRole('button', { name: /^Resend \((60|5\d)s\)$/ });
  await expect(resend).toBeVisible();
  await expect(resend).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Get Verification Code', exact: true })).toHaveCount(0);
  // Where the code went, masked, and its lifetime counting down (issue 14, item 5).
  await expect(dialog.getByText(new RegExp(`^The code was sent to ${number.masked.replace(/[*+]/g, '\\$&')}\\. It expires in [45]:\\d\\d\\.$`))).toBeVisible();

  const code = await latestCode(request, number.e164, { since });
  await page.getByLabel('Verification code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'OK', exact: true }).click();
  await expect(dialog.getByRole('status')).toHaveText(MODIFIED);
  await expect(dialog).toContainText(`Your mobile phone number is now ${number.masked}`);
  // Basic Settings shows the new number too.
  await expect(
    page.getByRole('region', { name: 'Basic Settings' }).locator('.setting-row').filter({ hasText: 'Mobile Phone Number' }),
  ).toContainText(number.masked);
}

