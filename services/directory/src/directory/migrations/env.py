from chorus_common.migrations import run_env
from directory.db import metadata

run_env(metadata)
