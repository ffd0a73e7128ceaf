/*
 * Structured replies, metadata contexts and NBD_CMD_BLOCK_STATUS of the
 * NBD server, byte by byte: a hand-made client against memory exports
 * whose block status is known (the clients nobody here wrote are in the
 * iotest nbd-block-status.py).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <glib.h>

#include "nbd/nbd.h"
#include "qemu/bswap.h"

#define BLK         (64 * 1024)
#define NBLK        16
#define SIZE        (NBLK * BLK)
#define DATA_MASK   0x0F0Fu     /* blocks 0-3 and 8-11 hold data */

static guint8 disk[SIZE];
static char eio_tag;            /* opaque of the export whose reads fail */

static bool blk_data(int64_t off)
{
    return DATA_MASK & (1u << (off / BLK));
}

static int mem_pread(void *opaque, int64_t off, int64_t len, void *buf)
{
    if (opaque == &eio_tag) {
        return -EIO;
    }
    memcpy(buf, disk + off, len);
    return 0;
}

static int mem_pwrite(void *o, int64_t off, int64_t len, const void *buf,
                      bool fua)
{
    return -EPERM;
}

static int mem_flush(void *opaque)
{
    return 0;
}

static int64_t mem_len(void *opaque)
{
    return SIZE;
}

/* Runs of whole blocks with the same state (data, or a zero hole). */
static int mem_status(void *opaque, int64_t off, int64_t bytes, int64_t *pnum)
{
    bool data = blk_data(off);
    int64_t end = off;

    while (end < off + bytes && blk_data(end) == data) {
        end = (end / BLK + 1) * BLK;
    }
    *pnum = MIN(end, off + bytes) - off;
    return data ? NBD_EXTENT_DATA | NBD_EXTENT_ALLOCATED
                : NBD_EXTENT_ZERO | NBD_EXTENT_ALLOCATED;
}

/* Claims zeros everywhere although the disk holds data. */
static int liar_status(void *opaque, int64_t off, int64_t bytes,
                       int64_t *pnum)
{
    *pnum = bytes;
    return NBD_EXTENT_ZERO;
}

static const NBDExportOps mem_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .get_length = mem_len, .block_status = mem_status,
};
static const NBDExportOps liar_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .get_length = mem_len, .block_status = liar_status,
};
static const NBDExportOps plain_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .get_length = mem_len,
};

static char *sock_path;

/* ---- a minimal client ---- */

typedef struct Conn {
    int fd;
} Conn;

static void c_write(Conn *c, const void *p, size_t n)
{
    g_assert_cmpint(write(c->fd, p, n), ==, (ssize_t)n);
}

static void c_read(Conn *c, void *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(c->fd, (guint8 *)p + got, n - got);
        g_assert_cmpint(r, >, 0);
        got += r;
    }
}

