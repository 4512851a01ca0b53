# expect: ok
# Changes the filesystem view: mounts a tmpfs, remounts /usr read-write, uses the new mount API, chroot, pivot_root and umount.
# require: BLOCKED: mount(tmpfs)
# require: BLOCKED: mount(MS_REMOUNT|MS_BIND, /usr) read-write
# require: BLOCKED: chroot
import ctypes
import errno
import os

from attempt import attempt, libc


MS_REMOUNT, MS_BIND, MS_REC = 0x20, 0x1000, 0x4000
os.makedirs("mnt", exist_ok=True)
attempt("mount(tmpfs)", 165, b"none", b"mnt", b"tmpfs", 0, None)
attempt("mount(MS_REMOUNT|MS_BIND, /usr) read-write", 165, None, b"/usr", None, MS_REMOUNT | MS_BIND, None)
attempt("mount(MS_BIND|MS_REC, /, mnt)", 165, b"/", b"mnt", None, MS_BIND | MS_REC, None)
attempt("mount(proc)", 165, b"proc", b"mnt", b"proc", 0, None)
attempt("fsopen(tmpfs)", 430, b"tmpfs", 0)
attempt("open_tree(/usr)", 428, -100, b"/usr", 1)  # AT_FDCWD, OPEN_TREE_CLONE
attempt("move_mount", 429, -100, b"mnt", -100, b"/usr", 0)
attempt("mount_setattr(/usr)", 442, -100, b"/usr", 0, None, 0)
attempt("fspick(/usr)", 433, -100, b"/usr", 0)
attempt("chroot", 161, b"mnt")
attempt("pivot_root", 155, b".", b".")
attempt("umount2(/proc, MNT_DETACH)", 166, b"/proc", 2)
attempt("umount2(/usr, MNT_DETACH)", 166, b"/usr", 2)
