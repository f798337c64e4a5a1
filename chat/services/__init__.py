"""Services: every state change goes through here, and events leave only after commit."""
