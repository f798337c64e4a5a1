"""The AI reply: providers that produce text, and the worker that streams it."""
