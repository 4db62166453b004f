"""Package layout only (everything else is in pyproject.toml).

One import namespace: the service folders stay at the top of the repository, where a
reader looks for them, but are installed as subpackages of `fraudstream`, so installing
this project never shadows another distribution's `scorer`, `trainer` or `monitor`.
pyproject.toml cannot compute the subpackages of several mapped folders; this can.
"""

from setuptools import find_packages, setup

PACKAGE_DIRS = {
    "fraudstream": "fraudstream",
    "fraudstream.producers": "producers",
    "fraudstream.trainer": "trainer",
    "fraudstream.scorer": "scorer",
    "fraudstream.monitor": "monitor",
    "fraudstream.console": "console",
    "fraudstream.embedded": "embedded",
}
# Folders of data files (no Python) installed as subpackages, their files as package data:
# the KSQL statements `fraudstream ksql apply` and the demo run (fraudstream/cli/ksql_cmd.py).
DATA_DIRS = {
    "fraudstream.statements": "ksql",
    "fraudstream.statements.monitoring": "ksql/monitoring",
}


def packages() -> list[str]:
    found = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return found + list(DATA_DIRS)


setup(packages=packages(), package_dir={**PACKAGE_DIRS, **DATA_DIRS})
