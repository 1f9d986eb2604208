#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): runs the
   fuzzing loop with `callback` as the target, taking libFuzzer's flags from
   argv. Declared here because libFuzzer ships no header for it. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
