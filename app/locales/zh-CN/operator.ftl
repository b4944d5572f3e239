# 平台运营人员的申诉队列。

queue-empty = 没有待处理的申诉。
queue-open = 共 { $n } 个待处理，最早的在前。
queue-current-number = 当前号码
queue-number-asked = 申请绑定的号码
queue-history = 处理记录
queue-step = { $at }：{ $by } {"·"} { $what }
queue-approved = 已批准：号码已绑定，该账号的所有会话均已退出，并已通知申诉人。
queue-rejected = 已驳回：已将原因告知申诉人。
queue-asked = 已请求补充信息：申诉人答复后，申诉将回到队列。
queue-message-label = 给申诉人的消息
queue-ask = 请求补充信息
queue-reject-reason = 驳回原因
queue-reject = 驳回
queue-approve = 批准
