/* The file syscalls' kernel values to the driver's encodings
 * (sensor/events/flags.py tables), where they differ or need masking. */
#ifndef SENSOR_FILE_FLAGS_H
#define SENSOR_FILE_FLAGS_H

#define K_AT_FDCWD            -100
#define K___O_TMPFILE         020000000
#define K_FMODE_CREATED       0x100000          /* include/linux/fs.h (1 << 20) */
#define K_MS_MGC_VAL          0xC0ED0000U       /* mount's old magic in the flags' top half */
#define K_MS_MGC_MSK          0xffff0000U

/* The driver's open_modes_to_scap: the permission bits (PPM_S_* have the
 * kernel's values), only when the call can create (O_CREAT or O_TMPFILE). */
static __always_inline u32 open_mode_ppm(u64 flags, u64 mode)
{
	if (!(flags & (K_O_CREAT | K___O_TMPFILE)))
		return 0;
	return mode & 07777;
}

/* chmod_mode (PT_MODE): S_IXOTH 1 ... S_ISUID 04000, the kernel's values. */
static __always_inline u32 chmod_mode_ppm(u64 mode)
{
	return mode & 07777;
}

/* unlinkat_flags: AT_REMOVEDIR 0x200 (same value in the kernel). */
static __always_inline u32 unlinkat_flags_ppm(u64 f)
{
	return f & 0x200;
}

/* linkat_flags: AT_SYMLINK_FOLLOW 0x400, AT_EMPTY_PATH 0x1000 (the kernel's values). */
static __always_inline u32 linkat_flags_ppm(u64 f)
{
	return f & (0x400 | 0x1000);
}

/* renameat2_flags: RENAME_NOREPLACE 1, RENAME_EXCHANGE 2, RENAME_WHITEOUT 4 (the kernel's). */
static __always_inline u32 renameat2_flags_ppm(u64 f)
{
	return f & 7;
}

/* memfd_create_flags: MFD_CLOEXEC 1, MFD_ALLOW_SEALING 2, MFD_HUGETLB 4 (the
 * kernel's; the huge page size bits above are dropped, as the driver does). */
static __always_inline u32 memfd_flags_ppm(u64 f)
{
	return f & 7;
}

/* dup3's flags print with file_flags: O_CLOEXEC is the only one it takes. */
static __always_inline u32 dup3_flags_ppm(u64 f)
{
	return (f & K_O_CLOEXEC) ? 4096 : 0;
}

/* mount_flags: MS_* have the kernel's values; the old magic number some
 * callers put in the top half is removed, as the driver does. */
static __always_inline u32 mount_flags_ppm(u64 f)
{
	u32 r = f;
	if ((r & K_MS_MGC_MSK) == K_MS_MGC_VAL)
		r &= ~K_MS_MGC_MSK;
	return r;
}

/* openat2_flags: the kernel's RESOLVE_* bits are in another order. */
static __always_inline u32 openat2_resolve_ppm(u64 f)
{
	u32 r = 0;
	if (f & 0x08) r |= 1 << 0;      /* RESOLVE_BENEATH */
	if (f & 0x10) r |= 1 << 1;      /* RESOLVE_IN_ROOT */
	if (f & 0x02) r |= 1 << 2;      /* RESOLVE_NO_MAGICLINKS */
	if (f & 0x04) r |= 1 << 3;      /* RESOLVE_NO_SYMLINKS */
	if (f & 0x01) r |= 1 << 4;      /* RESOLVE_NO_XDEV */
	if (f & 0x20) r |= 1 << 5;      /* RESOLVE_CACHED */
	return r;
}

#define PPM_O_F_CREATED (1U << 14)

#endif
