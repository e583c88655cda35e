"""A local, protocol-faithful Zoho CRM and Bigin Bulk Read server for tests and demos."""

from zoho_bulkread_emulator.server import Emulator
from zoho_bulkread_emulator.state import EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig"]
