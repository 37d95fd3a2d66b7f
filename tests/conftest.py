"""The whole suite: pytester for the plugin's own tests; scenario files under tests/ are data, not test items."""

pytest_plugins = ["pytester"]

# Deliberately failing scenarios live here as fixtures of the tests that load them.
collect_ignore_glob = ["cms_sim/scenarios_failing/*.yaml"]
