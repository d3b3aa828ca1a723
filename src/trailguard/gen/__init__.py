"""Files derived from the technique registry, so they cannot drift from it.

``trailguard template`` writes them: the EventBridge patterns and the remediation role's IAM statements
in ``src/trailguard/data/trailguard.yaml`` (marked blocks inside a hand-written template),
``docs/techniques.md`` and the technique table of ``docs/detection-policy.md``; ``--check`` fails when a
committed file differs.

Build-time only: pure (no boto3, no I/O at import) and not part of the Lambda zip.
"""
