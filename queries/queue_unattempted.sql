-- name: queue_unattempted
-- summary: Live requests that no Agent Handler has attempted yet.
-- source: epodc; documented columns only. Many of these, or old ones, mean no handler is
--         working the queue.
-- parameters:
--   now [datetime]  the database's current time
-- columns: Requests, EarliestExpireTime
SELECT
    COUNT(*) AS Requests,
    MIN(DCWQ.ExpireTime) AS EarliestExpireTime
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
WHERE DCWQ.ExpireTime > :now
  AND NOT EXISTS (
      SELECT 1 FROM EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts
      WHERE DCWQAttempts.ParentID = DCWQ.AutoID
  )
