"""The local stack: SparkAI Stream on one machine, no AWS account, no Docker (dev tooling only)."""
