"""The wire protocol of docs/protocol.md: client frames parsed (`frames`), server frames built (`events`)
and checked (`schemas`), cursors and replays."""

from chat.protocol.schemas import SchemaError, check_event

__all__ = ["SchemaError", "check_event"]
