// socp_client_lineedit.h: the terminal client's line editor, pure logic (no
// I/O): feed it the bytes the terminal sends, one at a time, and it keeps
// the line, the cursor and the history, and renders the line to fit the
// terminal's width.
// Part of socp, a SOCP v1.3 client and server.
//
// Keys: printable text (UTF-8) is inserted at the cursor; Left/Right,
// Home/End (also Ctrl-A/E, Ctrl-B/F), Alt-B/Alt-F (word left/right),
// Backspace, Delete (also Ctrl-D on a non-empty line), Ctrl-U (to the start),
// Ctrl-K (to the end), Ctrl-W (the word before the cursor), Up/Down (also
// Ctrl-P/N: history; the line being typed comes back below the newest
// entry), Tab (completion, done by the caller), Enter, Ctrl-C, Ctrl-D on an
// empty line, Ctrl-L. Escape sequences may arrive split over reads; unknown
// ones are swallowed whole, never inserted as text.
#ifndef SOCP_CLIENT_LINEEDIT_H
#define SOCP_CLIENT_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct socp_lineedit socp_lineedit_t;

typedef enum {
    SOCP_LINEEDIT_NONE,      // nothing visible changed
    SOCP_LINEEDIT_REDRAW,    // the line or the cursor changed: render it
    SOCP_LINEEDIT_SUBMIT,    // Enter: socp_lineedit_take() has the line
    SOCP_LINEEDIT_COMPLETE,  // Tab: complete socp_lineedit_word()
    SOCP_LINEEDIT_INTERRUPT, // Ctrl-C
    SOCP_LINEEDIT_EOF,       // Ctrl-D on an empty line
} socp_lineedit_event_t;

// A line of at most max_len bytes, a history of at most hist_max lines.
socp_lineedit_t *socp_lineedit_new(size_t max_len, size_t hist_max);
void socp_lineedit_destroy(socp_lineedit_t **self_p);

// Takes one byte from the terminal.
socp_lineedit_event_t socp_lineedit_feed(socp_lineedit_t *self, uint8_t byte);

// The line as it is now (NUL-terminated; len may be NULL).
const char *socp_lineedit_line(const socp_lineedit_t *self, size_t *len);

// After SUBMIT: the line (caller frees), added to the history unless empty or
// the same as the newest entry; the editor starts a new, empty line.
char *socp_lineedit_take(socp_lineedit_t *self);

// The word that ends at the cursor (from the last space before it).
const char *socp_lineedit_word(const socp_lineedit_t *self, size_t *len);

// Replaces that word with `with` and a space. False if it does not fit.
bool socp_lineedit_complete(socp_lineedit_t *self, const char *with);

// Writes to out (cap bytes) what redraws the input row: carriage return,
// clear the row, prompt (ASCII), the part of the line that fits in `width`
// columns around the cursor (wide characters count 2, combining marks 0),
// and the cursor put back in place. Characters that could steer the
// terminal (controls, bidi overrides, invalid UTF-8) show as '?'. Returns
// the length written (always < cap, NUL-terminated; cap >= 64; with
// cap >= 4 * width + 32 the whole window fits).
size_t socp_lineedit_render(socp_lineedit_t *self,
                            const char *prompt,
                            unsigned width,
                            char *out,
                            size_t cap);

#endif
