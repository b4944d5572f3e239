import { expect, test } from '@playwright/test';
import { enterNewNumberAndConfirm, openChangeFromSecurity, signInAs, verifyIdentityByCode } from './change_flow';
import { latestCode, outbox, settle, signIn } from './helpers';

// "Not you?" undo (issue 14, item 3): the Acme owner's number is changed; the notice that reaches
// the old number carries a link; opening it shows the change, one click puts the old number back,
// and the password no longer signs in until it is reset. The test resets it to the demo password,
// so the account ends as the demo data describes it (no other spec file changes its number).

const ACME = {
  email: 'admin@acme.example',
  phone: '+8613700137000',
  masked: '+86 137****7000',
};
const NEW = { national: '13712345699', e164: '+8613712345699', masked: '+86 137****5699' };
const DEMO_PASSWORD = 'Demo-pass-123';

test('the notice of a phone change carries a link that restores the old number', async ({ page, request }) => {
  await signInAs(page, ACME.email);
  await openChangeFromSecurity(page);
  // By the logon email: code_autofill.spec.ts sent an identity code to the phone under a minute ago.
  await verifyIdentityByCode(page, request, 'Logon email', ACME.email);
  const since = Date.now();
  await enterNewNumberAndConfirm(page, request, NEW, '+86');

  // The SMS to the old number names the change and carries the link.
  let link: URL | undefined;
  await expect(async () => {
    const notice = (await outbox(request, ACME.phone)).find(
      (m) => m.body.includes('/undo/') && Date.parse(m.created_at) >= since - 1_000,
    );
    expect(notice, 'a notice with an undo link to the old number').toBeTruthy();
    link = new URL(notice!.body.match(/https?:\/\/\S+\/undo\/[0-9a-f]{32}/)![0]);
  }).toPass({ timeout: 5_000 });

  await page.goto(link!.pathname);
  await settle(page);
  await expect(page.getByRole('heading', { name: 'Undo a phone number change' })).toBeVisible();
  const change = page.getByRole('definition');
  await expect(change.filter({ hasText: ACME.masked })).toBeVisible();
  await expect(change.filter({ hasText: NEW.masked })).toBeVisible();
  await page.getByRole('button', { name: 'Restore my previous number', exact: true }).click();
  await expect(page.getByRole('status')).toContainText(`The previous number ${ACME.masked} is bound again`);

  // Once only: the page now says the link was used.
  await page.reload();
  await expect(page.getByRole('alert')).toHaveText('This undo link was already used.');

  // The password alone no longer signs in.
  await page.goto('/login');
  await signIn(page, ACME.email);
  await expect(page.getByRole('alert')).toContainText('Reset your password (Forgot password) before you sign in.');

  // A reset by the logon email, back to the demo password; then the account signs in with the
  // old number shown again.
  await page.goto('/forgot-password');
  await settle(page);
  await page.getByLabel('Account', { exact: true }).fill(ACME.email);
  await page.getByLabel('Logon email').check();
  const resetSince = new Date();
  await page.getByRole('button', { name: 'Send verification code', exact: true }).click();
  await page.getByLabel('Verification code', { exact: true }).fill(await latestCode(request, ACME.email, { since: resetSince }));
  await page.getByLabel('New password', { exact: true }).fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Reset password', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('Your password was reset');
  await signInAs(page, ACME.email, DEMO_PASSWORD);
  await page.goto('/security');
  await expect(page.locator('.setting-row').filter({ hasText: 'Mobile Phone Number' })).toContainText(ACME.masked);
});
