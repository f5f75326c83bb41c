"""OSB service package."""

SERVICE = "customer-matching"  # logs, metrics, client ids, consumer groups, dead-letter headers
SOURCE = f"/osb/{SERVICE}"  # the CloudEvents source of everything it publishes
