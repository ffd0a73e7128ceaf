/* Hex helpers shared by the crypto unit tests. */
#ifndef TEST_CRYPTO_HEX_H
#define TEST_CRYPTO_HEX_H

#include <string.h>
#include <glib.h>

/* Decode a hex string (spaces ignored); *len receives the byte count. */
static inline guint8 *test_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i, out = 0;
    guint8 *buf = g_malloc0(n / 2 + 1);
    int hi = -1;

    for (i = 0; i < n; i++) {
        int v = g_ascii_xdigit_value(hex[i]);

        if (hex[i] == ' ') {
            continue;
        }
        g_assert_cmpint(v, >=, 0);
        if (hi < 0) {
            hi = v;
        } else {
            buf[out++] = (guint8)(hi << 4 | v);
            hi = -1;
        }
    }
    g_assert_cmpint(hi, ==, -1);
    if (len) {
        *len = out;
    }
    return buf;
}

static inline char *test_hex(const guint8 *buf, size_t len)
{
    GString *s = g_string_sized_new(len * 2 + 1);
    size_t i;

    for (i = 0; i < len; i++) {
        g_string_append_printf(s, "%02x", buf[i]);
    }
    return g_string_free(s, FALSE);
}

/* Compare a buffer with a hex string, printing both on mismatch. */
#define test_assert_hex(buf, len, hexstr)                                  \
    do {                                                                   \
        g_autofree char *got_ = test_hex((buf), (len));                    \
        g_assert_cmpstr(got_, ==, (hexstr));                               \
    } while (0)

#endif
