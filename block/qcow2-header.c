/*
 * qcow2 header: parse and validate the first cluster, serialize it back.
 *
 * Everything a hostile image controls is bounded here before the driver
 * allocates anything: table sizes, counts, and that tables are aligned and
 * inside the file.  Messages follow QEMU's wording where QEMU has one.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "qcow2.h"
#include "qemu/bswap.h"
#include "qemu/error.h"

#define QCOW2_FEATURE_ENTRY_SIZE 48
#define QCOW2_MAX_BITMAPS 65535
#define QCOW2_MAX_BITMAP_DIR_SIZE (64 * 1024 * 1024)
#define QCOW2_V3_WRITTEN_HEADER_LENGTH 112

/* The names QEMU writes in its feature table (and uses when none is given). */
static const struct {
    uint8_t type;
    uint8_t bit;
    const char *name;
} known_features[] = {
    { 0, 0, "dirty bit" },
    { 0, 1, "corrupt bit" },
    { 0, 2, "external data file" },
    { 0, 3, "compression type" },
    { 0, 4, "extended L2 entries" },
    { 1, 0, "lazy refcounts" },
    { 2, 0, "bitmaps" },
    { 2, 1, "raw external data" },
};

void qcow2_header_clear(Qcow2Header *h)
{
    g_free(h->backing_file);
    g_free(h->backing_format);
    g_free(h->data_file);
    if (h->feature_names) {
        g_array_free(h->feature_names, TRUE);
    }
    if (h->unknown_exts) {
        for (guint i = 0; i < h->unknown_exts->len; i++) {
            Qcow2Extension *e = g_ptr_array_index(h->unknown_exts, i);
            g_free(e->data);
            g_free(e);
        }
        g_ptr_array_free(h->unknown_exts, TRUE);
    }
    memset(h, 0, sizeof(*h));
}

char *qcow2_feature_names(const Qcow2Header *h, uint8_t type, uint64_t mask)
{
    GString *s = g_string_new(NULL);

    for (int bit = 0; bit < 64; bit++) {
        const char *name = NULL;

        if (!(mask & (1ull << bit))) {
            continue;
        }
        for (guint i = 0; h->feature_names && i < h->feature_names->len; i++) {
            Qcow2FeatureName *f = &g_array_index(h->feature_names,
                                                 Qcow2FeatureName, i);
            if (f->type == type && f->bit == bit) {
                name = f->name;
                break;
            }
        }
        for (size_t i = 0; !name && i < G_N_ELEMENTS(known_features); i++) {
            if (known_features[i].type == type &&
                known_features[i].bit == bit) {
                name = known_features[i].name;
            }
        }
        if (s->len) {
            g_string_append(s, ", ");
        }
        if (name) {
            g_string_append(s, name);
        } else {
            g_string_append_printf(s, "Unknown %s feature bit %d",
                                   type == 0 ? "incompatible" :
                                   type == 1 ? "compatible" : "autoclear",
                                   bit);
        }
    }
    return g_string_free(s, FALSE);
}

/* A table of `entries` items of `entry_size` bytes at `offset`: aligned,
 * no overflow, and (when the file size is known) inside the file. */
static bool table_ok(const Qcow2Header *h, uint64_t offset, uint64_t entries,
                     uint64_t entry_size, int64_t file_size)
{
    uint64_t size;

    if (entries > UINT64_MAX / entry_size) {
        return false;
    }
    size = entries * entry_size;
    if (offset > INT64_MAX - size) {
        return false;
    }
    if (offset & ((1ull << h->cluster_bits) - 1)) {
        return false;
    }
    return file_size <= 0 || size == 0 || offset + size <= (uint64_t)file_size;
}

static void parse_fixed(const guint8 *buf, Qcow2Header *h)
{
    h->version = ldl_be_p(buf + 4);
    h->backing_file_offset = ldq_be_p(buf + 8);
    h->backing_file_size = ldl_be_p(buf + 16);
    h->cluster_bits = ldl_be_p(buf + 20);
    h->size = ldq_be_p(buf + 24);
    h->crypt_method = ldl_be_p(buf + 32);
    h->l1_size = ldl_be_p(buf + 36);
    h->l1_table_offset = ldq_be_p(buf + 40);
    h->refcount_table_offset = ldq_be_p(buf + 48);
    h->refcount_table_clusters = ldl_be_p(buf + 56);
    h->nb_snapshots = ldl_be_p(buf + 60);
    h->snapshots_offset = ldq_be_p(buf + 64);
    h->refcount_order = 4;
    h->header_length = QCOW2_V2_HEADER_LENGTH;
}

