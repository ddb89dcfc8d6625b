// client_lineedit_test.c: the terminal line editor (socp_client_lineedit):
// the keys a person uses, escape sequences split over reads, UTF-8 under the
// cursor, history with the draft kept, and a long line drawn to fit the row.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_client_lineedit.h"
#include "socp/socp_text.h"
#include "socp_test.h"

// Feeds a string of key bytes; returns the last event that was not NONE.
static socp_lineedit_event_t
s_type(socp_lineedit_t *ed, const char *keys)
{
    socp_lineedit_event_t last = SOCP_LINEEDIT_NONE;
    for (const char *k = keys; *k; k++) {
        socp_lineedit_event_t e = socp_lineedit_feed(ed, (uint8_t) *k);
        if (e != SOCP_LINEEDIT_NONE) {
            last = e;
        }
    }
    return last;
}

static void
s_line_is(socp_lineedit_t *ed, const char *want)
{
    CHECK_STREQ(socp_lineedit_line(ed, NULL), want);
}

#define LEFT  "\x1b[D"
#define RIGHT "\x1b[C"
#define UP    "\x1b[A"
#define DOWN  "\x1b[B"

SOCP_TEST(client_lineedit_edits_in_the_middle)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 10);
    CHECK_EQ(s_type(ed, "/tell bob hllo"), SOCP_LINEEDIT_REDRAW);
    (void) s_type(ed, LEFT LEFT LEFT "e");
    s_line_is(ed, "/tell bob hello");
    (void) s_type(ed, "\x01"
                      "x"); // Ctrl-A: home
    s_line_is(ed, "x/tell bob hello");
    (void) s_type(ed, LEFT "\x1b[3~"); // Delete under the cursor
    s_line_is(ed, "/tell bob hello");
    CHECK_EQ(s_type(ed, "\x7f"), SOCP_LINEEDIT_NONE); // Backspace at the start
    s_line_is(ed, "/tell bob hello");
    (void) s_type(ed, "\x05"
                      "\x17"); // Ctrl-E, Ctrl-W: the last word
    s_line_is(ed, "/tell bob ");
    (void) s_type(ed, "\x1b"
                      "b"
                      "\x0b"); // Alt-B, Ctrl-K: cut to the end
    s_line_is(ed, "/tell ");
    (void) s_type(ed, "alice hi"
                      "\x1b[H"
                      "\x1b[1;5C"
                      "\x15"); // Home, Ctrl-Right, Ctrl-U
    s_line_is(ed, "tell alice hi");
    CHECK_EQ(s_type(ed, "\r"), SOCP_LINEEDIT_SUBMIT);
    char *line = socp_lineedit_take(ed);
    CHECK_STREQ(line, "tell alice hi");
    free(line);
    s_line_is(ed, "");
    socp_lineedit_destroy(&ed);
    CHECK(ed == NULL);
}

SOCP_TEST(client_lineedit_escape_sequences_split_or_unknown_never_become_text)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 10);
    (void) s_type(ed, "ab");
    // Left arrow arriving one byte per read.
    CHECK_EQ(socp_lineedit_feed(ed, 0x1b), SOCP_LINEEDIT_NONE);
    CHECK_EQ(socp_lineedit_feed(ed, '['), SOCP_LINEEDIT_NONE);
    CHECK_EQ(socp_lineedit_feed(ed, 'D'), SOCP_LINEEDIT_REDRAW);
    (void) s_type(ed, "X");
    s_line_is(ed, "aXb");
    // F5, PgUp, Insert, a mouse report, SS3 F1, bracketed-paste marks, Alt-x.
    (void) s_type(ed, "\x1b[15~"
                      "\x1b[5~"
                      "\x1b[2~"
                      "\x1b[<0;12;5M"
                      "\x1bOP"
                      "\x1b[200~"
                      "\x1bx");
    s_line_is(ed, "aXb");
    (void) s_type(ed, "\x1bOF"
                      "!"); // SS3 End
    s_line_is(ed, "aXb!");
    // Other control characters are never inserted.
    (void) s_type(ed, "\x07\x00\x1c");
    s_line_is(ed, "aXb!");
    CHECK_EQ(s_type(ed, "\x03"), SOCP_LINEEDIT_INTERRUPT);
    socp_lineedit_destroy(&ed);
}

