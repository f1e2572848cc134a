#!/usr/bin/env python3
"""Host-side tests of tools/bench.py that need no QEMU (staff only, like bench.py): reading
forkbench's lines, the medians-and-ratios table, refusing a commit git does not know."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "tools"))
import bench  # noqa: E402


class BenchTest(unittest.TestCase):
    def test_parse_forkbench(self):
        full = "junk\nforkbench,1,92.8,1292.3,6,11.8,1.8,261,15,306.7,229.5,25,26\n"
        older = "forkbench,64,953.5,-1,38,13123.6,114.7,16421,5\n"        # stops at reps
        bad = "forkbench,1,2,3\nforkbench,x,1,2,3,4,5,6,7\nforkbench,1" + ",1" * 12 + "\n"
        rows = bench.parse_forkbench(full + older + bad)
        self.assertEqual(sorted(rows), [1, 64])
        self.assertEqual((rows[1]["forkwrite_us"], rows[1]["random_allocated"]), (1292.3, 26))
        self.assertEqual((rows[64]["reuse_us"], rows[64]["forkwrite_us"]), (13123.6, -1))
        self.assertNotIn("exec_us", rows[64])
        self.assertEqual(bench.parse_forkbench(bad), {})

    def test_medians_failed_forks_and_ratios_within_rounds(self):
        runs = {"a": [{"fork_us_1MiB": 2.0, "syscall_ns": 5.0}, {"fork_us_1MiB": 4.0}],
                "b": [{"fork_us_1MiB": 1.0, "syscall_ns": 1.0}, {"fork_us_1MiB": -1.0}]}
        head, fork, sys_ = bench.table(runs, [("a", "b")], icount=False)
        self.assertEqual(head.split(), ["a", "b", "a/b"])
        self.assertEqual(fork.split()[-4:], ["3", "failed", "2.000", "(2.00..2.00)"])
        self.assertEqual(sys_.split()[2:], ["5", "1", "5.000", "(5.00..5.00)"])
        self.assertEqual(sys_.split()[:2], ["sysbench", "syscall_ns"])

    def test_unknown_commit_is_refused(self):
        self.assertEqual(bench.export_rev("no-such-commit-here"),
                         (None, "git knows no commit 'no-such-commit-here' here"))


if __name__ == "__main__":
    unittest.main()
