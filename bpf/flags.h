/* Kernel flag values to the driver's encodings (sensor/events/flags.py). */
#ifndef SENSOR_FLAGS_H
#define SENSOR_FLAGS_H

#define K_O_WRONLY    01
#define K_O_RDWR      02
#define K_O_CREAT     0100
#define K_O_EXCL      0200
#define K_O_TRUNC     01000
#define K_O_APPEND    02000
#define K_O_NONBLOCK  04000
#define K_O_DSYNC     010000
#define K_O_DIRECT    040000
#define K_O_LARGEFILE 0100000
#define K_O_DIRECTORY 0200000
#define K_O_CLOEXEC   02000000
#define K_O_SYNC      04010000
#define K_O_TMPFILE   020200000

static __always_inline u32 open_flags_ppm(u64 f)
{
	u32 r = 0;
	switch (f & 3) {
	case 0: r |= 1; break;          /* RDONLY */
	case K_O_WRONLY: r |= 2; break;
	case K_O_RDWR: r |= 3; break;
	}
	if (f & K_O_CREAT) r |= 4;
	if (f & K_O_APPEND) r |= 8;
	if (f & K_O_DSYNC) r |= 16;
	if (f & K_O_EXCL) r |= 32;
	if (f & K_O_NONBLOCK) r |= 64;
	if ((f & K_O_SYNC) == K_O_SYNC) r |= 128;
	if (f & K_O_TRUNC) r |= 256;
	if (f & K_O_DIRECT) r |= 512;
	if (f & K_O_DIRECTORY) r |= 1024;
	if (f & K_O_LARGEFILE) r |= 2048;
	if (f & K_O_CLOEXEC) r |= 4096;
	if ((f & K_O_TMPFILE) == K_O_TMPFILE) r |= 8192;
	return r;
}

#endif
