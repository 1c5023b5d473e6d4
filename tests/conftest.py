import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

# Set by CI's PostgreSQL pass, which follows a pass on SQLite: the SQLite variant of a test that runs on
# both databases already ran there, unchanged by the PostgreSQL settings.
SKIP_SQLITE_VARIANTS = "LTIGATE_TEST_SKIP_SQLITE_VARIANTS"
_SQLITE_PARAM = re.compile(r"[\[-]sqlite[\]-]")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get(SKIP_SQLITE_VARIANTS):
        return
    variants = [item for item in items if _SQLITE_PARAM.search(item.nodeid)]
    if variants:
        config.hook.pytest_deselected(items=variants)
        items[:] = [item for item in items if not _SQLITE_PARAM.search(item.nodeid)]
