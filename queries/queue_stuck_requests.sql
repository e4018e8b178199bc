-- name: queue_stuck_requests
-- summary: Queued DC requests that expired but are still queued, or whose attempts have no retries left; newest expiry first, at most 5,000 rows.
-- source: epodc; documented columns only. One row per request and delivery attempt (a request no
--         handler attempted has empty handler columns). TotalRows: the rows before the cap, so a
--         reader knows when the list is cut (ROW_NUMBER and COUNT OVER: SQL Server 2005+, SQLite 3.25+).
-- parameters:
--   now [datetime]  the database's current time
-- columns: RequestID, DCRequest, NodeID, ClientName, AgentGUID, HandlerID, HandlerName, DCExpireTime,
--          DCLastAttemptTime, RetriesRemaining, State, TotalRows
SELECT
    RequestID, DCRequest, NodeID, ClientName, AgentGUID, HandlerID, HandlerName, DCExpireTime,
    DCLastAttemptTime, RetriesRemaining, State, TotalRows
FROM (
    SELECT
        DCWQ.AutoID AS RequestID,
        DCWQ.Source AS DCRequest,
        ELN.AutoID AS NodeID,
        ELN.NodeName AS ClientName,
        ELN.AgentGUID AS AgentGUID,
        DCWQAttempts.AgentHandlerId AS HandlerID,
        AH.ComputerName AS HandlerName,
        DCWQ.ExpireTime AS DCExpireTime,
        DCWQAttempts.LastDeliveryAttempt AS DCLastAttemptTime,
        DCWQAttempts.RetriesRemaining AS RetriesRemaining,
        CASE WHEN DCWQ.ExpireTime <= :now THEN 'expired, still queued'
             ELSE 'no retries left' END AS State,
        COUNT(*) OVER () AS TotalRows,
        ROW_NUMBER() OVER (
            ORDER BY DCWQ.ExpireTime DESC, DCWQ.AutoID DESC, DCWQAttempts.AgentHandlerId
        ) AS RowNumber
    FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
    LEFT JOIN EPOLeafNode AS ELN ON ELN.AutoID = DCWQ.Target
    LEFT JOIN EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts ON DCWQAttempts.ParentID = DCWQ.AutoID
    LEFT JOIN EPORegisteredApacheServers AS AH ON AH.AutoID = DCWQAttempts.AgentHandlerId
    WHERE DCWQ.ExpireTime <= :now
       OR DCWQ.AutoID IN (
           SELECT Exhausted.ParentID FROM EPOAgentHandlerDataChannelWQAttemptsMT AS Exhausted
           WHERE Exhausted.RetriesRemaining <= 0
       )
) AS Stuck
WHERE RowNumber <= 5000
ORDER BY RowNumber
