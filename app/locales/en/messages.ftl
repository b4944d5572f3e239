# What the console sends: code messages and notices, by SMS and email.

code-subject = Your verification code
code-message = Your Account Center verification code is { $code }, { $purpose }. It is valid for { $minutes } minutes. Never share it with anyone.
code-for-phone-change = to confirm it is you before changing your mobile phone number
code-for-totp-unbind = to confirm it is you before unbinding your authenticator
code-for-totp-bind = to confirm it is you before binding an authenticator
code-for-logon-protection = to confirm it is you before changing logon protection
code-for-new-phone = to bind this mobile phone number to your account
code-for-reset-password = to reset your password
code-for-member-phone = to bind this mobile phone number to a member account of your organization
code-for-appeal-contact = to confirm the contact email of your appeal
code-for-sign-in = to sign in
notice-totp-added-subject = An authenticator was added
notice-totp-added = An authenticator app was added to your Account Center account. Not you? Contact support at once and secure your account.
notice-totp-removed-subject = An authenticator was removed
notice-totp-removed = The authenticator app was removed from your Account Center account. Not you? Contact support at once and secure your account.
notice-logon-subject = Logon protection changed
notice-logon-off = Logon protection was turned off for your Account Center account: signing in needs only the password now. Not you? Change your password at once.
notice-logon-totp = Logon protection was turned on for your Account Center account: signing in now also asks for an authenticator code. Not you? Change your password at once.
notice-logon-sms = Logon protection was turned on for your Account Center account: signing in now also asks for an SMS code to your phone. Not you? Change your password at once.
notice-settings-changed = { $detail }, by { $by } from { $ip }. Not you? { $advice }
notice-access-key-subject = An AccessKey of your account changed
notice-access-key-advice = Sign in and delete the AccessKey at once.
notice-sso-subject = The Enterprise SSO settings of your account changed
notice-sso-advice = Sign in and check Enterprise SSO at once.
notice-recovery-hold = Password recovery by SMS for this account is on hold until { $until }; the logon email still works.
notice-phone-changed-subject = Your mobile phone number was changed
notice-phone-restored-subject = The change of your mobile phone number was undone
notice-owner-changed = Your mobile phone number was changed to { $phone } on your Account Center account { $account }.
notice-not-you-support = Not you? Contact support at once and secure your account.
notice-admin-changed = The mobile phone number of your account { $account } ({ $id }) was changed to { $phone } by { $by }, an administrator of the resource directory { $directory }.
notice-admin-set = The mobile phone number of your account { $account } ({ $id }) was set to { $phone } by { $by }, an administrator of the resource directory { $directory }.
notice-not-expected-admin = Not expected? Contact your directory administrator at once.
notice-appeal-changed = The mobile phone number of your account { $account } was changed to { $phone } by a platform operator, who approved the appeal { $reference }. Every session of the account was signed out.
notice-appeal-question-subject = Your appeal needs more information
notice-appeal-question =
    We need more information to decide your appeal { $reference }: { $message }
    
    Sign in and answer on the appeal's page: { $page }
notice-appeal-rejected-subject = Your appeal was rejected
notice-appeal-rejected =
    Your appeal { $reference } to change the mobile phone number was rejected: { $reason }
    
    The number was not changed. Details: { $page }
notice-appeal-approved-subject = Your appeal was approved
notice-appeal-approved = Your appeal { $reference } was approved: { $phone } is now the mobile phone number of your account { $account }. Every session of the account was signed out. Password recovery by SMS is on hold until { $until }; the logon email still works. Details: { $page }
notice-undo = Not you? Undo this change within { $within }: { $url }
duration-day = 1 day
duration-days = { $n } days
duration-hour = 1 hour
duration-hours = { $n } hours
duration-minute = 1 minute
duration-minutes = { $n } minutes
notice-restored = The change of the mobile phone number of your account { $account } was undone: { $previous } is bound again and { $new } no longer is. Every session of the account was signed out. Reset your password (Forgot password) before you sign in again.
notice-recovery-on-hold-subject = Password recovery by SMS is on hold
notice-recovery-on-hold = Someone asked to reset the password of your Account Center account by SMS. Password recovery by SMS is on hold until { $until } because the mobile phone number was changed by a directory administrator. To reset your password, choose "Logon email" on the Forgot password page. Not you? You can ignore this message.
notice-password-reset-subject = Your password was reset
notice-password-reset-by-sms = The password of your Account Center account was reset with a code sent to your mobile phone, and every session of the account was signed out. Not you? Contact support at once.
notice-password-reset-by-email = The password of your Account Center account was reset with a code sent to your logon email, and every session of the account was signed out. Not you? Contact support at once.
