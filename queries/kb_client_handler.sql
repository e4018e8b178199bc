-- name: kb_client_handler
-- summary: Which Agent Handler is working the data-channel requests of one client (KB87143).
-- source: KB87143, "To display what Agent Handler is processing a data channel request for a
--         particular client". The client name is bound, never pasted into the text.
-- parameters:
--   client_name [text]  the system's NodeName (compared case-insensitively, as SQL Server does)
-- columns: ClientName, AgentGUID, HandlerName, HandlerIP, DCRequest, DCLastAttemptTime,
--          RetryDelaySeconds, RetriesRemaining, DCExpireTime
SELECT
    ELN.NodeName AS ClientName,
    ELN.AgentGUID AS AgentGUID,
    AH.ComputerName AS HandlerName,
    AH.LastKnownTCPIP AS HandlerIP,
    DCWQ.Source AS DCRequest,
    DCWQAttempts.LastDeliveryAttempt AS DCLastAttemptTime,
    DCWQ.RetryDelay AS RetryDelaySeconds,
    DCWQAttempts.RetriesRemaining AS RetriesRemaining,
    DCWQ.ExpireTime AS DCExpireTime
FROM EPOLeafNode AS ELN
JOIN EPOAgentHandlerDataChannelWQMT AS DCWQ ON DCWQ.Target = ELN.AutoID
JOIN EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts ON DCWQAttempts.ParentID = DCWQ.AutoID
JOIN EPORegisteredApacheServers AS AH ON AH.AutoID = DCWQAttempts.AgentHandlerId
WHERE ELN.NodeName = :client_name /*nocase*/
