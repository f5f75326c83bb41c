from customer_matching.adapters.tables import metadata
from osb_platform.migrations_env import run

run(metadata)
