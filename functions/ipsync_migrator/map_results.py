"""Step Functions' own shapes around a Distributed Map: execution ARNs and its ResultWriter.

Apart from fleet.py so that a handler's input model (handlers/requests.py) can name them
without importing the fleet's discovery and reporting.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

#: A Standard execution's ARN (the fleet's `$$.Execution.Id`).
EXECUTION_ARN = r"^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]+:[^:\s]+$"


class PascalShape(BaseModel):
    """Step Functions' own shapes (PascalCase); fields it may add are ignored."""

    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="ignore", defer_build=True
    )


class ResultWriterDetails(PascalShape):
    """Where the ResultWriter put the manifest: the Map state's output `ResultWriterDetails`."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
