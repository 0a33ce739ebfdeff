"""Model endpoints: the seam between the chat service and whatever serves a spark model."""
