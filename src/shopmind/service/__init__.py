"""Customer-service capability: review sentiment, complaint triage, tickets with an audit trail."""
