#!/usr/bin/python3
"""bridge_example.py SRC_DIR ARGS...: runs examples/bridge_client.py with ARGS
(used by tests/bridge_e2e_test.c to keep the example working)."""
import subprocess
import sys

src = sys.argv[1]
r = subprocess.run(["/usr/bin/python3", src + "/examples/bridge_client.py"] + sys.argv[2:],
                   capture_output=True, text=True, timeout=60)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
sys.exit(r.returncode)
