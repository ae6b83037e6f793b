from chorus_common.migrations import run_env
from support_portal.db import metadata

run_env(metadata)
