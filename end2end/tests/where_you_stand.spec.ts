import { expect, test } from '@playwright/test';
import { latestCode } from './helpers';
import {
  apiCall,
  changeDialog,
  openChangeFromSecurity,
  signInAs,
  typeNewNumber,
  verifyIdentityByCode,
} from './change_flow';

// Where the user stands in the change flow (issue 14, item 5): the identity ticket's time left is
// shown and counts down; the flow closed and opened again while it lives starts at the new number;
// and a number typed wrong can be corrected after its code went out, without repeating step 1.
//
// Bob does the identity step by his logon email: no other spec file asks for that code, so the 60 s
// resend rule cannot bite. His new numbers are used nowhere else.

const BOB = { email: 'bob@example.com' };
const TYPO = { national: '2025550161', e164: '+12025550161', masked: '+1 202***0161' };
const RIGHT = { national: '2025550162', e164: '+12025550162', masked: '+1 202***0162' };
const CLOCK = /^Identity verified\. Finish the change within 1[45]:\d\d\.$/;

test('the ticket counts down, the flow reopens at the new number, and a wrong number is corrected', async ({
  page,
  request,
}) => {
  await signInAs(page, BOB.email);
  let dialog = await openChangeFromSecurity(page);
  await verifyIdentityByCode(page, request, 'Logon email', BOB.email);
  const clock = dialog.locator('.ticket-clock');
  await expect(clock).toHaveText(CLOCK);
  const first = await clock.textContent();
  await expect(clock).not.toHaveText(first ?? '', { timeout: 5_000 }); // it ticks

  // Closed and opened again: straight to the new number, the clock still running.
  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  await expect(dialog).toHaveCount(0);
  dialog = await openChangeFromSecurity(page);
  await expect(dialog.getByRole('heading', { name: 'Verify your identity' })).toHaveCount(0);
  await expect(dialog.locator('.ticket-clock')).toHaveText(CLOCK);

  // A code to the typo: the number is then fixed, since the code belongs to it.
  const field = page.getByLabel('New mobile phone number', { exact: true });
  expect(await typeNewNumber(page, TYPO.national)).toBeLessThan(400);
  const [sent] = await Promise.all([
    page.waitForResponse(apiCall('send_new_phone_code')),
    page.getByRole('button', { name: 'Get Verification Code', exact: true }).click(),
  ]);
  expect(sent.ok(), `send_new_phone_code answered ${sent.status()}`).toBeTruthy();
  await expect(dialog.getByText(new RegExp(`sent to ${TYPO.masked.replace(/[*+]/g, '\\$&')}`))).toBeVisible();
  await expect(field).not.toBeEditable();

  // "Change number" frees it: the code line and the countdown go, the send button is back.
  await dialog.getByRole('button', { name: 'Change number', exact: true }).click();
  await expect(field).toBeEditable();
  await expect(field).toBeFocused();
  await expect(dialog.getByText(/The code was sent to/)).toHaveCount(0);
  expect(await typeNewNumber(page, RIGHT.national)).toBeLessThan(400);
  await expect(dialog.getByText(`Will be bound as ${RIGHT.masked}`)).toBeVisible();
  const since = new Date();
  await page.getByRole('button', { name: 'Get Verification Code', exact: true }).click();
  const code = await latestCode(request, RIGHT.e164, { since });
  await page.getByLabel('Verification code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'OK', exact: true }).click();
  await expect(changeDialog(page).getByRole('status')).toHaveText('Modified successfully');
  await expect(changeDialog(page)).toContainText(`Your mobile phone number is now ${RIGHT.masked}`);
});
