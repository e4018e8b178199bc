-- name: client_requests
-- summary: Every queued DC request of one managed system, with its delivery attempts if any.
-- source: epodc. Like kb_client_handler, but with outer joins: a request no Agent Handler has
--         attempted yet is missing from the KB's query, and that absence is itself a clue.
-- parameters:
--   node_id [int]  the system's EPOLeafNode.AutoID (one row of a name that several systems share)
-- columns: RequestID, DCRequest, RetryDelaySeconds, DCExpireTime, HandlerID, HandlerName,
--          HandlerIP, DCLastAttemptTime, RetriesRemaining
SELECT
    DCWQ.AutoID AS RequestID,
    DCWQ.Source AS DCRequest,
    DCWQ.RetryDelay AS RetryDelaySeconds,
    DCWQ.ExpireTime AS DCExpireTime,
    DCWQAttempts.AgentHandlerId AS HandlerID,
    AH.ComputerName AS HandlerName,
    AH.LastKnownTCPIP AS HandlerIP,
    DCWQAttempts.LastDeliveryAttempt AS DCLastAttemptTime,
    DCWQAttempts.RetriesRemaining AS RetriesRemaining
FROM EPOLeafNode AS ELN
JOIN EPOAgentHandlerDataChannelWQMT AS DCWQ ON DCWQ.Target = ELN.AutoID
LEFT JOIN EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts ON DCWQAttempts.ParentID = DCWQ.AutoID
LEFT JOIN EPORegisteredApacheServers AS AH ON AH.AutoID = DCWQAttempts.AgentHandlerId
WHERE ELN.AutoID = :node_id
ORDER BY DCWQ.AutoID, DCWQAttempts.LastDeliveryAttempt
