"""Operating a deployed topology: ``mqctl`` and its plan, binding and management-API helpers."""
