// socp_msg.h: inter-actor messages, expanded from socp_msg.def.
//
// Wire format of one bus frame (msgpack, one frame = one message):
//     [schema_major, type, corr_id, from, [field1, field2, ...]]
// Fields are positional in declaration order. A decoder accepts a longer body
// (extra fields are validated as msgpack and ignored) and fills zero / empty
// defaults for a shorter one. Another schema major is rejected.
//
// Strings travel with their NUL terminator inside the msgpack str, so a
// decoder can hand out pointers into the frame without copying.
//
// Ownership: a message filled by hand borrows its strings and bytes (the
// encoder copies them). A message from socp_msg_decode owns one arena holding
// a copy of the frame and its list pointers; socp_msg_fini() frees it.
#ifndef SOCP_MSG_H
#define SOCP_MSG_H

#include "socp/socp_common.h"

#include <stdio.h>

#define SOCP_MSG_SCHEMA_MAJOR 1
#define SOCP_ACTOR_NAME_MAX   31 // bytes in an actor name

typedef struct {
    const uint8_t *data; // bytes (may be NULL when len == 0)
    size_t len;          // byte count
} socp_bin_t;

typedef struct {
    const char *const *items; // NUL-terminated UTF-8 strings
    size_t count;             // number of items
} socp_strs_t;

typedef enum {
    SOCP_MSG_NONE = 0,
#define SOCP_MSG(NAME, name, id, cls, from, to, doc) SOCP_MSG_##NAME = id,
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc)
#define SOCP_END(NAME, name)
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END
} socp_msg_type_t;

typedef enum {
    SOCP_CLASS_MUST = 0, // must-deliver
    SOCP_CLASS_DROP = 1, // droppable
} socp_msg_class_t;

#define SOCP_CTYPE_U8   uint8_t
#define SOCP_CTYPE_U16  uint16_t
#define SOCP_CTYPE_U32  uint32_t
#define SOCP_CTYPE_U64  uint64_t
#define SOCP_CTYPE_I64  int64_t
#define SOCP_CTYPE_BOOL bool
#define SOCP_CTYPE_STR  const char *
#define SOCP_CTYPE_BIN  socp_bin_t
#define SOCP_CTYPE_STRS socp_strs_t

// One struct per message: socp_msg_<name>_t. The trailing member keeps
// field-less messages legal C; never use it.
#define SOCP_MSG(NAME, name, id, cls, from, to, doc)      typedef struct {
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc) SOCP_CTYPE_##TYPE field;
#define SOCP_END(NAME, name) \
    uint8_t unused_;         \
    }                        \
    socp_msg_##name##_t;
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END

typedef struct {
    socp_msg_type_t type;               // which member of body is valid
    uint32_t corr_id;                   // request/reply correlation, 0 if unused
    char from[SOCP_ACTOR_NAME_MAX + 1]; // sending actor (set by the bus on send)
    union {
#define SOCP_MSG(NAME, name, id, cls, from, to, doc) socp_msg_##name##_t name;
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc)
#define SOCP_END(NAME, name)
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END
    } body;
    void *arena; // decoded storage (owned), NULL for hand-built messages
} socp_msg_t;

// Returns a zeroed message of the given type (fields zero / NULL / empty).
socp_msg_t socp_msg_make(socp_msg_type_t type);

// Frees what a decoded message owns and zeroes it. Safe on hand-built and
// already-finalised messages.
void socp_msg_fini(socp_msg_t *self);

// Encodes `msg` into `out` (replacing its contents). Returns 0, SOCP_EINVAL
// for an unknown type, or SOCP_ETOOBIG when a field exceeds its schema limit
// (a bug in the caller: the bus never sends such a message).
SOCP_NODISCARD int socp_msg_encode(const socp_msg_t *msg, socp_buf_t *out);

// Appends the encoding of `msg` to `out` (the bus batches several messages
// into one frame this way). Same results as socp_msg_encode.
SOCP_NODISCARD int socp_msg_encode_append(const socp_msg_t *msg, socp_buf_t *out);

// Decodes one frame into `out` (zeroed first). Validates the schema major,
// the type, every field's type, length, count and range, and that no bytes
// trail the envelope; never allocates more than the frame can hold. Returns
// 0, SOCP_EVERSION for another schema major, or SOCP_EPROTO (malformed).
// On failure `out` owns nothing.
SOCP_NODISCARD int socp_msg_decode(const void *data, size_t len, socp_msg_t *out);

// Like socp_msg_decode, but strings and bytes point into `data` (no copy):
// they are valid while `data` is, and until socp_msg_fini() (which frees the
// list pointer arrays, the only allocation). The actor loop uses this on the
// received frame, so handler arguments are valid until the handler returns.
SOCP_NODISCARD int socp_msg_decode_view(const void *data, size_t len, socp_msg_t *out);

// Decodes the first message of a batch frame (messages back to back) as a
// view and sets *used to its length; the next starts at data + *used.
SOCP_NODISCARD int
socp_msg_decode_view_next(const void *data, size_t len, size_t *used, socp_msg_t *out);

// Static metadata.
const char *socp_msg_name(socp_msg_type_t type);       // "PING", or "?"
socp_msg_class_t socp_msg_class(socp_msg_type_t type); // DROP only when the schema says so
bool socp_msg_type_valid(int type);

// Compares two messages field by field (strings, bytes and lists by value).
bool socp_msg_equal(const socp_msg_t *a, const socp_msg_t *b);

// Writes the message catalogue (Markdown) generated from the schema.
void socp_msg_print_catalogue(FILE *out);

// Field metadata, for generic code (tests, logs, catalogue).
typedef enum {
    SOCP_FT_U8,
    SOCP_FT_U16,
    SOCP_FT_U32,
    SOCP_FT_U64,
    SOCP_FT_I64,
    SOCP_FT_BOOL,
    SOCP_FT_STR,
    SOCP_FT_BIN,
    SOCP_FT_STRS,
} socp_field_type_t;

typedef struct {
    const char *name;       // field name
    socp_field_type_t type; // wire and C type
    size_t offset;          // offset in socp_msg_<name>_t
    uint64_t max;           // value, byte or item limit (0 = type limit)
    uint64_t item_max;      // bytes per item (STRS)
    const char *doc;        // one line
} socp_field_desc_t;

typedef struct {
    const char *name;                // "PING"
    socp_msg_type_t type;            // id
    socp_msg_class_t cls;            // delivery class
    const char *from;                // sending actors
    const char *to;                  // receiving actors
    const char *doc;                 // one line
    const socp_field_desc_t *fields; // terminated by name == NULL
} socp_msg_desc_t;

// Returns the descriptor of a type, or NULL. Iterate with socp_msg_desc_at(i)
// for i = 0.. until NULL.
const socp_msg_desc_t *socp_msg_desc(socp_msg_type_t type);
const socp_msg_desc_t *socp_msg_desc_at(size_t index);

#endif