static int parse_v3_fields(const guint8 *buf, size_t len, Qcow2Header *h,
                           GError **errp)
{
    if (len < QCOW2_V3_HEADER_LENGTH) {
        error_setg(errp, "qcow2 header too short");
        return -EINVAL;
    }
    h->incompatible_features = ldq_be_p(buf + 72);
    h->compatible_features = ldq_be_p(buf + 80);
    h->autoclear_features = ldq_be_p(buf + 88);
    h->refcount_order = ldl_be_p(buf + 96);
    h->header_length = ldl_be_p(buf + 100);
    if (h->header_length < QCOW2_V3_HEADER_LENGTH) {
        error_setg(errp, "qcow2 header too short");
        return -EINVAL;
    }
    if (h->header_length > (1u << h->cluster_bits) ||
        h->header_length > len) {
        error_setg(errp, "qcow2 header exceeds cluster size");
        return -EINVAL;
    }
    if (h->header_length > QCOW2_V3_HEADER_LENGTH) {
        h->compression_type = buf[104];
    }
    return 0;
}

static int check_compression(const Qcow2Header *h, GError **errp)
{
    bool bit = h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION;

    if (h->compression_type != QCOW2_COMPRESSION_ZLIB &&
        h->compression_type != QCOW2_COMPRESSION_ZSTD) {
        error_setg(errp, "qcow2: unknown compression type: %u",
                   h->compression_type);
        return -ENOTSUP;
    }
    if (h->compression_type == QCOW2_COMPRESSION_ZLIB && bit) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must not be set");
        return -EINVAL;
    }
    if (h->compression_type != QCOW2_COMPRESSION_ZLIB && !bit) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must be set");
        return -EINVAL;
    }
    return 0;
}

static int parse_feature_table(const guint8 *data, uint32_t len,
                               Qcow2Header *h)
{
    if (!h->feature_names) {
        h->feature_names = g_array_new(FALSE, TRUE, sizeof(Qcow2FeatureName));
    }
    for (uint32_t off = 0; off + QCOW2_FEATURE_ENTRY_SIZE <= len;
         off += QCOW2_FEATURE_ENTRY_SIZE) {
        Qcow2FeatureName f = { .type = data[off], .bit = data[off + 1] };

        memcpy(f.name, data + off + 2, 46);
        f.name[46] = '\0';
        g_array_append_val(h->feature_names, f);
    }
    return 0;
}

