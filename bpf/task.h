/* What events read from a task: ids in its pid namespace, credentials, the
 * memory's argument and environment areas, paths of dentries, the cgroup, the
 * executable's flags.  Kernel layouts are this kernel's (CO-RE relocates
 * offsets; renamed fields would need bpf_core_field_exists variants). */
#ifndef SENSOR_TASK_H
#define SENSOR_TASK_H

#define PATH_DEPTH      32      /* components of a path we walk, root first */
#define OVERLAYFS_MAGIC 0x794c7630
#define K_PF_KTHREAD    0x00200000
#define K_RLIMIT_NOFILE 7

/* The id of pid in its own (innermost) namespace. */
static __always_inline s64 pid_vnr(struct pid *pid)
{
	if (!pid)
		return 0;
	u32 level = BPF_CORE_READ(pid, level);
	struct upid *u = &pid->numbers[0];
	int nr = 0;
	bpf_probe_read_kernel(&nr, sizeof(nr), &u[level & 31].nr);
	return nr;
}

static __always_inline s64 task_vtid(struct task_struct *t)
{
	return pid_vnr(BPF_CORE_READ(t, thread_pid));
}

static __always_inline s64 task_vpid(struct task_struct *t)
{
	return pid_vnr(BPF_CORE_READ(t, group_leader, thread_pid));
}

static __always_inline s64 task_vpgid(struct task_struct *t)
{
	return pid_vnr(BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]));
}

/* The driver's tty number: the device of the controlling terminal. */
static __always_inline u32 task_tty(struct task_struct *t)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (!tty)
		return 0;
	u32 major = BPF_CORE_READ(tty, driver, major);
	u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

static __always_inline s64 task_loginuid(struct task_struct *t)
{
	return BPF_CORE_READ(t, loginuid.val);
}

/* Paths are walked with bpf_loop, their state kept in a per-CPU map: the
 * verifier does not track values loaded from a map, so the callbacks converge
 * at once, where a loop over a stack variable would be explored iteration by
 * iteration (execve's three walks exceed the verifier's budget that way).
 * A walk collects component names leaf first, then writes "/name" for each,
 * root first, into the record being built. */
struct walk {
	const unsigned char *names[PATH_DEPTH];
	u32 depth;
	u32 pos;
	struct dentry *d;
	struct mount *mnt;
	struct kernfs_node *kn;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct walk);
} walk_map SEC(".maps");

static __always_inline struct walk *walk_get(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&walk_map, &zero);
}

static long walk_dentry(u32 i, void *unused)
{
	struct walk *w = walk_get();
	if (!w)
		return 1;
	struct dentry *d = w->d;
	struct mount *mnt = w->mnt;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == BPF_CORE_READ(mnt, mnt.mnt_root)) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt || !up)
			return 1;               /* the root of everything */
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	if (w->depth >= PATH_DEPTH)
		return 1;
	w->names[w->depth & (PATH_DEPTH - 1)] = BPF_CORE_READ(d, d_name.name);
	w->depth++;
	if (d == parent || !parent)
		return 1;                       /* the root of a pseudo filesystem */
	w->d = parent;
	return 0;
}

static long walk_kernfs(u32 i, void *unused)
{
	struct walk *w = walk_get();
	if (!w || !w->kn || w->depth >= PATH_DEPTH)
		return 1;
	struct kernfs_node *kn = w->kn;
	struct kernfs_node *parent = BPF_CORE_READ(kn, __parent);
	if (!parent)
		return 1;                       /* the root's name is empty */
	w->names[w->depth & (PATH_DEPTH - 1)] = (const unsigned char *)BPF_CORE_READ(kn, name);
	w->depth++;
	w->kn = parent;
	return 0;
}

static long walk_write(u32 i, void *unused)
{
	struct walk *w = walk_get();
	u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &cpu);
	if (!w || !s)
		return 1;
	u32 pos = w->pos;
	if (i >= w->depth || pos >= SENSOR_MAX_EVENT - EV_MARGIN - 256)
		return 1;
	s->buf[pos & OFF_MASK] = '/';
	pos++;
	long n = bpf_probe_read_kernel_str(&s->buf[pos & OFF_MASK], 255,
					   w->names[(w->depth - 1 - i) & (PATH_DEPTH - 1)]);
	if (n > 0)
		pos += n - 1;                   /* the next '/' goes over the NUL */
	w->pos = pos;
	return 0;
}

/* Writes the collected names as a path (at least "/") and its NUL. */
static __always_inline void ev_walked_bytes(struct ev *e, struct walk *w)
{
	if (w->depth == 0) {
		e->buf[e->pos & OFF_MASK] = '/';
		e->pos++;
	}
	w->pos = e->pos;
	bpf_loop(PATH_DEPTH, walk_write, NULL, 0);
	e->pos = w->pos & OFF_MASK;
	e->buf[e->pos & OFF_MASK] = 0;
	e->pos++;
}

