from chorus_common.migrations import run_env
from piste_gateway.db import metadata

run_env(metadata)
