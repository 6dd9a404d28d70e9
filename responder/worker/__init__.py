"""The worker: follows the journal, opens or joins incidents, runs their steps, and releases them.

`worker` follows the journal; `dispatch` and `joining` decide which incident each event opens
or joins, with the containers `lookups` resolves; `runner` runs an incident's `steps` behind the
safety `gates` (which `plan` shares), each action tried by `attempts`; `notify` is what a notify
step queues; `release` undoes a containment; `followup` bundles the outbox, the report writer
and the audit log they share.
"""
