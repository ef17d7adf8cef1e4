"""kombu transports tuned for tuiq (same wire format, fewer round trips)."""
