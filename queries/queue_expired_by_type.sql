-- name: queue_expired_by_type
-- summary: Requests still queued long after their expire time, by request type.
-- source: epodc; documented columns only. The cleanup task should have removed every one.
-- parameters:
--   stale_before [datetime]  expired before this (now minus two cleanup periods)
-- columns: DCRequest, ExpiredQueued, EarliestExpireTime
SELECT
    DCWQ.Source AS DCRequest,
    COUNT(*) AS ExpiredQueued,
    MIN(DCWQ.ExpireTime) AS EarliestExpireTime
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
WHERE DCWQ.ExpireTime < :stale_before
GROUP BY DCWQ.Source
ORDER BY DCWQ.Source
