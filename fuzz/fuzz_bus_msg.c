// fuzz_bus_msg.c: libFuzzer target for the bus message decoder (both the
// copying and the zero-copy view decoder). Whatever decodes must re-encode
// and decode to an equal message.
#include "socp/socp_msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    socp_msg_t copy, view;
    int rc_copy = socp_msg_decode(data, size, &copy);
    int rc_view = socp_msg_decode_view(data, size, &view);
    if (rc_copy != rc_view) {
        abort(); // the two decoders must agree on validity
    }
    if (rc_copy == 0) {
        if (!socp_msg_equal(&copy, &view)) {
            abort();
        }
        socp_buf_t buf;
        socp_buf_init(&buf);
        if (socp_msg_encode(&copy, &buf) != 0) {
            abort(); // a decoded message is within the schema's limits
        }
        socp_msg_t again;
        if (socp_msg_decode(buf.data, buf.len, &again) != 0 || !socp_msg_equal(&copy, &again)) {
            abort();
        }
        socp_msg_fini(&again);
        socp_buf_fini(&buf);
        socp_msg_fini(&view);
        socp_msg_fini(&copy);
    }
    return 0;
}
