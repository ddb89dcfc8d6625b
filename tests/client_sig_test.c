// client_sig_test.c: which content_sig form the client signs in for each
// recipient (socp_client_sig_emit, ADR 0014) and what a verified form
// teaches (socp_client_sig_learn).
#include "socp/socp_client.h"
#include "socp_test.h"

static const char *const s_uuid = "3f2b8c1e-9d4a-4b7e-8f21-0c5d6e7a8b9c";

SOCP_TEST(client_sig_auto_answers_each_contact_in_its_form)
{
    socp_client_wire_t w = {.sig_auto = true};
    // Nothing learned: the string form for a UUID (any letter case), raw
    // bytes for an account name (Impl14's ids).
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_UNKNOWN, s_uuid), SOCP_SIG_EMIT_STRING);
    CHECK_EQ(
        socp_client_sig_emit(&w, SOCP_CLIENT_SIG_UNKNOWN, "3F2B8C1E-9D4A-4B7E-8F21-0C5D6E7A8B9C"),
        SOCP_SIG_EMIT_STRING);
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_UNKNOWN, "alice"), SOCP_SIG_EMIT_RAW);
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_UNKNOWN,
                                  "3f2b8c1e-9d4a-4b7e-8f21-0c5d6e7a8b9c-and-more-after-it"),
             SOCP_SIG_EMIT_RAW);
    // A version-1 UUID is not a spec id either.
    CHECK_EQ(
        socp_client_sig_emit(&w, SOCP_CLIENT_SIG_UNKNOWN, "3f2b8c1e-9d4a-1b7e-8f21-0c5d6e7a8b9c"),
        SOCP_SIG_EMIT_RAW);
    // What the contact was seen signing in wins over the shape of the id.
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_RAW, s_uuid), SOCP_SIG_EMIT_RAW);
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_STRING, "alice"), SOCP_SIG_EMIT_STRING);
}

SOCP_TEST(client_sig_fixed_form_is_used_for_everyone)
{
    socp_client_wire_t w = {.sig_auto = false, .sig_emit = SOCP_SIG_EMIT_STRING};
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_RAW, "alice"), SOCP_SIG_EMIT_STRING);
    w.sig_emit = SOCP_SIG_EMIT_RAW;
    CHECK_EQ(socp_client_sig_emit(&w, SOCP_CLIENT_SIG_STRING, s_uuid), SOCP_SIG_EMIT_RAW);
}

SOCP_TEST(client_sig_learns_only_the_two_forms_people_verify)
{
    CHECK_EQ(socp_client_sig_learn(socp_sig_form_name(SOCP_SIG_FORM_STRING)),
             SOCP_CLIENT_SIG_STRING);
    CHECK_EQ(socp_client_sig_learn(socp_sig_form_name(SOCP_SIG_FORM_RAW)), SOCP_CLIENT_SIG_RAW);
    CHECK_EQ(socp_client_sig_learn(socp_sig_form_name(SOCP_SIG_FORM_PIPES)),
             SOCP_CLIENT_SIG_UNKNOWN);
    CHECK_EQ(socp_client_sig_learn(""), SOCP_CLIENT_SIG_UNKNOWN);
    CHECK_EQ(socp_client_sig_learn(NULL), SOCP_CLIENT_SIG_UNKNOWN);
}
