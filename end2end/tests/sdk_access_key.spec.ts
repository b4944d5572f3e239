import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { settle, signIn } from './helpers';

// Issue 13, tried as a new user would: Acme's owner creates an AccessKey for its RAM user
// rd-admin@acme on the RAM users page, and a Python script using the official Alibaba Cloud SDK
// for ResourceDirectoryMaster 2022-04-19 (unmodified, from PyPI) binds a member's number with it.
// Runs after directory.spec.ts, which only sees refusals on acme-dev-sandbox; this binds it.

const ROOT = resolve(__dirname, '..', '..');
const VENV = process.env.SDK_VENV || join(homedir(), '.cache', 'phone-console', 'sdk-venv');
const MEMBER = '2000000000000006'; // acme-dev-sandbox: resource account, CN, no number
const NUMBER = '86-13456789061';

const SCRIPT = `
import json, os, urllib.parse, urllib.request
from alibabacloud_resourcedirectorymaster20220419 import models
from alibabacloud_resourcedirectorymaster20220419.client import Client
from alibabacloud_tea_openapi import utils_models

endpoint = os.environ["SDK_ENDPOINT"]
member, number = os.environ["MEMBER"], os.environ["NUMBER"]
sdk = Client(utils_models.Config(access_key_id=os.environ["KEY_ID"], access_key_secret=os.environ["KEY_SECRET"],
                                 endpoint=endpoint, protocol="http"))
sdk.send_verification_code_for_bind_secure_mobile_phone(
    models.SendVerificationCodeForBindSecureMobilePhoneRequest(account_id=member, secure_mobile_phone=number))
to = urllib.parse.quote("+" + number.replace("-", ""))
items = json.load(urllib.request.urlopen(f"http://{endpoint}/dev/outbox.json?to={to}"))
code = next(item["code"] for item in items if item.get("code"))
sdk.bind_secure_mobile_phone(
    models.BindSecureMobilePhoneRequest(account_id=member, secure_mobile_phone=number, verification_code=code))
account = sdk.get_account(models.GetAccountRequest(account_id=member)).body.account
print(json.dumps({"has_secure_mobile_phone": account.has_secure_mobile_phone, "type": account.type}))
`;

test('the owner creates an AccessKey for rd-admin@acme and the official SDK binds a member with it', async ({
  page,
  baseURL,
}) => {
  // The SDK's virtual environment, made once by the script the server tests use as well.
  try {
    execFileSync('bash', [join(ROOT, 'scripts', 'sdk-venv.sh')], { stdio: 'pipe', env: { ...process.env, SDK_VENV: VENV } });
  } catch (error) {
    const status = (error as { status?: number }).status;
    test.skip(status === 3, 'SKIPPED: PyPI cannot be reached, so the official SDK cannot be installed');
    throw error;
  }
  expect(existsSync(join(VENV, 'bin', 'python'))).toBeTruthy();

  await signIn(page, 'admin@acme.example');
  await expect(page).toHaveURL(/\/overview(?:[?#]|$)/);
  await page.goto('/ram/users');
  await settle(page);
  const user = page.getByRole('region', { name: 'RAM user rd-admin', exact: true });
  await expect(user).toBeVisible();
  await user.getByRole('button', { name: 'Create AccessKey', exact: true }).click();
  const created = page.getByRole('status').filter({ hasText: 'AccessKey created for rd-admin' });
  await expect(created).toBeVisible();
  const keyId = (await created.locator('code.access-key-id').innerText()).trim();
  const secret = (await created.locator('code.access-key-secret').innerText()).trim();
  expect(keyId).toMatch(/^LTAI[0-9A-Za-z]{16,}$/);
  await created.getByRole('button', { name: 'I have saved it', exact: true }).click();
  // The secret is shown once: after the notice is gone, the page holds only the key's id.
  await expect(page.getByText(secret)).toHaveCount(0);
  await expect(user.getByRole('cell', { name: keyId })).toBeVisible();

  const endpoint = new URL(baseURL!).host;
  const out = execFileSync(join(VENV, 'bin', 'python'), ['-c', SCRIPT], {
    env: { ...process.env, SDK_ENDPOINT: endpoint, KEY_ID: keyId, KEY_SECRET: secret, MEMBER, NUMBER },
    encoding: 'utf8',
  });
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ has_secure_mobile_phone: true, type: 'ResourceAccount' });

  // The console shows the binding the SDK made, and when the key was last used.
  await page.goto(`/resource-directory/members/${MEMBER}`);
  await expect(page.getByText('+86 134****9061', { exact: true })).toBeVisible();
  await page.goto('/ram/users');
  await expect(user.getByRole('row').filter({ hasText: keyId })).not.toContainText('Never');
});
