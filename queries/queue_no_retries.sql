-- name: queue_no_retries
-- summary: Live requests whose delivery attempts have no retries left (the agent never answered).
-- source: epodc; documented columns only. The attempts with no retries left are found first
--         (few, usually), then their live requests.
-- parameters:
--   now [datetime]  the database's current time
-- columns: Requests, Clients
SELECT
    COUNT(*) AS Requests,
    COUNT(DISTINCT DCWQ.Target) AS Clients
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
WHERE DCWQ.ExpireTime > :now
  AND DCWQ.AutoID IN (
      SELECT DCWQAttempts.ParentID FROM EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts
      WHERE DCWQAttempts.RetriesRemaining <= 0
  )
