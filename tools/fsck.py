#!/usr/bin/env python3
"""fsck.py [--allow-orphans] IMAGE: check an fs.img (the on-disk format of kernel/fs.h) for
consistency, on the host. Strict: anything but a clean file system is an error.

If the log header holds a committed transaction, it is replayed first, in memory, as the kernel
would at boot (the image file is never written). Then:
  - superblock sane; every allocated inode has a known type, a size within MAXFILE, and block
    numbers inside the data area; no block belongs to two places; every block up to the size
    is present;
  - the free bitmap marks exactly the metadata blocks and the blocks inodes use (a block in
    use but free in the bitmap, or marked but used by nothing, is an error either way);
  - directories: "." and ".." are right, no name appears twice in one directory, every name
    is a valid one naming an allocated inode, every allocated inode with links is reachable
    from the root, and each inode's nlink equals the entries naming it ("." not counted; a
    directory's ".." counts for its parent);
  - no orphan: an allocated inode with nlink 0 that no directory names. The kernel frees a
    removed file's inode at its last close, so a crash while a removed file is still open
    leaves one on the disk; the kernel reclaims such inodes when it mounts the file system.
    Right after a crash (before any boot) they are expected: --allow-orphans (or
    check(data, orphans_ok=True)) reports them as warnings instead of errors.
Prints the problems and "fsck: OK" or "fsck: N errors"; exit status 0 only when OK.
Standard library only."""

import argparse
import struct
import sys

BSIZE = 1024
ROOTINO = 1
FSMAGIC = 0x10203040
NDIRECT = 12
NINDIRECT = BSIZE // 4
MAXFILE = NDIRECT + NINDIRECT
DINODE = struct.Struct("<hhhhI%dI" % (NDIRECT + 1))   # type major minor nlink size addrs
IPB = BSIZE // DINODE.size
DIRENT = struct.Struct("<H14s")
T_DIR, T_FILE, T_DEVICE = 1, 2, 3