static int parse_bitmaps_ext(const guint8 *data, uint32_t len,
                             Qcow2Header *h, GError **errp)
{
    if (len != 24) {
        error_setg(errp, "bitmaps_ext: Invalid extension length");
        return -EINVAL;
    }
    h->has_bitmaps_ext = true;
    h->nb_bitmaps = ldl_be_p(data);
    h->bitmap_directory_size = ldq_be_p(data + 8);
    h->bitmap_directory_offset = ldq_be_p(data + 16);
    if (ldl_be_p(data + 4) != 0) {
        error_setg(errp, "bitmaps_ext: Reserved field is not zero");
        return -EINVAL;
    }
    if (!(h->autoclear_features & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;   /* inconsistent: ignored, cleared at the next write */
    }
    if (h->nb_bitmaps > QCOW2_MAX_BITMAPS) {
        error_setg(errp, "bitmaps_ext: Image has %" PRIu32 " bitmaps, "
                   "exceeding the QEMU supported maximum of %d",
                   h->nb_bitmaps, QCOW2_MAX_BITMAPS);
        return -EINVAL;
    }
    if (h->nb_bitmaps == 0) {
        error_setg(errp, "found bitmaps extension with zero bitmaps");
        return -EINVAL;
    }
    if (h->bitmap_directory_offset & ((1ull << h->cluster_bits) - 1)) {
        error_setg(errp, "bitmaps_ext: invalid dir offset");
        return -EINVAL;
    }
    if (h->bitmap_directory_size > QCOW2_MAX_BITMAP_DIR_SIZE) {
        error_setg(errp, "bitmaps_ext: bitmap directory size (%" PRIu64
                   ") exceeds the maximum supported size (%d)",
                   h->bitmap_directory_size, QCOW2_MAX_BITMAP_DIR_SIZE);
        return -EINVAL;
    }
    return 0;
}

static int parse_one_ext(uint32_t type, const guint8 *data, uint32_t len,
                         Qcow2Header *h, GError **errp)
{
    switch (type) {
    case QCOW2_EXT_BACKING_FORMAT:
        if (len > 1023) {
            error_setg(errp, "ERROR: ext_backing_format: len=%" PRIu32
                       " too large (>=1023)", len);
            return -EINVAL;
        }
        g_free(h->backing_format);
        h->backing_format = g_strndup((const char *)data, len);
        return 0;
    case QCOW2_EXT_FEATURE_TABLE:
        return parse_feature_table(data, len, h);
    case QCOW2_EXT_CRYPTO:
        if (len != 16) {
            error_setg(errp, "Unable to read CRYPTO header extension");
            return -EINVAL;
        }
        h->crypto_header_offset = ldq_be_p(data);
        h->crypto_header_length = ldq_be_p(data + 8);
        return 0;
    case QCOW2_EXT_BITMAPS:
        return parse_bitmaps_ext(data, len, h, errp);
    case QCOW2_EXT_DATA_FILE:
        g_free(h->data_file);
        h->data_file = g_strndup((const char *)data, len);
        return 0;
    default: {
        Qcow2Extension *e = g_new0(Qcow2Extension, 1);

        e->type = type;
        e->len = len;
        e->data = g_memdup2(data, len);
        if (!h->unknown_exts) {
            h->unknown_exts = g_ptr_array_new();
        }
        g_ptr_array_add(h->unknown_exts, e);
        return 0;
    }
    }
}

/* Extensions run from the end of the header to the backing file name (or
 * the end of the first cluster). */
static int parse_extensions(const guint8 *buf, size_t len, Qcow2Header *h,
                            GError **errp)
{
    uint64_t end = h->backing_file_offset ? h->backing_file_offset
                                          : (1ull << h->cluster_bits);
    uint64_t off = h->header_length;

    end = MIN(end, len);
    while (off < end) {
        uint32_t type, elen;
        int ret;

        if (end - off < 8) {
            error_setg(errp, "qcow2_read_extension: ERROR: "
                       "pread fail from offset %" PRIu64, off);
            return -EINVAL;
        }
        type = ldl_be_p(buf + off);
        elen = ldl_be_p(buf + off + 4);
        off += 8;
        if (type == QCOW2_EXT_END) {
            return 0;
        }
        if (elen > end - off) {
            error_setg(errp, "Header extension too large");
            return -EINVAL;
        }
        ret = parse_one_ext(type, buf + off, elen, h, errp);
        if (ret < 0) {
            return ret;
        }
        off += QCOW2_ROUND_UP((uint64_t)elen, 8);
    }
    return 0;
}

static int check_features(const Qcow2Header *h, GError **errp)
{
    uint64_t unknown = h->incompatible_features & ~QCOW2_INCOMPAT_KNOWN;

    if (unknown) {
        g_autofree char *names = qcow2_feature_names(h, 0, unknown);
        error_setg(errp, "Unsupported qcow2 feature(s): %s", names);
        return -ENOTSUP;
    }
    if (h->refcount_order > 6) {
        error_setg(errp, "Reference count entry width too large; may not "
                   "exceed 64 bits");
        return -EINVAL;
    }
    if ((h->incompatible_features & QCOW2_INCOMPAT_EXTL2) &&
        h->cluster_bits < 14) {
        error_setg(errp, "Extended L2 entries are only supported with "
                   "cluster sizes of at least 16384 bytes");
        return -EINVAL;
    }
    if ((h->autoclear_features & QCOW2_AUTOCLEAR_DATA_FILE_RAW) &&
        !(h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE)) {
        error_setg(errp, "data-file-raw requires a data file");
        return -EINVAL;
    }
    if (h->crypt_method > QCOW2_CRYPT_LUKS) {
        error_setg(errp, "Unsupported encryption method: %" PRIu32,
                   h->crypt_method);
        return -EINVAL;
    }
    return check_compression(h, errp);
}

static int check_tables(const Qcow2Header *h, int64_t file_size,
                        GError **errp)
{
    int l2_entry_shift = (h->incompatible_features & QCOW2_INCOMPAT_EXTL2)
                         ? 4 : 3;
    int l2_bits = h->cluster_bits - l2_entry_shift;
    uint64_t reft_max = QCOW2_MAX_REFTABLE_SIZE >> h->cluster_bits;
    uint64_t l1_needed;

    if (h->refcount_table_clusters == 0) {
        error_setg(errp, "Image does not contain a reference count table");
        return -EINVAL;
    }
    if (h->refcount_table_clusters > MAX(reft_max, 1)) {
        error_setg(errp, "Reference count table too large");
        return -EINVAL;
    }
    if (!table_ok(h, h->refcount_table_offset, h->refcount_table_clusters,
                  1ull << h->cluster_bits, file_size)) {
        error_setg(errp, "Invalid reference count table offset");
        return -EINVAL;
    }
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Too many snapshots");
        return -EINVAL;
    }
    if (h->nb_snapshots &&
        !table_ok(h, h->snapshots_offset, 1, 40, file_size)) {
        error_setg(errp, "Invalid snapshot table offset");
        return -EINVAL;
    }
    if (h->l1_size > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "Active L1 table too large");
        return -EFBIG;
    }
    /* Guest clusters per L1 entry: 2^(cluster_bits + l2_bits). */
    if (h->size > INT64_MAX) {
        error_setg(errp, "Image is too big");
        return -EFBIG;
    }
    l1_needed = QCOW2_DIV_ROUND_UP(h->size, 1ull << (h->cluster_bits + l2_bits));
    if (l1_needed > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "Image is too big");
        return -EFBIG;
    }
    if (h->l1_size < l1_needed) {
        error_setg(errp, "L1 table is too small");
        return -EINVAL;
    }
    if (!table_ok(h, h->l1_table_offset, h->l1_size, 8, file_size)) {
        error_setg(errp, "Invalid L1 table offset");
        return -EINVAL;
    }
    return 0;
}

