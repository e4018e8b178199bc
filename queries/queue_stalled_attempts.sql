-- name: queue_stalled_attempts
-- summary: Live requests attempted long ago, with retries left, never retried nor completed.
-- source: epodc; documented columns only. A delivered request whose status never reached the
--         application server looks like this (KB87143 Example 1), and so does the work of a
--         handler that stopped.
-- parameters:
--   now [datetime]  the database's current time
--   stalled_before [datetime]  attempted before this (now minus 15 minutes: far longer than any retry delay)
-- columns: Requests, Handlers
SELECT
    COUNT(*) AS Requests,
    COUNT(DISTINCT DCWQAttempts.AgentHandlerId) AS Handlers
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
JOIN EPOAgentHandlerDataChannelWQAttemptsMT AS DCWQAttempts ON DCWQAttempts.ParentID = DCWQ.AutoID
WHERE DCWQ.ExpireTime > :now
  AND DCWQAttempts.RetriesRemaining > 0
  AND DCWQAttempts.LastDeliveryAttempt < :stalled_before
