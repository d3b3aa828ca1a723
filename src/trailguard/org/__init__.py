"""trailguard for an AWS Organization: the preventive service control policies (:mod:`.scp`) and
attaching them through Organizations (:mod:`.attach`). Pure at import: no boto3."""
