-- name: client_node
-- summary: The managed systems with this name, as EPOLeafNode records them (duplicates included).
-- source: epodc; EPOLeafNode columns documented by KB87143.
-- parameters:
--   client_name [text]  the system's NodeName (compared case-insensitively, as SQL Server does)
-- columns: NodeID, ClientName, AgentGUID
SELECT
    ELN.AutoID AS NodeID,
    ELN.NodeName AS ClientName,
    ELN.AgentGUID AS AgentGUID
FROM EPOLeafNode AS ELN
WHERE ELN.NodeName = :client_name /*nocase*/
ORDER BY ELN.AutoID
