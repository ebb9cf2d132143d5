"""A local emulator of the Harness Artifact Registry list API, faithful to its quirks.

Start one with `start_emulator()` or `with EmulatorProcess() as emulator:`; it runs as a real
subprocess (`python -m harness_emulator`) and shares no code with the connector under test.
"""

from .process import EmulatorError, EmulatorProcess, start_emulator
from .state import DEFAULT_API_KEY

__all__ = ["DEFAULT_API_KEY", "EmulatorError", "EmulatorProcess", "start_emulator"]
