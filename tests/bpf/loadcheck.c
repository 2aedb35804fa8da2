/* Development aid: load an object and attach every program, printing the verifier log on failure.
 * gcc tests/bpf/loadcheck.c -o /tmp/loadcheck -lbpf && /tmp/loadcheck bpf/build/sensor.bpf.o */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct bpf_object *o = bpf_object__open_file(argv[1], NULL);
  if (!o) { perror("open"); return 1; }
  if (bpf_object__load(o)) { perror("load"); return 1; }
  struct bpf_program *p;
  bpf_object__for_each_program(p, o) {
    struct bpf_link *l = bpf_program__attach(p);
    printf("%s: %s\n", bpf_program__name(p), l ? "attached" : "FAILED");
  }
  return 0;
}
