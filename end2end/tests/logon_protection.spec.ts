import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { latestCode, settle, signIn, signOut } from './helpers';

// Logon protection (issue 11): after the password, sign-in asks for a second factor the owner
// chose in Security Settings. Bob turns on "SMS code to the bound phone" after an identity step,
// finds that his password alone no longer opens a session, signs in with the code sent to his
// phone, and turns protection off again (by his logon email), so the other spec files find him as
// the demo data describes him.

const OVERVIEW = /\/overview(?:[?#]|$)/;
const LOGIN = /\/login(?:[?#]|$)/;
const BOB = { email: 'bob@example.com', phone: '+12025550143', masked: '+1 202***0143' };

const apiCall = (name: string) => (r: { url(): string }) => new URL(r.url()).pathname === `/api/${name}`;

function protectionRow(page: Page) {
  return page.locator('.setting-row').filter({ hasText: 'Logon Protection' });
}

/** Security Settings → Logon Protection → Change; the identity step by `method`; then `setting`. */
async function setProtection(
  page: Page,
  request: APIRequestContext,
  method: 'Original mobile phone number' | 'Logon email',
  target: string,
  setting: 'Off' | 'SMS code to the bound phone',
): Promise<void> {
  await page.goto('/security');
  await settle(page);
  await protectionRow(page).getByRole('button', { name: 'Change', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Logon protection' });
  // The identity step comes first: a signed-in session alone changes nothing.
  await expect(dialog.getByRole('radio', { name: setting, exact: true })).toHaveCount(0);
  await dialog.getByRole('radio', { name: method, exact: true }).check();
  const since = new Date();
  const [sent] = await Promise.all([
    page.waitForResponse(apiCall('send_identity_code')),
    dialog.getByRole('button', { name: 'Get verification code', exact: true }).click(),
  ]);
  expect(sent.ok(), `send_identity_code answered ${sent.status()}: ${await sent.text()}`).toBeTruthy();
  await dialog.getByLabel('Verification code', { exact: true }).fill(await latestCode(request, target, { since }));
  const [verified] = await Promise.all([
    page.waitForResponse(apiCall('verify_identity')),
    dialog.getByRole('button', { name: 'Next', exact: true }).click(),
  ]);
  expect(verified.ok(), `verify_identity answered ${verified.status()}`).toBeTruthy();

  await dialog.getByRole('radio', { name: setting, exact: true }).check();
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(dialog.getByRole('status')).toHaveText('Logon protection is saved.');
  await expect(protectionRow(page).locator('.setting-value')).toHaveText(setting);
}

test('Bob turns on SMS logon protection, signs in with the code to his phone, and turns it off', async ({
  page,
  request,
}) => {
  await signIn(page, BOB.email);
  await expect(page).toHaveURL(OVERVIEW);
  await page.goto('/security');
  await settle(page);
  await expect(protectionRow(page).locator('.setting-value')).toHaveText('Off');
  await setProtection(page, request, 'Original mobile phone number', BOB.phone, 'SMS code to the bound phone');

  // The password alone: a second step, and no session yet.
  await signOut(page);
  await expect(page).toHaveURL(LOGIN);
  await signIn(page, BOB.email);
  await expect(page.getByRole('heading', { name: 'Logon protection', exact: true })).toBeVisible();
  await expect(page.getByText(`Enter the verification code sent by SMS to ${BOB.masked}.`)).toBeVisible();
  const overview = await page.request.get('/overview', { maxRedirects: 0 });
  expect(overview.status(), 'a password alone must not open /overview').toBe(303);
  expect(overview.headers()['location']).toMatch(LOGIN);

  // A wrong code is refused; the code sent to the bound phone opens the session.
  const wrong = await Promise.all([
    page.waitForResponse(apiCall('sign_in_verify')),
    (async () => {
      await page.getByLabel('Verification code', { exact: true }).fill('000000');
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
    })(),
  ]);
  expect(wrong[0].ok()).toBeFalsy();
  await expect(page.getByRole('alert').filter({ hasText: 'The verification code is incorrect or has expired.' })).toBeVisible();
  await expect(page).toHaveURL(LOGIN);

  const since = new Date();
  const [sent] = await Promise.all([
    page.waitForResponse(apiCall('sign_in_send_code')),
    page.getByRole('button', { name: 'Get verification code', exact: true }).click(),
  ]);
  expect(sent.ok(), `sign_in_send_code answered ${sent.status()}: ${await sent.text()}`).toBeTruthy();
  await page.getByLabel('Verification code', { exact: true }).fill(await latestCode(request, BOB.phone, { since }));
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await expect(page).toHaveURL(OVERVIEW);
  await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();

  // Off again, proven by the logon email this time; the password alone signs in once more.
  await setProtection(page, request, 'Logon email', BOB.email, 'Off');
  await signOut(page);
  await expect(page).toHaveURL(LOGIN);
  await signIn(page, BOB.email);
  await expect(page).toHaveURL(OVERVIEW);
});
