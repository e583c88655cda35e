"""A local, protocol-faithful Zoho CRM and Bigin Bulk Read server for tests and demos."""

from tap_zoho_bulkread.emulator.server import Emulator
from tap_zoho_bulkread.emulator.state import EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig"]
