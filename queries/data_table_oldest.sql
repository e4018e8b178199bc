-- name: data_table_oldest
-- summary: The oldest row of EPODataChannelData.
-- source: epodc. The CreatedOn column is known only from the index IX_EPODataChannelData_CreatedOn,
--         so epodc probes for it first.
-- parameters: none
-- columns: OldestCreatedOn
-- requires: EPODataChannelData.CreatedOn
SELECT MIN(CreatedOn) AS OldestCreatedOn
FROM EPODataChannelData
