from chorus_common.migrations import run_env
from invoicing_works.db import metadata

run_env(metadata)
