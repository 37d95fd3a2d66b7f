"""YAML files into pydantic models, with one ``FILE:LINE: FIELD: what was expected`` line per problem.

Shared by both tools: ``cmts-sim``'s configuration files, ``cms-sim``'s
scenarios, conformance suites and labs.  See :mod:`pktcable_settings.files`.
"""

from .files import SettingsFileError, compose, format_validation_error, locate, read_text, read_yaml, yaml_path

__all__ = ["SettingsFileError", "compose", "format_validation_error", "locate", "read_text", "read_yaml", "yaml_path"]
