import { expect, test } from '@playwright/test';
import { signIn, signOut, settle } from './helpers';

const OVERVIEW = /\/overview(?:[?#]|$)/;
const LOGIN = /\/login(?:[?#]|$)/;

test.describe('sign-in and sign-out', () => {
  for (const account of [
    'alice@example.com',
    'bob@example.com',
    'admin@acme.example',
    'rd-admin@acme',
    'dev@alice',
  ]) {
    test(`${account} signs in and out`, async ({ page }) => {
      await page.goto('/login');
      await signIn(page, account);
      await expect(page).toHaveURL(OVERVIEW);
      await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();

      await settle(page);
      await signOut(page);
      await expect(page).toHaveURL(LOGIN);
    });
  }

  test("Alice signs in with her bound phone number", async ({ page }) => {
    await page.goto('/login');
    await signIn(page, '+8613800138000');
    await expect(page).toHaveURL(OVERVIEW);
    await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();
  });

  test('a wrong password is refused with an alert', async ({ page }) => {
    await page.goto('/login');
    await signIn(page, 'alice@example.com', 'Wrong-pass-999');
    await expect(page.getByRole('alert').filter({ hasText: /incorrect/i })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toHaveCount(0);
  });

  test('an unknown account gets the same answer as a wrong password', async ({ page }) => {
    await page.goto('/login');
    await signIn(page, 'nobody@example.com');
    await expect(page.getByRole('alert').filter({ hasText: /incorrect/i })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toHaveCount(0);
  });

  test('the development SSO entry signs in an SSO session', async ({ page }) => {
    await page.goto('/dev/sso');
    await page.getByRole('button', { name: 'Sign in as sso-user@alice' }).click();
    await expect(page).toHaveURL(OVERVIEW);
    await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();
  });

  test('pages behind sign-in send a signed-out visitor to /login', async ({ page }) => {
    await page.goto('/overview');
    await expect(page).toHaveURL(LOGIN);
  });
});

test.describe('Resource Directory navigation', () => {
  for (const account of ['admin@acme.example', 'rd-admin@acme']) {
    test(`${account} sees Management`, async ({ page }) => {
      await signIn(page, account);
      await expect(page).toHaveURL(OVERVIEW);
      await expect(page.getByRole('link', { name: 'Management', exact: true })).toBeVisible();
    });
  }

  for (const account of ['alice@example.com', 'viewer@acme']) {
    test(`${account} does not see Management`, async ({ page }) => {
      await signIn(page, account);
      await expect(page).toHaveURL(OVERVIEW);
      await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();
      await expect(page.getByRole('link', { name: 'Management', exact: true })).toHaveCount(0);
    });
  }
});

test.describe('islands', () => {
  test('the Overview loads only the main module; Security Settings fetches its island on the first visit', async ({ page }) => {
    const wasm: string[] = [];
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path.endsWith('.wasm')) wasm.push(path);
    });
    await page.goto('/login');
    await signIn(page, 'alice@example.com');
    await expect(page).toHaveURL(OVERVIEW);
    await settle(page);
    const main = new Set(wasm);
    expect(main.size, `WASM fetched for /login and /overview: ${[...main].join(', ')}`).toBe(1);

    await page.getByRole('link', { name: 'Security Settings', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Security Settings' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Basic Settings' })).toBeVisible();
    await settle(page);
    const chunks = wasm.filter((path) => !main.has(path));
    expect(chunks.length, 'Security Settings fetched a WASM chunk of its own').toBeGreaterThan(0);
  });

  test('without JavaScript the sign-in form still works and the pages render on the server', async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto('/login');
    await page.getByLabel('Account', { exact: true }).fill('alice@example.com');
    await page.getByLabel('Password', { exact: true }).fill('Demo-pass-123');
    // A plain form post: the server signs in and sends the browser back.
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForLoadState('load');

    await page.goto('/overview');
    await expect(page).toHaveURL(OVERVIEW);
    const myAccount = page.getByRole('region', { name: 'My Account' });
    await expect(myAccount).toContainText('a***@example.com');
    await expect(myAccount.getByRole('link', { name: 'Edit Mobile Phone Number', exact: true })).toBeVisible();

    await page.goto('/security');
    await expect(page.getByRole('region', { name: 'Basic Settings' })).toContainText('Mobile Phone Number');
    const log = page.getByRole('region', { name: 'Security log' });
    await expect(log.getByRole('table')).toBeVisible();
    await expect(log.getByRole('columnheader', { name: 'Action', exact: true })).toBeVisible();
    await context.close();
  });
});
