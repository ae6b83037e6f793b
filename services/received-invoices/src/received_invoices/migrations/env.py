from chorus_common.migrations import run_env
from received_invoices.db import metadata

run_env(metadata)
