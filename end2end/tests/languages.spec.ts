import { expect, test } from '@playwright/test';
import { latestCode, outbox, settle } from './helpers';
import { apiCall } from './change_flow';

// English and Simplified Chinese (issue 14, item 1), as a Chinese-speaking owner meets them: the
// switcher on the sign-in page turns the console to 中文 at once, and the whole change of the
// number (sign-in, identity step, new number, its code) runs in Chinese; the notice comes in
// Chinese with its undo link. The switch back to English is remembered as well.
//
// Legacy Shop 2 is used by no other spec file (its logon email and its new number are its own),
// so its language setting cannot leak into another test.

const OWNER = { email: 'legacy2@shop.example', password: 'Demo-pass-123' };
const NEW = { national: '13712340066', e164: '+8613712340066', masked: '+86 137****0066' };

test('a Chinese-speaking owner switches to 中文 and changes the number end to end', async ({ page, request }) => {
  await page.goto('/login');
  await settle(page);
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.getByRole('button', { name: '中文', exact: true }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(page.getByRole('heading', { name: '登录' })).toBeVisible();
  await settle(page);

  await page.getByLabel('账号', { exact: true }).fill(OWNER.email);
  await page.getByLabel('密码', { exact: true }).fill(OWNER.password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await expect(page).toHaveURL(/\/overview/);
  await expect(page.getByRole('heading', { name: '概览' })).toBeVisible();

  await page.goto('/security');
  await settle(page);
  await expect(page.getByRole('heading', { name: '安全设置' })).toBeVisible();
  const row = page.locator('.setting-row').filter({ hasText: '手机号码' });
  await row.getByRole('button', { name: '修改', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: '修改手机号码' });
  await expect(dialog).toBeVisible();

  // Identity step by the logon email.
  await dialog.getByRole('radio', { name: '登录邮箱', exact: true }).check();
  let since = new Date();
  const [identitySent] = await Promise.all([
    page.waitForResponse(apiCall('send_identity_code')),
    dialog.getByRole('button', { name: '获取验证码', exact: true }).click(),
  ]);
  expect(identitySent.ok()).toBeTruthy();
  const identityCode = await latestCode(request, OWNER.email, { since });
  await dialog.getByLabel('验证码', { exact: true }).fill(identityCode);
  await dialog.getByRole('button', { name: '下一步', exact: true }).click();

  // The new number, its code, OK.
  const field = dialog.getByLabel('新手机号码', { exact: true });
  await expect(field).toBeVisible();
  await expect(dialog.getByText(/^身份已验证。请在 1[45]:\d\d 内完成修改。$/)).toBeVisible();
  await Promise.all([page.waitForResponse(apiCall('check_new_phone')), field.fill(NEW.national)]);
  await expect(dialog.getByText(`将绑定为 ${NEW.masked}`)).toBeVisible();
  since = new Date();
  await dialog.getByRole('button', { name: '获取验证码', exact: true }).click();
  await expect(dialog.getByRole('button', { name: /^重新发送（(60|5\d) 秒）$/ })).toBeDisabled();
  const code = await latestCode(request, NEW.e164, { since });
  const sms = (await outbox(request, NEW.e164))[0];
  expect(sms.body).toContain('您的验证码为');
  await dialog.getByLabel('验证码', { exact: true }).fill(code);
  await dialog.getByRole('button', { name: '确定', exact: true }).click();
  await expect(dialog.getByRole('status')).toHaveText('修改成功');
  await expect(dialog).toContainText(`您的手机号码现为 ${NEW.masked}`);

  // The notice to the logon email is in Chinese, and carries the undo link.
  await expect
    .poll(async () => (await outbox(request, OWNER.email)).find((m) => m.body.includes('/undo/'))?.body ?? '')
    .toContain('的手机号码已变更为');

  // Back to English: the header's switcher, remembered on the account.
  await page.getByRole('button', { name: 'English', exact: true }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { name: 'Security Settings' })).toBeVisible();
});
