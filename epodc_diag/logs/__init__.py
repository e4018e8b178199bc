"""Log evidence: Agent Handler, Tomcat and agent logs, scanned for the known signatures."""
