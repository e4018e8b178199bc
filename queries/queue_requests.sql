-- name: queue_requests
-- summary: Every queued DC request with its system and delivery attempts (diag clients).
-- source: epodc. client_requests for the whole queue: one row per request and attempt.
-- parameters: none
-- columns: NodeID, ClientName, AgentGUID, RequestID, DCRequest, RetryDelaySeconds, DCExpireTime,
--          HandlerID, HandlerName, HandlerIP, DCLastAttemptTime, RetriesRemaining
SELECT
    ELN.AutoID AS NodeID,
    ELN.NodeName AS ClientName,
    ELN.AgentGUID AS AgentGUID,
    DCWQ.AutoID AS RequestID,
    DCWQ.Source AS DCRequest,
    DCWQ.RetryDelay AS RetryDelaySeconds,
    DCWQ.ExpireTime AS DCExpireTime,
    DCWQAttempts.AgentHandlerId AS HandlerID,
    AH.ComputerName AS HandlerName,
    AH.LastKnownTCPIP AS HandlerIP,
    DCWQAttempts.LastDeliveryAttempt AS DCLastAttemptTime,
    DCWQAttempts.RetriesRemaining AS RetriesRemaining
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
JOIN EPOLeafNode AS ELN ON ELN.AutoID = DCWQ.Target
LEFT JOIN EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts ON DCWQAttempts.ParentID = DCWQ.AutoID
LEFT JOIN EPORegisteredApacheServers AS AH ON AH.AutoID = DCWQAttempts.AgentHandlerId
ORDER BY DCWQ.AutoID, DCWQAttempts.LastDeliveryAttempt
