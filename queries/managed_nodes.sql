-- name: managed_nodes
-- summary: How many systems EPOLeafNode holds (the fleet the queue serves).
-- source: epodc; documented columns only.
-- parameters: none
-- columns: ManagedNodes
SELECT COUNT(*) AS ManagedNodes
FROM EPOLeafNode
