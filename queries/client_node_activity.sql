-- name: client_node_activity
-- summary: A managed system's last agent-server communication and agent version.
-- source: epodc. LastUpdate and AgentVersion are not documented by the KB, so epodc probes first.
-- parameters:
--   node_id [int]  the system's EPOLeafNode.AutoID
-- columns: LastUpdate, AgentVersion
-- requires: EPOLeafNode.LastUpdate, EPOLeafNode.AgentVersion
SELECT
    ELN.LastUpdate AS LastUpdate,
    ELN.AgentVersion AS AgentVersion
FROM EPOLeafNode AS ELN
WHERE ELN.AutoID = :node_id