/* The same, as a whole parameter that began at start. */
static __always_inline void ev_walked(struct ev *e, struct walk *w, u32 start)
{
	ev_walked_bytes(e, w);
	ev_len(e, e->pos - start);
}

static __always_inline void ev_path(struct ev *e, struct dentry *d, struct vfsmount *vm)
{
	struct walk *w = walk_get();
	if (!w) {
		ev_empty(e);
		return;
	}
	w->depth = 0;
	w->d = d;
	w->mnt = container_of(vm, struct mount, mnt);
	bpf_loop(PATH_DEPTH + 8, walk_dentry, NULL, 0);
	ev_walked(e, w, e->pos);
}

static __always_inline void ev_file_path(struct ev *e, struct file *f)
{
	if (!f) {
		ev_empty(e);
		return;
	}
	ev_path(e, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

static __always_inline void ev_cwd(struct ev *e, struct task_struct *t)
{
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	if (!fs) {
		ev_empty(e);
		return;
	}
	ev_path(e, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt));
}

/* The cgroup of a task that a controller sees: the controller's own v1
 * hierarchy's when it is bound to one (hierarchy id > 0), else the task's
 * cgroup in the v2 (default) hierarchy. */
static __always_inline struct kernfs_node *task_cgroup_kn(struct task_struct *t, u32 ctl)
{
	struct css_set *cs = BPF_CORE_READ(t, cgroups);
	struct cgroup_subsys_state *css = NULL;
	if (!cs)
		return NULL;
	if (ctl < CGROUP_SUBSYS_COUNT)
		bpf_probe_read_kernel(&css, sizeof(css), &cs->subsys[ctl]);
	if (css) {
		struct cgroup *cg = BPF_CORE_READ(css, cgroup);
		if (cg && BPF_CORE_READ(cg, root, hierarchy_id) > 0)
			return BPF_CORE_READ(cg, kn);
	}
	return BPF_CORE_READ(cs, dfl_cgrp, kn);
}

/* One "subsys=/path\0" entry of the cgroups parameter; label: the "subsys="
 * text's bytes as a little-endian u64 (no .rodata: that map is the settings). */
static __always_inline void ev_cgroup_entry(struct ev *e, struct walk *w, u64 label,
					    u32 label_len, struct kernfs_node *kn)
{
	*(u64 *)&e->buf[e->pos & OFF_MASK] = label;
	e->pos += label_len;
	w->depth = 0;
	w->kn = kn;
	bpf_loop(PATH_DEPTH, walk_kernfs, NULL, 0);
	ev_walked_bytes(e, w);
}

#define CG_LABEL_CPU    0x3d757063ULL             /* "cpu=" */
#define CG_LABEL_MEMORY 0x3d79726f6d656dULL       /* "memory=" */

/* The cgroups as the driver lists them, one "subsys=path" per controller
 * ("cpu=/a/b\0memory=/a/b\0"): for cpu and memory, the controller's v1
 * hierarchy's cgroup when the controller is bound to one, else the task's v2
 * cgroup (on a v2-only host both name the same path).  A container runtime
 * puts its containers in both (and in v2 too on hybrid hosts), so either
 * names the container. */
static __always_inline void ev_cgroups(struct ev *e, struct task_struct *t)
{
	struct walk *w = walk_get();
	u32 start = e->pos;
	if (!w) {
		ev_empty(e);
		return;
	}
	u32 cpu = bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id) ?
		bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id) : CGROUP_SUBSYS_COUNT;
	u32 mem = bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id) ?
		bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id) : CGROUP_SUBSYS_COUNT;
	ev_cgroup_entry(e, w, CG_LABEL_CPU, 4, task_cgroup_kn(t, cpu));
	ev_cgroup_entry(e, w, CG_LABEL_MEMORY, 7, task_cgroup_kn(t, mem));
	ev_len(e, e->pos - start);
}

/* argv: "exe" is the first string of the argument area, "args" the rest. */
static __always_inline void ev_exe_args(struct ev *e, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long start = mm ? BPF_CORE_READ(mm, arg_start) : 0;
	unsigned long end = mm ? BPF_CORE_READ(mm, arg_end) : 0;
	if (!mm || end <= start) {
		ev_empty(e);
		ev_empty(e);
		return;
	}
	u32 before = e->pos;
	ev_user_str(e, (const void *)start);
	u32 exe_len = e->pos - before;
	if (exe_len == 0 || start + exe_len >= end)
		ev_empty(e);
	else
		ev_user_bytes(e, (const void *)(start + exe_len), end - start - exe_len,
			      SENSOR_MAX_ARGS);
}

