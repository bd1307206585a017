"""Elastic detection rules: TOML files and Kibana exports, with KQL and EQL lowered to the IR."""

from tokentrail.formats.elastic.eql import eql_to_logic, parse_eql
from tokentrail.formats.elastic.format import ElasticFormat
from tokentrail.formats.elastic.kql import kql_to_ir, parse_kql

__all__ = ["ElasticFormat", "eql_to_logic", "kql_to_ir", "parse_eql", "parse_kql"]
