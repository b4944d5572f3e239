import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { latestCode, settle, signOut } from './helpers';
import { apiCall, signInAs } from './change_flow';

// Appeals get decided (issue 14, item 8): an owner files an appeal with the existing form, the
// platform operator (the demo operator@example.com) finds it in the queue reached from the
// header and approves it, and the owner's status page shows it approved.
//
// The filer is acme-prod-shared, a member account no other spec signs in as or counts on; the
// approval moves it to a number and names a contact address no other spec uses (the resend
// interval is per target), and ends its sessions only.

const FILER = 'prod-shared@acme.example';
const CONTACT = 'prod-shared.appeal@example.org';
const NEW_NUMBER = '13755550801';
const OPERATOR = 'operator@example.com';
const LOGIN = /\/login(?:[?#]|$)/;

/** axe (WCAG 2.1 A and AA) on the page as it is now: the queue with an appeal and its forms,
 * which a11y.spec.ts (on a fresh, empty queue) does not see. */
async function expectNoViolations(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(results.violations.map((v) => `${v.id}: ${v.help}`), `axe on ${what}`).toEqual([]);
}

test('an appeal filed by an owner is approved by the operator and shows approved to the owner', async ({
  page,
  request,
}) => {
  // The owner files the appeal.
  await signInAs(page, FILER);
  await expect(page.getByRole('link', { name: 'Appeal queue', exact: true })).toHaveCount(0);
  await page.goto('/security');
  await settle(page);
  await page.getByRole('button', { name: 'File an appeal', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'File an appeal' });
  await dialog.getByLabel('Phone number to bind', { exact: true }).fill(NEW_NUMBER);
  await dialog.getByLabel('Contact email', { exact: true }).fill(CONTACT);
  await dialog.getByLabel('Reason', { exact: true }).fill('Lost the phone and the mailbox');
  const since = new Date();
  await Promise.all([
    page.waitForResponse(apiCall('send_appeal_code')),
    dialog.getByRole('button', { name: 'Get verification code', exact: true }).click(),
  ]);
  const code = await latestCode(request, CONTACT, { since });
  await dialog.getByLabel('Verification code', { exact: true }).fill(code);
  await dialog.getByRole('button', { name: 'Submit appeal', exact: true }).click();
  const filed = dialog.getByRole('status');
  await expect(filed).toHaveText(/^Your appeal was submitted\. Reference number: AP[0-9A-F]{12}$/);
  const reference = (await filed.innerText()).split(': ')[1];
  await signOut(page);
  await expect(page).toHaveURL(LOGIN);

  // The operator reaches the queue from the header and finds the appeal with what was filed.
  await signInAs(page, OPERATOR);
  await page.getByRole('link', { name: 'Appeal queue', exact: true }).click();
  await expect(page).toHaveURL(/\/operator\/appeals$/);
  await settle(page);
  const appeal = page.getByRole('region', { name: `Appeal ${reference}` });
  await expect(appeal).toContainText('+8613755550801');
  await expect(appeal).toContainText(CONTACT);
  await expect(appeal).toContainText('+86 136****6000');
  await expect(appeal).toContainText('Lost the phone and the mailbox');
  await expectNoViolations(page, 'the queue with an appeal');
  const [approved] = await Promise.all([
    page.waitForResponse(apiCall('appeal_approve')),
    appeal.getByRole('button', { name: 'Approve', exact: true }).click(),
  ]);
  expect(approved.status()).toBe(200);
  await expect(appeal.getByRole('status')).toContainText('Approved');
  await page.reload();
  await settle(page);
  await expect(page.getByRole('region', { name: `Appeal ${reference}` })).toHaveCount(0);
  await signOut(page);
  await expect(page).toHaveURL(LOGIN);

  // The owner (signed out by the approval) signs in again: the status page shows approved.
  await signInAs(page, FILER);
  await page.goto('/security');
  await settle(page);
  await page.getByRole('link', { name: reference, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/appeals/${reference}$`));
  await settle(page);
  await expect(page.locator('.appeal-status')).toHaveText('approved');
  await expectNoViolations(page, 'the status page');
  await expect(page.getByRole('listitem').filter({ hasText: 'approved by Platform operator' })).toHaveCount(1);
  const row = page.locator('.setting-row');
  await page.goto('/security');
  await settle(page);
  await expect(row.filter({ hasText: 'Mobile Phone Number' })).toContainText('+86 137****0801');
});
