-- name: kb_request_counts
-- summary: How many data-channel requests of each type are in the queue (KB87143).
-- source: KB87143, "To display a count of all data channel request types in the queue".
-- parameters: none
-- columns: DCRequest, "Number of Occurrences"
SELECT
    Source AS DCRequest,
    COUNT(*) AS "Number of Occurrences"
FROM EPOAgentHandlerDataChannelWQ
GROUP BY Source
ORDER BY Source ASC
