import { expect, test, type Locator, type Page } from '@playwright/test';
import { latestCode, settle, signIn } from './helpers';

// Resource Management (SPEC 5). The members used here are used by no other test:
// acme-dev-ci (2000000000000007, CN, no number) is bound then modified; acme-dev-sandbox
// (2000000000000006, CN) and acme-security-audit (2000000000000008, US) only see refusals.
const MANAGEMENT = '/resource-directory/management';
const OVERVIEW = /\/overview(?:[?#]|$)/;
const CI_ID = '2000000000000007';

async function openMemberList(page: Page): Promise<void> {
  await page.goto(MANAGEMENT);
  await settle(page);
  await page.getByRole('button', { name: 'Member List View', exact: true }).click();
  await expect(page.getByRole('table')).toBeVisible();
}

function memberRow(page: Page, displayName: string): Locator {
  return page.getByRole('row').filter({ hasText: displayName });
}

/** Opens the row's Actions menu and its "Bind Mobile Phone Number" item. */
async function openBindFromRow(page: Page, displayName: string): Promise<void> {
  const row = memberRow(page, displayName);
  await row.getByRole('button', { name: 'Actions', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Bind Mobile Phone Number', exact: true }).click();
}

test.describe('Resource Management', () => {
  test('rd-admin binds a number from the Member List View and modifies it from the details page', async ({
    page,
    request,
  }) => {
    await signIn(page, 'rd-admin@acme');
    await expect(page).toHaveURL(OVERVIEW);
    await openMemberList(page);

    const row = memberRow(page, 'acme-dev-ci');
    await expect(row).toContainText('Resource account');
    await expect(row).toContainText('Not bound');
    await openBindFromRow(page, 'acme-dev-ci');

    const bind = page.getByRole('dialog', { name: 'Bind Mobile Phone Number' });
    await expect(bind).toBeVisible();
    await expect(bind).toContainText('+86');
    await bind.getByLabel('Mobile phone number').fill('13456789050');
    const sentAt = new Date();
    await bind.getByRole('button', { name: 'Get verification code', exact: true }).click();
    await expect(bind.getByRole('button', { name: /^Resend \(\d+s\)$/ })).toBeDisabled();
    const code = await latestCode(request, '+8613456789050', { since: sentAt });
    await bind.getByLabel('Verification code', { exact: true }).fill(code);
    await bind.getByRole('button', { name: 'OK', exact: true }).click();

    await expect(bind).toHaveCount(0);
    await expect(page.getByRole('status')).toContainText('Bound successfully');
    await expect(row).toContainText('+86 134****9050');

    // The account id opens the member details page.
    await row.getByRole('link', { name: CI_ID, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`/resource-directory/members/${CI_ID}$`));
    await settle(page);
    const basic = page.getByRole('region', { name: 'Basic Information' });
    await expect(basic).toContainText('+86 134****9050');
    await basic.getByRole('button', { name: 'Modify', exact: true }).click();

    const modify = page.getByRole('dialog', { name: 'Modify the security phone number' });
    await expect(modify).toBeVisible();
    await modify.getByLabel('New mobile phone number').fill('13456789051');
    const resentAt = new Date();
    await modify.getByRole('button', { name: 'Get verification code', exact: true }).click();
    await expect(modify.getByRole('button', { name: /^Resend \(\d+s\)$/ })).toBeVisible();
    const second = await latestCode(request, '+8613456789051', { since: resentAt });
    // A wrong code first: the dialog says so and stays open.
    await modify.getByLabel('Verification code', { exact: true }).fill(second === '000000' ? '111111' : '000000');
    await modify.getByRole('button', { name: 'Confirm the modification', exact: true }).click();
    await expect(modify.getByRole('alert')).toContainText('The verification code is incorrect or has expired.');
    await modify.getByLabel('Verification code', { exact: true }).fill(second);
    await modify.getByRole('button', { name: 'Confirm the modification', exact: true }).click();

    await expect(modify).toHaveCount(0);
    await expect(page.getByRole('status')).toContainText('Modified successfully');
    await expect(basic).toContainText('+86 134****9051');
    const events = page.getByRole('region', { name: 'Audit Events' });
    await expect(events).toContainText('ModifyMemberMobilePhone');
    await expect(events).toContainText('BindMemberMobilePhone');
    await expect(events).toContainText('rd-admin@acme');
  });

  test('the dialog shows the 6-account limit and the region rule', async ({ page }) => {
    await signIn(page, 'rd-admin@acme');
    await expect(page).toHaveURL(OVERVIEW);
    await openMemberList(page);

    await openBindFromRow(page, 'acme-dev-sandbox');
    const dialog = page.getByRole('dialog', { name: 'Bind Mobile Phone Number' });
    await dialog.getByLabel('Mobile phone number').fill('+8613900139000');
    await dialog.getByRole('button', { name: 'Get verification code', exact: true }).click();
    await expect(dialog.getByRole('alert')).toContainText('This phone number is already bound to 6 accounts.');
    // Nothing was sent, so the button does not count down.
    await expect(dialog.getByRole('button', { name: 'Get verification code', exact: true })).toBeEnabled();

    await dialog.getByLabel('Mobile phone number').fill('+12025550143');
    await dialog.getByRole('button', { name: 'Get verification code', exact: true }).click();
    await expect(dialog.getByRole('alert')).toContainText(
      'The phone number must match the country or region you selected during registration.',
    );
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expect(dialog).toHaveCount(0);

    // A US member: the prefix is +1 and a Chinese number is another region's.
    await openBindFromRow(page, 'acme-security-audit');
    const us = page.getByRole('dialog', { name: 'Bind Mobile Phone Number' });
    await expect(us).toContainText('+1');
    await us.getByLabel('Mobile phone number').fill('+8613456789052');
    await us.getByRole('button', { name: 'Get verification code', exact: true }).click();
    await expect(us.getByRole('alert')).toContainText('must match the country or region');
  });

  test('the Member List View searches, sorts and pages on the server', async ({ page }) => {
    await signIn(page, 'rd-admin@acme');
    await expect(page).toHaveURL(OVERVIEW);
    await openMemberList(page);
    const body = page.locator('tbody');
    await expect(body.getByRole('row')).toHaveCount(10);

    await page.getByRole('searchbox', { name: 'Search members' }).fill('sandbox');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(body.getByRole('row')).toHaveCount(1);
    await expect(body).toContainText('2000000000000006');

    await page.getByRole('searchbox', { name: 'Search members' }).fill('+8613900139000');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(body.getByRole('row')).toHaveCount(4);

    await page.getByRole('searchbox', { name: 'Search members' }).fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(body.getByRole('row')).toHaveCount(10);
    await page.getByRole('button', { name: /^Account ID/ }).click();
    await expect(body.getByRole('row').first()).toContainText('2000000000000001');
    await page.getByRole('button', { name: /^Account ID/ }).click();
    await expect(body.getByRole('row').first()).toContainText('2000000000000010');

    await expect(page.getByText('1–10 of 10 members')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Next page', exact: true })).toBeDisabled();
  });

  test('the Resource Organization View shows the folder tree and the selected folder', async ({ page }) => {
    await signIn(page, 'rd-admin@acme');
    await expect(page).toHaveURL(OVERVIEW);
    await page.goto(MANAGEMENT);
    await settle(page);
    const tree = page.getByRole('tree');
    await expect(tree.getByRole('treeitem')).toHaveCount(5);
    await expect(tree).toContainText('Root');
    await expect(tree).toContainText('(10)');

    await tree.getByRole('button', { name: /^Development/ }).click();
    await expect(page.getByRole('heading', { name: 'Members of Development' })).toBeVisible();
    await expect(page.locator('tbody').getByRole('row')).toHaveCount(2);
    await expect(page.locator('tbody')).toContainText('acme-dev-sandbox');

    await tree.getByRole('button', { name: 'Collapse Production', exact: true }).click();
    await expect(tree.getByRole('treeitem')).toHaveCount(3);
    await tree.getByRole('button', { name: 'Expand Production', exact: true }).click();
    await expect(tree.getByRole('treeitem')).toHaveCount(5);
  });

  for (const account of ['viewer@acme', 'dev@alice']) {
    test(`${account} gets the access-denied page`, async ({ page }) => {
      await signIn(page, account);
      await expect(page).toHaveURL(OVERVIEW);
      for (const path of [MANAGEMENT, '/resource-directory/members/2000000000000006']) {
        await page.goto(path);
        await expect(page.getByRole('heading', { name: 'Access denied', exact: true })).toBeVisible();
        await expect(page.getByText('acme-dev-sandbox')).toHaveCount(0);
        await expect(page.getByRole('button', { name: 'Actions' })).toHaveCount(0);
      }
    });
  }
});