def check(data, orphans_ok=False):
    """Returns (errors, warnings) for the image bytes: lists of messages. Orphan inodes are
    errors, or warnings if orphans_ok."""
    errors, warnings = [], []
    nblk = len(data) // BSIZE
    blocks = [bytearray(data[i * BSIZE:(i + 1) * BSIZE]) for i in range(nblk)]
    magic, size, nblocks, ninodes, nlog, logstart, inodestart, bmapstart = \
        struct.unpack_from("<8I", blocks[1])
    if magic != FSMAGIC:
        return ["bad superblock magic 0x%x" % magic], warnings
    if size > nblk or not (logstart < inodestart < bmapstart < size):
        return ["superblock regions out of order or beyond the image"], warnings
    nbitmap = size // (BSIZE * 8) + 1
    datastart = bmapstart + nbitmap

    # Replay a committed transaction, as recover_from_log() does.
    n = struct.unpack_from("<i", blocks[logstart])[0]
    if n < 0 or n > nlog - 1:
        errors.append("log header n=%d out of range" % n)
    elif n > 0:
        homes = struct.unpack_from("<%di" % n, blocks[logstart], 4)
        for i, home in enumerate(homes):
            if not (0 < home < size):
                errors.append("log entry %d names block %d outside the disk" % (i, home))
                continue
            blocks[home][:] = blocks[logstart + 1 + i]
        warnings.append("replayed a committed log transaction of %d blocks" % n)

    def inode(inum):
        b = blocks[inodestart + inum // IPB]
        f = DINODE.unpack_from(b, (inum % IPB) * DINODE.size)
        return f[0], f[3], f[4], list(f[5:])

    owner = {}          # block -> what uses it

    def use(b, what):
        if not (datastart <= b < size):
            errors.append("%s uses block %d outside the data area" % (what, b))
            return False
        if b in owner:
            errors.append("block %d used by both %s and %s" % (b, owner[b], what))
            return False
        owner[b] = what
        return True

    inodes = {}
    for inum in range(1, ninodes):
        typ, nlink, isize, addrs = inode(inum)
        if typ == 0:
            continue
        what = "inode %d" % inum
        if typ not in (T_DIR, T_FILE, T_DEVICE):
            errors.append("%s has unknown type %d" % (what, typ))
            continue
        if isize > MAXFILE * BSIZE:
            errors.append("%s size %d exceeds MAXFILE" % (what, isize))
            continue
        fileblocks = []
        for i in range(NDIRECT):
            if addrs[i] and use(addrs[i], what):
                fileblocks.append((i, addrs[i]))
        if addrs[NDIRECT] and use(addrs[NDIRECT], what + " (indirect)"):
            ind = struct.unpack_from("<%dI" % NINDIRECT, blocks[addrs[NDIRECT]])
            for i, b in enumerate(ind):
                if b and use(b, what):
                    fileblocks.append((NDIRECT + i, b))
        have = {i for i, _ in fileblocks}
        for i in range((isize + BSIZE - 1) // BSIZE):
            if i not in have:
                errors.append("%s: block %d of its %d bytes is missing" % (what, i, isize))
                break
        inodes[inum] = (typ, nlink, isize, dict(fileblocks))

    # Bitmap: metadata and used blocks marked, everything else free, no bit beyond the disk.
    bitmap = b"".join(blocks[bmapstart:bmapstart + nbitmap])
    beyond = [b for b in range(size, nbitmap * BSIZE * 8) if bitmap[b // 8] >> (b % 8) & 1]
    if beyond:
        errors.append("bitmap marks block %d, beyond the end of the disk (%d blocks)"
                      % (beyond[0], size))
    for b in range(size):
        marked = bitmap[b // 8] >> (b % 8) & 1
        used = b < datastart or b in owner
        if marked and not used:
            errors.append("block %d marked in use in the bitmap but used by nothing" % b)
        elif used and not marked:
            errors.append("block %d (%s) used but free in the bitmap" %
                          (b, owner.get(b, "metadata")))

    def contents(inum):
        typ, nlink, isize, fb = inodes[inum]
        return b"".join(bytes(blocks[fb[i]]) for i in range((isize + BSIZE - 1) // BSIZE))[:isize]

    # Directory tree from the root.
    refs = {inum: 0 for inum in inodes}
    if ROOTINO not in inodes or inodes[ROOTINO][0] != T_DIR:
        errors.append("root inode is not a directory")
        return errors, warnings
    seen, stack = {ROOTINO}, [(ROOTINO, ROOTINO, "/")]
    while stack:
        dinum, parent, path = stack.pop()
        raw = contents(dinum)
        if len(raw) % DIRENT.size:
            errors.append("directory %s has a partial entry" % path)
        names = {}
        for off in range(0, len(raw) - DIRENT.size + 1, DIRENT.size):
            inum, nm = DIRENT.unpack_from(raw, off)
            if inum == 0:
                continue
            name = nm.split(b"\0")[0].decode("latin-1")
            if name == "" or "/" in name:
                errors.append("directory %s has an entry with the invalid name %r (inode %d)"
                              % (path, name, inum))
            if name in names:
                errors.append("directory %s has two entries named %r (inodes %d and %d)"
                              % (path, name, names[name], inum))
            if inum not in inodes:
                errors.append("%s%s names free inode %d" % (path, name, inum))
                continue
            names.setdefault(name, inum)
            if name == ".":
                continue
            refs[inum] += 1
            if name == ".." or inodes[inum][0] != T_DIR:
                continue
            if inum in seen:
                errors.append("directory inode %d reachable twice (at %s%s)" % (inum, path, name))
                continue
            seen.add(inum)
            stack.append((inum, dinum, path + name + "/"))
        if names.get(".") != dinum:
            errors.append("directory %s: '.' is not itself" % path)
        if names.get("..") != parent:
            errors.append("directory %s: '..' is not its parent" % path)
    for inum, (typ, nlink, isize, fb) in sorted(inodes.items()):
        if refs[inum] == 0 and nlink == 0:
            msg = ("inode %d is an orphan: allocated (type %d, %d bytes) with nlink 0 and no "
                   "directory entry" % (inum, typ, isize))
            if orphans_ok:
                warnings.append(msg + " (a removed file open at the crash)")
            else:
                errors.append(msg + ": the kernel must free such an inode when it mounts "
                              "the file system (after log recovery)")
        elif refs[inum] != nlink:
            errors.append("inode %d has nlink %d but %d directory entries name it" %
                          (inum, nlink, refs[inum]))
    return errors, warnings


def main():
    ap = argparse.ArgumentParser(description="check an fs.img (kernel/fs.h) for consistency")
    ap.add_argument("--allow-orphans", action="store_true",
                    help="orphan inodes are warnings (right after a crash), not errors")
    ap.add_argument("image", type=argparse.FileType("rb"))
    args = ap.parse_args()
    errors, warnings = check(args.image.read(), args.allow_orphans)
    for w in warnings:
        print("fsck: warning: " + w)
    for e in errors[:50]:
        print("fsck: " + e)
    print("fsck: OK" if not errors else "fsck: %d errors" % len(errors))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
