"""Adds the plugin's config directory to Hydra's search path, after the application's.

``hydra/sweeper=sigopt`` is a YAML file there (extending the ``sigopt_schema`` structured config)
rather than a ConfigStore entry, so that a project can replace it with a ``hydra/sweeper/sigopt.yaml``
of its own: the first file found on the search path wins, while a ConfigStore entry of the same name
would be treated as the file's schema (Hydra's deprecated automatic schema matching, an error when
the schema has a defaults list, as this one does).
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

PLUGIN_CONFIG_DIR = "pkg://hydra_plugins.sigopt_sweeper.conf"


class SigOptSweeperSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="sigopt_sweeper", path=PLUGIN_CONFIG_DIR)
