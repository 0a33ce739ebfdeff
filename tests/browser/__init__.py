"""Browser tier: the dashboard in headless Chromium against the local stack."""
