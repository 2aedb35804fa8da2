/* File syscalls: the open family, fd duplication and closing, cwd, and the
 * calls that change names, links, modes and mounts.
 *
 * Paths (and every other user string) are read at syscall entry into the
 * thread's stash and written at exit from there: what the kernel acted on,
 * even if another thread rewrites the buffer meanwhile.  Without a stash
 * (the probe attached mid-call, no memory for task storage), or when the
 * entry could not read the string (its page not present yet: a probe cannot
 * fault it in), the exit reads the user's memory itself.  Numbers come from
 * the saved registers at exit.
 * Each exit pushes exactly the parameters listed in event_codes.h, in order;
 * failed calls are events too (negative res, the same parameters). */
#ifndef SENSOR_PROGS_FILE_H
#define SENSOR_PROGS_FILE_H

#include "file_flags.h"

#define UPTR(x) ((const void *)(x))
/* fd arguments are C ints: the driver writes them sign-extended to 64 bits. */
#define FD_ARG(x) ((s64)(s32)(x))

/* dev (as user space sees st_dev: the kernel's new_encode_dev, like the
 * driver) and ino of an open file; 0 and 0 without one. */
static __always_inline void ev_file_dev_ino(struct ev *e, struct file *f)
{
	struct inode *ino = f ? f->f_inode : NULL;
	u32 dev = ino ? ino->i_sb->s_dev : 0;
	u32 major = dev >> 20, minor = dev & 0xfffff;
	ev_u32(e, (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12));
	ev_u64(e, ino ? ino->i_ino : 0);
}

static __always_inline void ev_dev_ino(struct ev *e, long fd)
{
	ev_file_dev_ino(e, fd >= 0 ? fd_file(fd) : NULL);
}

/* The driver's O_F_CREATED: the open created the file. */
static __always_inline u32 file_created_ppm(struct file *f)
{
	if (!f)
		return 0;
	return (f->f_mode & K_FMODE_CREATED) ? PPM_O_F_CREATED : 0;
}

/* Entries that only stash one or two user strings (arguments a, b). */
#define ENTRY_STR1(name, code, a)                                       \
	SYSCALL_ENTRY(name)                                             \
	{                                                               \
		struct stash *st = stash_begin(code);                   \
		if (st)                                                 \
			stash_user_str(st, 0, UPTR(a));                 \
		return 0;                                               \
	}
#define ENTRY_STR2(name, code, a, b)                                    \
	SYSCALL_ENTRY(name)                                             \
	{                                                               \
		struct stash *st = stash_begin(code);                   \
		if (st) {                                               \
			stash_user_str(st, 0, UPTR(a));                 \
			stash_user_str(st, 1, UPTR(b));                 \
		}                                                       \
		return 0;                                               \
	}

/* --- the open family ------------------------------------------------------ */

