/* Development aid: load a BPF object and attach its programs, printing libbpf's
 * messages (the verifier log on failure).  With names after the object, only
 * those programs are loaded.
 *   gcc tests/bpf/loadcheck.c -o /tmp/loadcheck -lbpf
 *   /tmp/loadcheck bpf/build/sensor.bpf.o [sys_exit_openat sys_enter_openat ...] */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>

static int wanted(const char *name, int argc, char **argv)
{
	if (argc <= 2)
		return 1;
	for (int i = 2; i < argc; i++)
		if (!strcmp(name, argv[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *o = bpf_object__open_file(argv[1], NULL);
	struct bpf_program *p;
	if (!o) {
		perror("open");
		return 1;
	}
	bpf_object__for_each_program(p, o)
		bpf_program__set_autoload(p, wanted(bpf_program__name(p), argc, argv));
	if (bpf_object__load(o)) {
		perror("load");
		return 1;
	}
	bpf_object__for_each_program(p, o) {
		if (!bpf_program__autoload(p))
			continue;
		struct bpf_link *l = bpf_program__attach(p);
		printf("%s: %s\n", bpf_program__name(p), l ? "attached" : "FAILED to attach");
	}
	return 0;
}