SOCP_TEST(client_lineedit_utf8_moves_and_deletes_whole_characters)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 10);
    (void) s_type(ed, "h\xc3\xa9llo \xe2\x82\xac"); // "héllo €"
    (void) s_type(ed, "\x7f");                      // the € goes whole
    s_line_is(ed, "h\xc3\xa9llo ");
    (void) s_type(ed, "\x01" RIGHT RIGHT "\x7f"); // after é: Backspace removes it whole
    s_line_is(ed, "hllo ");
    (void) s_type(ed, "\xc3\xa8"); // typed byte by byte, lands whole at the cursor
    s_line_is(ed, "h\xc3\xa8llo ");
    (void) s_type(ed, LEFT "\x04"); // Ctrl-D deletes è under the cursor
    s_line_is(ed, "hllo ");
    socp_lineedit_destroy(&ed);
    // A full line refuses more, and Ctrl-D on an empty line is the end.
    ed = socp_lineedit_new(4, 10);
    (void) s_type(ed, "abcdef");
    s_line_is(ed, "abcd");
    (void) s_type(ed, "\x15");
    CHECK_EQ(s_type(ed, "\x04"), SOCP_LINEEDIT_EOF);
    socp_lineedit_destroy(&ed);
}

SOCP_TEST(client_lineedit_history_keeps_the_draft)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 3);
    const char *lines[] = {"one", "two", "two", "", "three", "four"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        (void) s_type(ed, lines[i]);
        free(socp_lineedit_take(ed));
    }
    // Kept: the newest 3, without the repeat or the empty line.
    (void) s_type(ed, "draft");
    (void) s_type(ed, UP);
    s_line_is(ed, "four");
    (void) s_type(ed, UP UP);
    s_line_is(ed, "two");
    CHECK_EQ(s_type(ed, UP), SOCP_LINEEDIT_NONE); // the oldest kept
    s_line_is(ed, "two");
    (void) s_type(ed, "\x0e"
                      "\x0e"
                      "\x0e"); // Ctrl-N back down
    s_line_is(ed, "draft");
    CHECK_EQ(s_type(ed, DOWN), SOCP_LINEEDIT_NONE);
    socp_lineedit_destroy(&ed);
}

SOCP_TEST(client_lineedit_completes_the_word_at_the_cursor)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 3);
    CHECK_EQ(s_type(ed, "/tell bo"), SOCP_LINEEDIT_REDRAW);
    CHECK_EQ(s_type(ed, "\t"), SOCP_LINEEDIT_COMPLETE);
    size_t n;
    const char *w = socp_lineedit_word(ed, &n);
    CHECK_EQ(n, 2);
    CHECK(strncmp(w, "bo", 2) == 0);
    CHECK(socp_lineedit_complete(ed, "bob"));
    (void) s_type(ed, "hi");
    s_line_is(ed, "/tell bob hi");
    socp_lineedit_destroy(&ed);
}

// The row shows the part of the line around the cursor, never wider than
// the terminal (a wrapped row would leave old copies on the screen), and the
// cursor is put back where it is in the line.
SOCP_TEST(client_lineedit_render_fits_the_row)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 3);
    char out[512];
    (void) s_type(ed, "hello");
    size_t n = socp_lineedit_render(ed, "> ", 80, out, sizeof out);
    CHECK_STREQ(out, "\r\x1b[K> hello\r\x1b[7C");
    CHECK_EQ(n, strlen(out));
    for (int i = 0; i < 100; i++) {
        (void) s_type(ed, i % 10 == 9 ? " " : "x");
    }
    (void) s_type(ed, "END");
    (void) socp_lineedit_render(ed, "> ", 40, out, sizeof out);
    // Prompt + 37 cells (the last column stays free): the tail of the line
    // in 36, the cursor after it in the 37th.
    const char *text = out + strlen("\r\x1b[K> ");
    const char *cr = strchr(text, '\r');
    CHECK(cr && cr - text == 36);
    CHECK(strncmp(cr - 3, "END", 3) == 0);
    CHECK_STREQ(cr, "\r\x1b[38C");
    // Home: the start of the line comes back into view.
    (void) s_type(ed, "\x01");
    (void) socp_lineedit_render(ed, "> ", 40, out, sizeof out);
    CHECK(strncmp(out, "\r\x1b[K> hellox", 12) == 0);
    CHECK(strstr(out, "\r\x1b[2C"));
    // Controls and bidi overrides in the line are drawn as '?'.
    free(socp_lineedit_take(ed));
    CHECK(socp_lineedit_complete(ed, "a\xe2\x80\xae"
                                     "b")); // U+202E
    (void) socp_lineedit_render(ed, "> ", 40, out, sizeof out);
    CHECK(strncmp(out, "\r\x1b[K> a?b \r", 11) == 0);
    socp_lineedit_destroy(&ed);
}

// The cursor column of a rendered row ("\r\x1b[NC" at its end; 0 if "\r").
static size_t
s_cursor_col(const char *row)
{
    const char *cr = strrchr(row, '\r');
    size_t col = 0;
    CHECK(cr && (cr[1] == '\0' || sscanf(cr, "\r\x1b[%zuC", &col) == 1));
    return col;
}

