"""Operators' tooling (the `sparkai-admin` CLI, local-stack discovery, dashboard publishing):
installed with the project, never packaged into the Lambda layer."""