static Conn c_open(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    Conn c = { socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    guint8 greet[18], fl[4];

    g_strlcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    c_read(&c, greet, sizeof(greet));
    g_assert_cmphex(ldq_be_p(greet + 8), ==, NBD_OPTS_MAGIC);
    stl_be_p(fl, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    c_write(&c, fl, 4);
    return c;
}

static void c_option(Conn *c, uint32_t opt, const GByteArray *data)
{
    guint8 h[16];

    stq_be_p(h, NBD_OPTS_MAGIC);
    stl_be_p(h + 8, opt);
    stl_be_p(h + 12, data ? data->len : 0);
    c_write(c, h, 16);
    if (data && data->len) {
        c_write(c, data->data, data->len);
    }
}

/* One option reply: its type; its payload in *payload (may be NULL). */
static uint32_t c_opt_reply(Conn *c, uint32_t opt, GByteArray **payload)
{
    guint8 h[20];
    GByteArray *p;

    c_read(c, h, 20);
    g_assert_cmphex(ldq_be_p(h), ==, NBD_REP_MAGIC);
    g_assert_cmpuint(ldl_be_p(h + 8), ==, opt);
    p = g_byte_array_sized_new(ldl_be_p(h + 16));
    g_byte_array_set_size(p, ldl_be_p(h + 16));
    c_read(c, p->data, p->len);
    if (payload) {
        *payload = p;
    } else {
        g_byte_array_unref(p);
    }
    return ldl_be_p(h + 12);
}

static void put_u32(GByteArray *a, uint32_t v)
{
    guint8 b[4];
    stl_be_p(b, v);
    g_byte_array_append(a, b, 4);
}

static void put_str(GByteArray *a, const char *s)
{
    put_u32(a, strlen(s));
    g_byte_array_append(a, (const guint8 *)s, strlen(s));
}

/* A LIST/SET_META_CONTEXT payload: export name, then the queries. */
static GByteArray *meta_req(const char *exp, const char *const *queries)
{
    GByteArray *a = g_byte_array_new();
    unsigned n = queries ? g_strv_length((char **)queries) : 0;

    put_str(a, exp);
    put_u32(a, n);
    for (unsigned i = 0; i < n; i++) {
        put_str(a, queries[i]);
    }
    return a;
}

/* Send a meta context option; the "id:name" lines it answered, or the
 * error type as "error 0x...". */
static char *c_meta(Conn *c, uint32_t opt, const char *exp,
                    const char *const *queries)
{
    g_autoptr(GByteArray) req = meta_req(exp, queries);
    GString *out = g_string_new(NULL);
    uint32_t type;

    c_option(c, opt, req);
    for (;;) {
        GByteArray *p;

        type = c_opt_reply(c, opt, &p);
        if (type == NBD_REP_META_CONTEXT) {
            g_string_append_printf(out, "%u:%.*s;", ldl_be_p(p->data),
                                   (int)p->len - 4, p->data + 4);
        }
        g_byte_array_unref(p);
        if (type != NBD_REP_META_CONTEXT) {
            break;
        }
    }
    if (type != NBD_REP_ACK) {
        g_string_append_printf(out, "error 0x%x", type);
    }
    return g_string_free(out, FALSE);
}

static void c_structured(Conn *c)
{
    c_option(c, NBD_OPT_STRUCTURED_REPLY, NULL);
    g_assert_cmphex(c_opt_reply(c, NBD_OPT_STRUCTURED_REPLY, NULL), ==,
                    NBD_REP_ACK);
}

/* NBD_OPT_GO; returns the transmission flags. */
static uint16_t c_go(Conn *c, const char *exp)
{
    g_autoptr(GByteArray) a = g_byte_array_new();
    guint8 zero[2] = { 0, 0 };
    uint16_t flags = 0;
    uint32_t type;

    put_str(a, exp);
    g_byte_array_append(a, zero, 2);
    c_option(c, NBD_OPT_GO, a);
    for (;;) {
        GByteArray *p;

        type = c_opt_reply(c, NBD_OPT_GO, &p);
        if (type == NBD_REP_INFO && lduw_be_p(p->data) == NBD_INFO_EXPORT) {
            flags = lduw_be_p(p->data + 10);
        }
        g_byte_array_unref(p);
        if (type != NBD_REP_INFO) {
            break;
        }
    }
    g_assert_cmphex(type, ==, NBD_REP_ACK);
    return flags;
}

static void c_request(Conn *c, uint16_t flags, uint16_t type, uint64_t cookie,
                      uint64_t off, uint32_t len)
{
    guint8 r[28];

    stl_be_p(r, NBD_REQUEST_MAGIC);
    stw_be_p(r + 4, flags);
    stw_be_p(r + 6, type);
    stq_be_p(r + 8, cookie);
    stq_be_p(r + 16, off);
    stl_be_p(r + 24, len);
    c_write(c, r, 28);
}

typedef struct Chunk {
    uint16_t flags, type;
    GByteArray *payload;
} Chunk;

static Chunk c_chunk(Conn *c, uint64_t cookie)
{
    guint8 h[20];
    Chunk k;

    c_read(c, h, 20);
    g_assert_cmphex(ldl_be_p(h), ==, NBD_STRUCTURED_REPLY_MAGIC);
    g_assert_cmphex(ldq_be_p(h + 8), ==, cookie);
    k.flags = lduw_be_p(h + 4);
    k.type = lduw_be_p(h + 6);
    k.payload = g_byte_array_new();
    g_byte_array_set_size(k.payload, ldl_be_p(h + 16));
    c_read(c, k.payload->data, k.payload->len);
    return k;
}

/* The error of a one-chunk error reply (asserts it is one). */
static uint32_t c_error_reply(Conn *c, uint64_t cookie)
{
    Chunk k = c_chunk(c, cookie);
    uint32_t err;

    g_assert_cmphex(k.type, ==, NBD_REPLY_TYPE_ERROR);
    g_assert_true(k.flags & NBD_REPLY_FLAG_DONE);
    g_assert_cmpuint(k.payload->len, >=, 6);
    g_assert_cmpuint(lduw_be_p(k.payload->data + 4), ==, k.payload->len - 6);
    err = ldl_be_p(k.payload->data);
    g_byte_array_unref(k.payload);
    return err;
}

/* A whole BLOCK_STATUS reply as "ctx:len/flags,len/flags;..." */
static char *c_status_reply(Conn *c, uint64_t cookie)
{
    GString *s = g_string_new(NULL);
    bool done = false;

    while (!done) {
        Chunk k = c_chunk(c, cookie);

        done = k.flags & NBD_REPLY_FLAG_DONE;
        if (k.type == NBD_REPLY_TYPE_BLOCK_STATUS) {
            g_assert_cmpuint((k.payload->len - 4) % 8, ==, 0);
            g_string_append_printf(s, "%u:", ldl_be_p(k.payload->data));
            for (guint i = 4; i < k.payload->len; i += 8) {
                g_string_append_printf(s, "%s%u/%u", i > 4 ? "," : "",
                                       ldl_be_p(k.payload->data + i),
                                       ldl_be_p(k.payload->data + i + 4));
            }
            g_string_append_c(s, ';');
        } else {
            g_assert_cmphex(k.type, ==, NBD_REPLY_TYPE_NONE);
        }
        g_byte_array_unref(k.payload);
    }
    return g_string_free(s, FALSE);
}

/* A structured READ reassembled into buf; returns the chunk list as
 * "D<off>+<len>" / "H<off>+<len>". */
static char *c_read_reply(Conn *c, uint64_t cookie, uint64_t base,
                          guint8 *buf)
{
    GString *s = g_string_new(NULL);
    bool done = false;

    while (!done) {
        Chunk k = c_chunk(c, cookie);
        guint8 *p = k.payload->data;
        uint64_t off;

        done = k.flags & NBD_REPLY_FLAG_DONE;
        switch (k.type) {
        case NBD_REPLY_TYPE_OFFSET_DATA:
            off = ldq_be_p(p);
            memcpy(buf + off - base, p + 8, k.payload->len - 8);
            g_string_append_printf(s, "D%" G_GUINT64_FORMAT "+%u ", off,
                                   k.payload->len - 8);
            break;
        case NBD_REPLY_TYPE_OFFSET_HOLE:
            off = ldq_be_p(p);
            g_assert_cmpuint(k.payload->len, ==, 12);
            memset(buf + off - base, 0, ldl_be_p(p + 8));
            g_string_append_printf(s, "H%" G_GUINT64_FORMAT "+%u ", off,
                                   ldl_be_p(p + 8));
            break;
        case NBD_REPLY_TYPE_NONE:
            g_string_append(s, "N ");
            break;
        default:
            g_assert_not_reached();
        }
        g_byte_array_unref(k.payload);
    }
    return g_string_free(s, FALSE);
}

/* ---- tests ---- */

static const char *const q_base[] = { NBD_META_BASE_ALLOCATION, NULL };
static const char *const q_both[] = { NBD_META_BASE_ALLOCATION,
                                      NBD_META_ALLOCATION_DEPTH, NULL };

static void test_list_meta(void)
{
    static const char *const q_ns[] = { "base:", "qemu:", NULL };
    static const char *const q_unknown[] = { "qemu:dirty-bitmap:x",
                                             "nope:", NULL };
    Conn c = c_open();
    g_autofree char *all = c_meta(&c, NBD_OPT_LIST_META_CONTEXT, "disk",
                                  NULL);
    g_autofree char *ns = c_meta(&c, NBD_OPT_LIST_META_CONTEXT, "disk", q_ns);
    g_autofree char *unk = c_meta(&c, NBD_OPT_LIST_META_CONTEXT, "disk",
                                  q_unknown);
    g_autofree char *noexp = c_meta(&c, NBD_OPT_LIST_META_CONTEXT, "nosuch",
                                    q_base);
    g_autofree char *set_early = c_meta(&c, NBD_OPT_SET_META_CONTEXT, "disk",
                                        q_base);
    g_autoptr(GByteArray) bad = g_byte_array_new();

    g_assert_cmpstr(all, ==, "0:base:allocation;1:qemu:allocation-depth;");
    g_assert_cmpstr(ns, ==, all);
    g_assert_cmpstr(unk, ==, "");
    g_assert_cmpstr(noexp, ==, "error 0x80000006");
    /* SET needs structured replies first. */
    g_assert_cmpstr(set_early, ==, "error 0x80000003");

    /* Malformed: a query length past the end; then truncated; the
     * connection goes on after each. */
    put_str(bad, "disk");
    put_u32(bad, 1);
    put_u32(bad, 1000);
    c_option(&c, NBD_OPT_LIST_META_CONTEXT, bad);
    g_assert_cmphex(c_opt_reply(&c, NBD_OPT_LIST_META_CONTEXT, NULL), ==,
                    NBD_REP_ERR_INVALID);
    g_byte_array_set_size(bad, 6);
    c_option(&c, NBD_OPT_LIST_META_CONTEXT, bad);
    g_assert_cmphex(c_opt_reply(&c, NBD_OPT_LIST_META_CONTEXT, NULL), ==,
                    NBD_REP_ERR_INVALID);

    /* Structured replies: once; with a payload is invalid. */
    c_structured(&c);
    c_option(&c, NBD_OPT_STRUCTURED_REPLY, NULL);
    g_assert_cmphex(c_opt_reply(&c, NBD_OPT_STRUCTURED_REPLY, NULL), ==,
                    NBD_REP_ERR_INVALID);
    c_option(&c, NBD_OPT_STRUCTURED_REPLY, bad);
    g_assert_cmphex(c_opt_reply(&c, NBD_OPT_STRUCTURED_REPLY, NULL), ==,
                    NBD_REP_ERR_INVALID);
    {
        /* SET takes exact names only: a namespace selects nothing. */
        g_autofree char *ns_set = c_meta(&c, NBD_OPT_SET_META_CONTEXT, "disk",
                                         q_ns);
        g_autofree char *both = c_meta(&c, NBD_OPT_SET_META_CONTEXT, "disk",
                                       q_both);
        g_assert_cmpstr(ns_set, ==, "");
        g_assert_cmpstr(both, ==, "0:base:allocation;"
                                  "1:qemu:allocation-depth;");
    }
    c_option(&c, NBD_OPT_ABORT, NULL);
    g_assert_cmphex(c_opt_reply(&c, NBD_OPT_ABORT, NULL), ==, NBD_REP_ACK);
    close(c.fd);
}

/* Structured replies and both contexts on export `exp`. */
static Conn status_conn(const char *exp, const char *const *queries)
{
    Conn c = c_open();
    g_autofree char *set = NULL;
    uint16_t flags;

    c_structured(&c);
    set = c_meta(&c, NBD_OPT_SET_META_CONTEXT, exp, queries);
    g_assert_cmpstr(set, !=, "");
    flags = c_go(&c, exp);
    g_assert_true(flags & NBD_FLAG_SEND_DF);
    return c;
}

static void test_block_status(void)
{
    Conn c = status_conn("disk", q_both);
    char *s;

    /* Data 0-256K, hole 256K-512K, data 512K-768K, hole to the end. */
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 1, 0, SIZE);
    s = c_status_reply(&c, 1);
    g_assert_cmpstr(s, ==, "0:262144/0,262144/3,262144/0,262144/3;"
                           "1:1048576/1;");
    g_free(s);

    /* Unaligned start inside a hole, bounded by the request. */
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 2, 300000, 300000);
    s = c_status_reply(&c, 2);
    g_assert_cmpstr(s, ==, "0:224288/3,75712/0;1:300000/1;");
    g_free(s);

    /* REQ_ONE: one descriptor per context, within the request. */
    c_request(&c, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 3, 0, SIZE);
    s = c_status_reply(&c, 3);
    g_assert_cmpstr(s, ==, "0:262144/0;1:262144/1;");
    g_free(s);

    /* Bad requests: error chunks, and the connection goes on. */
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 4, SIZE - 512, 1024);
    g_assert_cmpuint(c_error_reply(&c, 4), ==, NBD_EINVAL);
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 5, UINT64_MAX - 100, 512);
    g_assert_cmpuint(c_error_reply(&c, 5), ==, NBD_EINVAL);
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 6, 0, 0);
    g_assert_cmpuint(c_error_reply(&c, 6), ==, NBD_EINVAL);
    c_request(&c, NBD_CMD_FLAG_FUA, NBD_CMD_BLOCK_STATUS, 7, 0, 512);
    g_assert_cmpuint(c_error_reply(&c, 7), ==, NBD_EINVAL);
    /* Other commands get structured replies too. */
    c_request(&c, 0, NBD_CMD_FLUSH, 8, 0, 0);
    s = c_status_reply(&c, 8);
    g_assert_cmpstr(s, ==, "");
    g_free(s);
    c_request(&c, 0, NBD_CMD_WRITE_ZEROES, 9, 0, 512);
    g_assert_cmpuint(c_error_reply(&c, 9), ==, NBD_EPERM);
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 10, SIZE - 512, 512);
    s = c_status_reply(&c, 10);
    g_assert_cmpstr(s, ==, "0:512/3;1:512/1;");
    g_free(s);
    c_request(&c, 0, NBD_CMD_DISC, 11, 0, 0);
    close(c.fd);
}