static int parse_backing_name(const guint8 *buf, size_t len, Qcow2Header *h,
                              GError **errp)
{
    if (!h->backing_file_offset) {
        return 0;
    }
    if (h->backing_file_size > QCOW2_MAX_BACKING_FILE_NAME ||
        h->backing_file_offset > (1ull << h->cluster_bits) ||
        h->backing_file_size >
            (1ull << h->cluster_bits) - h->backing_file_offset) {
        error_setg(errp, "Backing file name too long");
        return -EINVAL;
    }
    if (h->backing_file_offset + h->backing_file_size > len) {
        error_setg(errp, "Invalid backing file offset");
        return -EINVAL;
    }
    h->backing_file = g_strndup((const char *)buf + h->backing_file_offset,
                                h->backing_file_size);
    return 0;
}

int qcow2_header_parse(const guint8 *buf, size_t len, int64_t file_size,
                       Qcow2Header *h, GError **errp)
{
    int ret;

    memset(h, 0, sizeof(*h));
    if (len < QCOW2_V2_HEADER_LENGTH || ldl_be_p(buf) != QCOW2_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    parse_fixed(buf, h);
    if (h->version < 2 || h->version > 3) {
        error_setg(errp, "Unsupported qcow2 version %" PRIu32, h->version);
        return -ENOTSUP;
    }
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        error_setg(errp, "Unsupported cluster size: 2^%" PRIu32,
                   h->cluster_bits);
        return -EINVAL;
    }
    if (h->version == 3) {
        ret = parse_v3_fields(buf, len, h, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (h->backing_file_offset > (1ull << h->cluster_bits)) {
        error_setg(errp, "Invalid backing file offset");
        return -EINVAL;
    }
    ret = parse_extensions(buf, len, h, errp);
    if (ret == 0) {
        ret = check_features(h, errp);
    }
    if (ret == 0) {
        ret = check_tables(h, file_size, errp);
    }
    if (ret == 0) {
        ret = parse_backing_name(buf, len, h, errp);
    }
    return ret;
}

/* ---- serialize ---- */

typedef struct HdrWriter {
    guint8 *buf;
    size_t size;
    size_t off;
    bool overflow;
} HdrWriter;

static void put_ext(HdrWriter *w, uint32_t type, const void *data,
                    uint32_t len)
{
    size_t need = 8 + QCOW2_ROUND_UP((size_t)len, 8);

    if (w->overflow || need > w->size - w->off) {
        w->overflow = true;
        return;
    }
    stl_be_p(w->buf + w->off, type);
    stl_be_p(w->buf + w->off + 4, len);
    if (len) {
        memcpy(w->buf + w->off + 8, data, len);
    }
    w->off += need;
}

static void put_feature_table(HdrWriter *w)
{
    guint8 table[G_N_ELEMENTS(known_features) * QCOW2_FEATURE_ENTRY_SIZE];

    memset(table, 0, sizeof(table));
    for (size_t i = 0; i < G_N_ELEMENTS(known_features); i++) {
        guint8 *e = table + i * QCOW2_FEATURE_ENTRY_SIZE;
        e[0] = known_features[i].type;
        e[1] = known_features[i].bit;
        memcpy(e + 2, known_features[i].name, strlen(known_features[i].name));
    }
    put_ext(w, QCOW2_EXT_FEATURE_TABLE, table, sizeof(table));
}

static void put_fixed(guint8 *buf, const Qcow2Header *h, uint32_t hlen)
{
    stl_be_p(buf, QCOW2_MAGIC);
    stl_be_p(buf + 4, h->version);
    stl_be_p(buf + 16, h->backing_file ? strlen(h->backing_file) : 0);
    stl_be_p(buf + 20, h->cluster_bits);
    stq_be_p(buf + 24, h->size);
    stl_be_p(buf + 32, h->crypt_method);
    stl_be_p(buf + 36, h->l1_size);
    stq_be_p(buf + 40, h->l1_table_offset);
    stq_be_p(buf + 48, h->refcount_table_offset);
    stl_be_p(buf + 56, h->refcount_table_clusters);
    stl_be_p(buf + 60, h->nb_snapshots);
    stq_be_p(buf + 64, h->snapshots_offset);
    if (h->version >= 3) {
        stq_be_p(buf + 72, h->incompatible_features);
        stq_be_p(buf + 80, h->compatible_features);
        stq_be_p(buf + 88, h->autoclear_features);
        stl_be_p(buf + 96, h->refcount_order);
        stl_be_p(buf + 100, hlen);
        buf[104] = h->compression_type;
    }
}

static void put_extensions(HdrWriter *w, const Qcow2Header *h)
{
    if (h->backing_format) {
        put_ext(w, QCOW2_EXT_BACKING_FORMAT, h->backing_format,
                strlen(h->backing_format));
    }
    if (h->data_file) {
        put_ext(w, QCOW2_EXT_DATA_FILE, h->data_file, strlen(h->data_file));
    }
    if (h->crypto_header_offset) {
        guint8 c[16];
        stq_be_p(c, h->crypto_header_offset);
        stq_be_p(c + 8, h->crypto_header_length);
        put_ext(w, QCOW2_EXT_CRYPTO, c, sizeof(c));
    }
    /* QEMU leaves the table (~400 bytes) out of small clusters, where it
     * would crowd the backing file name. */
    if (h->version >= 3 && h->cluster_bits > 12) {
        put_feature_table(w);
    }
    if (h->has_bitmaps_ext) {
        guint8 b[24] = { 0 };
        stl_be_p(b, h->nb_bitmaps);
        stq_be_p(b + 8, h->bitmap_directory_size);
        stq_be_p(b + 16, h->bitmap_directory_offset);
        put_ext(w, QCOW2_EXT_BITMAPS, b, sizeof(b));
    }
    for (guint i = 0; h->unknown_exts && i < h->unknown_exts->len; i++) {
        Qcow2Extension *e = g_ptr_array_index(h->unknown_exts, i);
        put_ext(w, e->type, e->data, e->len);
    }
    put_ext(w, QCOW2_EXT_END, NULL, 0);
}

guint8 *qcow2_header_serialize(const Qcow2Header *h, size_t *len,
                               GError **errp)
{
    size_t csize = (size_t)1 << h->cluster_bits;
    uint32_t hlen = h->version >= 3 ? QCOW2_V3_WRITTEN_HEADER_LENGTH
                                    : QCOW2_V2_HEADER_LENGTH;
    HdrWriter w = { .buf = g_malloc0(csize), .size = csize, .off = hlen };
    size_t blen = h->backing_file ? strlen(h->backing_file) : 0;

    put_fixed(w.buf, h, hlen);
    put_extensions(&w, h);
    if (!w.overflow && blen) {
        if (blen > QCOW2_MAX_BACKING_FILE_NAME || blen > csize - w.off) {
            w.overflow = true;
        } else {
            memcpy(w.buf + w.off, h->backing_file, blen);
            stq_be_p(w.buf + 8, w.off);
        }
    }
    if (w.overflow) {
        error_setg(errp, "Cannot update qcow2 header: the header extensions "
                   "and backing file name do not fit in one cluster");
        g_free(w.buf);
        return NULL;
    }
    *len = csize;
    return w.buf;
}
