"""Reading the ePO database: connections, the query catalogue, typed reports."""
