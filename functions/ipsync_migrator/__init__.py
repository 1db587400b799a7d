"""Move NLBs off the Lambda IP-sync workaround onto ALB-type target groups."""

__version__ = "0.1.0"
