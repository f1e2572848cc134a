#!/usr/bin/env python3
"""fsck.py [--allow-orphans] IMAGE: checks an fs.img (kernel/fs.h) on the host, after replaying
a committed log in memory as boot does: superblock, inodes, block ownership, bitmap, directory tree
and link counts. An orphan (nlink 0, no name) is an error, or a warning with --allow-orphans:
right after a crash a removed file still open leaves one, which the kernel reclaims at mount."""

import argparse
import struct
import sys

BSIZE = 1024
ROOTINO = 1
FSMAGIC = 0x10203040
NDIRECT = 12
NINDIRECT = BSIZE // 4
DINODE = struct.Struct("<hhhhI%dI" % (NDIRECT + 1))   # type major minor nlink size addrs
IPB = BSIZE // DINODE.size
DIRENT = struct.Struct("<H14s")
T_DIR, T_FILE, T_DEVICE = 1, 2, 3


def check(data, orphans_ok=False):
    """(errors, warnings) for the image bytes; orphans are warnings only if orphans_ok."""
    errors, warnings = [], []
    bad = errors.append
    blocks = [bytearray(data[i:i + BSIZE]) for i in range(0, len(data), BSIZE)]
    magic, size, _, ninodes, nlog, logstart, inodestart, bmapstart = \
        struct.unpack_from("<8I", blocks[1])
    if magic != FSMAGIC or size > len(blocks) or not logstart < inodestart < bmapstart < size:
        return ["bad superblock: magic 0x%x, regions out of order or past the image" % magic], []
    datastart = bmapstart + size // (BSIZE * 8) + 1

    n = struct.unpack_from("<i", blocks[logstart])[0]      # replay, as recover_from_log() does
    homes = struct.unpack_from("<%di" % n, blocks[logstart], 4) if 0 <= n < nlog else [-1]
    if not all(0 < home < size for home in homes):
        bad("log header out of range: n=%d, blocks %s" % (n, homes))
    elif n:
        for i, home in enumerate(homes):
            blocks[home][:] = blocks[logstart + 1 + i]
        warnings.append("replayed a committed log transaction of %d blocks" % n)

    owner = {}          # block -> the inode using it

    def use(b, what):
        """b if it is a data block with no other owner (what becomes its owner), else 0."""
        if not datastart <= b < size:
            bad("%s uses block %d outside the data area" % (what, b))
        elif b in owner:
            bad("block %d used by both %s and %s" % (b, owner[b], what))
        else:
            owner[b] = what
            return b
        return 0

    inodes = {}         # inum -> (type, nlink, size, contents)
    for inum in range(1, ninodes):
        typ, _, _, nlink, isize, *addrs = DINODE.unpack_from(
            blocks[inodestart + inum // IPB], inum % IPB * DINODE.size)
        what = "inode %d" % inum
        if typ not in (T_DIR, T_FILE, T_DEVICE) or isize > (NDIRECT + NINDIRECT) * BSIZE:
            if typ:
                bad("%s has unknown type %d or size %d beyond MAXFILE" % (what, typ, isize))
            continue
        ind = use(addrs[NDIRECT], what + " (indirect)") if addrs[NDIRECT] else 0
        addrs[NDIRECT:] = struct.unpack_from("<%dI" % NINDIRECT, blocks[ind]) if ind \
            else [0] * NINDIRECT
        have = [use(b, what) if b else 0 for b in addrs][:(isize + BSIZE - 1) // BSIZE]
        if 0 in have:
            bad("%s: block %d of its %d bytes is missing" % (what, have.index(0), isize))
        raw = b"".join(blocks[b] if b else bytes(BSIZE) for b in have)[:isize]
        inodes[inum] = (typ, nlink, isize, raw)

    bitmap = b"".join(blocks[bmapstart:datastart])
    for b in range(len(bitmap) * 8):
        marked = bitmap[b // 8] >> (b % 8) & 1
        used = b < datastart or b in owner
        if marked and not used:
            bad("block %d marked in use in the bitmap but used by nothing" % b)
        elif used and not marked:
            bad("block %d (%s) used but free in the bitmap" % (b, owner.get(b, "metadata")))

    if inodes.get(ROOTINO, [0])[0] != T_DIR:
        return errors + ["root inode is not a directory"], warnings
    refs = dict.fromkeys(inodes, 0)
    seen, stack = {ROOTINO}, [(ROOTINO, ROOTINO, "/")]
    while stack:
        dinum, parent, path = stack.pop()
        raw = inodes[dinum][3]
        if len(raw) % DIRENT.size:
            bad("directory %s has a partial entry" % path)
        names = {}
        for inum, nm in DIRENT.iter_unpack(raw[:len(raw) - len(raw) % DIRENT.size]):
            name = nm.split(b"\0")[0].decode("latin-1")
            if inum == 0:
                continue
            if name == "" or "/" in name:
                bad("directory %s has an invalid name %r (inode %d)" % (path, name, inum))
            if name in names:
                bad("directory %s has two entries named %r (inodes %d and %d)"
                    % (path, name, names[name], inum))
            if inum not in inodes:
                bad("%s%s names free inode %d" % (path, name, inum))
                continue
            names.setdefault(name, inum)
            refs[inum] += name != "."
            if name in (".", "..") or inodes[inum][0] != T_DIR:
                continue
            if inum in seen:
                bad("directory inode %d reachable twice (at %s%s)" % (inum, path, name))
            else:
                seen.add(inum)
                stack.append((inum, dinum, path + name + "/"))
        if names.get(".") != dinum:
            bad("directory %s: '.' is not itself" % path)
        if names.get("..") != parent:
            bad("directory %s: '..' is not its parent" % path)

    for inum, (typ, nlink, isize, _) in sorted(inodes.items()):
        if refs[inum] == 0 and nlink == 0:
            msg = "inode %d is an orphan (type %d, %d bytes, nlink 0, no name)" % (inum, typ, isize)
            (warnings if orphans_ok else errors).append(msg)
        elif refs[inum] != nlink:
            bad("inode %d has nlink %d but %d names" % (inum, nlink, refs[inum]))
    return errors, warnings


def main():
    ap = argparse.ArgumentParser(description="check an fs.img (kernel/fs.h) for consistency")
    ap.add_argument("--allow-orphans", action="store_true", help="orphans are warnings only")
    ap.add_argument("image", type=argparse.FileType("rb"))
    args = ap.parse_args()
    errors, warnings = check(args.image.read(), args.allow_orphans)
    for line in ["warning: " + w for w in warnings] + errors[:50]:
        print("fsck: " + line)
    print("fsck: %d errors" % len(errors) if errors else "fsck: OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