static void test_status_contexts(void)
{
    static const char *const q_depth[] = { NBD_META_ALLOCATION_DEPTH, NULL };
    Conn c = status_conn("disk", q_depth);
    Conn p = status_conn("plain", q_base);
    Conn n = c_open();
    char *s;

    /* Only the context that was chosen. */
    c_request(&c, 0, NBD_CMD_BLOCK_STATUS, 1, 0, SIZE);
    s = c_status_reply(&c, 1);
    g_assert_cmpstr(s, ==, "1:1048576/1;");
    g_free(s);
    close(c.fd);

    /* No block_status callback: all data (status 0). */
    c_request(&p, 0, NBD_CMD_BLOCK_STATUS, 1, 4096, 8192);
    s = c_status_reply(&p, 1);
    g_assert_cmpstr(s, ==, "0:8192/0;");
    g_free(s);
    close(p.fd);

    /* Contexts set for another export do not carry over to GO. */
    c_structured(&n);
    s = c_meta(&n, NBD_OPT_SET_META_CONTEXT, "plain", q_base);
    g_assert_cmpstr(s, ==, "0:base:allocation;");
    g_free(s);
    c_go(&n, "disk");
    c_request(&n, 0, NBD_CMD_BLOCK_STATUS, 2, 0, 4096);
    g_assert_cmpuint(c_error_reply(&n, 2), ==, NBD_EINVAL);
    close(n.fd);
}

