"""Background work: housekeeping now; the score outbox runner joins it with grade passback."""
