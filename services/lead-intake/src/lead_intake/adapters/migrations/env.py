from lead_intake.adapters.idempotency import metadata
from osb_platform.migrations_env import run

run(metadata)
