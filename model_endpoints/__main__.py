"""`python -m model_endpoints`: the sparkai-endpoints command."""

from __future__ import annotations

from model_endpoints.cli import main

raise SystemExit(main())