static void test_structured_read(void)
{
    Conn c = status_conn("disk", q_base);
    Conn l = status_conn("liar", q_base);
    Conn e = status_conn("eio", q_base);
    g_autofree guint8 *buf = g_malloc(SIZE);
    char *s;

    memset(buf, 0x77, SIZE);
    /* Holes where the status says zero (and the bytes are zero). */
    c_request(&c, 0, NBD_CMD_READ, 1, 128 * 1024, 512 * 1024);
    s = c_read_reply(&c, 1, 128 * 1024, buf);
    g_assert_cmpstr(s, ==, "D131072+131072 H262144+262144 D524288+131072 ");
    g_free(s);
    g_assert_cmpint(memcmp(buf, disk + 128 * 1024, 512 * 1024), ==, 0);

    /* DF: one data chunk with the zeros in it. */
    memset(buf, 0x77, SIZE);
    c_request(&c, NBD_CMD_FLAG_DF, NBD_CMD_READ, 2, 0, SIZE);
    s = c_read_reply(&c, 2, 0, buf);
    g_assert_cmpstr(s, ==, "D0+1048576 ");
    g_free(s);
    g_assert_cmpint(memcmp(buf, disk, SIZE), ==, 0);

    /* Zero length: a lone NONE chunk. */
    c_request(&c, 0, NBD_CMD_READ, 3, 0, 0);
    s = c_read_reply(&c, 3, 0, buf);
    g_assert_cmpstr(s, ==, "N ");
    g_free(s);
    c_request(&c, 0, NBD_CMD_READ, 4, SIZE, 1);
    g_assert_cmpuint(c_error_reply(&c, 4), ==, NBD_EINVAL);

    /* A status that says zero over data never hides the data; where
     * the bytes are zero it may. */
    memset(buf, 0x77, SIZE);
    c_request(&l, 0, NBD_CMD_READ, 5, 0, 512 * 1024);
    s = c_read_reply(&l, 5, 0, buf);
    g_assert_cmpstr(s, ==, "D0+524288 ");
    g_free(s);
    g_assert_cmpint(memcmp(buf, disk, 512 * 1024), ==, 0);
    c_request(&l, 0, NBD_CMD_READ, 6, 256 * 1024, 256 * 1024);
    s = c_read_reply(&l, 6, 256 * 1024, buf);
    g_assert_cmpstr(s, ==, "H262144+262144 ");
    g_free(s);

    /* A failing read is one error chunk. */
    c_request(&e, 0, NBD_CMD_READ, 7, 0, 4096);
    g_assert_cmpuint(c_error_reply(&e, 7), ==, NBD_EIO);
    close(c.fd);
    close(l.fd);
    close(e.fd);
}

