// fuzz_require.h: the libFuzzer targets' contract check. A broken contract
// names itself and aborts, so libFuzzer keeps the input as a crash.
#ifndef FUZZ_REQUIRE_H
#define FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#define S_REQUIRE(cond)                                                          \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "contract broken: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
