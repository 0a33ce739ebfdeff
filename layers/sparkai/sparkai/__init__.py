"""SparkAI Stream: the domain package shared by every Lambda function (shipped as a layer)."""

__version__ = "0.1.0"
