-- name: handler_last_update
-- summary: When each registered Agent Handler last checked in.
-- source: epodc. LastUpdate is not documented for EPORegisteredApacheServers, so epodc probes
--         for it first and does without it when it is missing.
-- parameters: none
-- columns: HandlerID, HandlerName, LastUpdate
-- requires: EPORegisteredApacheServers.LastUpdate
SELECT
    AH.AutoID AS HandlerID,
    AH.ComputerName AS HandlerName,
    AH.LastUpdate AS LastUpdate
FROM EPORegisteredApacheServers AS AH
ORDER BY AH.ComputerName
