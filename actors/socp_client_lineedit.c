// socp_client_lineedit.c: the terminal client's line editor (pure logic).
// Part of socp, a SOCP v1.3 client and server.
//
// The line is bytes, normally UTF-8 (every byte >= 0x20 but DEL is inserted
// as typed, so a multi-byte character arrives byte by byte and ends up
// whole). It is walked in units: a well-formed character, or else one byte
// (a stray byte from a Latin-1 terminal, say, drawn as '?'). The cursor,
// Backspace and Delete move by units; the renderer counts each unit's
// columns (socp_text_columns: 2 for wide CJK and emoji, 0 for combining
// marks; '?' takes 1), so the row never wraps.
#include "socp/socp_client_lineedit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_common.h"
#include "socp/socp_text.h"

#define S_CSI_MAX 16 // parameter bytes kept of an escape sequence

typedef enum { S_TEXT, S_ESC, S_CSI, S_SS3 } s_state_t;

struct socp_lineedit {
    char *line;
    size_t len, cur, max;
    char **hist;
    size_t nhist, hist_max, hpos;
    char *draft;   // the line being typed while the history is browsed
    size_t scroll; // first character shown when the line is wider than the row
    s_state_t state;
    char csi[S_CSI_MAX + 1];
    size_t ncsi;
    unsigned skip; // continuation bytes of a character that did not fit
};

socp_lineedit_t *
socp_lineedit_new(size_t max_len, size_t hist_max)
{
    socp_lineedit_t *self = socp_calloc(1, sizeof *self);
    self->max = max_len ? max_len : 1;
    self->line = socp_calloc(1, self->max + 1);
    self->hist_max = hist_max;
    self->hist = socp_calloc(hist_max ? hist_max : 1, sizeof *self->hist);
    return self;
}

void
socp_lineedit_destroy(socp_lineedit_t **self_p)
{
    socp_lineedit_t *self = self_p ? *self_p : NULL;
    if (!self) {
        return;
    }
    for (size_t i = 0; i < self->nhist; i++) {
        free(self->hist[i]);
    }
    free(self->hist);
    free(self->draft);
    free(self->line);
    free(self);
    *self_p = NULL;
}

// Bytes of the unit at line[at] (0 at the end): a character, or one byte.
static size_t
s_unit(const socp_lineedit_t *self, size_t at, uint32_t *cp)
{
    uint32_t c;
    if (at >= self->len) {
        return 0;
    }
    size_t k = socp_text_utf8_decode((const uint8_t *) self->line + at, self->len - at, &c);
    if (cp) {
        *cp = k ? c : 0xfffd;
    }
    return k ? k : 1;
}

// Columns the unit takes when drawn (a '?' for anything unsafe: 1).
static size_t
s_unit_columns(uint32_t cp)
{
    return socp_text_printable(cp) && cp != 0xfffd ? socp_text_columns(cp) : 1;
}

static size_t
s_next(const socp_lineedit_t *self, size_t at)
{
    return at + s_unit(self, at, NULL);
}

// The start of the unit that ends at `at`: the farthest one back whose
// unit ends exactly there (a whole character rather than its last byte).
static size_t
s_prev(const socp_lineedit_t *self, size_t at)
{
    if (at == 0) {
        return 0;
    }
    for (size_t p = at > 4 ? at - 4 : 0; p < at; p++) {
        if (p + s_unit(self, p, NULL) == at) {
            return p;
        }
    }
    return at - 1;
}

