import { expect, test } from '@playwright/test';
import { latestCode, settle, signIn, signOut } from './helpers';

// Logon protection (SPEC 4): Bob turns on "SMS code to the bound phone" in Security Settings after
// the identity step; signing in then asks for the code after the password; he turns it off again
// (by his logon email, so no second identity SMS falls inside the 60 s resend interval), leaving
// the demo data as the other spec files expect it.

const BOB = { email: 'bob@example.com', phone: '+12025550143', masked: '+1 202***0143' };
const OVERVIEW = /\/overview(?:[?#]|$)/;

async function setProtection(page: import('@playwright/test').Page, request: import('@playwright/test').APIRequestContext,
  method: 'sms' | 'email', choice: string) {
  await page.goto('/security');
  await settle(page);
  await expect(page.getByText('Logon Protection', { exact: true })).toBeVisible();
  await page.locator('.setting-row', { hasText: 'Logon Protection' }).getByRole('button', { name: 'Change' }).click();
  const dialog = page.getByRole('dialog', { name: 'Logon protection' });
  await expect(dialog).toBeVisible();
  const since = new Date();
  if (method === 'email') {
    await dialog.getByLabel('Logon email', { exact: true }).check();
  }
  await dialog.getByRole('button', { name: 'Get verification code' }).click();
  const code = await latestCode(request, method === 'sms' ? BOB.phone : BOB.email, { since });
  await dialog.getByLabel('Verification code').fill(code);
  await dialog.getByRole('button', { name: 'Next' }).click();
  await dialog.getByLabel(choice, { exact: true }).check();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog.getByRole('status')).toHaveText('Logon protection is saved.');
  await expect(page.locator('.setting-row', { hasText: 'Logon Protection' })).toContainText(choice);
}

test('with logon protection by SMS, sign-in asks for the code after the password', async ({ page, request }) => {
  await signIn(page, BOB.email);
  await expect(page).toHaveURL(OVERVIEW);
  await setProtection(page, request, 'sms', 'SMS code to the bound phone');
  await signOut(page);

  await signIn(page, BOB.email);
  await expect(page.getByRole('heading', { name: 'Logon protection' })).toBeVisible();
  await expect(page.getByText(`Enter the verification code sent by SMS to ${BOB.masked}.`)).toBeVisible();
  // The password alone opened no session.
  expect((await page.request.get('/overview', { maxRedirects: 0 })).status()).toBe(303);
  const since = new Date();
  await page.getByRole('button', { name: 'Get verification code' }).click();
  const code = await latestCode(request, BOB.phone, { since });
  await page.getByLabel('Verification code').fill(code === '000000' ? '111111' : '000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('alert')).toHaveText('The verification code is incorrect or has expired.');
  await page.getByLabel('Verification code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(OVERVIEW);

  await setProtection(page, request, 'email', 'Off');
  await signOut(page);
  await signIn(page, BOB.email);
  await expect(page).toHaveURL(OVERVIEW);
});
