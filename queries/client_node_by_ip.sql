-- name: client_node_by_ip
-- summary: The managed systems whose agent last reported this IP address.
-- source: epodc. IPAddress is not documented for EPOLeafNode, so epodc probes for it first.
-- parameters:
--   ip_address [text]  the address as the agent reports it (10.0.0.5)
-- columns: NodeID, ClientName, AgentGUID
-- requires: EPOLeafNode.IPAddress
SELECT
    ELN.AutoID AS NodeID,
    ELN.NodeName AS ClientName,
    ELN.AgentGUID AS AgentGUID
FROM EPOLeafNode AS ELN
WHERE ELN.IPAddress = :ip_address
ORDER BY ELN.AutoID
