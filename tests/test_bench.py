#!/usr/bin/env python3
"""Host-side tests of tools/bench.py's parts that need no QEMU (staff only, like bench.py):
reading forkbench's lines, this tree's and an older tree's, the medians-and-ratios table,
and refusing a commit git does not know for --against."""

import os
import sys
import unittest

TESTS = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(TESTS), "tools"))
import bench  # noqa: E402


class ParseForkbenchTest(unittest.TestCase):
    def test_full_line(self):
        rows = bench.parse_forkbench(
            "junk\nforkbench,1,92.8,1292.3,6,11.8,1.8,261,15,306.7,229.5,25,26\n")
        self.assertEqual(list(rows), [1])
        self.assertEqual(rows[1]["forkwrite_us"], 1292.3)
        self.assertEqual(rows[1]["random_allocated"], 26)

    def test_older_line_gives_the_fields_it_has(self):
        rows = bench.parse_forkbench("forkbench,64,953.5,-1,38,13123.6,114.7,16421,5\n")
        self.assertEqual(rows[64]["reuse_us"], 13123.6)
        self.assertEqual(rows[64]["forkwrite_us"], -1)
        self.assertNotIn("exec_us", rows[64])

    def test_short_or_bad_lines_are_ignored(self):
        rows = bench.parse_forkbench("forkbench,1,2,3\nforkbench,x,1,2,3,4,5,6,7\n"
                                     "forkbench,1" + ",1" * 12 + "\n")
        self.assertEqual(rows, {})


class TableTest(unittest.TestCase):
    def test_medians_failed_forks_and_ratios_within_rounds(self):
        runs = {"a": [{"fork_us_1MiB": 2.0, "syscall_ns": 5.0}, {"fork_us_1MiB": 4.0}],
                "b": [{"fork_us_1MiB": 1.0, "syscall_ns": 1.0}, {"fork_us_1MiB": -1.0}]}
        head, fork, sys_ = bench.table(runs, [("a", "b")], icount=False)
        self.assertEqual(head.split(), ["a", "b", "a/b"])
        self.assertEqual(fork.split()[-4:], ["3", "failed", "2.000", "(2.00..2.00)"])
        self.assertEqual(sys_.split(), ["sysbench", "syscall_ns", "5", "1", "5.000",
                                        "(5.00..5.00)"])


class AgainstTest(unittest.TestCase):
    def test_unknown_commit_is_refused(self):
        where, why = bench.export_rev("no-such-commit-here")
        self.assertIsNone(where)
        self.assertIn("no-such-commit-here", why)


if __name__ == "__main__":
    unittest.main()
