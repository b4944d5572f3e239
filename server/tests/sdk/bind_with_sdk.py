"""Drives the server with the official Alibaba Cloud SDK for ResourceDirectoryMaster 2022-04-19,
unmodified: endpoint 127.0.0.1:<port>, protocol http. Run by server/tests/automation_sdk.rs.

Environment: SDK_ENDPOINT (host:port), SDK_KEY_ID/SDK_KEY_SECRET (rd-admin@acme), SDK_DISABLED_KEY_ID/
SDK_DISABLED_KEY_SECRET (a disabled key), SDK_VIEWER_KEY_ID/SDK_VIEWER_KEY_SECRET (a RAM user
without the directory policy). Prints one line per check; exits non-zero at the first failure.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

from alibabacloud_resourcedirectorymaster20220419 import models
from alibabacloud_resourcedirectorymaster20220419.client import Client
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ClientException

ENDPOINT = os.environ["SDK_ENDPOINT"]
KEY_ID, KEY_SECRET = os.environ["SDK_KEY_ID"], os.environ["SDK_KEY_SECRET"]

US_MEMBER = "2000000000000008"  # resource account, US, no number
CN_MEMBER = "2000000000000006"  # resource account, CN, no number
LIMITED_MEMBER = "2000000000000007"  # resource account, CN, no number
BOUND_MEMBER = "2000000000000001"  # resource account with a number
CLOUD_MEMBER = "2000000000000009"  # cloud account
NUMBER = "1-2025550147"


def client(key_id=KEY_ID, secret=KEY_SECRET, signature_algorithm=None):
    config = utils_models.Config(
        access_key_id=key_id,
        access_key_secret=secret,
        endpoint=ENDPOINT,
        protocol="http",
    )
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    return Client(config)


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name} {detail}", flush=True)
        sys.exit(1)
    print(f"PASS {name}", flush=True)


def refused(name, call, code, status):
    try:
        call()
    except AlibabaCloudException as error:
        check(
            f"{name} -> {status} {code}",
            isinstance(error, ClientException) and error.code == code and error.status_code == status,
            f"got {type(error).__name__} {error.status_code} {error.code}: {error.message}",
        )
        return error
    check(f"{name} -> {status} {code}", False, "the call succeeded")


def latest_code(number):
    e164 = "+" + number.replace("-", "")
    url = f"http://{ENDPOINT}/dev/outbox.json?to={urllib.parse.quote(e164)}"
    items = json.load(urllib.request.urlopen(url))
    return next(item["code"] for item in items if item.get("code"))


def flow(sdk, style):
    sent = sdk.send_verification_code_for_bind_secure_mobile_phone(
        models.SendVerificationCodeForBindSecureMobilePhoneRequest(account_id=US_MEMBER, secure_mobile_phone=NUMBER)
    )
    check(f"[{style}] a code is sent, with its expiry", bool(sent.body.expiration_date) and bool(sent.body.request_id))
    refused(
        f"[{style}] a wrong code",
        lambda: sdk.bind_secure_mobile_phone(
            models.BindSecureMobilePhoneRequest(account_id=US_MEMBER, secure_mobile_phone=NUMBER, verification_code="000000")
        ),
        "Invalid.VerificationCode",
        409,
    )
    code = latest_code(NUMBER)
    bound = sdk.bind_secure_mobile_phone(
        models.BindSecureMobilePhoneRequest(account_id=US_MEMBER, secure_mobile_phone=NUMBER, verification_code=code)
    )
    check(f"[{style}] the member is bound with the code from the outbox", bool(bound.body.request_id))
    account = sdk.get_account(models.GetAccountRequest(account_id=US_MEMBER)).body.account
    check(
        f"[{style}] GetAccount shows the number is bound, not which",
        account.has_secure_mobile_phone is True
        and account.type == "ResourceAccount"
        and account.join_method == "created"
        and account.status == "CreateSuccess"
        and "2025550147" not in json.dumps(account.to_map()),
        json.dumps(account.to_map()),
    )


def errors(sdk):
    send = sdk.send_verification_code_for_bind_secure_mobile_phone
    Send = models.SendVerificationCodeForBindSecureMobilePhoneRequest
    refused("a member that already has a number", lambda: send(Send(account_id=BOUND_MEMBER, secure_mobile_phone=NUMBER)), "AccountSecureMobileAlreadyExists", 409)
    refused("a cloud account", lambda: send(Send(account_id=CLOUD_MEMBER, secure_mobile_phone=NUMBER)), "AccountTypeMismatch", 409)
    refused("a number of another country", lambda: send(Send(account_id=CN_MEMBER, secure_mobile_phone=NUMBER)), "InvalidParameter.MobileCountryCode", 409)
    refused("an unknown member", lambda: send(Send(account_id="2999999999999999", secure_mobile_phone=NUMBER)), "EntityNotExists.Account", 404)
    refused("no AccountId", lambda: send(Send(secure_mobile_phone=NUMBER)), "MissingParameter.AccountId", 400)
    refused("no AccountId for GetAccount", lambda: sdk.get_account(models.GetAccountRequest()), "MissingParameter.AccountId", 400)
    for n in range(2):
        send(Send(account_id=LIMITED_MEMBER, secure_mobile_phone=f"86-1581234560{n}"))
    refused("past the member's daily cap of codes", lambda: send(Send(account_id=LIMITED_MEMBER, secure_mobile_phone="86-15812345609")), "SendValidateCodeExceedsLimitForAccount", 409)

    page = sdk.list_accounts(models.ListAccountsRequest(page_number=1, page_size=3)).body
    check("ListAccounts pages", page.page_number == 1 and page.page_size == 3 and len(page.accounts.account) == 3 and page.total_count >= 10, json.dumps(page.to_map()))
    found = sdk.list_accounts(models.ListAccountsRequest(query_keyword="sandbox")).body
    check("ListAccounts searches with QueryKeyword", [a.account_id for a in found.accounts.account] == [CN_MEMBER], json.dumps(found.to_map()))


def rpc_request(params, secret, timestamp=None):
    """An RPC-style request signed here, by hand, as the cloud documents it (HMAC-SHA1, v1.0)."""
    params = dict(params)
    params.update(
        Format="JSON", Version="2022-04-19", AccessKeyId=KEY_ID, SignatureMethod="HMAC-SHA1", SignatureVersion="1.0",
        SignatureNonce=str(uuid.uuid4()),
        Timestamp=(timestamp or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    enc = lambda s: urllib.parse.quote(s, safe="~")
    canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
    to_sign = "GET&%2F&" + enc(canonical)
    params["Signature"] = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    return f"http://{ENDPOINT}/?" + urllib.parse.urlencode(params)


def raw(url):
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def attacks():
    get = {"Action": "GetAccount", "AccountId": US_MEMBER}
    url = rpc_request(get, KEY_SECRET)
    status, body = raw(url)
    check("a hand-signed RPC request passes", status == 200 and body["Account"]["AccountId"] == US_MEMBER, str(body))
    status, body = raw(url)
    check("the same signed request sent again is refused", (status, body.get("Code")) == (400, "SignatureNonceUsed"), str(body))
    check("the refusal has the cloud's error shape", all(k in body for k in ("RequestId", "HostId", "Code", "Message", "Recommend")), str(body))
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=16)
    status, body = raw(rpc_request(get, KEY_SECRET, timestamp=stale))
    check("a timestamp 16 minutes old is refused", (status, body.get("Code")) == (400, "InvalidTimeStamp.Expired"), str(body))

    wrong = client(secret=KEY_SECRET[:-1] + ("x" if KEY_SECRET[-1] != "x" else "y"))
    refused("a wrong secret (ACS3)", lambda: wrong.get_account(models.GetAccountRequest(account_id=US_MEMBER)), "SignatureDoesNotMatch", 400)
    wrong_rpc = client(secret="not-the-secret", signature_algorithm="v2")
    refused("a wrong secret (RPC)", lambda: wrong_rpc.get_account(models.GetAccountRequest(account_id=US_MEMBER)), "SignatureDoesNotMatch", 400)
    disabled = client(os.environ["SDK_DISABLED_KEY_ID"], os.environ["SDK_DISABLED_KEY_SECRET"])
    refused("a disabled key", lambda: disabled.get_account(models.GetAccountRequest(account_id=US_MEMBER)), "InvalidAccessKeyId.Inactive", 400)
    unknown = client("LTAInosuchkey0000000000", KEY_SECRET)
    refused("an unknown key", lambda: unknown.get_account(models.GetAccountRequest(account_id=US_MEMBER)), "InvalidAccessKeyId.NotFound", 404)
    viewer = client(os.environ["SDK_VIEWER_KEY_ID"], os.environ["SDK_VIEWER_KEY_SECRET"])
    refused("a RAM user without the directory policy", lambda: viewer.get_account(models.GetAccountRequest(account_id=US_MEMBER)), "CallerIdentityError", 403)


if __name__ == "__main__":
    style = os.environ.get("SDK_STYLE", "ACS3")
    sdk = client(signature_algorithm="v2" if style == "RPC" else None)
    flow(sdk, style)
    errors(sdk)
    attacks()
    print("ALL PASSED", flush=True)
