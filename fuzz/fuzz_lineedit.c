// fuzz_lineedit.c: libFuzzer target: the terminal line editor fed any bytes
// a terminal (or a paste) could send.
//
// Input: one control byte (bits 0-6: the terminal's width, 8..135; bit 7:
// a line limit of 16 bytes instead of 4096), then the key bytes. After each
// byte the line must stay within its limit and NUL-terminated, a completion
// may be asked for, and the rendered row must fit its buffer, never carry a
// control character of the line's own (only the editor's own CR and CSI),
// and fit the terminal's width: text and cursor left of the last column.
#include "socp/socp_client_lineedit.h"
#include "socp/socp_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned width = 8u + (data[0] & 0x7fu);
    size_t max = (data[0] & 0x80u) ? 16 : 4096;
    socp_lineedit_t *ed = socp_lineedit_new(max, 4);
    static char row[4 * 136 + 64];
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
        const char *cr = strrchr(row, '\r');
        size_t cursor = 0, cols = 2;
        S_REQUIRE(cr && (cr[1] == '\0' || sscanf(cr, "\r\x1b[%zuC", &cursor) == 1));
        for (const char *p = row + 6; p < cr;) { // after "\r\x1b[K> "
            uint32_t cp;
            size_t k = socp_text_utf8_decode((const uint8_t *) p, (size_t) (cr - p), &cp);
            S_REQUIRE(k > 0 && socp_text_printable(cp));
            cols += socp_text_columns(cp);
            p += k;
        }
        S_REQUIRE(cols <= width - 1 && cursor <= width - 1);
    }
    socp_lineedit_destroy(&ed);
    return 0;
}
