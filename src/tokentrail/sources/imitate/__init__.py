"""Local imitations of the Okta, Auth0 and Salesforce log APIs, served on 127.0.0.1.

Each is a Starlette app over an ``EventStore`` (given or simulated events, more can be appended
while it runs), with the vendor's paging, auth checks and rate-limit headers, and injectable
faults (429s, 5xx, slow and cut-off responses). ``running`` serves one in a background thread.
"""

from tokentrail.sources.imitate.faults import FaultPlan
from tokentrail.sources.imitate.server import RunningImitation, running
from tokentrail.sources.imitate.store import EventStore

__all__ = ["EventStore", "FaultPlan", "RunningImitation", "running"]
