-- name: client_node_ip
-- summary: The IP address a managed system's agent last reported (the one wake-up calls go to).
-- source: epodc. IPAddress is not documented for EPOLeafNode, so epodc probes for it first.
-- parameters:
--   node_id [int]  the system's EPOLeafNode.AutoID
-- columns: IPAddress
-- requires: EPOLeafNode.IPAddress
SELECT ELN.IPAddress AS IPAddress
FROM EPOLeafNode AS ELN
WHERE ELN.AutoID = :node_id
