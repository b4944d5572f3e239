import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { latestCode, settle, signIn } from './helpers';

// Keyboard alone (issue 14, item 6): rd-admin modifies a member's number from its details page
// with Tab, typing and Enter only: no click after signing in. The dialog takes the focus when it
// opens (on the number field) and gives it back to Modify when it closes. The number is then
// modified back the same way, so the demo data stays as the other spec files expect it
// (acme-data-warehouse is one of the six accounts on +8613900139000).

const MEMBER = '2000000000000003'; // acme-data-warehouse, CN
const DEMO = { national: '13900139000', e164: '+8613900139000', masked: '+86 139****9000' };
const NEW = { national: '13812340077', e164: '+8613812340077', masked: '+86 138****0077' };

/** Presses Tab until the focused element is the one `name` names (at most `limit` presses). */
async function tabTo(page: Page, name: string, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i++) {
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return '';
      const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
      return (el.getAttribute('aria-label') ?? label ?? el.textContent ?? '').trim();
    });
    if (focused === name) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`"${name}" not reached with ${limit} presses of Tab`);
}

async function modifyByKeyboard(page: Page, request: APIRequestContext, to: typeof NEW): Promise<void> {
  await page.goto(`/resource-directory/members/${MEMBER}`);
  await settle(page);
  await tabTo(page, 'Modify');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Modify the security phone number' });
  await expect(dialog).toBeVisible();
  // The dialog opens with the focus on its number field.
  await expect(dialog.getByRole('textbox').first()).toBeFocused();
  await page.keyboard.type(to.national);
  await tabTo(page, 'Get verification code');
  const since = new Date();
  await page.keyboard.press('Enter');
  const code = await latestCode(request, to.e164, { since });
  await tabTo(page, 'Verification code');
  await page.keyboard.type(code);
  await tabTo(page, 'Confirm the modification');
  await page.keyboard.press('Enter');
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Modify', exact: true })).toBeFocused();
  await expect(page.getByText(to.masked, { exact: true })).toBeVisible();
}

test('a member number is modified with the keyboard alone, and modified back', async ({ page, request }) => {
  await signIn(page, 'rd-admin@acme');
  await expect(page).toHaveURL(/\/overview(?:[?#]|$)/);
  await modifyByKeyboard(page, request, NEW);
  await modifyByKeyboard(page, request, DEMO);
});
