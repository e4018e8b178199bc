-- name: kb_cleanup_next_run
-- summary: When the dbcleanup task that empties the data-channel queue is next due (KB87143).
-- source: KB87143, Example 2: "This query gives you the next queued time of the dbcleanup task".
-- parameters: none
-- columns: RunTime
SELECT RunTime
FROM OrionTaskQueueMT
WHERE TaskDescription LIKE '%dbclean%'
