// common_test.c: allocation helpers, byte buffer, error strings.
#include "socp_test.h"

SOCP_TEST(common_buf_grows_and_keeps_bytes)
{
    socp_buf_t b;
    socp_buf_init(&b);
    for (int i = 0; i < 10000; i++) {
        uint8_t byte = (uint8_t) i;
        socp_buf_append(&b, &byte, 1);
    }
    CHECK_EQ(b.len, 10000);
    for (int i = 0; i < 10000; i++) {
        CHECK_EQ(b.data[i], (uint8_t) i);
    }
    socp_buf_reset(&b);
    CHECK_EQ(b.len, 0);
    socp_buf_fini(&b);
    CHECK(b.data == NULL);
}

SOCP_TEST(common_strerror_covers_every_code)
{
#define CHECK_CODE(name, value, text)       \
    CHECK_STREQ(socp_strerror(name), text); \
    CHECK_STREQ(socp_errname(name), #name);
    SOCP_ERRORS(CHECK_CODE)
#undef CHECK_CODE
    CHECK_STREQ(socp_strerror(12345), "unknown error");
}