static __always_inline void ev_env(struct ev *e, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long start = mm ? BPF_CORE_READ(mm, env_start) : 0;
	unsigned long end = mm ? BPF_CORE_READ(mm, env_end) : 0;
	if (!mm || end <= start)
		ev_empty(e);
	else
		ev_user_bytes(e, (const void *)start, end - start, SENSOR_MAX_ARGS);
}

/* fdlimit, pgft_maj, pgft_min, vm_size, vm_rss, vm_swap (KiB), comm. */
static __always_inline void ev_task_usage(struct ev *e, struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	ev_s64(e, BPF_CORE_READ(t, signal, rlim[K_RLIMIT_NOFILE].rlim_cur));
	ev_u64(e, BPF_CORE_READ(t, maj_flt));
	ev_u64(e, BPF_CORE_READ(t, min_flt));
	u64 size = 0, rss = 0, swap = 0;
	if (mm) {
		size = BPF_CORE_READ(mm, total_vm);
		rss = BPF_CORE_READ(mm, rss_stat[MM_FILEPAGES].count) +
		      BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count) +
		      BPF_CORE_READ(mm, rss_stat[MM_SHMEMPAGES].count);
		swap = BPF_CORE_READ(mm, rss_stat[MM_SWAPENTS].count);
	}
	ev_u32(e, size << 2);                   /* 4 KiB pages to KiB */
	ev_u32(e, (s64)rss > 0 ? rss << 2 : 0);
	ev_u32(e, (s64)swap > 0 ? swap << 2 : 0);
	ev_kernel_str(e, t->comm);
}

/* Whether id (a kernel uid or gid) has a mapping in the user namespace map
 * (map_id_up: some extent's kernel range holds it).  The initial namespace
 * maps every id; maps of more than 5 extents are sorted trees, not read here
 * (counted as mapped). */
static __always_inline bool id_mapped(struct uid_gid_map *map, u32 id)
{
	u32 n = BPF_CORE_READ(map, nr_extents);
	if (n > 5)
		return true;
	for (int j = 0; j < 5; j++) {
		if (j >= n)
			break;
		u32 lower = BPF_CORE_READ(map, extent[j].lower_first);
		u32 count = BPF_CORE_READ(map, extent[j].count);
		if (id >= lower && id - lower < count)
			return true;
	}
	return false;
}

/* Whether gid is one of the supplementary groups (sorted: binary search). */
static __always_inline bool in_groups(const struct cred *cred, u32 gid)
{
	struct group_info *gi = BPF_CORE_READ(cred, group_info);
	if (!gi)
		return false;
	u32 left = 0, right = BPF_CORE_READ(gi, ngroups);
	for (int j = 0; j < 17; j++) {          /* log2(NGROUPS_MAX) + 1 */
		if (left >= right)
			break;
		u32 mid = (left + right) / 2;
		u32 g = BPF_CORE_READ(gi, gid[mid & 0xffff].val);
		if (gid > g)
			left = mid + 1;
		else if (gid < g)
			right = mid;
		else
			return true;
	}
	return false;
}

#define K_SB_RDONLY       1
#define K_S_IMMUTABLE     8
#define K_MNT_READONLY    0x40
#define K_CAP_DAC_OVERRIDE 1
#define K_CAP_FOWNER      3

/* The driver's EXE_WRITABLE: could the task write its executable?  As the
 * kernel's permission check without ACLs: a read-only filesystem or mount
 * (the driver looks at the superblock only) or an immutable inode: no; the
 * owner: yes (it can chmod); else the mode's group (fsgid or a supplementary
 * group) or other write bit; else CAP_DAC_OVERRIDE (owner and group mapped in
 * the task's user namespace) or CAP_FOWNER (owner mapped). */
