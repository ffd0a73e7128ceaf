#!/usr/bin/env python3
"""Count test cases in a meson testlog.json: every TAP "ok"/"not ok" line of a
TAP test is one case; a test without TAP output counts once by its result.
A TAP test whose process failed (crash, timeout) counts one extra failure.
Prints "PASSED FAILED"."""
import json
import re
import sys

passed = failed = 0
tap = re.compile(r"^(not ok|ok)\b(.*)$")
for line in open(sys.argv[1]):
    rec = json.loads(line)
    cases = [tap.match(l) for l in rec.get("stdout", "").splitlines()]
    cases = [m for m in cases if m]
    ok_result = rec["result"] in ("OK", "EXPECTEDFAIL")
    if not cases:
        passed, failed = (passed + 1, failed) if ok_result else (passed, failed + 1)
        continue
    for m in cases:
        # A skipped case proves nothing: count it as a failure.
        if m.group(1) == "ok" and "# SKIP" not in m.group(2).upper():
            passed += 1
        else:
            failed += 1
    if not ok_result and all(m.group(1) == "ok" for m in cases):
        failed += 1
print(passed, failed)
