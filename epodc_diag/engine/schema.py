"""The ePO objects the data channel touches, as SQLAlchemy Core tables.

Table, column and index names are those DOMAIN.md lists as documented (KB87143, and index names
from a public SQL Server maintenance script). Columns marked *extra* exist so the reference
engine can model the data channel; no diagnostic may depend on them without probing first.
Times are stored in UTC, without a zone, as ePO's `datetime` columns are.

Text columns that ePO compares by name use `COLLATE NOCASE`, because SQL Server's default
collation compares case-insensitively and a simulated site must behave the same.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from epodc_diag.db.documented import DOCUMENTED

__all__ = ["DOCUMENTED", "VIEWS", "metadata", "sqlite_ddl"]

metadata = MetaData()

NOCASE = "NOCASE"

leaf_node = Table(
    "EPOLeafNode",
    metadata,
    Column("AutoID", Integer, nullable=False),
    Column("NodeName", String(255, collation=NOCASE), nullable=False),
    Column("AgentGUID", String(40, collation=NOCASE)),
    # extra (seen in public scripts, not documented by the KB):
    Column("Managed", Boolean, nullable=False, default=True),
    Column("LastUpdate", DateTime),
    Column("AgentVersion", String(50)),
    Column("IPAddress", String(64)),  # extra: the agent's address, for wake-up calls
    PrimaryKeyConstraint("AutoID", name="PK_EPOLeafNode"),
)
Index("IX_EPOLeafNode_NodeName", leaf_node.c.NodeName)
Index("IX_EPOLeafNode_AgentGUID", leaf_node.c.AgentGUID)

data_channel_wq = Table(
    "EPOAgentHandlerDataChannelWQMT",
    metadata,
    Column("AutoID", Integer, nullable=False),
    Column("TenantId", Integer, nullable=False, default=1),  # extra: ePO's MT tables carry it
    Column("Source", String(255), nullable=False),
    Column("Target", Integer, nullable=False),
    Column("DataID", Integer),  # extra: -> EPODataChannelData.AutoID
    Column("BatchUid", String(40)),  # extra: requests queued together share it
    Column("RetryDelay", Integer, nullable=False),
    Column("ExpireTime", DateTime, nullable=False),
    Column("CreatedOn", DateTime),  # extra
    Column("MaxRetries", Integer),  # extra
    Column("ResponseName", String(255)),  # extra: the MsgResponse-<name> the agent gets
    Column(
        "Status", Integer, nullable=False, default=0
    ),  # extra: 0 queued, 1 sent, 2 done, 3 failed
    Column("CompletedOn", DateTime),  # extra
    PrimaryKeyConstraint("AutoID", name="PK_EPOAgentHandlerDataChannelWQ"),
)
Index("IX_EPOAgentHandlerDataChannelWQ_BatchUid", data_channel_wq.c.BatchUid)
Index("IX_EPOAgentHandlerDataChannelWQ_Target", data_channel_wq.c.Target)
Index("IX_EPOAgentHandlerDataChannelWQ_DataID", data_channel_wq.c.DataID)
Index("IX_EPOAgentHandlerDataChannelWQ_GetWork", data_channel_wq.c.Status, data_channel_wq.c.AutoID)
Index(
    "IX_EPOAgentHandlerDataChannelWQ_GetWorkAlt",
    data_channel_wq.c.TenantId,
    data_channel_wq.c.Status,
    data_channel_wq.c.AutoID,
)
Index("IX_EPOAgentHandlerDataChannelWQ_GetCleanupList", data_channel_wq.c.ExpireTime)
Index(
    "IX_EPOAgentHandlerDataChannelWQ_GetCleanupListAlt",
    data_channel_wq.c.Status,
    data_channel_wq.c.ExpireTime,
)
Index("IX_EPOAgentHandlerDataChannelWQ_Source", data_channel_wq.c.Source)

data_channel_wq_attempts = Table(
    "EPOAgentHandlerDataChannelWQAttemptsMT",
    metadata,
    Column("AutoID", Integer, nullable=False),
    Column("TenantId", Integer, nullable=False, default=1),  # extra
    Column("ParentID", Integer, nullable=False),
    Column("AgentHandlerId", Integer, nullable=False),
    Column("LastDeliveryAttempt", DateTime),
    Column("RetriesRemaining", Integer, nullable=False),
    PrimaryKeyConstraint("AutoID", name="PK_EPOAgentHandlerDataChannelWQAttempts"),
)
Index("IX_EPOAgentHandlerDataChannelWQAttempts_ParentID", data_channel_wq_attempts.c.ParentID)
Index(
    "UIX_EPOAgentHandlerDataChannelWQAttempts",
    data_channel_wq_attempts.c.ParentID,
    data_channel_wq_attempts.c.AgentHandlerId,
    unique=True,
)
Index(
    "IX_EPOAgentHandlerDataChannelWQAttempts_GetCleanupList",
    data_channel_wq_attempts.c.LastDeliveryAttempt,
)
# Only the index names are public, not their columns. ReleaseWork (a handler giving back the work
# it claimed) is keyed on the handler here and carries what a handler's attempts are judged by,
# so per-handler questions are answered from the index alone.
Index(
    "IX_EPOAgentHandlerDataChannelWQAttempts_ReleaseWork",
    data_channel_wq_attempts.c.AgentHandlerId,
    data_channel_wq_attempts.c.RetriesRemaining,
    data_channel_wq_attempts.c.LastDeliveryAttempt,
    data_channel_wq_attempts.c.ParentID,
)

registered_apache_servers = Table(
    "EPORegisteredApacheServers",
    metadata,
    Column("AutoID", Integer, nullable=False),
    Column("ComputerName", String(255, collation=NOCASE), nullable=False),
    Column("LastKnownTCPIP", String(64)),
    Column("DNSName", String(255, collation=NOCASE)),  # extra
    Column("LastUpdate", DateTime),  # extra: the handler's last check-in
    Column("Enabled", Boolean, nullable=False, default=True),  # extra
    PrimaryKeyConstraint("AutoID", name="PK_EPORegisteredApacheServers"),
)

orion_task_queue = Table(
    "OrionTaskQueueMT",
    metadata,
    Column("AutoID", Integer, nullable=False),
    Column("TenantId", Integer, nullable=False, default=1),  # extra
    Column("TaskDescription", String(255), nullable=False),
    Column("RunTime", DateTime),
    Column("TaskClass", String(255)),  # extra
    PrimaryKeyConstraint("AutoID", name="PK_OrionTaskQueue"),
)

data_channel_data = Table(
    "EPODataChannelData",
    metadata,
    Column("AutoID", Integer, nullable=False),
    Column("Data", LargeBinary),
    Column("Encrypted", Boolean, nullable=False, default=False),
    Column("CreatedOn", DateTime),
    PrimaryKeyConstraint("AutoID", name="PK_EPODataChannelData"),
)
Index("IX_EPODataChannelData_CreatedOn", data_channel_data.c.CreatedOn)

server_info = Table(
    "EPOServerInfo",
    metadata,
    Column("ComputerName", String(255, collation=NOCASE), nullable=False),
    Column("DNSName", String(255, collation=NOCASE)),  # extra
    Column("IPAddress", String(64)),  # extra
    Column("ServerVersion", String(50)),  # extra
)

# The server task log. Its columns are not public (DOMAIN.md): these are plausible ones for the
# reference engine, and no diagnostic reads them by name (epodc_diag.db.tasklog probes them).
task_log = Table(
    "OrionSchedulerTaskLog",
    metadata,
    Column("Id", Integer, nullable=False),
    Column("TaskName", String(255)),
    Column("StartDate", DateTime),
    Column("EndDate", DateTime),
    Column("Status", String(50)),
    Column("Message", String(1000)),
    Column("UserName", String(255)),
    PrimaryKeyConstraint("Id", name="PK_OrionSchedulerTaskLog"),
)

task_log_detail = Table(
    "OrionSchedulerTaskLogDetail",
    metadata,
    Column("Id", Integer, nullable=False),
    Column("TaskLogId", Integer, nullable=False),
    Column("LogDate", DateTime),
    Column("Severity", Integer),
    Column("Message", String(1000)),
    PrimaryKeyConstraint("Id", name="PK_OrionSchedulerTaskLogDetail"),
)
Index("IX_OrionSchedulerTaskLogDetail_TaskLogId", task_log_detail.c.TaskLogId)

# In ePO the non-MT names are views over the multi-tenant tables; the KB's count query reads one.
VIEWS: dict[str, str] = {
    "EPOAgentHandlerDataChannelWQ": "EPOAgentHandlerDataChannelWQMT",
    "EPOAgentHandlerDataChannelWQAttempts": "EPOAgentHandlerDataChannelWQAttemptsMT",
    "OrionTaskQueue": "OrionTaskQueueMT",
}


def sqlite_ddl() -> tuple[list[str], list[str]]:
    """The CREATE statements for SQLite: tables and views, then indexes (which a bulk load may
    create after the rows)."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite_dialect.dialect()
    objects = [str(CreateTable(table).compile(dialect=dialect)) for table in metadata.sorted_tables]
    objects += [f'CREATE VIEW "{view}" AS SELECT * FROM "{table}"' for view, table in VIEWS.items()]
    indexes = [
        str(CreateIndex(index).compile(dialect=dialect))
        for table in metadata.sorted_tables
        for index in sorted(table.indexes, key=lambda i: str(i.name))
    ]
    return objects, indexes
