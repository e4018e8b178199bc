-- name: client_node_by_guid
-- summary: The managed system with this agent GUID (as masvc logs and the ePO console show it).
-- source: epodc; EPOLeafNode columns documented by KB87143.
-- parameters:
--   agent_guid [text]  the GUID with braces, {XXXXXXXX-...}
--   agent_guid_bare [text]  the same GUID without braces (some databases store it so)
-- columns: NodeID, ClientName, AgentGUID
SELECT
    ELN.AutoID AS NodeID,
    ELN.NodeName AS ClientName,
    ELN.AgentGUID AS AgentGUID
FROM EPOLeafNode AS ELN
WHERE ELN.AgentGUID = :agent_guid /*nocase*/ OR ELN.AgentGUID = :agent_guid_bare /*nocase*/
ORDER BY ELN.AutoID
