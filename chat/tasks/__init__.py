"""Background work on django-tasks (the backport of Django 6's `django.tasks`): email, with retries.

Hooks in `chat.services.notifications` enqueue these after their transaction commits; the
database backend keeps each task as a row, and `manage.py db_worker` (or, without Redis, a thread
of the Daphne process: `chat.transports.task_runner`) runs them. Nothing here runs on a socket's path.
"""
