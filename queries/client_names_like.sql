-- name: client_names_like
-- summary: System names that start like a name that was not found (for "did you mean ...?").
-- source: epodc; EPOLeafNode.NodeName, documented by KB87143.
-- parameters:
--   name_prefix [text]  the first characters of the name, with LIKE's wildcards escaped, then %
-- columns: ClientName
SELECT ELN.NodeName AS ClientName
FROM EPOLeafNode AS ELN
WHERE ELN.NodeName LIKE :name_prefix ESCAPE '\'
