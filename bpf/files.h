/* The open files of the current task. */
#ifndef SENSOR_FILES_H
#define SENSOR_FILES_H

/* Turns a pointer read from memory into one the verifier lets us load
 * through (each load then costs an instruction, not a helper call).  The
 * verifier replaces the call with a move. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* The file behind fd in the current task's table, or NULL.  Loads go through
 * the task's BTF pointer: faults read as 0, as with bpf_probe_read_kernel. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = t->files->fdt;
	struct file **fds = fdt->fd;
	struct file *f = NULL;
	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f ? bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file)) : NULL;
}

#endif
