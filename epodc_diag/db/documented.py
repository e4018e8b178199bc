"""The ePO objects and columns the support article documents (DOMAIN.md section 3).

Diagnostics rely on these without probing; any other column is probed for first.
"""

from __future__ import annotations

DOCUMENTED: dict[str, tuple[str, ...]] = {
    "EPOLeafNode": ("AutoID", "NodeName", "AgentGUID"),
    "EPOAgentHandlerDataChannelWQMT": ("AutoID", "Source", "Target", "RetryDelay", "ExpireTime"),
    "EPOAgentHandlerDataChannelWQ": ("Source",),
    "EPOAgentHandlerDataChannelWQAttemptsMT": (
        "ParentID",
        "AgentHandlerId",
        "LastDeliveryAttempt",
        "RetriesRemaining",
    ),
    "EPORegisteredApacheServers": ("AutoID", "ComputerName", "LastKnownTCPIP"),
    "OrionTaskQueueMT": ("RunTime", "TaskDescription"),
    "EPODataChannelData": (),
}