// Columns the text part of a row takes (after the prompt, before the CR).
static size_t
s_text_cols(const char *row, const char *prompt)
{
    const char *p = row + strlen("\r\x1b[K") + strlen(prompt);
    const char *end = strrchr(row, '\r');
    size_t cols = 0;
    while (p < end) {
        uint32_t cp;
        size_t k = socp_text_utf8_decode((const uint8_t *) p, (size_t) (end - p), &cp);
        CHECK(k > 0);
        cols += socp_text_columns(cp);
        p += k;
    }
    return cols;
}

SOCP_TEST(client_lineedit_wide_and_stray_bytes_never_wrap_the_row)
{
    CHECK_EQ(socp_text_columns('a'), 1);
    CHECK_EQ(socp_text_columns(0x4e2d), 2);  // 中
    CHECK_EQ(socp_text_columns(0x1f600), 2); // an emoji
    CHECK_EQ(socp_text_columns(0x0301), 0);  // a combining acute
    CHECK_EQ(socp_text_columns(0x20ac), 1);  // €
    CHECK_EQ(socp_text_columns(0xac00), 2);  // Hangul
    static char out[8192];
    socp_lineedit_t *ed = socp_lineedit_new(4000, 4);
    for (int i = 0; i < 60; i++) {
        (void) s_type(ed, "\xe4\xb8\xad"); // 中: 120 columns in all
    }
    (void) socp_lineedit_render(ed, "> ", 80, out, sizeof out);
    CHECK(2 + s_text_cols(out, "> ") <= 79);
    CHECK(s_cursor_col(out) <= 79);
    CHECK_EQ(s_cursor_col(out), 2 + s_text_cols(out, "> ")); // right after the last one
    (void) s_type(ed, "\x01");
    (void) socp_lineedit_render(ed, "> ", 80, out, sizeof out);
    CHECK_EQ(s_cursor_col(out), 2);
    CHECK(2 + s_text_cols(out, "> ") <= 79);
    free(socp_lineedit_take(ed));
    // Stray bytes (a Latin-1 terminal's "°"): one '?' and one column each,
    // one Backspace each, and the cursor stays after the last one drawn.
    for (int i = 0; i < 60; i++) {
        (void) s_type(ed, "a\xb0");
    }
    (void) socp_lineedit_render(ed, "> ", 80, out, sizeof out);
    CHECK_EQ(s_cursor_col(out), 78); // the last column (79) stays free
    CHECK(strstr(out, "a?\r"));
    (void) s_type(ed, "\x7f");
    size_t len;
    (void) socp_lineedit_line(ed, &len);
    CHECK_EQ(len, 119);
    socp_lineedit_destroy(&ed);
}

SOCP_TEST(client_lineedit_row_never_empty_beside_text)
{
    socp_lineedit_t *ed = socp_lineedit_new(1000, 4);
    char out[4096];
    (void) s_type(ed, "hello");
    free(socp_lineedit_take(ed));
    for (int i = 0; i < 200; i++) {
        (void) s_type(ed, "x");
    }
    (void) socp_lineedit_render(ed, "> ", 80, out, sizeof out); // scrolled far right
    (void) s_type(ed, "\x1b[A");                                // Up: "hello"
    (void) socp_lineedit_render(ed, "> ", 80, out, sizeof out);
    CHECK_STREQ(out, "\r\x1b[K> hello\r\x1b[7C");
    (void) s_type(ed, "\x1b[B"); // back to the 200 x: then delete 190 of them
    for (int i = 0; i < 190; i++) {
        (void) s_type(ed, "\x7f");
    }
    (void) socp_lineedit_render(ed, "> ", 80, out, sizeof out);
    CHECK_STREQ(out, "\r\x1b[K> xxxxxxxxxx\r\x1b[12C");
    socp_lineedit_destroy(&ed);
}

SOCP_TEST(client_lineedit_a_lone_escape_does_not_eat_the_next_key)
{
    socp_lineedit_t *ed = socp_lineedit_new(4, 4);
    (void) s_type(ed, "ab");
    CHECK_EQ(s_type(ed, "\x1b\r"), SOCP_LINEEDIT_SUBMIT); // Esc, Enter
    free(socp_lineedit_take(ed));
    CHECK_EQ(s_type(ed, "\x1b\x03"), SOCP_LINEEDIT_INTERRUPT); // Esc, Ctrl-C
    (void) s_type(ed, "\x1b\xc3\xa9");                         // Alt+é: é
    s_line_is(ed, "\xc3\xa9");
    (void) s_type(ed, "\x1b[\x1b[D"
                      "x"); // a sequence broken by another
    s_line_is(ed, "x\xc3\xa9");
    (void) s_type(ed, "\x05\x1b[4294967299~"); // an absurd parameter: nothing
    s_line_is(ed, "x\xc3\xa9");
    // 4 bytes at most: a 2-byte character with 1 byte of room is refused whole.
    (void) s_type(ed, "y\xc3\xa8z");
    s_line_is(ed, "x\xc3\xa9y");
    socp_lineedit_destroy(&ed);
}
