-- name: data_table_size
-- summary: How many rows EPODataChannelData holds (it grows when the cleanup task stops).
-- source: KB87143, Example 2 ("The EPODataChannelData table is growing large").
-- parameters: none
-- columns: DataRows
SELECT COUNT(*) AS DataRows
FROM EPODataChannelData
