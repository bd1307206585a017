"""The keys Panther's analysis schema allows, per ``AnalysisType`` (as ``pat`` validates them).

A key not listed here is a load error naming the file and the key: a typo must not silently
switch a setting off. Keys TokenTrail does not act on (``Status``, ``CreatedBy``,
``BaseVersion``, ...) are accepted and kept in the rule's metadata.
"""

from __future__ import annotations

# Keys every detection kind (rule, scheduled rule, policy, correlation rule) may carry.
_DETECTION_COMMON = frozenset(
    {
        "AnalysisType",
        "Enabled",
        "Severity",
        "Description",
        "DisplayName",
        "OnlyUseBaseRiskScore",
        "OutputIds",
        "CreatedBy",
        "Reference",
        "Runbook",
        "Status",
        "Tags",
        "Reports",
        "Tests",
        "BaseVersion",
    }
)
_RULE = _DETECTION_COMMON | {
    "RuleID",
    "Filename",
    "Detection",
    "LogTypes",
    "ScheduledQueries",
    "DedupPeriodMinutes",
    "InlineFilters",
    "SummaryAttributes",
    "Threshold",
    "DynamicSeverities",
    "AlertTitle",
    "AlertContext",
    "GroupBy",
    "CreateAlert",
    "BaseDetection",
}
_QUERY = frozenset(
    {
        "AnalysisType",
        "QueryName",
        "Query",
        "AthenaQuery",
        "SnowflakeQuery",
        "DatabricksQuery",
        "Description",
        "Tags",
        "Lookback",
        "LookbackWindowSeconds",
        "BaseVersion",
    }
)

KNOWN_KEYS: dict[str, frozenset[str]] = {
    "rule": _RULE,
    "scheduled_rule": _RULE,
    "policy": _DETECTION_COMMON
    | {
        "PolicyID",
        "Filename",
        "ResourceTypes",
        "ActionDelaySeconds",
        "AutoRemediationID",
        "AutoRemediationParameters",
        "Suppressions",
    },
    "correlation_rule": _DETECTION_COMMON | {"RuleID", "Detection", "SummaryAttributes", "CreateAlert"},
    "datamodel": frozenset(
        {
            "AnalysisType",
            "DataModelID",
            "DisplayName",
            "Enabled",
            "Filename",
            "LogTypes",
            "Mappings",
            "BaseVersion",
            "Description",  # not in pat's schema; TokenTrail's bundled models describe themselves
        }
    ),
    "global": frozenset({"AnalysisType", "GlobalID", "Filename", "Description", "Tags", "BaseVersion"}),
    "pack": frozenset({"AnalysisType", "PackID", "PackDefinition", "Description", "DisplayName"}),
    "saved_query": _QUERY,
    "scheduled_query": _QUERY | {"Enabled", "Schedule", "EmailConfig"},
    "scheduled_prompt": frozenset(
        {
            "AnalysisType",
            "PromptName",
            "DisplayName",
            "PromptText",
            "RunAsUser",
            "Schedule",
            "Description",
            "OutputLength",
            "Enabled",
            "Private",
        }
    ),
    "lookup_table": frozenset(
        {
            "AnalysisType",
            "LookupName",
            "Enabled",
            "Filename",
            "Refresh",
            "Schema",
            "LogTypeMap",
            "Description",
            "Reference",
            "BaseVersion",
            "Query",
            "AthenaQuery",
            "SnowflakeQuery",
            "DatabricksQuery",
            "Indicators",
            "Validations",
        }
    ),
}

# Keys of one entry of ``Tests``, per kind of test.
TEST_KEYS: dict[str, frozenset[str]] = {
    "rule": frozenset({"Name", "ExpectedResult", "Log", "Mocks", "LogType", "ExpectedDestinations"}),
    "policy": frozenset({"Name", "ExpectedResult", "Resource", "Mocks", "ResourceType"}),
    "correlation_rule": frozenset({"Name", "ExpectedResult", "RuleOutputs"}),
}
MOCK_KEYS = frozenset({"objectName", "returnValue"})
