from lead_intake.adapters.tables import metadata
from osb_platform.migrations_env import run

run(metadata)
