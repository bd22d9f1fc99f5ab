"""Local stack for Whistle: real Kafka (KRaft) and PostgreSQL, no Docker engine needed."""