ENTRY_STR1(open, EV_OPEN, SC_ARG1(regs))
/* fd name flags mode dev ino */
SYSCALL_EXIT(open)
{
	struct stash *st = stash_end(EV_OPEN);
	struct ev e;
	if (!ev_begin(&e, EV_OPEN, EV_OPEN_N))
		return 0;
	struct file *f = ret >= 0 ? fd_file(ret) : NULL;
	u64 flags = SC_ARG2(regs);
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_u32(&e, open_flags_ppm(flags) | file_created_ppm(f));
	ev_u32(&e, open_mode_ppm(flags, SC_ARG3(regs)));
	ev_file_dev_ino(&e, f);
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(openat, EV_OPENAT, SC_ARG2(regs))
/* fd dirfd name flags mode dev ino */
SYSCALL_EXIT(openat)
{
	struct stash *st = stash_end(EV_OPENAT);
	struct ev e;
	if (!ev_begin(&e, EV_OPENAT, EV_OPENAT_N))
		return 0;
	struct file *f = ret >= 0 ? fd_file(ret) : NULL;
	u64 flags = SC_ARG3(regs);
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_u32(&e, open_flags_ppm(flags) | file_created_ppm(f));
	ev_u32(&e, open_mode_ppm(flags, SC_ARG4(regs)));
	ev_file_dev_ino(&e, f);
	ev_submit(&e);
	return 0;
}

/* openat2(dirfd, path, struct open_how *how, size): how is read at entry
 * into args[0..2] (flags, mode, resolve); args[3] says it was read. */
SYSCALL_ENTRY(openat2)
{
	struct stash *st = stash_begin(EV_OPENAT2);
	if (!st)
		return 0;
	stash_user_str(st, 0, UPTR(SC_ARG2(regs)));
	/* args[3]: read (else the exit reads it: a page not present at entry) */
	st->args[3] = !bpf_probe_read_user(st->args, sizeof(struct open_how), UPTR(SC_ARG3(regs)));
	return 0;
}

/* fd dirfd name flags mode resolve */
SYSCALL_EXIT(openat2)
{
	struct stash *st = stash_end(EV_OPENAT2);
	struct open_how how = {};
	struct ev e;
	if (st && st->args[3]) {
		how.flags = st->args[0];
		how.mode = st->args[1];
		how.resolve = st->args[2];
	} else {
		bpf_probe_read_user(&how, sizeof(how), UPTR(SC_ARG3(regs)));
	}
	if (!ev_begin(&e, EV_OPENAT2, EV_OPENAT2_N))
		return 0;
	struct file *f = ret >= 0 ? fd_file(ret) : NULL;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_u32(&e, open_flags_ppm(how.flags) | file_created_ppm(f));
	ev_u32(&e, open_mode_ppm(how.flags, how.mode));
	ev_u32(&e, openat2_resolve_ppm(how.resolve));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(creat, EV_CREAT, SC_ARG1(regs))
/* fd name mode dev ino */
SYSCALL_EXIT(creat)
{
	struct stash *st = stash_end(EV_CREAT);
	struct ev e;
	if (!ev_begin(&e, EV_CREAT, EV_CREAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_u32(&e, open_mode_ppm(K_O_CREAT, SC_ARG2(regs)));
	ev_dev_ino(&e, ret);
	ev_submit(&e);
	return 0;
}

/* --- fds ------------------------------------------------------------------ */

/* res fd */
SYSCALL_EXIT(close)
{
	struct ev e;
	if (!ev_begin(&e, EV_CLOSE, EV_CLOSE_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_submit(&e);
	return 0;
}

/* res oldfd fd (the enter event's fd: oldfd again) */
SYSCALL_EXIT(dup)
{
	struct ev e;
	if (!ev_begin(&e, EV_DUP, EV_DUP_N))
		return 0;
	s64 oldfd = FD_ARG(SC_ARG1(regs));
	ev_s64(&e, ret);
	ev_s64(&e, oldfd);
	ev_s64(&e, oldfd);
	ev_submit(&e);
	return 0;
}

/* res oldfd newfd fd */
SYSCALL_EXIT(dup2)
{
	struct ev e;
	if (!ev_begin(&e, EV_DUP2, EV_DUP2_N))
		return 0;
	s64 oldfd = FD_ARG(SC_ARG1(regs));
	ev_s64(&e, ret);
	ev_s64(&e, oldfd);
	ev_s64(&e, FD_ARG(SC_ARG2(regs)));
	ev_s64(&e, oldfd);
	ev_submit(&e);
	return 0;
}

/* res oldfd newfd flags fd */
SYSCALL_EXIT(dup3)
{
	struct ev e;
	if (!ev_begin(&e, EV_DUP3, EV_DUP3_N))
		return 0;
	s64 oldfd = FD_ARG(SC_ARG1(regs));
	ev_s64(&e, ret);
	ev_s64(&e, oldfd);
	ev_s64(&e, FD_ARG(SC_ARG2(regs)));
	ev_u32(&e, dup3_flags_ppm(SC_ARG3(regs)));
	ev_s64(&e, oldfd);
	ev_submit(&e);
	return 0;
}

/* --- cwd ------------------------------------------------------------------ */

ENTRY_STR1(chdir, EV_CHDIR, SC_ARG1(regs))
/* res path (as the caller gave it) */
SYSCALL_EXIT(chdir)
{
	struct stash *st = stash_end(EV_CHDIR);
	struct ev e;
	if (!ev_begin(&e, EV_CHDIR, EV_CHDIR_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_submit(&e);
	return 0;
}

/* res fd */
SYSCALL_EXIT(fchdir)
{
	struct ev e;
	if (!ev_begin(&e, EV_FCHDIR, EV_FCHDIR_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_submit(&e);
	return 0;
}

/* --- names and links -------------------------------------------------------- */

ENTRY_STR2(rename, EV_RENAME, SC_ARG1(regs), SC_ARG2(regs))
/* res oldpath newpath */
SYSCALL_EXIT(rename)
{
	struct stash *st = stash_end(EV_RENAME);
	struct ev e;
	if (!ev_begin(&e, EV_RENAME, EV_RENAME_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR2(renameat, EV_RENAMEAT, SC_ARG2(regs), SC_ARG4(regs))
/* res olddirfd oldpath newdirfd newpath */
SYSCALL_EXIT(renameat)
{
	struct stash *st = stash_end(EV_RENAMEAT);
	struct ev e;
	if (!ev_begin(&e, EV_RENAMEAT, EV_RENAMEAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_s64(&e, FD_ARG(SC_ARG3(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG4(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR2(renameat2, EV_RENAMEAT2, SC_ARG2(regs), SC_ARG4(regs))
/* res olddirfd oldpath newdirfd newpath flags */
SYSCALL_EXIT(renameat2)
{
	struct stash *st = stash_end(EV_RENAMEAT2);
	struct ev e;
	if (!ev_begin(&e, EV_RENAMEAT2, EV_RENAMEAT2_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_s64(&e, FD_ARG(SC_ARG3(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG4(regs)));
	ev_u32(&e, renameat2_flags_ppm(SC_ARG5(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(unlink, EV_UNLINK, SC_ARG1(regs))
/* res path */
SYSCALL_EXIT(unlink)
{
	struct stash *st = stash_end(EV_UNLINK);
	struct ev e;
	if (!ev_begin(&e, EV_UNLINK, EV_UNLINK_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(unlinkat, EV_UNLINKAT, SC_ARG2(regs))
/* res dirfd name flags */
SYSCALL_EXIT(unlinkat)
{
	struct stash *st = stash_end(EV_UNLINKAT);
	struct ev e;
	if (!ev_begin(&e, EV_UNLINKAT, EV_UNLINKAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_u32(&e, unlinkat_flags_ppm(SC_ARG3(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(mkdir, EV_MKDIR, SC_ARG1(regs))
/* res path mode (the argument as given, like the driver) */
SYSCALL_EXIT(mkdir)
{
	struct stash *st = stash_end(EV_MKDIR);
	struct ev e;
	if (!ev_begin(&e, EV_MKDIR, EV_MKDIR_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_u32(&e, SC_ARG2(regs));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(mkdirat, EV_MKDIRAT, SC_ARG2(regs))
/* res dirfd path mode */
SYSCALL_EXIT(mkdirat)
{
	struct stash *st = stash_end(EV_MKDIRAT);
	struct ev e;
	if (!ev_begin(&e, EV_MKDIRAT, EV_MKDIRAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_u32(&e, SC_ARG3(regs));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(rmdir, EV_RMDIR, SC_ARG1(regs))
/* res path */
SYSCALL_EXIT(rmdir)
{
	struct stash *st = stash_end(EV_RMDIR);
	struct ev e;
	if (!ev_begin(&e, EV_RMDIR, EV_RMDIR_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR2(symlink, EV_SYMLINK, SC_ARG1(regs), SC_ARG2(regs))
/* res target linkpath */
SYSCALL_EXIT(symlink)
{
	struct stash *st = stash_end(EV_SYMLINK);
	struct ev e;
	if (!ev_begin(&e, EV_SYMLINK, EV_SYMLINK_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR2(symlinkat, EV_SYMLINKAT, SC_ARG1(regs), SC_ARG3(regs))
/* res target linkdirfd linkpath */
SYSCALL_EXIT(symlinkat)
{
	struct stash *st = stash_end(EV_SYMLINKAT);
	struct ev e;
	if (!ev_begin(&e, EV_SYMLINKAT, EV_SYMLINKAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_s64(&e, FD_ARG(SC_ARG2(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG3(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR2(link, EV_LINK, SC_ARG1(regs), SC_ARG2(regs))
/* res oldpath newpath */
SYSCALL_EXIT(link)
{
	struct stash *st = stash_end(EV_LINK);
	struct ev e;
	if (!ev_begin(&e, EV_LINK, EV_LINK_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR2(linkat, EV_LINKAT, SC_ARG2(regs), SC_ARG4(regs))
/* res olddir oldpath newdir newpath flags */
SYSCALL_EXIT(linkat)
{
	struct stash *st = stash_end(EV_LINKAT);
	struct ev e;
	if (!ev_begin(&e, EV_LINKAT, EV_LINKAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_s64(&e, FD_ARG(SC_ARG3(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG4(regs)));
	ev_u32(&e, linkat_flags_ppm(SC_ARG5(regs)));
	ev_submit(&e);
	return 0;
}

/* --- modes ------------------------------------------------------------------ */

ENTRY_STR1(chmod, EV_CHMOD, SC_ARG1(regs))
/* res filename mode */
SYSCALL_EXIT(chmod)
{
	struct stash *st = stash_end(EV_CHMOD);
	struct ev e;
	if (!ev_begin(&e, EV_CHMOD, EV_CHMOD_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_u32(&e, chmod_mode_ppm(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

/* res fd mode */
SYSCALL_EXIT(fchmod)
{
	struct ev e;
	if (!ev_begin(&e, EV_FCHMOD, EV_FCHMOD_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_u32(&e, chmod_mode_ppm(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(fchmodat, EV_FCHMODAT, SC_ARG2(regs))
/* res dirfd filename mode */
SYSCALL_EXIT(fchmodat)
{
	struct stash *st = stash_end(EV_FCHMODAT);
	struct ev e;
	if (!ev_begin(&e, EV_FCHMODAT, EV_FCHMODAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, FD_ARG(SC_ARG1(regs)));
	ev_arg_str(&e, st, 0, UPTR(SC_ARG2(regs)));
	ev_u32(&e, chmod_mode_ppm(SC_ARG3(regs)));
	ev_submit(&e);
	return 0;
}

/* --- mounts and memfds --------------------------------------------------------- */

/* mount(dev, dir, type, flags, data): dev and dir take the two string slots;
 * type (a filesystem name: short, may be NULL like dev) is read into args[0..4]
 * with its length in args[5].  A name that may have been cut there, or that
 * could not be read at entry, is read at exit from the caller's memory. */
#define MOUNT_TYPE_MAX  40      /* bytes of args[0..4] */

SYSCALL_ENTRY(mount)
{
	struct stash *st = stash_begin(EV_MOUNT);
	if (!st)
		return 0;
	stash_user_str(st, 0, UPTR(SC_ARG1(regs)));
	stash_user_str(st, 1, UPTR(SC_ARG2(regs)));
	const void *type = UPTR(SC_ARG3(regs));
	long n = type ? bpf_probe_read_user_str(st->args, MOUNT_TYPE_MAX, type) : 0;
	st->args[5] = n > 0 ? n : 0;
	return 0;
}

/* res dev dir type flags */
SYSCALL_EXIT(mount)
{
	struct stash *st = stash_end(EV_MOUNT);
	struct ev e;
	if (!ev_begin(&e, EV_MOUNT, EV_MOUNT_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_arg_str(&e, st, 1, UPTR(SC_ARG2(regs)));
	if (st && st->args[5] > 0 && st->args[5] < MOUNT_TYPE_MAX)      /* read whole */
		ev_kernel_bytes(&e, st->args, st->args[5], MOUNT_TYPE_MAX);
	else
		ev_user_str(&e, UPTR(SC_ARG3(regs)));
	ev_u32(&e, mount_flags_ppm(SC_ARG4(regs)));
	ev_submit(&e);
	return 0;
}

ENTRY_STR1(memfd_create, EV_MEMFD_CREATE, SC_ARG1(regs))
/* fd name flags */
SYSCALL_EXIT(memfd_create)
{
	struct stash *st = stash_end(EV_MEMFD_CREATE);
	struct ev e;
	if (!ev_begin(&e, EV_MEMFD_CREATE, EV_MEMFD_CREATE_N))
		return 0;
	ev_s64(&e, ret);
	ev_arg_str(&e, st, 0, UPTR(SC_ARG1(regs)));
	ev_u32(&e, memfd_flags_ppm(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

#endif
