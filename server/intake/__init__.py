"""The intake lane: 311 referrals (Open311) and public complaints about police.

Both doors (``open311``, ``complaint_door``) validate what they are given and
append it to an intake stream in Redis; workers in a consumer group (``server.intake.worker``, run as niced
processes beside the hub) file each entry into the records store exactly
once. Dispatch never waits on any of it.
"""
