import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { settle, signIn } from './helpers';

// Accessibility (issue 14, item 6): every page, and every dialog once opened, passes axe-core
// (WCAG 2.1 A and AA rules) with no violation; a dialog takes the focus when it opens and gives
// it back to the button that opened it when it closes. Each page is also photographed at desktop
// and phone width (issue 14, item 7): the pictures are attached to the report, and with
// SCREENSHOTS_DIR set they are written there too (README's come from such a run).

const OVERVIEW = /\/overview(?:[?#]|$)/;

async function expectNoViolations(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = results.violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join('\n    ')}`,
  );
  // Soft: one run lists what every page and dialog violates.
  expect.soft(found, `axe on ${what}`).toEqual([]);
}

const WIDTHS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
];

/** Full-page pictures of what the page shows now, at each width, attached to the report. */
async function photograph(page: Page, name: string): Promise<void> {
  const initial = page.viewportSize();
  for (const size of WIDTHS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    const file = `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'root'}-${size.name}.png`;
    const picture = await page.screenshot({ fullPage: true });
    await test.info().attach(file, { body: picture, contentType: 'image/png' });
    if (process.env.SCREENSHOTS_DIR) {
      const path = `${process.env.SCREENSHOTS_DIR}/${file}`;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, picture);
    }
  }
  if (initial) await page.setViewportSize(initial);
}

async function visit(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await settle(page);
  await expectNoViolations(page, path);
  await photograph(page, path);
}

/** Opens a dialog with `open` (a click on `opener`, unless given), checks it with axe and that it
 * holds the focus, closes it with its `close` button, and checks that the focus is back on
 * `returnTo` (the opener by default). */
async function checkDialog(
  page: Page,
  opener: Locator,
  name: string,
  opts: { open?: () => Promise<void>; close?: string; returnTo?: Locator } = {},
): Promise<void> {
  await (opts.open ? opts.open() : opener.click());
  const dialog = page.getByRole('dialog', { name });
  await expect(dialog).toBeVisible();
  await expect
    .poll(() => dialog.evaluate((d) => d.contains(document.activeElement)), { message: `focus moves into "${name}"` })
    .toBeTruthy();
  await expectNoViolations(page, `the dialog "${name}"`);
  await photograph(page, `dialog ${name}`);
  await dialog.getByRole('button', { name: opts.close ?? 'Close', exact: true }).click();
  await expect(dialog).toHaveCount(0);
  await expect(opts.returnTo ?? opener).toBeFocused();
}

test('the signed-out pages pass axe', async ({ page }) => {
  for (const path of ['/login', '/forgot-password', '/login/sso', '/undo/0123456789abcdef0123456789abcdef', '/no-such-page']) {
    await visit(page, path);
  }
});

test("the owner's pages and dialogs pass axe and keep the focus where it belongs", async ({ page }) => {
  await signIn(page, 'alice@example.com');
  await expect(page).toHaveURL(OVERVIEW);
  for (const path of ['/overview', '/ram/users', '/ram/sso', '/security']) {
    await visit(page, path);
  }
  const row = (name: string) => page.locator('.setting-row').filter({ hasText: name });
  await checkDialog(page, row('Mobile Phone Number').getByRole('button', { name: 'Modify', exact: true }), 'Change your mobile phone number');
  await checkDialog(page, row('Authenticator (TOTP)').getByRole('button', { name: 'Unbind', exact: true }), 'Unbind the authenticator');
  await checkDialog(page, row('Logon Protection').getByRole('button', { name: 'Change', exact: true }), 'Logon protection');
  await checkDialog(page, page.getByRole('button', { name: 'File an appeal', exact: true }), 'File an appeal');
});

test("the directory administrator's pages and dialogs pass axe", async ({ page }) => {
  await signIn(page, 'rd-admin@acme');
  await expect(page).toHaveURL(OVERVIEW);
  await visit(page, '/resource-directory/management');
  await visit(page, '/resource-directory/management?view=list');
  // acme-dev-sandbox has no number: its Actions menu opens the Bind dialog.
  const row = page.getByRole('row').filter({ hasText: '2000000000000006' });
  const actions = row.getByRole('button', { name: 'Actions', exact: true });
  await checkDialog(page, actions, 'Bind Mobile Phone Number', {
    open: async () => {
      await actions.click();
      await expectNoViolations(page, 'the Actions menu');
      await row.getByRole('menuitem', { name: 'Bind Mobile Phone Number' }).click();
    },
    close: 'Cancel',
  });
  // At phone width the rows turn into cards: every Actions button is in reach without
  // scrolling sideways, and its menu opens.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const button of await page.getByRole('button', { name: 'Actions', exact: true }).all()) {
    const box = (await button.boundingBox())!;
    expect(box.x + box.width, 'an Actions button inside a 390 px wide screen').toBeLessThanOrEqual(390);
  }
  await actions.click();
  await expect(row.getByRole('menuitem', { name: 'Bind Mobile Phone Number' })).toBeVisible();
  await page.keyboard.press('Escape');
  await page.setViewportSize({ width: 1280, height: 800 });
  await visit(page, '/resource-directory/members/2000000000000009');
  await checkDialog(page, page.getByRole('button', { name: 'Modify', exact: true }), 'Modify the security phone number', {
    close: 'Cancel',
  });
  await page.goto('/no-such-page-signed-in');
  await settle(page);
  await expectNoViolations(page, 'the not-found page, signed in');
});

test("the operator's appeal queue passes axe", async ({ page }) => {
  await signIn(page, 'operator@example.com');
  await expect(page).toHaveURL(OVERVIEW);
  await visit(page, '/operator/appeals');
  await expect(page.getByRole('heading', { name: 'Appeal queue', exact: true })).toBeVisible();
});

test('the access-denied page passes axe', async ({ page }) => {
  await signIn(page, 'viewer@acme');
  await expect(page).toHaveURL(OVERVIEW);
  await visit(page, '/resource-directory/management');
  await expect(page.getByRole('heading', { name: 'Access denied', exact: true })).toBeVisible();
});