static gpointer loop_thread(gpointer loop)
{
    g_main_loop_run(loop);
    return NULL;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = NULL;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    NBDServer *srv;
    int lfd, ret;

    g_test_init(&argc, &argv, NULL);
    for (int i = 0; i < SIZE; i++) {
        disk[i] = blk_data(i) ? (guint8)(i * 7 + 1) | 1 : 0;
    }
    dir = g_dir_make_tmp("test-nbd-structured-XXXXXX", &err);
    g_assert_no_error(err);
    sock_path = g_build_filename(dir, "s", NULL);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(lfd, 8), ==, 0);

    ctx = g_main_context_new();
    loop = g_main_loop_new(ctx, FALSE);
    g_main_context_push_thread_default(ctx);
    srv = nbd_server_new(lfd, 0);
    g_main_context_pop_thread_default(ctx);
    g_assert_nonnull(nbd_export_add(srv, "disk", NULL, &mem_ops, NULL, false,
                                    1, &err));
    g_assert_nonnull(nbd_export_add(srv, "liar", NULL, &liar_ops, NULL,
                                    false, 1, &err));
    g_assert_nonnull(nbd_export_add(srv, "plain", NULL, &plain_ops, NULL,
                                    false, 1, &err));
    g_assert_nonnull(nbd_export_add(srv, "eio", NULL, &mem_ops, &eio_tag, false,
                                    1, &err));
    thread = g_thread_new("loop", loop_thread, loop);

    g_test_add_func("/nbd/structured/list-meta", test_list_meta);
    g_test_add_func("/nbd/structured/block-status", test_block_status);
    g_test_add_func("/nbd/structured/contexts", test_status_contexts);
    g_test_add_func("/nbd/structured/read", test_structured_read);
    ret = g_test_run();

    g_main_loop_quit(loop);
    g_thread_join(thread);
    nbd_server_free(srv);
    g_main_loop_unref(loop);
    g_main_context_unref(ctx);
    unlink(sock_path);
    rmdir(dir);
    g_free(sock_path);
    return ret;
}
