# The platform operator's appeal queue.

queue-empty = No appeal is waiting for a decision.
queue-open = { $n } open, oldest first.
queue-current-number = Current number
queue-number-asked = Number asked for
queue-history = History
queue-step = { $at }: { $what } by { $by }
queue-approved = Approved: the number is bound, every session of the account was signed out and the filer was told.
queue-rejected = Rejected: the filer was told the reason.
queue-asked = Information requested: the appeal returns to the queue when the filer answers.
queue-message-label = Message to the filer
queue-ask = Ask for more information
queue-reject-reason = Reason for rejection
queue-reject = Reject
queue-approve = Approve
