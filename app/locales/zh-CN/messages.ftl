# 控制台发送的内容：验证码消息和通知（短信和邮件）。

code-subject = 您的验证码
code-message = 【账号中心】您的验证码为 { $code }，用于{ $purpose }。{ $minutes } 分钟内有效。请勿告诉任何人。
code-for-phone-change = 修改手机号码前验证身份
code-for-totp-unbind = 解绑身份验证器前验证身份
code-for-totp-bind = 绑定身份验证器前验证身份
code-for-logon-protection = 更改登录保护前验证身份
code-for-new-phone = 将此手机号码绑定到您的账号
code-for-reset-password = 重置密码
code-for-member-phone = 将此手机号码绑定到您组织的成员账号
code-for-appeal-contact = 确认申诉的联系邮箱
code-for-sign-in = 登录
notice-totp-added-subject = 已添加身份验证器
notice-totp-added = 您的账号中心账号已添加一个身份验证器应用。不是您本人操作？请立即联系客服并保护您的账号。
notice-totp-removed-subject = 已移除身份验证器
notice-totp-removed = 您的账号中心账号已移除身份验证器应用。不是您本人操作？请立即联系客服并保护您的账号。
notice-logon-subject = 登录保护已更改
notice-logon-off = 您的账号中心账号已关闭登录保护：现在登录只需要密码。不是您本人操作？请立即修改密码。
notice-logon-totp = 您的账号中心账号已开启登录保护：现在登录还需要身份验证器验证码。不是您本人操作？请立即修改密码。
notice-logon-sms = 您的账号中心账号已开启登录保护：现在登录还需要发送到您手机的短信验证码。不是您本人操作？请立即修改密码。
notice-settings-changed = { $detail }，操作人 { $by }，来自 { $ip }。不是您本人操作？{ $advice }
notice-access-key-subject = 您账号的 AccessKey 已变更
notice-access-key-advice = 请立即登录并删除该 AccessKey。
notice-sso-subject = 您账号的企业 SSO 设置已变更
notice-sso-advice = 请立即登录并检查企业 SSO 设置。
notice-recovery-hold = 该账号的短信找回密码功能暂停至 { $until }；登录邮箱仍可使用。
notice-phone-changed-subject = 您的手机号码已变更
notice-phone-restored-subject = 您的手机号码变更已撤销
notice-owner-changed = 您的账号中心账号 { $account } 的手机号码已变更为 { $phone }。
notice-not-you-support = 不是您本人操作？请立即联系客服并保护您的账号。
notice-admin-changed = 您的账号 { $account }（{ $id }）的手机号码已由资源目录 { $directory } 的管理员 { $by } 变更为 { $phone }。
notice-admin-set = 您的账号 { $account }（{ $id }）的手机号码已由资源目录 { $directory } 的管理员 { $by } 设置为 { $phone }。
notice-not-expected-admin = 并非预期？请立即联系您的资源目录管理员。
notice-appeal-changed = 平台运营人员批准了申诉 { $reference }，您的账号 { $account } 的手机号码已变更为 { $phone }。该账号的所有会话均已退出。
notice-appeal-question-subject = 您的申诉需要补充信息
notice-appeal-question =
    我们需要更多信息来处理您的申诉 { $reference }：{ $message }
    
    请登录并在申诉页面答复：{ $page }
notice-appeal-rejected-subject = 您的申诉已被驳回
notice-appeal-rejected =
    您修改手机号码的申诉 { $reference } 已被驳回：{ $reason }
    
    号码未作更改。详情：{ $page }
notice-appeal-approved-subject = 您的申诉已获批准
notice-appeal-approved = 您的申诉 { $reference } 已获批准：{ $phone } 现为您的账号 { $account } 的手机号码。该账号的所有会话均已退出。短信找回密码功能暂停至 { $until }；登录邮箱仍可使用。详情：{ $page }
notice-undo = 不是您本人操作？请在 { $within }内撤销此变更：{ $url }
duration-day = 1 天
duration-days = { $n } 天
duration-hour = 1 小时
duration-hours = { $n } 小时
duration-minute = 1 分钟
duration-minutes = { $n } 分钟
notice-restored = 您的账号 { $account } 的手机号码变更已撤销：已重新绑定 { $previous }，{ $new } 不再绑定。该账号的所有会话均已退出。再次登录前请先重置密码（忘记密码）。
notice-recovery-on-hold-subject = 短信找回密码功能已暂停
notice-recovery-on-hold = 有人请求通过短信重置您的账号中心账号密码。由于手机号码是由资源目录管理员变更的，短信找回密码功能暂停至 { $until }。如需重置密码，请在“忘记密码”页面选择“登录邮箱”。不是您本人操作？请忽略此消息。
notice-password-reset-subject = 您的密码已重置
notice-password-reset-by-sms = 您的账号中心账号密码已通过发送到手机的验证码重置，该账号的所有会话均已退出。不是您本人操作？请立即联系客服。
notice-password-reset-by-email = 您的账号中心账号密码已通过发送到登录邮箱的验证码重置，该账号的所有会话均已退出。不是您本人操作？请立即联系客服。
