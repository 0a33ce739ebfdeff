"""SageMaker endpoints for the spark models: config, validated plans, deploy and teardown."""
