-- name: queue_oldest_created
-- summary: When the oldest queued request was created.
-- source: epodc. CreatedOn is not documented for the queue table, so epodc probes for it first.
--         The oldest request is the one with the lowest AutoID (an identity column), which an
--         index finds at once, where MIN(CreatedOn) would read the whole table.
-- parameters: none
-- columns: OldestCreatedOn
-- requires: EPOAgentHandlerDataChannelWQMT.CreatedOn
SELECT DCWQ.CreatedOn AS OldestCreatedOn
FROM EPOAgentHandlerDataChannelWQMT AS DCWQ
WHERE DCWQ.AutoID = (SELECT MIN(Earliest.AutoID) FROM EPOAgentHandlerDataChannelWQMT AS Earliest)
