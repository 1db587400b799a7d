"""Adapters: the only modules that call boto3. They speak AWS shapes and raise domain errors."""