static __always_inline bool exe_writable(struct task_struct *t, struct file *exe,
					 struct inode *ino)
{
	u16 mode = BPF_CORE_READ(ino, i_mode);
	u16 fmt = mode & 0170000;
	bool rw_type = fmt == 0100000 || fmt == 0040000 || fmt == 0120000;
	if (((BPF_CORE_READ(ino, i_sb, s_flags) & K_SB_RDONLY) && rw_type) ||
	    (BPF_CORE_READ(exe, f_path.mnt, mnt_flags) & K_MNT_READONLY))
		return false;
	if (BPF_CORE_READ(ino, i_flags) & K_S_IMMUTABLE)
		return false;
	const struct cred *cred = BPF_CORE_READ(t, cred);
	u32 i_uid = BPF_CORE_READ(ino, i_uid.val);
	u32 i_gid = BPF_CORE_READ(ino, i_gid.val);
	if (i_uid == (u32)-1 || i_gid == (u32)-1)
		return false;
	if (BPF_CORE_READ(cred, fsuid.val) == i_uid)
		return true;
	if (BPF_CORE_READ(cred, fsgid.val) == i_gid || in_groups(cred, i_gid))
		mode >>= 3;
	if (mode & 02)
		return true;
	u64 caps = BPF_CORE_READ(cred, cap_effective.val);
	struct user_namespace *ns = BPF_CORE_READ(cred, user_ns);
	if (!ns)
		return false;
	bool uid_ok = id_mapped(&ns->uid_map, i_uid);
	if ((caps & (1ULL << K_CAP_DAC_OVERRIDE)) && uid_ok && id_mapped(&ns->gid_map, i_gid))
		return true;
	return (caps & (1ULL << K_CAP_FOWNER)) && uid_ok;
}

/* A file made by memfd_create: the root of the internal shmem (or hugetlbfs)
 * mount, named "memfd:<name>", as the driver tells it. */
static __always_inline bool exe_from_memfd(struct file *exe)
{
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	if (!d || BPF_CORE_READ(d, d_parent) != d)
		return false;
	char name[8] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(d, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	       name[4] == 'd' && name[5] == ':';
}

/* The driver's execve flags: EXE_WRITABLE 1, EXE_UPPER_LAYER 2, EXE_FROM_MEMFD 4. */
static __always_inline u32 exe_flags(struct task_struct *t, struct file *exe)
{
	if (!exe)
		return 0;
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	u32 flags = 0;
	if (exe_writable(t, exe, ino))
		flags |= 1;
	if (BPF_CORE_READ(ino, i_sb, s_magic) == OVERLAYFS_MAGIC) {
		/* the overlay inode's upper dentry, when the file has been copied up */
		struct ovl_inode *ovl = container_of(ino, struct ovl_inode, vfs_inode);
		struct dentry *upper = BPF_CORE_READ(ovl, __upperdentry);
		if (upper && BPF_CORE_READ(upper, d_inode, i_ino))
			flags |= 2;
	}
	if (exe_from_memfd(exe))
		flags |= 4;
	return flags;
}

/* The driver's clone flags (sensor/events/flags.py clone_flags) from the kernel's. */
static __always_inline u32 clone_flags_ppm(u64 f)
{
	u32 r = 0;
	if (f & 0x00000400) r |= 1 << 0;        /* CLONE_FILES */
	if (f & 0x00000200) r |= 1 << 1;        /* CLONE_FS */
	if (f & 0x80000000) r |= 1 << 2;        /* CLONE_IO */
	if (f & 0x08000000) r |= 1 << 3;        /* CLONE_NEWIPC */
	if (f & 0x40000000) r |= 1 << 4;        /* CLONE_NEWNET */
	if (f & 0x00020000) r |= 1 << 5;        /* CLONE_NEWNS */
	if (f & 0x20000000) r |= 1 << 6;        /* CLONE_NEWPID */
	if (f & 0x04000000) r |= 1 << 7;        /* CLONE_NEWUTS */
	if (f & 0x00008000) r |= 1 << 8;        /* CLONE_PARENT */
	if (f & 0x00100000) r |= 1 << 9;        /* CLONE_PARENT_SETTID */
	if (f & 0x00002000) r |= 1 << 10;       /* CLONE_PTRACE */
	if (f & 0x00000800) r |= 1 << 11;       /* CLONE_SIGHAND */
	if (f & 0x00040000) r |= 1 << 12;       /* CLONE_SYSVSEM */
	if (f & 0x00010000) r |= 1 << 13;       /* CLONE_THREAD */
	if (f & 0x00800000) r |= 1 << 14;       /* CLONE_UNTRACED */
	if (f & 0x00000100) r |= 1 << 15;       /* CLONE_VM */
	if (f & 0x10000000) r |= 1 << 20;       /* CLONE_NEWUSER */
	if (f & 0x00200000) r |= 1 << 23;       /* CLONE_CHILD_CLEARTID */
	if (f & 0x01000000) r |= 1 << 24;       /* CLONE_CHILD_SETTID */
	if (f & 0x00080000) r |= 1 << 25;       /* CLONE_SETTLS */
	if (f & 0x00004000) r |= 1 << 27;       /* CLONE_VFORK */
	if (f & 0x02000000) r |= 1 << 28;       /* CLONE_NEWCGROUP */
	return r;
}

#define PPM_CL_CHILD_IN_PIDNS (1U << 29)

#endif
