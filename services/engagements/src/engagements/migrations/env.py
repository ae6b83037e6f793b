from chorus_common.migrations import run_env
from engagements.db import metadata

run_env(metadata)