// Bytes a UTF-8 character starting with lead byte c has (1 if c is not one).
static unsigned
s_expected(uint8_t c)
{
    return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

// Removes line[from..to) and puts the cursor at from.
static void
s_cut(socp_lineedit_t *self, size_t from, size_t to)
{
    memmove(self->line + from, self->line + to, self->len - to);
    self->len -= to - from;
    self->line[self->len] = '\0';
    self->cur = from;
}

static void
s_set(socp_lineedit_t *self, const char *text)
{
    size_t n = strlen(text);
    bool cut = n > self->max;
    n = cut ? self->max : n;
    memcpy(self->line, text, n);
    self->len = n;
    for (size_t q = n; cut && q > 0 && q + 4 > n; q--) { // never end inside a character
        uint8_t b = (uint8_t) self->line[q - 1];
        if (b >= 0xc0) {
            self->len = q - 1 + s_expected(b) > n ? q - 1 : n;
            break;
        }
        if (b < 0x80) {
            break;
        }
    }
    self->line[self->len] = '\0';
    self->cur = self->len;
}

static size_t
s_word_left(const socp_lineedit_t *self, size_t at)
{
    while (at > 0 && self->line[at - 1] == ' ') {
        at--;
    }
    while (at > 0 && self->line[at - 1] != ' ') {
        at--;
    }
    return at;
}

static size_t
s_word_right(const socp_lineedit_t *self, size_t at)
{
    while (at < self->len && self->line[at] == ' ') {
        at++;
    }
    while (at < self->len && self->line[at] != ' ') {
        at++;
    }
    return at;
}

// Up (dir -1) or Down (+1) in the history; the line being typed is kept
// as the entry below the newest.
static socp_lineedit_event_t
s_history(socp_lineedit_t *self, int dir)
{
    if (dir < 0 && self->hpos == 0) {
        return SOCP_LINEEDIT_NONE;
    }
    if (dir > 0 && self->hpos >= self->nhist) {
        return SOCP_LINEEDIT_NONE;
    }
    if (self->hpos == self->nhist) {
        free(self->draft);
        self->draft = socp_strdup(self->line);
    }
    self->hpos = dir < 0 ? self->hpos - 1 : self->hpos + 1;
    s_set(self,
          self->hpos < self->nhist ? self->hist[self->hpos] : (self->draft ? self->draft : ""));
    return SOCP_LINEEDIT_REDRAW;
}

// Moves the cursor to `to`: a redraw if it moved.
static socp_lineedit_event_t
s_move(socp_lineedit_t *self, size_t to)
{
    if (to == self->cur) {
        return SOCP_LINEEDIT_NONE;
    }
    self->cur = to;
    return SOCP_LINEEDIT_REDRAW;
}

static socp_lineedit_event_t
s_delete_at_cursor(socp_lineedit_t *self)
{
    if (self->cur >= self->len) {
        return SOCP_LINEEDIT_NONE;
    }
    s_cut(self, self->cur, s_next(self, self->cur));
    return SOCP_LINEEDIT_REDRAW;
}

// The end of an escape sequence: CSI (ESC [ params final) or SS3 (ESC O x).
static socp_lineedit_event_t
s_sequence(socp_lineedit_t *self, uint8_t final)
{
    unsigned long param = strtoul(self->csi, NULL, 10); // "1;5" (modifiers) reads as 1
    switch (final) {
        case 'A':
            return s_history(self, -1);
        case 'B':
            return s_history(self, +1);
        case 'C':
            return s_move(self, s_next(self, self->cur));
        case 'D':
            return s_move(self, s_prev(self, self->cur));
        case 'H':
            return s_move(self, 0);
        case 'F':
            return s_move(self, self->len);
        case '~':
            if (param == 1 || param == 7) {
                return s_move(self, 0);
            }
            if (param == 4 || param == 8) {
                return s_move(self, self->len);
            }
            if (param == 3) {
                return s_delete_at_cursor(self);
            }
            return SOCP_LINEEDIT_NONE; // Insert, PgUp/PgDn, paste marks, F-keys
        default:
            return SOCP_LINEEDIT_NONE;
    }
}

static socp_lineedit_event_t
s_control(socp_lineedit_t *self, uint8_t c)
{
    switch (c) {
        case '\r':
        case '\n':
            return SOCP_LINEEDIT_SUBMIT;
        case 1: // Ctrl-A
            return s_move(self, 0);
        case 2: // Ctrl-B
            return s_move(self, s_prev(self, self->cur));
        case 3: // Ctrl-C
            return SOCP_LINEEDIT_INTERRUPT;
        case 4: // Ctrl-D
            return self->len == 0 ? SOCP_LINEEDIT_EOF : s_delete_at_cursor(self);
        case 5: // Ctrl-E
            return s_move(self, self->len);
        case 6: // Ctrl-F
            return s_move(self, s_next(self, self->cur));
        case 8: // Ctrl-H
        case 0x7f:
            if (self->cur == 0) {
                return SOCP_LINEEDIT_NONE;
            }
            s_cut(self, s_prev(self, self->cur), self->cur);
            return SOCP_LINEEDIT_REDRAW;
        case '\t':
            return SOCP_LINEEDIT_COMPLETE;
        case 11: // Ctrl-K
            s_cut(self, self->cur, self->len);
            return SOCP_LINEEDIT_REDRAW;
        case 12: // Ctrl-L
            return SOCP_LINEEDIT_REDRAW;
        case 14: // Ctrl-N
            return s_history(self, +1);
        case 16: // Ctrl-P
            return s_history(self, -1);
        case 21: // Ctrl-U
            s_cut(self, 0, self->cur);
            return SOCP_LINEEDIT_REDRAW;
        case 23: // Ctrl-W
            s_cut(self, s_word_left(self, self->cur), self->cur);
            return SOCP_LINEEDIT_REDRAW;
        default:
            return SOCP_LINEEDIT_NONE;
    }
}

// Inside an escape sequence: the byte continues it, ends it (with an
// event), or breaks it (false: the byte is then taken as if no sequence
// had started, so Esc followed by Enter or Ctrl-C still does that).
static bool
s_in_sequence(socp_lineedit_t *self, uint8_t c, socp_lineedit_event_t *ev)
{
    *ev = SOCP_LINEEDIT_NONE;
    if (c < 0x20 || c >= 0x7f) {
        self->state = S_TEXT;
        return false;
    }
    switch (self->state) {
        case S_ESC:
            self->state = S_TEXT;
            if (c == '[') {
                self->state = S_CSI;
                self->ncsi = 0;
                self->csi[0] = '\0';
            } else if (c == 'O') {
                self->state = S_SS3;
            } else if (c == 'b' || c == 'B') {
                *ev = s_move(self, s_word_left(self, self->cur));
            } else if (c == 'f' || c == 'F') {
                *ev = s_move(self, s_word_right(self, self->cur));
            } // other Alt-keys: ignored
            return true;
        case S_CSI:
            if (c >= 0x30 && c <= 0x3f) { // parameters
                if (self->ncsi < S_CSI_MAX) {
                    self->csi[self->ncsi++] = (char) c;
                    self->csi[self->ncsi] = '\0';
                }
            } else if (c >= 0x40) { // the final byte
                self->state = S_TEXT;
                *ev = s_sequence(self, c);
            } // intermediates (0x20-0x2f): part of it
            return true;
        case S_SS3:
            self->state = S_TEXT;
            self->csi[0] = '\0';
            *ev = s_sequence(self, c);
            return true;
        case S_TEXT:
            break;
    }
    return false;
}

socp_lineedit_event_t
socp_lineedit_feed(socp_lineedit_t *self, uint8_t c)
{
    socp_lineedit_event_t ev;
    if (self->state != S_TEXT && s_in_sequence(self, c, &ev)) {
        return ev;
    }
    if (c == 0x1b) {
        self->state = S_ESC;
        return SOCP_LINEEDIT_NONE;
    }
    if (c < 0x20 || c == 0x7f) {
        self->skip = 0;
        return s_control(self, c);
    }
    if (self->skip && (c & 0xc0) == 0x80) {
        self->skip--; // the rest of a character that did not fit
        return SOCP_LINEEDIT_NONE;
    }
    self->skip = 0;
    if (self->len + s_expected(c) > self->max) {
        self->skip = s_expected(c) - 1; // a character goes in whole or not at all
        return SOCP_LINEEDIT_NONE;
    }
    memmove(self->line + self->cur + 1, self->line + self->cur, self->len - self->cur);
    self->line[self->cur++] = (char) c;
    self->line[++self->len] = '\0';
    return SOCP_LINEEDIT_REDRAW;
}

const char *
socp_lineedit_line(const socp_lineedit_t *self, size_t *len)
{
    if (len) {
        *len = self->len;
    }
    return self->line;
}

char *
socp_lineedit_take(socp_lineedit_t *self)
{
    char *out = socp_strdup(self->line);
    bool same = self->nhist && strcmp(self->hist[self->nhist - 1], out) == 0;
    if (*out && !same && self->hist_max) {
        if (self->nhist == self->hist_max) {
            free(self->hist[0]);
            memmove(self->hist, self->hist + 1, (self->hist_max - 1) * sizeof *self->hist);
            self->nhist--;
        }
        self->hist[self->nhist++] = socp_strdup(out);
    }
    self->hpos = self->nhist;
    free(self->draft);
    self->draft = NULL;
    self->len = self->cur = self->scroll = 0;
    self->line[0] = '\0';
    return out;
}

const char *
socp_lineedit_word(const socp_lineedit_t *self, size_t *len)
{
    size_t start = self->cur;
    while (start > 0 && self->line[start - 1] != ' ') {
        start--;
    }
    if (len) {
        *len = self->cur - start;
    }
    return self->line + start;
}

bool
socp_lineedit_complete(socp_lineedit_t *self, const char *with)
{
    size_t wlen;
    const char *word = socp_lineedit_word(self, &wlen);
    size_t start = (size_t) (word - self->line);
    size_t n = strlen(with);
    if (self->len - wlen + n + 1 > self->max) {
        return false;
    }
    memmove(self->line + start + n + 1, self->line + self->cur, self->len - self->cur);
    memcpy(self->line + start, with, n);
    self->line[start + n] = ' ';
    self->len = self->len - wlen + n + 1;
    self->line[self->len] = '\0';
    self->cur = start + n + 1;
    return true;
}

// Columns before the cursor (returned) and of the whole line (*total), in
// one walk by units.
static size_t
s_columns(const socp_lineedit_t *self, size_t *total)
{
    size_t cols = 0, before = 0;
    for (size_t p = 0; p < self->len;) {
        uint32_t cp;
        size_t k = s_unit(self, p, &cp);
        size_t w = s_unit_columns(cp);
        before += p < self->cur ? w : 0;
        cols += w;
        p += k;
    }
    *total = cols;
    return before;
}

size_t
socp_lineedit_render(socp_lineedit_t *self,
                     const char *prompt,
                     unsigned width,
                     char *out,
                     size_t cap)
{
    size_t plen = strlen(prompt); // ASCII: one column a byte
    // The last column stays free: writing into it wraps on some terminals.
    size_t avail = width > plen + 2 ? width - plen - 1 : 1;
    size_t total;
    size_t ccur = s_columns(self, &total);
    // The window [scroll, scroll + avail) keeps the cursor in view and
    // shows as much of the line as fits (never an empty row beside text).
    size_t most = total + 1 > avail ? total + 1 - avail : 0;
    self->scroll = self->scroll > most ? most : self->scroll;
    if (ccur < self->scroll) {
        self->scroll = ccur;
    } else if (ccur - self->scroll >= avail) {
        self->scroll = ccur - avail + 1;
    }
    size_t o = (size_t) snprintf(out, cap, "\r\x1b[K%s", prompt);
    o = o >= cap ? cap - 1 : o;
    // Skip to the first unit that starts inside the window.
    size_t at = 0, col = 0;
    while (at < self->len) {
        uint32_t cp;
        size_t k = s_unit(self, at, &cp);
        if (col >= self->scroll) {
            break;
        }
        col += s_unit_columns(cp);
        at += k;
    }
    size_t start_col = col;
    while (at < self->len && o + 16 < cap) {
        uint32_t cp;
        size_t k = s_unit(self, at, &cp);
        size_t w = s_unit_columns(cp);
        if (col + w - start_col > avail) {
            break; // the rest (or a wide character that would straddle the edge)
        }
        if (!socp_text_printable(cp) || cp == 0xfffd) {
            out[o++] = '?';
        } else {
            memcpy(out + o, self->line + at, k);
            o += k;
        }
        col += w;
        at += k;
    }
    size_t cursor = plen + (ccur > start_col ? ccur - start_col : 0);
    int n = snprintf(out + o, cap - o, cursor > 0 ? "\r\x1b[%zuC" : "\r", cursor);
    o += n > 0 ? (size_t) n : 0;
    o = o >= cap ? cap - 1 : o;
    out[o] = '\0';
    return o;
}
