-- name: handler_load
-- summary: Per Agent Handler: the queued requests it has attempted and its last delivery attempt.
-- source: epodc; documented columns only. The attempts are aggregated once, then joined to the
--         registered handlers, so a handler with no attempts still shows up (with none).
-- parameters: none
-- columns: HandlerID, HandlerName, HandlerIP, Attempts, NoRetriesLeft, LastAttempt
SELECT
    AH.AutoID AS HandlerID,
    AH.ComputerName AS HandlerName,
    AH.LastKnownTCPIP AS HandlerIP,
    COALESCE(HandlerAttempts.Attempts, 0) AS Attempts,
    COALESCE(HandlerAttempts.NoRetriesLeft, 0) AS NoRetriesLeft,
    HandlerAttempts.LastAttempt AS LastAttempt
FROM EPORegisteredApacheServers AS AH
LEFT JOIN (
    SELECT
        DCWQAttempts.AgentHandlerId AS AgentHandlerId,
        COUNT(*) AS Attempts,
        SUM(CASE WHEN DCWQAttempts.RetriesRemaining <= 0 THEN 1 ELSE 0 END) AS NoRetriesLeft,
        MAX(DCWQAttempts.LastDeliveryAttempt) AS LastAttempt
    FROM EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts
    GROUP BY DCWQAttempts.AgentHandlerId
) AS HandlerAttempts ON HandlerAttempts.AgentHandlerId = AH.AutoID
ORDER BY AH.ComputerName
