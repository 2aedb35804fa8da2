/* File syscalls: the open family, fd duplication and closing, cwd, and the
 * calls that change names, links, modes and mounts. */
#ifndef SENSOR_PROGS_FILE_H
#define SENSOR_PROGS_FILE_H

/* dev and ino of the file an fd refers to (the open family's dev/ino). */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct files_struct *files = BPF_CORE_READ(t, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	u32 max = BPF_CORE_READ(fdt, max_fds);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (fd < 0 || fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void ev_dev_ino(struct ev *e, long fd)
{
	struct file *f = fd >= 0 ? fd_file(fd) : NULL;
	struct inode *ino = f ? BPF_CORE_READ(f, f_inode) : NULL;
	u32 dev = ino ? BPF_CORE_READ(ino, i_sb, s_dev) : 0;
	u32 major = dev >> 20, minor = dev & 0xfffff;
	/* as user space sees st_dev (the kernel's new_encode_dev), like the driver */
	ev_u32(e, (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12));
	ev_u64(e, ino ? BPF_CORE_READ(ino, i_ino) : 0);
}

SYSCALL_ENTRY(openat)
{
	struct stash *st = stash_begin(EV_OPENAT);
	if (st)
		stash_user_str(st, 0, (const void *)SC_ARG2(regs));
	return 0;
}

SYSCALL_EXIT(openat)
{
	struct stash *st = stash_end(EV_OPENAT);
	struct ev e;
	if (!ev_begin(&e, EV_OPENAT, EV_OPENAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, (s32)SC_ARG1(regs));
	ev_arg_str(&e, st, 0, (const void *)SC_ARG2(regs));
	ev_u32(&e, open_flags_ppm(SC_ARG3(regs)));
	ev_u32(&e, SC_ARG4(regs));
	ev_dev_ino(&e, ret);
	ev_submit(&e);
	return 0;
}

#endif
