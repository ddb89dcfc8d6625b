// fuzz_lineedit.c: libFuzzer target: the terminal line editor fed any bytes
// a terminal (or a paste) could send.
//
// Input: one control byte (bits 0-6: the terminal's width, 8..135; bit 7:
// a line limit of 16 bytes instead of 4096), then the key bytes. After each
// byte the line must stay within its limit and NUL-terminated, a completion
// may be asked for, and the rendered row must fit its buffer and never carry
// a control character of the line's own (only the editor's own CR and CSI).
#include "socp/socp_client_lineedit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_REQUIRE(cond)                                                          \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "contract broken: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                             \
        }                                                                        \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned width = 8u + (data[0] & 0x7fu);
    size_t max = (data[0] & 0x80u) ? 16 : 4096;
    socp_lineedit_t *ed = socp_lineedit_new(max, 4);
    char row[512];
    for (size_t i = 1; i < size; i++) {
        socp_lineedit_event_t e = socp_lineedit_feed(ed, data[i]);
        size_t len;
        const char *line = socp_lineedit_line(ed, &len);
        S_REQUIRE(len <= max && strlen(line) == len);
        if (e == SOCP_LINEEDIT_COMPLETE) {
            (void) socp_lineedit_complete(ed, "bob");
            line = socp_lineedit_line(ed, &len);
            S_REQUIRE(len <= max);
        } else if (e == SOCP_LINEEDIT_SUBMIT) {
            free(socp_lineedit_take(ed));
        }
        size_t n = socp_lineedit_render(ed, "> ", width, row, sizeof row);
        S_REQUIRE(n < sizeof row && row[n] == '\0' && strlen(row) == n);
        for (size_t k = 4; k < n; k++) { // after "\r\x1b[K"
            unsigned char c = (unsigned char) row[k];
            S_REQUIRE(c >= 0x20 || c == '\r' || (c == 0x1b && k + 1 < n && row[k + 1] == '['));
        }
    }
    socp_lineedit_destroy(&ed);
    return 0;
}
