-- name: queue_summary
-- summary: Size of the DC work queue and how many requests are past their expire time.
-- source: epodc; documented columns only.
-- parameters:
--   now [datetime]  the database's current time (its own clock)
--   stale_before [datetime]  requests that expired before this should have been removed already
-- columns: Requests, ExpiredQueued, StaleExpiredQueued, EarliestExpireTime
SELECT
    COUNT(*) AS Requests,
    SUM(CASE WHEN DCWQ.ExpireTime <= :now THEN 1 ELSE 0 END) AS ExpiredQueued,
    SUM(CASE WHEN DCWQ.ExpireTime < :stale_before THEN 1 ELSE 0 END) AS StaleExpiredQueued,
    MIN(DCWQ.ExpireTime) AS EarliestExpireTime
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
