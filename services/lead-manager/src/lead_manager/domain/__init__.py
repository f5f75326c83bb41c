"""The lead and its rules: no Kafka, SQL, clock or uuid imports."""
